"""Webhook routes: `GET /webhooks/{source_id}` (handshakes) and `POST /webhooks/{source_id}` (deliveries).

The POST path is the same for every channel and stays within the ack budget: the source and its secrets
come from memory, the signature is checked on the raw body, and the delivery's events go to SQS in one
request however many they are. A delivery with no customer text (a reaction, a status) is acknowledged
and nothing is queued.
"""

from __future__ import annotations

import os

from chalice import Blueprint, Response

from chalicelib import queue, sources
from chalicelib.channels.base import Channel, WebhookRequest
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.registry import channel_for
from chalicelib.http import ANY_CONTENT, NotFound, json_errors, raw_body
from chalicelib.models import utc_now
from chalicelib.observability import logger, metrics
from chalicelib.sources import SourceConfig

webhooks_api = Blueprint(__name__)

# Platforms batch many events per delivery (Meta up to 1,000 changes); 1 MiB covers them with room.
MAX_WEBHOOK_BODY_BYTES = int(os.environ.get("MAX_WEBHOOK_BODY_BYTES", str(1024 * 1024)))


def _resolve(source_id: str) -> tuple[SourceConfig, Channel]:
    source = sources.get_cached(source_id)
    channel = channel_for(source.type) if source else None
    if source is None or channel is None:
        # An unknown id and a source of a type this deployment does not serve answer the same way.
        raise NotFound(f"No webhook source with id {source_id!r}.", code="unknown_source")
    return source, channel


def _request(source: SourceConfig, body: bytes) -> WebhookRequest:
    current = webhooks_api.current_request
    return WebhookRequest(
        source=source,
        secrets=sources.secrets_cached(source.source_id),
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


@webhooks_api.route("/webhooks/{source_id}", methods=["POST"], content_types=["*/*"])
@json_errors
def receive(source_id: str) -> Response:
    """Verify, normalize and queue one delivery; 200 once it is durably queued."""
    source, channel = _resolve(source_id)
    request = _request(source, raw_body(webhooks_api.current_request, MAX_WEBHOOK_BODY_BYTES))
    channel.verify(request)
    payload = channel.parse(request)
    try:
        delivery = channel.normalize(request, payload)
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        # A signed body that does not have the documented shape: the sender's mistake, not a 500.
        raise PayloadInvalid(
            f"The payload does not have the documented shape ({type(error).__name__})."
        ) from error
    queue.send_bodies(delivery.queue_bodies)
    logger.info(
        "webhook accepted",
        extra={
            "source_id": source_id,
            "channel": source.type,
            "events": len(delivery.events),
            "feedback_ids": [event.feedback_id for event in delivery.events],
        },
    )
    metrics.add_metric(name="WebhookEventsAccepted", unit="Count", value=len(delivery.events))
    if delivery.reply is not None:
        return delivery.reply
    return Response(body={"status": "accepted", "events": len(delivery.events)}, status_code=200)
