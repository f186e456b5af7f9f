"""`intercom`: Intercom webhook notifications (Developer Hub → your app → Webhooks).

What it stores, skips and why, and how it verifies: README.md#channel-intercom.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictInt

from chalicelib.channels import signatures
from chalicelib.channels.base import BodySignedChannel, Delivery, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.payloads import Ignored, PlatformEmail, PlatformObject, one_of
from chalicelib.channels.text import html_to_text
from chalicelib.models import Author, FeedbackEvent, Kind, RatingScale
from chalicelib.models import Channel as ChannelName

SECRET = "client_secret"  # noqa: S105 - the secret's name, not its value
SIGNATURE_HEADER = "X-Hub-Signature"
PREFIX = "sha1="
USER_CREATED = "conversation.user.created"
USER_REPLIED = "conversation.user.replied"
RATING_ADDED = "conversation.rating.added"
FEEDBACK_TOPICS = frozenset({USER_CREATED, USER_REPLIED, RATING_ADDED})
# Intercom's author types for people on the customer side; admins, bots and teams are the business.
CUSTOMER_AUTHOR_TYPES = frozenset({"user", "lead", "contact"})


class IntercomAuthor(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    type: str | None = None
    id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    email: PlatformEmail = Field(default=None, max_length=320)


class ConversationPart(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=100)
    part_type: str | None = None
    body: str | None = None
    created_at: datetime | None = None
    author: IntercomAuthor = Field(default_factory=IntercomAuthor)


class ConversationParts(PlatformObject):
    conversation_parts: list[ConversationPart] = Field(default_factory=list)


class ConversationSource(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str | None = None
    body: str | None = None
    author: IntercomAuthor = Field(default_factory=IntercomAuthor)


class ContactReference(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str | None = Field(default=None, max_length=100)
    external_id: str | None = None


class ConversationRating(PlatformObject):
    # A JSON integer, as Intercom documents it: a boolean or a string is never a rating.
    rating: StrictInt | None = None
    remark: str | None = None
    created_at: datetime | None = None
    contact: ContactReference | None = None


class Conversation(PlatformObject):
    """The Conversation model as a notification's `data.item` (only what this channel reads)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=100)
    created_at: datetime | None = None
    source: ConversationSource | None = None
    conversation_parts: ConversationParts = Field(default_factory=ConversationParts)
    conversation_rating: ConversationRating | None = None


class NotificationData(PlatformObject):
    item: Conversation


