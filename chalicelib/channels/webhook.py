"""`webhook`: any Standard Webhooks sender (Zapier, n8n, Make, in-house systems).

Verification follows the Standard Webhooks specification: the signed content is
`{webhook-id}.{webhook-timestamp}.{raw body}`, HMAC-SHA256 with the base64-decoded part of the `whsec_`
secret; `webhook-signature` holds one or more space-separated `v1,<base64>` entries (so keys can rotate);
timestamps more than 5 minutes away are refused.

The body is either the spec's envelope `{"type": "feedback.created", "timestamp": …, "data": {…}}` or the
feedback object itself; `data` may also be a list for a batch. A feedback object:
`{"id", "text", "author": {"id", "handle", "name", "email"}, "rating", "rating_scale", "occurred_at",
"language", "url", "thread_id", "kind"}` — `id` (or the `webhook-id` header) identifies it.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.channels import signatures
from chalicelib.channels.base import Channel, Delivery, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import PayloadInvalid, SignatureInvalid, SignatureMissing
from chalicelib.models import Author, Kind, RatingScale
from chalicelib.models import Channel as ChannelName

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme prefix, not a secret
MAX_BATCH = 100


class WebhookAuthor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, max_length=200)
    handle: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class WebhookFeedback(BaseModel):
    """The documented feedback object a generic sender posts."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, min_length=1, max_length=200)
    text: str = Field(default="", max_length=10_000)
    author: WebhookAuthor = Field(default_factory=WebhookAuthor)
    rating: int | None = None
    rating_scale: RatingScale | None = None
    occurred_at: datetime | None = None
    language: str | None = Field(default=None, max_length=35)
    url: str | None = Field(default=None, max_length=2048)
    thread_id: str | None = Field(default=None, max_length=200)
    kind: Kind = Kind.COMMENT


def _check_rating(item: WebhookFeedback) -> None:
    if item.rating is None:
        return
    if item.rating_scale is None:
        raise PayloadInvalid("rating needs rating_scale (nps, csat or stars).")
    low, high = item.rating_scale.bounds
    if not low <= item.rating <= high:
        raise PayloadInvalid(f"rating must be between {low} and {high} on the {item.rating_scale} scale.")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature a sender computes (also used by tests and the local demo)."""
    key = signatures.decode_base64_key(secret.removeprefix(SECRET_PREFIX))
    return "v1," + signatures.b64_digest(key, f"{message_id}.{timestamp}.".encode() + body)


class StandardWebhooksChannel(Channel):
    type = "webhook"
    secret_names = ("signing_secret",)
    generated_secrets = ("signing_secret",)
    console_help = (
        "In the sender, set the endpoint URL and the signing secret (whsec_…). Send the Standard Webhooks "
        "headers webhook-id, webhook-timestamp and webhook-signature."
    )

    def generate_secret(self, name: str) -> str:
        return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()

    def verify(self, request: WebhookRequest) -> None:
        message_id = request.header("webhook-id")
        header = request.header("webhook-signature")
        if not message_id or not header:
            raise SignatureMissing("webhook-signature")
        timestamp = signatures.check_timestamp(
            request.header("webhook-timestamp"), request.received_at, TOLERANCE_SECONDS
        )
        provided = [entry.split(",", 1)[1] for entry in header.split() if entry.startswith("v1,")]
        if not provided:
            raise SignatureInvalid("webhook-signature has no v1 entry.")
        expected = [
            sign(secret, message_id, timestamp, request.body).split(",", 1)[1]
            for secret in request.secrets.accepted("signing_secret")
        ]
        # Every provided entry is checked against every accepted key, whatever matched first.
        matches = [signatures.constant_time_in(entry, expected) for entry in provided]
        if not any(matches):
            raise SignatureInvalid()

    def normalize(self, request: WebhookRequest, payload: dict[str, Any]) -> Delivery:
        data = payload.get("data", payload)
        objects = data if isinstance(data, list) else [data]
        if not objects or len(objects) > MAX_BATCH or not all(isinstance(o, dict) for o in objects):
            raise PayloadInvalid(f"data must be a feedback object or a list of 1 to {MAX_BATCH} of them.")
        try:
            items = [WebhookFeedback.model_validate(o) for o in objects]
        except ValidationError as error:
            fields = ", ".join(".".join(map(str, issue["loc"])) for issue in error.errors())
            raise PayloadInvalid(f"Invalid feedback fields: {fields}.") from error
        message_id = request.header("webhook-id") or ""
        events = []
        for index, item in enumerate(items):
            external_id = item.id or (message_id if len(items) == 1 else f"{message_id}#{index}")
            _check_rating(item)
            events.append(
                feedback_event(
                    request,
                    channel=ChannelName.WEBHOOK,
                    kind=item.kind,
                    external_id=external_id,
                    text=item.text,
                    occurred_at=item.occurred_at or request.received_at,
                    author=Author(
                        channel_user_id=item.author.id,
                        handle=item.author.handle,
                        name=item.author.name,
                        email=item.author.email.lower() if item.author.email else None,
                    ),
                    thread_id=item.thread_id,
                    language=item.language,
                    rating=item.rating,
                    rating_scale=item.rating_scale,
                    permalink=item.url,
                    metadata={"event_type": payload.get("type")} if "data" in payload else None,
                )
            )
        return Delivery(events=events)
