"""From the table's stream to the delivery queue: each stored event, once per subscription that wants it.

Runs on the DynamoDB stream (NEW_IMAGE), never on an ack path. Subscriptions are read from memory (one Query
per config cache age), so a batch of stream records costs its SendMessageBatch requests and nothing else.
A failed send raises: Lambda retries the stream batch, and the repeated events carry the same `webhook-id`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib import aws
from chalicelib.models import utc_now
from chalicelib.outbound import subscriptions
from chalicelib.outbound.delivery import QueuedDelivery, message_body
from chalicelib.outbound.delivery import queue_url as delivery_queue_url
from chalicelib.outbound.events import OutboundEvent, events_from_stream_record
from chalicelib.outbound.subscriptions import Subscription

SEND_BATCH = 10  # SendMessageBatch's limit


class EnqueueFailed(Exception):
    """SQS refused some deliveries; the stream batch is retried."""


def deliveries_for(
    events: Iterable[OutboundEvent], subscribed: Sequence[Subscription]
) -> list[QueuedDelivery]:
    """One queued delivery per (event, subscription that wants it)."""
    enqueued_at = utc_now().isoformat()
    return [
        QueuedDelivery(
            subscription_id=subscription.subscription_id,
            webhook_id=event.webhook_id,
            event_type=event.type.value,
            body=event.body().decode(),
            enqueued_at=enqueued_at,
        )
        for event in events
        for subscription in subscribed
        if subscription.wants(event)
    ]


def enqueue(queued: Sequence[QueuedDelivery], queue_url: str | None = None) -> int:
    """Send the deliveries in batches of ten; returns how many were sent."""
    url = queue_url or delivery_queue_url()
    sqs = aws.client("sqs")
    for start in range(0, len(queued), SEND_BATCH):
        entries = [
            {"Id": str(n), "MessageBody": message_body(delivery)}
            for n, delivery in enumerate(queued[start : start + SEND_BATCH])
        ]
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if response.get("Failed"):
            raise EnqueueFailed(f"{len(response['Failed'])} deliveries were not queued")
    return len(queued)


def publish(events: Sequence[OutboundEvent]) -> int:
    """Queue `events` (e.g. `alert.triggered`) for every subscription that wants them."""
    if not events:
        return 0
    return enqueue(deliveries_for(events, subscriptions.list_cached()))


def handle_stream_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The stream function: every record's events, matched against the subscriptions and queued."""
    events = [e for record in event.get("Records", []) for e in events_from_stream_record(record)]
    subscribed = subscriptions.list_cached() if events else []
    queued = deliveries_for(events, subscribed) if subscribed else []
    sent = enqueue(queued) if queued else 0
    return {"events": len(events), "queued": sent}