class Notification(PlatformObject):
    """A notification of one of FEEDBACK_TOPICS (the others are not read)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=200)
    topic: str
    app_id: str | None = None
    created_at: datetime | None = None
    data: NotificationData


def _notification_shape(payload: dict[str, Any]) -> type[PlatformObject]:
    topic = payload.get("topic")
    return Notification if isinstance(topic, str) and topic in FEEDBACK_TOPICS else Ignored


IntercomPayload = Annotated[Notification | Ignored, one_of(_notification_shape)]


def _is_customer(author: IntercomAuthor) -> bool:
    return (author.type or "").lower() in CUSTOMER_AUTHOR_TYPES


def _author(author: IntercomAuthor) -> Author:
    return Author(
        channel_user_id=author.id,
        name=author.name or None,
        email=author.email.strip().lower() if author.email else None,
    )


class IntercomChannel(BodySignedChannel):
    type = "intercom"
    signature_header = SIGNATURE_HEADER
    signature_prefix = PREFIX
    signing_secret = SECRET
    payload_model = IntercomPayload
    secret_names = (SECRET,)
    setting_help = {}
    console_help = (
        "app.intercom.com → Developer Hub → your app → Configure → Webhooks: endpoint URL "
        "https://<api>/webhooks/<source_id>, topics conversation.user.created, conversation.user.replied "
        "and conversation.rating.added (Intercom sends a signed ping when saved). The app's client_secret "
        "(Configure → Basic information) is this source's client_secret."
    )

    def body_digest(self, secret: str, body: bytes) -> str:
        return signatures.hex_digest(secret, body, "sha1")

    def provided_digest(self, digest: str) -> str:
        # Hex digits, accepted in either case and with spaces around them.
        return digest.strip().lower()

    def normalize(self, request: WebhookRequest, payload: Notification | Ignored) -> Delivery:
        if not isinstance(payload, Notification):
            return Delivery.nothing("not_feedback_event")  # ping, admin replies, notes, assignments …
        notification, conversation = payload, payload.data.item
        if notification.topic == RATING_ADDED:
            events = self._rating(request, notification, conversation)
        else:
            events = self._messages(request, notification, conversation)
        return Delivery(events=events)

    def _messages(
        self, request: WebhookRequest, notification: Notification, conversation: Conversation
    ) -> list[FeedbackEvent]:
        fallback_time = notification.created_at or request.received_at
        # What customers said: (external id, HTML body, when, who, the conversation part it is).
        said: list[tuple[str, str | None, datetime, IntercomAuthor, str | None]] = []
        source = conversation.source
        if notification.topic == USER_CREATED and source is not None and _is_customer(source.author):
            occurred_at = conversation.created_at or fallback_time
            said.append((f"conversation:{conversation.id}", source.body, occurred_at, source.author, None))
        for part in conversation.conversation_parts.conversation_parts:
            if part.part_type != "note" and _is_customer(part.author):
                occurred_at = part.created_at or fallback_time
                said.append((f"part:{part.id}", part.body, occurred_at, part.author, part.id))
        events = []
        for external_id, body, occurred_at, author, part_id in said:
            text = html_to_text(body)
            if text:
                events.append(
                    self._event(
                        request,
                        notification,
                        conversation,
                        external_id=external_id,
                        kind=Kind.MESSAGE,
                        text=text,
                        occurred_at=occurred_at,
                        author=_author(author),
                        part_id=part_id,
                    )
                )
        return events

    def _rating(
        self, request: WebhookRequest, notification: Notification, conversation: Conversation
    ) -> list[FeedbackEvent]:
        rating = conversation.conversation_rating
        if rating is None:
            raise PayloadInvalid("A conversation.rating.added item needs a conversation_rating.")
        low, high = RatingScale.CSAT.bounds
        if rating.rating is not None and not low <= rating.rating <= high:
            raise PayloadInvalid(f"conversation_rating.rating must be between {low} and {high}.")
        remark = html_to_text(rating.remark)
        if rating.rating is None and not remark:
            return []
        contact_id = rating.contact.id if rating.contact else None
        source_author = conversation.source.author if conversation.source else IntercomAuthor()
        # The rating names the contact by id only; the opening message often carries their name and email.
        author = _author(source_author) if contact_id and source_author.id == contact_id else None
        return [
            self._event(
                request,
                notification,
                conversation,
                external_id=f"conversation:{conversation.id}:rating",
                kind=Kind.REVIEW,
                text=remark,
                # The notification's time is when the rating was given; the rating's own created_at is
                # documented as the time it was requested.
                occurred_at=notification.created_at or rating.created_at or request.received_at,
                author=author or Author(channel_user_id=contact_id),
                rating=rating.rating,
            )
        ]

    def _event(
        self,
        request: WebhookRequest,
        notification: Notification,
        conversation: Conversation,
        *,
        external_id: str,
        kind: Kind,
        text: str,
        occurred_at: datetime,
        author: Author,
        rating: int | None = None,
        part_id: str | None = None,
    ) -> FeedbackEvent:
        return feedback_event(
            request,
            channel=ChannelName.INTERCOM,
            kind=kind,
            external_id=external_id,
            text=text,
            occurred_at=occurred_at,
            author=author,
            thread_id=conversation.id,
            rating=rating,
            rating_scale=RatingScale.CSAT,
            metadata={
                "topic": notification.topic,
                "notification_id": notification.id,
                "app_id": notification.app_id,
                "part_id": part_id,
            },
        )
