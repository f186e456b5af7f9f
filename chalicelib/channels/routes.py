"""Webhook routes: `GET /webhooks/{source_id}` (handshakes), `HEAD` (a platform's URL check) and
`POST /webhooks/{source_id}` (deliveries).

The POST path is the same for every channel and stays within the ack budget: the source and its secrets
come from memory, the signature is checked on the raw body, and the delivery's events go to SQS in one
request however many they are. A delivery with no customer text (a reaction, a status) is acknowledged
and nothing is queued; what was skipped is named in the answer (`skipped: [{"reason": …}]`) and counted in
the `WebhookEventsSkipped` metric, one figure per reason.
"""

from __future__ import annotations

import os
from collections import Counter

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from chalice import Blueprint, Response

from chalicelib.channels import sources
from chalicelib.channels.base import Channel, Delivery, Skipped, WebhookRequest
from chalicelib.channels.exceptions import DeliveryTooLarge
from chalicelib.channels.registry import channel_for
from chalicelib.channels.sources import SourceConfig
from chalicelib.http import ANY_CONTENT, NotFound, json_errors, raw_body
from chalicelib.ingest import queue
from chalicelib.models import FeedbackEvent, utc_now
from chalicelib.observability import SERVICE, logger, metrics
from chalicelib.store.config_records import unavailable_when_unreadable

webhooks_api = Blueprint(__name__)

# Platforms batch many events per delivery (Meta up to 1,000 changes); 1 MiB covers them with room.
MAX_WEBHOOK_BODY_BYTES = int(os.environ.get("MAX_WEBHOOK_BODY_BYTES", str(1024 * 1024)))


def _resolve(source_id: str) -> tuple[SourceConfig, Channel]:
    with unavailable_when_unreadable("webhook source"):
        source = sources.get_cached(source_id)
    channel = channel_for(source.type) if source else None
    if source is None or channel is None:
        # An unknown id and a source of a type this deployment does not serve answer the same way; the id is
        # not echoed (it is the caller's input, of any length).
        raise NotFound("No webhook source has this id.", code="unknown_source")
    return source, channel


def _request(source: SourceConfig, body: bytes) -> WebhookRequest:
    current = webhooks_api.current_request
    with unavailable_when_unreadable("webhook source's secret"):
        secrets = sources.secrets_cached(source.source_id)
    return WebhookRequest(
        source=source,
        secrets=secrets,
        method=current.method,
        headers={name.lower(): value for name, value in current.headers.items()},
        query=dict(current.query_params or {}),
        body=body,
        received_at=utc_now(),
    )


@webhooks_api.route("/webhooks/{source_id}", methods=["GET"], content_types=ANY_CONTENT)
@json_errors
def handshake(source_id: str) -> Response:
    """Answer a platform's verification request (Meta hub.challenge, X CRC)."""
    source, channel = _resolve(source_id)
    return channel.handshake(_request(source, b""))


@webhooks_api.route("/webhooks/{source_id}", methods=["HEAD"], content_types=ANY_CONTENT)
@json_errors
def url_check(source_id: str) -> Response:
    """200 for a source's URL: Intercom checks an endpoint with a HEAD request before saving it."""
    _resolve(source_id)
    return Response(body="", status_code=200)


@webhooks_api.route("/webhooks/{source_id}", methods=["POST"], content_types=["*/*"])
@json_errors
def receive(source_id: str) -> Response:
    """Verify, normalize and queue one delivery; 200 once it is durably queued."""
    source, channel = _resolve(source_id)
    request = _request(source, raw_body(webhooks_api.current_request, MAX_WEBHOOK_BODY_BYTES))
    channel.verify(request)
    # A signed body that does not have the documented shape is refused by parse (422), not met in normalize.
    delivery = channel.normalize(request, channel.parse(request))
    if source.default_language:
        delivery.events = [with_default_language(event, source.default_language) for event in delivery.events]
    if not delivery.events and not delivery.deletions and not delivery.skipped and delivery.reply is None:
        # A channel that gave no reason: its items were none of the customer texts it keeps.
        delivery.skipped.append(Skipped("no_customer_text"))
    queue.send_bodies(queue_bodies(delivery))
    logger.info(
        "webhook accepted",
        extra={
            "source_id": source_id,
            "channel": source.type,
            "events": len(delivery.events),
            "feedback_ids": [event.feedback_id for event in delivery.events],
            "deletions": len(delivery.deletions),
        },
    )
    metrics.add_metric(name="WebhookEventsAccepted", unit="Count", value=len(delivery.events))
    _count_skipped(delivery, source.type)
    if delivery.reply is not None:
        return delivery.reply
    body: dict[str, object] = {"status": "accepted", "events": len(delivery.events)}
    if delivery.deletions:
        body["deletions"] = len(delivery.deletions)
    if delivery.skipped:
        body["skipped"] = [skipped.as_json() for skipped in delivery.skipped]
    return Response(body=body, status_code=200)


def with_default_language(event: FeedbackEvent, default_language: str) -> FeedbackEvent:
    """The event with its source's default language as its hint, where the platform gave no language."""
    if event.language or event.language_hint:
        return event
    return event.model_copy(update={"language_hint": default_language})


def queue_bodies(delivery: Delivery) -> list[str]:
    """The SQS message bodies of the delivery's events; 413 when they need more than one SQS request."""
    try:
        return queue.encode_request(delivery.events, delivery.deletions)
    except queue.QueueRequestTooLarge as error:
        # The 2xx means every event is queued by one request: refuse the delivery now, not fail on the queue.
        raise DeliveryTooLarge(len(delivery.events)) from error


def _count_skipped(delivery: Delivery, channel: str) -> None:
    # One metric set per reason: the reason is a dimension, which the request-wide `metrics` cannot vary.
    for reason, count in Counter(skipped.reason for skipped in delivery.skipped).items():
        skipped_metrics = EphemeralMetrics(service=SERVICE, namespace=metrics.namespace)
        skipped_metrics.set_default_dimensions(**metrics.default_dimensions)
        skipped_metrics.add_dimension(name="channel", value=channel)
        skipped_metrics.add_dimension(name="reason", value=reason)
        skipped_metrics.add_metric(name="WebhookEventsSkipped", unit=MetricUnit.Count, value=count)
        skipped_metrics.flush_metrics()
