"""The outbound webhooks on the local stack: the delivery queues, the table's stream and a poller reading it
the way Lambda's DynamoDB stream event source does (moto keeps the stream), the delivery worker polling its
queue like the other pollers, and a demo receiver that prints what it is sent."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.local.queues import create_queue_with_dead_letters
from chalicelib.observability import logger
from chalicelib.outbound import delivery, fanout, subscriptions
from chalicelib.outbound.delivery import DELIVERY_QUEUE_NAME, MAX_ATTEMPTS
from chalicelib.outbound.events import EventType

# The retry schedule spans about 27.6 hours: messages must outlive it.
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
StreamHandler = Callable[[dict[str, Any], Any], Any]


def create_delivery_queues(visibility_timeout_seconds: int = 60) -> tuple[str, str]:
    """The delivery queue and its DLQ (redrive after MAX_ATTEMPTS receives, as deployed); (dlq, queue)."""
    return create_queue_with_dead_letters(
        DELIVERY_QUEUE_NAME.format(stage=settings().stage),
        max_receives=MAX_ATTEMPTS,
        visibility_timeout_seconds=visibility_timeout_seconds,
        retention_seconds=QUEUE_RETENTION_SECONDS,
    )


def enable_stream() -> str:
    """Turn on the table's stream (NEW_IMAGE, as deployed) if it is off; returns its ARN."""
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=settings().table_name)["Table"]
    if not table.get("StreamSpecification", {}).get("StreamEnabled"):
        table = dynamodb.update_table(
            TableName=settings().table_name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]
    return table["LatestStreamArn"]


def streams_client() -> Any:
    """The DynamoDB Streams client: the moto server's endpoint under `make run`; in process (tests) the
    regional name moto intercepts, since botocore now sends stream calls to an account-specific host."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return aws.client("dynamodbstreams")
    region = aws.client("dynamodb").meta.region_name
    return boto3.client("dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com")


def _as_lambda_record(record: dict[str, Any]) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it over: boto3 parses ApproximateCreationDateTime into a datetime,
    Lambda's event has epoch seconds (outbound/events.py reads it so for a merge's event time)."""
    change = record.get("dynamodb", {})
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return {**record, "dynamodb": {**change, "ApproximateCreationDateTime": created.timestamp()}}
    return record


class StreamPoller:
    """Reads every shard of the table's stream from its latest position and hands records to `handler`."""

    def __init__(self, stream_arn: str, handler: StreamHandler, batch_size: int = 100) -> None:
        self.stream_arn = stream_arn
        self.handler = handler
        self.batch_size = batch_size
        self._iterators: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._streams = streams = streams_client()
        for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
            self._iterators[shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]

    def poll_once(self) -> int:
        """One GetRecords per shard; the handler gets each non-empty batch. Returns the records handed."""
        streams = self._streams
        handed = 0
        for shard_id, iterator in list(self._iterators.items()):
            response = streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = [_as_lambda_record(record) for record in response.get("Records", [])]
            if records:
                # Lambda retries a failed stream batch; here the records stay unread until the next poll.
                self.handler({"Records": records}, None)
                handed += len(records)
            self._iterators[shard_id] = response.get("NextShardIterator") or iterator
        return handed

    def start(self, interval_seconds: float = 1.0) -> None:
        def run() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.poll_once()
                except Exception:
                    logger.exception("stream poller error")

        self._thread = threading.Thread(target=run, name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


class DemoReceiver(BaseHTTPRequestHandler):
    """A Standard Webhooks receiver on loopback for `make run`: verifies each delivery with the official
    library and prints one line per event."""

    secret = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            payload = Webhook(self.secret).verify(body, dict(self.headers.items()))
            data = payload.get("data", {})
            about = data.get("feedback_id") or data.get("customer_id") or data.get("alert_id") or ""
            webhook_id = self.headers["webhook-id"]
            print(f"[demo receiver] {payload['type']} {about} (webhook-id {webhook_id})", flush=True)
            self.send_response(204)
        except WebhookVerificationError:
            print("[demo receiver] refused a delivery: bad signature", flush=True)
            self.send_response(401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@dataclass
class LocalOutbound:
    stream: StreamPoller
    worker: SqsPoller
    receiver: ThreadingHTTPServer
    demo_subscription_id: str

    def stop(self) -> None:
        self.stream.stop()
        self.worker.stop()
        self.receiver.shutdown()


def start_outbound(receiver_port: int = 0, stream_handler: StreamHandler | None = None) -> LocalOutbound:
    """The queues, the stream poller and the delivery worker, and a demo receiver subscribed to everything;
    `stream_handler`: what reads the stream (`make run` passes app.py's fan_out_webhooks, which also queues
    the CRM sync's work), the fan-out alone by default."""
    dlq_url, queue_url = create_delivery_queues(visibility_timeout_seconds=30)
    os.environ["DELIVERY_QUEUE_URL"], os.environ["DELIVERY_DLQ_URL"] = queue_url, dlq_url
    stream = StreamPoller(enable_stream(), stream_handler or fanout.handle_stream_batch)
    worker = SqsPoller(queue_url, delivery.handle_sqs_batch, batch_size=10, function_name="deliver_webhooks")
    receiver = ThreadingHTTPServer(("127.0.0.1", receiver_port), DemoReceiver)
    threading.Thread(target=receiver.serve_forever, name="demo-webhook-receiver", daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks"
    subscription, DemoReceiver.secret = subscriptions.create(
        url, [t.value for t in EventType], description="make run's demo receiver"
    )
    stream.start()
    worker.start()
    return LocalOutbound(stream, worker, receiver, subscription.subscription_id)
