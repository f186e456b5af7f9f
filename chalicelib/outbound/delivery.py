"""The delivery worker: one signed POST per queued (event, subscription), retried on Svix's schedule.

Retries ride on SQS itself: a failed attempt makes its message invisible for the next delay of the schedule
(ChangeMessageVisibility, up to SQS's 12 hours) and reports it failed, so SQS hands it back then; the queue's
redrive policy (maxReceiveCount = MAX_ATTEMPTS) moves it to the delivery DLQ after the last attempt, where
`subscriptions replay` finds it. The attempt number is the message's receive count. A subscription whose
event exhausted the schedule with nothing delivered since is paused, and a metric raises the alarm.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import message_problem, routing_facts, utc_now
from chalicelib.observability import describe_exception, logger, metrics
from chalicelib.outbound import deliveries, signing, subscriptions, transport
from chalicelib.outbound.deliveries import DeliveryRecord, Status

# Seconds to wait after each failed attempt (Svix's published schedule): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 10 h; with the immediate first attempt, eight attempts over about 27.6 hours.
RETRY_DELAYS = (5, 300, 1_800, 7_200, 18_000, 36_000, 36_000)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
MAX_VISIBILITY_SECONDS = 12 * 3600 - 60  # SQS refuses more than 12 hours
TIMEOUT_SECONDS = transport.DEFAULT_TIMEOUT_SECONDS


# The queues' names when no URL is configured (the stack and the local stack create them so): an operator's
# CLI (`subscriptions replay`, `alerts test`) finds them by name.
DELIVERY_QUEUE_NAME = "feedback-webhooks-{stage}"


def queue_url(dead_letters: bool = False) -> str:
    """The delivery queue's (or its DLQ's) URL: from the environment, else by the stage's queue name."""
    name = DELIVERY_QUEUE_NAME.format(stage=settings().stage) + ("-dlq" if dead_letters else "")
    return aws.queue_url("DELIVERY_DLQ_URL" if dead_letters else "DELIVERY_QUEUE_URL", name)


def network_failure(error: BaseException) -> str:
    """The delivery log's (and `subscriptions test`'s) words for a failed POST: its kind, never its message
    (which may quote what the receiver sent)."""
    if isinstance(error, TimeoutError):
        return f"timed out after {TIMEOUT_SECONDS:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (nothing listens on that host and port)"
    if isinstance(error, transport.http.client.HTTPException):
        return f"the answer is not HTTP ({describe_exception(error)})"
    return describe_exception(error)


class QueuedDelivery(BaseModel):
    """The delivery queue's message: one event for one subscription, its body fixed."""

    subscription_id: str
    webhook_id: str
    event_type: str
    body: str
    enqueued_at: str


# What `subscriptions dlq list` shows of a message: whose it is and which event, never the event's body.
ROUTING_FIELDS = ("subscription_id", "event_type", "webhook_id", "enqueued_at")


def problem(body: str) -> str | None:
    """Why a delivery queue message can never be delivered (not a QueuedDelivery), or None."""
    return message_problem(QueuedDelivery, body, "delivery message")


def describe(body: str) -> dict[str, str]:
    """A delivery message's routing facts, read without validating (a broken message is listed too)."""
    return routing_facts(body, ROUTING_FIELDS)


@dataclass(frozen=True)
class Outcome:
    """What one attempt concluded: `retry_in` seconds until the next, None when done (delivered/dropped)."""

    status: Status | None
    retry_in: int | None = None


def post_signed(
    subscription: subscriptions.Subscription, webhook_id: str, body: bytes, secrets_in_force: list[str]
) -> transport.Response:
    """POST a body to a subscriber, signed with the secrets in force at the wall clock's time (receivers
    check the timestamp against theirs)."""
    headers = signing.headers(secrets_in_force, webhook_id, utc_now(), body)
    return transport.post(
        subscription.url,
        body,
        headers,
        allow_loopback=subscriptions.allows_loopback(),
        timeout=TIMEOUT_SECONDS,
    )


def next_delay(attempt: int, retry_after: float | None) -> int:
    """Seconds before the attempt after `attempt` (1-based): the schedule's, longer if the receiver asked."""
    scheduled = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    return int(min(MAX_VISIBILITY_SECONDS, max(scheduled, retry_after or 0)))


