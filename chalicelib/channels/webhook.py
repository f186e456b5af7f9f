"""`webhook`: any Standard Webhooks sender (Zapier, n8n, Make, in-house systems).

What it stores, skips and why, and how it verifies: README.md#channel-webhook.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from annotated_types import Len
from pydantic import (
    BaseModel,
    Field,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.channels import signatures
from chalicelib.channels.base import (
    Channel,
    Delivery,
    SignedRequest,
    Skipped,
    WebhookRequest,
    feedback_event,
    language_code,
)
from chalicelib.channels.exceptions import PayloadInvalid, SignatureInvalid, SignatureMissing
from chalicelib.channels.payloads import Ignored, PlatformObject, one_of, refused
from chalicelib.models import Author, Kind, PlatformDeletion, RatingScale, feedback_id_for
from chalicelib.models import Channel as ChannelName

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme prefix, not a secret
MAX_BATCH = 100
FEEDBACK_TYPE_PREFIX = "feedback."
UPDATED_TYPE = "feedback.updated"
# The sender says the items it names (by id) are gone: each stored one is marked, as a platform's deletion is.
DELETED_TYPE = "feedback.deleted"


def _time_or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime | None:
    try:
        return handler(value)
    except ValidationError:
        return None


# The envelope's `timestamp`, "when the event occurred" in the spec's payload structure: the time of items
# that give no occurred_at. Read leniently: a sender's envelope time was ignored before it was read.
EventTime = Annotated[datetime | None, WrapValidator(_time_or_none)]


class WebhookAuthor(PlatformObject):
    id: str | None = Field(default=None, max_length=200)
    handle: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        # The customer's profile is keyed on it and the CRMs refuse a contact with a malformed one (the sync
        # of such an item ended in the CRM DLQ): refused here, as a form refuses it. Checked as forms do.
        if not value:
            return None
        from pydantic.networks import validate_email  # and email_validator: on the first address, not at INIT

        try:
            return validate_email(value)[1]
        except PydanticCustomError:
            raise refused("not an e-mail address such as name@example.com") from None


class WebhookFeedback(PlatformObject):
    """The documented feedback object a generic sender posts."""

    id: str | None = Field(default=None, min_length=1, max_length=200)
    text: str = Field(default="", max_length=10_000)
    author: WebhookAuthor = Field(default_factory=WebhookAuthor)
    # Strict: a JSON integer; true, "5" and 5.0 are refused (README "Webhook sources").
    rating: StrictInt | None = None
    rating_scale: RatingScale | None = None
    occurred_at: datetime | None = None
    language: str | None = Field(default=None, max_length=35)
    url: str | None = Field(default=None, max_length=2048)
    thread_id: str | None = Field(default=None, max_length=200)
    kind: Kind = Kind.COMMENT

    @field_validator("language")
    @classmethod
    def _names_a_language(cls, value: str | None) -> str | None:
        # Refused, not dropped: the sender can fix it, and an item stored without it would be analyzed in
        # whatever language detection guesses (or, kept as sent, not analyzed at all).
        if value and language_code(value) is None:
            raise refused("an ISO 639-1 code such as en, or a tag such as pt-BR")
        return value


class BareFeedback(WebhookFeedback):
    """A body that is the feedback object itself, its `type` (if any) announcing feedback."""

    type: str | None = None
    timestamp: EventTime = None


# A batch: `data` as a list of feedback objects.
Batch = Annotated[list[WebhookFeedback], Len(1, MAX_BATCH)]


class Envelope(PlatformObject):
    """The Standard Webhooks envelope of feedback: `data` is one feedback object or a batch of them."""

    type: str | None = None
    timestamp: EventTime = None
    data: Annotated[
        WebhookFeedback | Batch, one_of(lambda data: WebhookFeedback if isinstance(data, dict) else Batch)
    ]


def _announces_feedback(event_type: str) -> bool:
    return event_type.startswith(FEEDBACK_TYPE_PREFIX)


def _delivery_shape(payload: dict[str, Any]) -> type[BaseModel]:
    # An envelope without a type is taken as feedback; a type that is not a string is refused (by the model).
    event_type = payload.get("type")
    if isinstance(event_type, str) and not _announces_feedback(event_type):
        return Ignored
    return Envelope if "data" in payload else BareFeedback


WebhookPayload = Annotated[Envelope | BareFeedback | Ignored, one_of(_delivery_shape)]


def _check_rating(item: WebhookFeedback, where: str) -> None:
    if item.rating is None:
        return
    if item.rating_scale is None:
        raise PayloadInvalid(f"{where}rating needs {where}rating_scale (nps, csat or stars).")
    low, high = item.rating_scale.bounds
    if not low <= item.rating <= high:
        raise PayloadInvalid(
            f"{where}rating must be between {low} and {high} on the {item.rating_scale} scale."
        )


def _signature(secret: str, message_id: str, timestamp: int | str, body: bytes) -> str:
    """The `v1,<base64>` signature a sender computes."""
    key = signatures.decode_base64_key(secret.removeprefix(SECRET_PREFIX))
    return "v1," + signatures.b64_digest(key, f"{message_id}.{timestamp}.".encode() + body)


def _deletions(
    request: WebhookRequest, items: list[WebhookFeedback], batch: bool, sent_at: datetime | None
) -> Delivery:
    """`feedback.deleted`: each item named by its `id` is marked deleted (platform_deleted_at), not removed;
    one without an id names nothing stored (an item stored under the webhook-id cannot be named again)."""
    source_id = request.source.source_id
    deleted_at = min(sent_at, request.received_at) if sent_at else request.received_at
    deletions, skipped = {}, []
    for index, item in enumerate(items):
        if not item.id:
            skipped.append(Skipped("no_id", index if batch else None))
            continue
        feedback_id = feedback_id_for(source_id, item.id)
        deletions[feedback_id] = PlatformDeletion(
            feedback_id=feedback_id, source_id=source_id, deleted_at=deleted_at
        )
    return Delivery(deletions=list(deletions.values()), skipped=skipped)


class StandardWebhooksChannel(Channel):
    type = "webhook"
    payload_model = WebhookPayload
    payload_name = "feedback"
    secret_names = ("signing_secret",)
    generated_secrets = ("signing_secret",)
    console_help = (
        "In the sender, set the endpoint URL and the signing secret (whsec_…). Send the Standard Webhooks "
        "headers webhook-id, webhook-timestamp and webhook-signature."
    )

    replay_window = timedelta(seconds=TOLERANCE_SECONDS)

    def generate_secret(self, name: str) -> str:
        return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()

    def secret_error(self, name: str, value: str) -> str | None:
        # The spec's key is base64 (whsec_ marks it); any other string made every delivery a 500.
        try:
            signatures.decode_base64_key(value.removeprefix(SECRET_PREFIX))
        except ValueError:
            return "a Standard Webhooks key is whsec_ followed by base64 (as `sources add` generates it)"
        return None

    def verify(self, request: WebhookRequest) -> None:
        message_id = request.header("webhook-id")
        header = request.header("webhook-signature")
        if not header:
            raise SignatureMissing("webhook-signature")
        if not message_id:
            raise SignatureMissing("webhook-id", "header")
        # Signed as sent: the header string, not a reformatted number.
        timestamp = request.header("webhook-timestamp") or ""
        signatures.check_timestamp(timestamp, request.received_at, TOLERANCE_SECONDS, "webhook-timestamp")
        provided = [entry.split(",", 1)[1] for entry in header.split() if entry.startswith("v1,")]
        if not provided:
            raise SignatureInvalid("webhook-signature has no v1 entry.")
        expected = [
            _signature(secret, message_id, timestamp, request.body).split(",", 1)[1]
            for secret in request.secrets.accepted("signing_secret")
        ]
        # Every provided entry is checked against every accepted key, whatever matched first.
        matches = [signatures.constant_time_in(entry, expected) for entry in provided]
        if not any(matches):
            raise SignatureInvalid()

    def sign(
        self, body: bytes, secrets: Mapping[str, str], now: datetime, *, message_id: str | None = None
    ) -> SignedRequest:
        """The spec's three headers; the message id defaults to one derived from the body, so that a resend
        of the same body is the same message."""
        message_id = message_id or "msg_" + hashlib.sha256(body).hexdigest()[:27]
        timestamp = str(int(now.timestamp()))
        signature = _signature(secrets["signing_secret"], message_id, timestamp, body)
        return SignedRequest(
            headers={"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
        )

    def normalize(self, request: WebhookRequest, payload: Envelope | BareFeedback | Ignored) -> Delivery:
        if isinstance(payload, Ignored):
            return Delivery.nothing("not_feedback_event")
        data = payload.data if isinstance(payload, Envelope) else payload
        batch = isinstance(data, list)
        items = data if isinstance(data, list) else [data]
        if payload.type == DELETED_TYPE:
            return _deletions(request, items, batch, payload.timestamp)
        # Field names in errors say which item of a batch is wrong: data[3].rating.
        for index, item in enumerate(items):
            _check_rating(item, f"data[{index}]." if batch else "")
        event_type = payload.type
        message_id = request.header("webhook-id") or ""
        events, skipped, seen = [], [], set()
        for index, item in enumerate(items):
            if not item.text.strip() and item.rating is None:
                skipped.append(Skipped("no_text_or_rating", index if batch else None))
                continue
            external_id = item.id or (message_id if len(items) == 1 else f"{message_id}#{index}")
            if external_id in seen:
                # The store keeps the first anyway; the answer counts what is stored, and says which was not.
                skipped.append(Skipped("duplicate_id", index))
                continue
            seen.add(external_id)
            events.append(
                feedback_event(
                    request,
                    channel=ChannelName.WEBHOOK,
                    kind=item.kind,
                    external_id=external_id,
                    text=item.text,
                    occurred_at=item.occurred_at or payload.timestamp or request.received_at,
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
                    metadata={
                        "event_type": event_type if isinstance(payload, Envelope) else None,
                        "edited": True if event_type == UPDATED_TYPE else None,
                    },
                )
            )
        return Delivery(events=events, skipped=skipped)
