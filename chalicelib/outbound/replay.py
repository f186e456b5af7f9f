"""Operator actions on deliveries: send the delivery DLQ's messages again, and a one-off test delivery."""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass

from pydantic import ValidationError

from chalicelib import aws
from chalicelib.models import Channel, Kind, utc_now
from chalicelib.outbound import delivery, subscriptions, transport
from chalicelib.outbound.delivery import QueuedDelivery, message_body, queue_url
from chalicelib.outbound.events import EventType, FeedbackData, OutboundEvent


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0  # for another subscription than the one asked for, or one that no longer exists
    unreadable: int = 0  # not a delivery message (put there by hand, or by another version): left in the DLQ


def replay_dead_letters(subscription_id: str | None = None, limit: int = 1_000) -> ReplayReport:
    """Move DLQ messages back to the delivery queue (all, or one subscription's); each starts a new schedule
    with its `webhook-id` and body unchanged, so a receiver that got it meanwhile dedupes it."""
    sqs, report = aws.client("sqs"), ReplayReport()
    source, target = queue_url(dead_letters=True), queue_url()
    seen: set[str] = set()
    while report.replayed + report.skipped + report.unreadable < limit:
        messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            try:
                queued = QueuedDelivery.model_validate_json(message["Body"])
            except ValidationError:
                report.unreadable += 1
                continue
            wanted = subscription_id is None or queued.subscription_id == subscription_id
            if not wanted or subscriptions.get_fresh(queued.subscription_id) is None:
                report.skipped += 1
                continue
            sqs.send_message(QueueUrl=target, MessageBody=message_body(queued))
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            report.replayed += 1
    return report


def send_test(subscription_id: str) -> str:
    """POST a signed sample `feedback.stored` to the subscription now (not queued, not logged); returns a
    one-line result for the operator."""
    subscription = subscriptions.get_fresh(subscription_id)
    if subscription is None:
        raise KeyError(subscription_id)
    now = utc_now()
    webhook_id = f"msg_test_{random.token_hex(8)}"
    sample = FeedbackData(
        feedback_id="fb_test",
        source_id="demo",
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text="This is a test delivery.",
        occurred_at=now,
        stored_at=now,
    )
    body = OutboundEvent(
        type=EventType.FEEDBACK_STORED, subject=webhook_id, timestamp=now, data=sample
    ).body()
    try:
        response = delivery.post_signed(
            subscription, webhook_id, body, subscriptions.signing_secrets(subscription)
        )
    except transport.TargetRefused as refused:
        return f"refused: {refused}"
    except transport.NETWORK_ERRORS as error:
        return f"failed: {delivery.network_failure(error)}"
    verdict = "ok" if 200 <= response.status < 300 else "failed"
    return f"{verdict}: HTTP {response.status} in {response.latency_ms} ms (webhook-id {webhook_id})"