def attempt(delivery: QueuedDelivery, attempt_number: int, now: datetime | None = None) -> Outcome:
    """Make one attempt; logs it and says whether to retry. Never raises for a receiver's failure."""
    now = now or utc_now()
    subscription = subscriptions.get_cached(delivery.subscription_id)
    if subscription is None:
        metrics.add_metric(name="WebhookDropped", unit=MetricUnit.Count, value=1)
        return Outcome(status=None)  # removed: nothing more is sent
    entry = DeliveryRecord(
        subscription_id=delivery.subscription_id,
        webhook_id=delivery.webhook_id,
        event_type=delivery.event_type,
        enqueued_at=delivery.enqueued_at,
        status=Status.RETRYING,
        attempts=attempt_number,
        updated_at=now.isoformat(),
    )
    retry_after: float | None = None
    if subscription.paused:
        entry.status, entry.last_error = Status.HELD, "subscription paused"
    else:
        body = delivery.body.encode()
        # Signed when sent (the wall clock: receivers check the timestamp against theirs).
        secrets_in_force = subscriptions.signing_secrets(subscription, now)
        try:
            response = post_signed(subscription, delivery.webhook_id, body, secrets_in_force)
            entry.last_status_code, entry.latency_ms = response.status, response.latency_ms
            retry_after = response.retry_after_seconds
            if 200 <= response.status < 300:
                entry.status = Status.DELIVERED
            elif 300 <= response.status < 400:
                entry.last_error = f"HTTP {response.status}: redirects are not followed"
            else:
                entry.last_error = f"HTTP {response.status}"
        except transport.TargetRefused as refused:
            entry.last_error = f"refused: {refused}"
        except transport.NETWORK_ERRORS as error:
            entry.last_error = network_failure(error)
    if entry.status is Status.DELIVERED:
        metrics.add_metric(name="WebhookDelivered", unit=MetricUnit.Count, value=1)
        deliveries.record(entry, now)
        return Outcome(status=Status.DELIVERED)
    metrics.add_metric(name="WebhookAttemptFailed", unit=MetricUnit.Count, value=1)
    if attempt_number >= MAX_ATTEMPTS:
        entry.status = Status.FAILED
        deliveries.record(entry, now)
        metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=1)
        _pause_if_dead(delivery)
        return Outcome(status=Status.FAILED, retry_in=0)
    delay = next_delay(attempt_number, retry_after)
    entry.next_attempt_at = (now + timedelta(seconds=delay)).isoformat()
    deliveries.record(entry, now)
    return Outcome(status=entry.status, retry_in=delay)


def _pause_if_dead(delivery: QueuedDelivery) -> None:
    """Pause a subscription that delivered nothing since this event was queued (a day and more)."""
    if deliveries.delivered_since(delivery.subscription_id, delivery.enqueued_at):
        return
    subscription = subscriptions.get_fresh(delivery.subscription_id)
    if subscription is None or subscription.paused:
        return
    subscriptions.set_paused(delivery.subscription_id, True, "every attempt failed for a full retry schedule")
    metrics.add_metric(name="WebhookSubscriptionPaused", unit=MetricUnit.Count, value=1)
    logger.warning("subscription paused", extra={"subscription_id": delivery.subscription_id})


def handle_sqs_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The delivery function: attempt each message; a failed one is hidden until its next attempt."""
    failures = []
    sqs = aws.client("sqs")
    for record in event.get("Records", []):
        try:
            delivery = QueuedDelivery.model_validate_json(record["body"])
        except ValidationError:
            # Not a delivery (sent by hand, another version): it alone fails and ends in the DLQ, instead
            # of the batch failing and the events already delivered in it being sent again.
            logger.error("not a delivery message", extra={"message_id": record["messageId"]})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        attempt_number = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        outcome = attempt(delivery, attempt_number)
        if outcome.retry_in is None:
            continue
        sqs.change_message_visibility(
            QueueUrl=queue_url_of(record["eventSourceARN"]),
            ReceiptHandle=record["receiptHandle"],
            VisibilityTimeout=outcome.retry_in,
        )
        failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def queue_url_of(queue_arn: str) -> str:
    """The queue URL an event source ARN names (the delivery queue's URL when configured)."""
    configured = os.environ.get("DELIVERY_QUEUE_URL")
    if configured:
        return configured
    *_, account, name = queue_arn.split(":")
    return aws.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def message_body(delivery: QueuedDelivery) -> str:
    return json.dumps(delivery.model_dump(), separators=(",", ":"))
