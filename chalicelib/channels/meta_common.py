"""What the Meta channels (`meta`, `instagram`, `whatsapp`) share: the Webhooks product's GET verification
handshake, the `X-Hub-Signature-256` check, the model of a delivery's batched entries, and the Messenger
Platform `messaging[]` events that Facebook Pages and Instagram both send.

What it stores, skips and why, and how it verifies: README.md#meta-shared-by-meta-instagram-whatsapp.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from chalice import Response
from pydantic import PlainValidator

from chalicelib.channels import signatures
from chalicelib.channels.base import BodySignedChannel, Delivery, Skipped, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import HandshakeMalformed, HandshakeRefused, PayloadInvalid
from chalicelib.channels.payloads import (
    Deferred,
    Identifier,
    NonEmptyObject,
    Object,
    Objects,
    PlatformObject,
    Text,
    refused,
    valid,
)
from chalicelib.models import Author, FeedbackEvent, Kind, PlatformDeletion, feedback_id_for
from chalicelib.models import Channel as ChannelName

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# Meta's challenges are short numbers; anything much longer is not a Meta verification request.
MAX_CHALLENGE_LENGTH = 256
# Unix times above this are milliseconds (1e11 s is the year 5138): Messenger sends ms, the rest seconds.
_MILLISECONDS_FROM = 100_000_000_000


# --- the documented shapes -----------------------------------------------------------------------------


def _meta_time(value: Any) -> datetime | None:
    """A platform time: Unix seconds or milliseconds (number or numeric string) or ISO 8601; None when
    absent or empty, refused when unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            parsed = datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        number = int(value) if isinstance(value, str) else value
        if not isinstance(number, int | float):
            raise TypeError(value)
        seconds = number / 1000 if abs(number) >= _MILLISECONDS_FROM else number
        return datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise refused("is not a Unix time or ISO 8601 date") from error


# When something happened, as the Meta platforms write it (None: not said, so the entry's time is used).
MetaTime = Annotated[datetime | None, PlainValidator(_meta_time)]


class Party(PlatformObject):
    """A messaging event's `sender` or `recipient`."""

    id: Identifier = None


class Reference(PlatformObject):
    mid: Identifier = None


class MessengerMessage(PlatformObject):
    """A messaging event's `message` (or `message_edit`). Its text and reply reference are read, and so
    refused when malformed, only for a customer's message."""

    mid: Identifier = None
    text: Deferred[Text] = ""
    is_echo: Any = None
    is_deleted: Any = None
    is_unsupported: Any = None
    quick_reply: Any = None
    reply_to: Deferred[Object[Reference]] = Reference()


class MessagingItem(PlatformObject):
    """One Messenger Platform messaging event: a message, an edit, or something else (a reaction, a read
    receipt …) that has neither."""

    message_edit: NonEmptyObject[MessengerMessage] = None
    # Read only when there is no edit.
    message: Deferred[NonEmptyObject[MessengerMessage]] = None
    sender: Deferred[Object[Party]] = Party()
    recipient: Deferred[Object[Party]] = Party()
    timestamp: Deferred[MetaTime] = None


class MetaEntry(PlatformObject):
    """An `entry[]` item: the Page, account or WhatsApp Business Account it is about, and when it was sent."""

    id: Identifier = None
    time: MetaTime = None


class MessagingEntry(MetaEntry):
    """An entry that may carry Messenger Platform events (Facebook Pages and Instagram)."""

    messaging: Objects[MessagingItem] = []
    # Messages received while another app (such as the Page inbox) owns the conversation.
    standby: Objects[MessagingItem] = []


EntryT = TypeVar("EntryT", bound=MetaEntry)


class MetaDelivery(PlatformObject, Generic[EntryT]):
    """A Webhooks delivery: the object it is for, and a batch of entries."""

    object: Any = None
    entry: Objects[EntryT] = []


