"""`telegram`: a Telegram bot's webhook (Bot API `setWebhook`), one `Update` object per request.

What it stores, skips and why, and how it verifies: README.md#channel-telegram.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AliasChoices, ConfigDict, Field, StrictInt, model_validator

from chalicelib.channels import signatures
from chalicelib.channels.base import Channel, Delivery, SignedRequest, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import PayloadInvalid, SignatureInvalid, SignatureMissing
from chalicelib.channels.payloads import PlatformObject, one_of
from chalicelib.models import Author, FeedbackEvent, Kind, PlatformDeletion, feedback_id_for
from chalicelib.models import Channel as ChannelName

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
SECRET_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Update fields that carry a message a customer may have written (or edited); everything else is skipped.
MESSAGE_UPDATES = ("message", "business_message", "edited_message", "edited_business_message")
EDITED_UPDATES = frozenset({"edited_message", "edited_business_message"})
BUSINESS_UPDATES = frozenset({"business_message", "edited_business_message"})
# Messages deleted in a connected business chat: each stored one is marked deleted (platform_deleted_at).
DELETED_UPDATE = "deleted_business_messages"
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z: beyond it `datetime` cannot represent the date


class TelegramUser(PlatformObject):
    """The Bot API `User` object (the fields this channel reads)."""

    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None


class TelegramChat(PlatformObject):
    """The Bot API `Chat` object (the fields this channel reads)."""

    id: int
    type: str


class TelegramEntity(PlatformObject):
    type: str
    offset: int
    length: int


class TelegramMessage(PlatformObject):
    """The Bot API `Message` object (the fields this channel reads)."""

    model_config = ConfigDict(populate_by_name=True)

    message_id: int
    date: int = Field(ge=0, le=MAX_UNIX_SECONDS)
    edit_date: int | None = Field(default=None, ge=0, le=MAX_UNIX_SECONDS)
    chat: TelegramChat
    sender: TelegramUser | None = Field(default=None, alias="from")
    sender_chat: TelegramChat | None = None
    message_thread_id: int | None = None
    is_automatic_forward: bool = False
    business_connection_id: str | None = Field(default=None, max_length=200)
    sender_business_bot: TelegramUser | None = None
    text: str | None = None
    caption: str | None = None
    entities: list[TelegramEntity] = Field(default_factory=list)


class OtherUpdate(PlatformObject):
    """An update that carries no message (a callback, a member change, a reaction …)."""

    # An integer, as the Bot API documents it: a boolean, a float or a string is refused.
    update_id: StrictInt


class MessageUpdate(OtherUpdate):
    """An update carrying a message: under the first of MESSAGE_UPDATES it has (the others are not read)."""

    update_type: str
    message: TelegramMessage = Field(validation_alias=AliasChoices(*MESSAGE_UPDATES))

    @model_validator(mode="before")
    @classmethod
    def _name_the_update(cls, update: Any) -> Any:
        if not isinstance(update, dict):
            return update
        return {**update, "update_type": next((name for name in MESSAGE_UPDATES if name in update), None)}


class BusinessMessagesDeleted(PlatformObject):
    """The Bot API `BusinessMessagesDeleted` object: messages deleted in a Telegram Business chat."""

    business_connection_id: str = Field(min_length=1, max_length=200)
    chat: TelegramChat
    message_ids: list[StrictInt] = Field(max_length=1000)


class DeletionUpdate(OtherUpdate):
    """A `deleted_business_messages` update."""

    deleted_business_messages: BusinessMessagesDeleted


def _update_shape(update: dict[str, Any]) -> type[OtherUpdate]:
    if any(name in update for name in MESSAGE_UPDATES):
        return MessageUpdate
    return DeletionUpdate if DELETED_UPDATE in update else OtherUpdate


TelegramUpdate = Annotated[MessageUpdate | DeletionUpdate | OtherUpdate, one_of(_update_shape)]


def _is_only_a_command(message: TelegramMessage) -> bool:
    """`/start`, `/help@my_bot`: a bot command covering the whole text is an instruction, not feedback."""
    text = (message.text or "").strip()
    return any(
        entity.type == "bot_command" and entity.offset == 0 and entity.length >= len(text)
        for entity in message.entities
    )


def _customer_authored(update_type: str, message: TelegramMessage) -> bool:
    """Whether a customer (not a bot, not the business) wrote this message."""
    if message.sender is None or message.sender.is_bot:
        return False
    # Sent as a chat: the group's anonymous admins or its linked channel, i.e. the business speaking.
    if message.sender_chat is not None or message.is_automatic_forward:
        return False
    if update_type in BUSINESS_UPDATES:
        # Messages the business account (or its bot) sent in its chats arrive here too.
        return message.sender_business_bot is None and message.sender.id == message.chat.id
    return True


def _author(user: TelegramUser) -> Author:
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return Author(
        channel_user_id=str(user.id),
        handle=f"@{user.username}" if user.username else None,
        name=name or None,
    )


def _deletions(request: WebhookRequest, deleted: BusinessMessagesDeleted) -> list[PlatformDeletion]:
    """The stored business messages (`{business_connection_id}:{chat.id}:{message_id}`) to mark deleted."""
    source_id = request.source.source_id
    chat = f"{deleted.business_connection_id}:{deleted.chat.id}"
    return [
        PlatformDeletion(
            feedback_id=feedback_id_for(source_id, f"{chat}:{message_id}"),
            source_id=source_id,
            deleted_at=request.received_at,
        )
        for message_id in dict.fromkeys(deleted.message_ids)
    ]


class TelegramChannel(Channel):
    type = "telegram"
    payload_model = TelegramUpdate
    secret_names = ("secret_token",)
    generated_secrets = ("secret_token",)
    # Nothing to configure besides the secret: the update says which bot chat it comes from.
    setting_help = {}
    console_help = (
        "Register the webhook with the Bot API: POST https://api.telegram.org/bot<bot token>/setWebhook "
        "with url=https://<api>/webhooks/<source_id>, secret_token=<the generated secret_token> and "
        'allowed_updates=["message","edited_message","business_message","edited_business_message",'
        '"deleted_business_messages"]. '
        "In groups, turn the bot's privacy mode off in @BotFather (/setprivacy) or make it an admin, or it "
        "only sees commands and replies to it."
    )

    signs_body = False  # the secret_token header, sent as is

    def generate_secret(self, name: str) -> str:
        # token_urlsafe's alphabet is exactly Telegram's (A-Z a-z 0-9 _ -); 48 bytes → 64 characters.
        value = secrets.token_urlsafe(48)
        assert SECRET_TOKEN_PATTERN.match(value)
        return value

    def secret_error(self, name: str, value: str) -> str | None:
        # setWebhook refuses any other secret_token, so the source could never be registered with it.
        if SECRET_TOKEN_PATTERN.match(value):
            return None
        return "Telegram takes 1-256 characters of A-Z a-z 0-9 _ - (or use `--generate secret_token`)"

    def verify(self, request: WebhookRequest) -> None:
        provided = request.header(SECRET_HEADER)
        if not provided:
            raise SignatureMissing(SECRET_HEADER)
        if not signatures.constant_time_in(provided, request.secrets.accepted("secret_token")):
            raise SignatureInvalid(f"The {SECRET_HEADER} header does not match the source's secret_token.")

    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        return SignedRequest(headers={SECRET_HEADER: secrets["secret_token"]})

    def normalize(self, request: WebhookRequest, payload: MessageUpdate | OtherUpdate) -> Delivery:
        if isinstance(payload, DeletionUpdate):
            return Delivery(deletions=_deletions(request, payload.deleted_business_messages))
        if not isinstance(payload, MessageUpdate):
            return Delivery.nothing("not_a_message_update")  # channel posts, callbacks, members, reactions
        message = payload.message
        text = message.text if message.text is not None else message.caption
        if not text or not text.strip() or _is_only_a_command(message):
            return Delivery.nothing("no_text")
        if not _customer_authored(payload.update_type, message):
            return Delivery.nothing("not_customer_authored")
        return Delivery(events=[self._event(request, payload.update_id, payload.update_type, message, text)])

    def _event(
        self, request: WebhookRequest, update_id: int, update_type: str, message: TelegramMessage, text: str
    ) -> FeedbackEvent:
        assert message.sender is not None  # checked by _customer_authored
        chat = str(message.chat.id)
        if update_type in BUSINESS_UPDATES:
            if not message.business_connection_id:
                raise PayloadInvalid("A business_message needs its business_connection_id.")
            chat = f"{message.business_connection_id}:{chat}"
        thread = chat if message.message_thread_id is None else f"{chat}:{message.message_thread_id}"
        return feedback_event(
            request,
            channel=ChannelName.TELEGRAM,
            kind=Kind.MESSAGE,
            external_id=f"{chat}:{message.message_id}",
            text=text,
            occurred_at=datetime.fromtimestamp(message.date, UTC),
            author=_author(message.sender),
            thread_id=thread,
            metadata={
                "update_id": update_id,
                "update_type": update_type,
                "chat_type": message.chat.type,
                "edited": True if update_type in EDITED_UPDATES else None,
                "edited_at": datetime.fromtimestamp(message.edit_date, UTC).isoformat()
                if update_type in EDITED_UPDATES and message.edit_date is not None
                else None,
            },
        )
