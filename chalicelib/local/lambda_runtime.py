"""Invoke the app's event handlers the way Lambda does: an SQS event source poller, a cron scheduler and
asynchronous invocations (InvocationType=Event).

The poller follows Lambda's SQS event source contract: receive up to `batch_size` messages, invoke the
handler with them, delete the ones not listed in `batchItemFailures` (none if the invocation raised), and
leave the rest to reappear after the visibility timeout and, past maxReceiveCount, move to the DLQ.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalice.local import LambdaContext

from chalicelib import aws
from chalicelib.ingest import ANALYZE_BATCH_SIZE
from chalicelib.models import utc_now
from chalicelib.observability import logger

Handler = Callable[[dict[str, Any], Any], Any]
SQS_RECEIVE_MAX = 10


@dataclass
class PollResult:
    received: int = 0
    deleted: int = 0
    failed: int = 0


def lambda_context(function_name: str, memory_mb: int = 512, timeout_ms: int = 60_000) -> LambdaContext:
    """A Lambda-shaped context object for a local invocation."""
    return LambdaContext(function_name, memory_mb, max_runtime_ms=timeout_ms)


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as it appears in a Lambda event's Records."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller:
    """Feeds an SQS queue to a handler in Lambda-sized batches."""

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        batch_size: int = ANALYZE_BATCH_SIZE,
        wait_seconds: int = 1,
        function_name: str = "analyze",
    ) -> None:
        self.queue_url = queue_url
        self.handler = handler
        # The function the queue triggers when deployed: its name goes in the context, so in the log lines.
        self.function_name = function_name
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]

    def poll_once(self) -> PollResult:
        """Receive one batch, invoke the handler, delete what succeeded."""
        sqs = aws.client("sqs")
        messages: list[dict[str, Any]] = []
        while len(messages) < self.batch_size:
            response = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_RECEIVE_MAX, self.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else self.wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            seen = {m["MessageId"] for m in messages}
            # A standard queue may hand the same message out again; a batch holds each message once.
            messages.extend(m for m in received if m["MessageId"] not in seen)
            if len(received) < SQS_RECEIVE_MAX:
                break  # the queue had no more to give right now
        if not messages:
            return PollResult()
        region = sqs.meta.region_name
        event = {"Records": [to_lambda_record(m, self.queue_arn, region) for m in messages]}
        try:
            response = self.handler(event, lambda_context(self.function_name))
            failed_ids = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        except Exception:
            # Lambda treats a raised error as "the whole batch failed": every message is retried.
            logger.exception(
                "invocation failed; the batch will be redelivered", extra={"function": self.function_name}
            )
            failed_ids = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(done), SQS_RECEIVE_MAX):
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + SQS_RECEIVE_MAX])
                ],
            )
        return PollResult(received=len(messages), deleted=len(done), failed=len(messages) - len(done))

    def drain(self, max_polls: int = 10_000) -> PollResult:
        """Poll until a receive comes back empty; returns the totals (tests, bench)."""
        total = PollResult()
        for _ in range(max_polls):
            result = self.poll_once()
            if result.received == 0:
                break
            total.received += result.received
            total.deleted += result.deleted
            total.failed += result.failed
        return total

    def start(self, workers: int = 1) -> None:
        """Poll in `workers` background threads until stop(): like Lambda running that many concurrent
        invocations of the handler, each on its own batch."""
        self._threads = [
            threading.Thread(target=self._run, name=f"sqs-poller-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                logger.exception("poller error")
                self._stop.wait(1)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


def scheduled_event() -> dict[str, Any]:
    """An EventBridge schedule's event, every field of it: Chalice's CloudWatchEvent reads them all."""
    return aws.eventbridge_event("aws.events", "Scheduled Event", {}, "123456789012", "us-east-1")


def given_up_invocation_record(event: dict[str, Any], function_name: str, error: Exception) -> dict[str, Any]:
    """The invocation record Lambda sends an on-failure destination for an asynchronous invocation it gave
    up (its documented shape); locally an invocation is attempted once. The error's type only: its message
    may quote data."""
    return {
        "version": "1.0",
        "timestamp": utc_now().isoformat(),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 1,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": type(error).__name__},
    }


def invoke_async(
    handler: Handler,
    event: dict[str, Any],
    function_name: str,
    on_failure: Callable[[dict[str, Any]], Any] | None = None,
) -> threading.Thread:
    """Lambda's asynchronous invocation, locally: the handler runs in a thread of its own and the caller goes
    on at once; an invocation that fails hands its record (given_up_invocation_record) to `on_failure`, the
    function's on-failure destination. A short-lived process (the CLI) joins the thread before it exits."""

    def run() -> None:
        try:
            handler(event, lambda_context(function_name, 1024, 900_000))
        except Exception as error:
            logger.exception("asynchronous invocation failed", extra={"function": function_name})
            if on_failure is not None:
                try:
                    on_failure(given_up_invocation_record(event, function_name, error))
                except Exception:
                    logger.exception("on-failure destination failed", extra={"function": function_name})

    thread = threading.Thread(target=run, name=f"invoke-{function_name}")
    thread.start()
    return thread


def next_run(now: datetime, hour: int, minute: int) -> datetime:
    """The next UTC time at hour:minute strictly after `now`."""
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


class DailyScheduler:
    """Runs a scheduled handler every day at a UTC time, like an EventBridge cron rule."""

    def __init__(self, handler: Handler, name: str, hour: int, minute: int) -> None:
        self.handler, self.name, self.hour, self.minute = handler, name, hour, minute
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            wait = (next_run(utc_now(), self.hour, self.minute) - utc_now()).total_seconds()
            if self._stop.wait(max(wait, 0)):
                return
            try:
                self.handler(scheduled_event(), lambda_context(self.name, 1024, 900_000))
            except Exception:
                logger.exception("scheduled run failed", extra={"schedule": self.name})

    def stop(self) -> None:
        self._stop.set()