# Why an item of a Meta delivery is not stored: the answer's `skipped` reasons, each with the item's place.
OWN_MESSAGE = "own_message"  # the business's own comment, post or message (an echo)
NOT_FEEDBACK = "not_feedback_event"  # reactions, receipts, postbacks, hides, other fields
NO_TEXT = "no_text"  # nothing typed: a photo, sticker or audio only, a mention (ids only)
NOT_CUSTOMER_WORDS = "not_customer_words"  # a tapped quick reply or button: the business's own label
NO_AUTHOR = "no_author"  # a post that names no author (a visitor's cannot be told from the Page's)
OTHER_PHONE_NUMBER = "other_phone_number"  # WhatsApp: another number than the source's phone_number_id
# An item's event, the platform's deletion of a stored item, or why it is skipped; an entry's items come with
# their place in the entry.
Outcome = FeedbackEvent | PlatformDeletion | str
PlacedOutcome = tuple[str, Outcome]


def platform_deletion(request: WebhookRequest, external_id: str) -> PlatformDeletion:
    """Meta's word that the item stored under `external_id` (a comment, post or message id) is gone: the
    item is marked platform_deleted_at by the analyze step, not removed (as Trustpilot's deleted reviews)."""
    source_id = request.source.source_id
    return PlatformDeletion(
        feedback_id=feedback_id_for(source_id, external_id),
        source_id=source_id,
        deleted_at=request.received_at,
    )


def unique(events: Iterable[FeedbackEvent]) -> list[FeedbackEvent]:
    """Events in order, each platform id once (a delivery may repeat an item; the store would too)."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.external_id not in seen:
            seen.add(event.external_id)
            kept.append(event)
    return kept


# --- Messenger Platform messaging events (Facebook Pages and Instagram) -----------------------------------


def messaging_event(
    request: WebhookRequest,
    item: MessagingItem,
    *,
    channel: ChannelName,
    own_ids: set[str],
    entry_time: datetime,
) -> Outcome:
    """The customer's text message in one messaging event, or why it is none.

    An edit (`message_edit {mid, text, num_edit}`, the `message_edits` webhook field) is the message as
    edited under the original's `mid`, so the first version received is kept; stored only when the original
    never arrived, with `metadata.edited = true`. A message its sender unsent (`is_deleted`) is a deletion
    of the stored one (same `mid`).

    Skipped: the business's own messages (`is_echo`, or a sender that is the Page / account itself);
    reactions, read and delivery receipts, postbacks, opt-ins and referrals (no `message`);
    unsupported messages; quick-reply taps (the words are the business's button
    title, not the customer's); messages with only attachments, stickers or story mentions (no text).
    """
    edit = item.message_edit
    message = edit or valid(item.message)
    if message is None:
        return NOT_FEEDBACK
    sender_id = valid(item.sender).id
    if message.is_echo or sender_id in own_ids:
        return OWN_MESSAGE
    if message.is_deleted:
        # The customer unsent it: the stored message (same mid) is marked, not removed.
        return platform_deletion(request, message.mid) if message.mid else NOT_FEEDBACK
    if message.quick_reply:
        return NOT_CUSTOMER_WORDS
    text = valid(message.text)
    if message.is_unsupported or not text.strip():
        return NO_TEXT
    if message.mid is None or sender_id is None:
        raise PayloadInvalid(f"A message has no {'message_edit' if edit else 'message'}.mid or sender.id.")
    reply_to = valid(message.reply_to)
    return feedback_event(
        request,
        channel=channel,
        kind=Kind.MESSAGE,
        external_id=message.mid,
        text=text,
        occurred_at=valid(item.timestamp) or entry_time,
        author=Author(channel_user_id=sender_id),
        # The conversation is the business's thread with this (page- or Instagram-scoped) sender.
        thread_id=sender_id,
        metadata={
            "recipient_id": valid(item.recipient).id,
            "reply_to_mid": reply_to.mid,
            "edited": True if edit else None,
        },
    )


def messaging_events(
    request: WebhookRequest,
    entry: MessagingEntry,
    *,
    channel: ChannelName,
    own_ids: set[str],
    entry_time: datetime,
) -> Iterator[PlacedOutcome]:
    """Each of an entry's messaging events (`messaging[]` and `standby[]`): a customer's text message, or why
    it is none."""
    for name, items in (("messaging", entry.messaging), ("standby", entry.standby)):
        for index, item in enumerate(items):
            outcome = messaging_event(request, item, channel=channel, own_ids=own_ids, entry_time=entry_time)
            yield f"{name}[{index}]", outcome


# --- the channel base ------------------------------------------------------------------------------------


class MetaWebhookChannel(BodySignedChannel):
    """A channel fed by Meta's Webhooks product: verify-token handshake, app-secret signature, entries."""

    secret_names = ("app_secret", "verify_token")
    signature_header = SIGNATURE_HEADER
    signature_prefix = SIGNATURE_PREFIX
    signing_secret = "app_secret"  # noqa: S105 - the secret's name, not its value
    # Meta issues the App Secret; the verify token is ours to choose and paste into the App Dashboard.
    generated_secrets = ("verify_token",)
    # The payload's `object` this channel serves (`page`, `instagram`, `whatsapp_business_account`).
    webhook_object: ClassVar[str]

    def handshake(self, request: WebhookRequest) -> Response:
        """Echo `hub.challenge` as text/plain when `hub.verify_token` is this source's verify_token."""
        mode = request.query.get("hub.mode")
        token = request.query.get("hub.verify_token")
        challenge = request.query.get("hub.challenge")
        if not mode or token is None or not challenge:
            raise HandshakeMalformed(
                "A verification request needs hub.mode, hub.verify_token and hub.challenge."
            )
        if mode != "subscribe":
            raise HandshakeMalformed("hub.mode must be 'subscribe'.")
        if len(challenge) > MAX_CHALLENGE_LENGTH:
            raise HandshakeMalformed("hub.challenge is too long.")
        # Constant-time against the current token and, during a rotation, the previous one.
        if not signatures.constant_time_in(token, request.secrets.accepted("verify_token")):
            raise HandshakeRefused()
        return Response(
            body=challenge,
            status_code=200,
            headers={"Content-Type": "text/plain", "X-Content-Type-Options": "nosniff"},
        )

    def body_digest(self, secret: str, body: bytes) -> str:
        return signatures.hex_digest(secret, body)

    def provided_digest(self, digest: str) -> str:
        # Hex digits, accepted in either case.
        return digest.lower()

    def normalize(self, request: WebhookRequest, payload: MetaDelivery[Any]) -> Delivery:
        if payload.object != self.webhook_object:
            raise PayloadInvalid(
                f"A {self.type} source takes webhooks for the {self.webhook_object!r} object, "
                f"not {payload.object!r}: point that subscription at a source of its own type."
            )
        events: list[FeedbackEvent] = []
        skipped: list[Skipped] = []
        deletions: dict[str, PlatformDeletion] = {}
        for entry_index, entry in enumerate(payload.entry):
            for place, outcome in self.entry_events(request, entry, entry.time or request.received_at):
                if isinstance(outcome, str):
                    skipped.append(Skipped(outcome, item=f"entry[{entry_index}].{place}"))
                elif isinstance(outcome, PlatformDeletion):
                    deletions[outcome.feedback_id] = outcome
                else:
                    events.append(outcome)
        return Delivery(events=unique(events), skipped=skipped, deletions=list(deletions.values()))

    @abstractmethod
    def entry_events(
        self, request: WebhookRequest, entry: Any, entry_time: datetime
    ) -> Iterator[PlacedOutcome]:
        """Each item of one `entry[]` (of the channel's own entry model), with its place in the entry
        ("changes[1]"): the customer-authored text it holds, or why it holds none."""
