"""`whatsapp`: a WhatsApp Business Account through the Cloud API's webhooks — customers' messages (channel
`whatsapp`, kind message).

What it stores, skips and why, and how it verifies: README.md#channel-whatsapp.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from chalicelib.channels.base import WebhookRequest, feedback_event
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.meta_common import (
    NO_TEXT,
    NOT_CUSTOMER_WORDS,
    NOT_FEEDBACK,
    OTHER_PHONE_NUMBER,
    MetaDelivery,
    MetaEntry,
    MetaTime,
    MetaWebhookChannel,
    Outcome,
    PlacedOutcome,
)
from chalicelib.channels.payloads import (
    Deferred,
    Identifier,
    Ignored,
    Name,
    NonEmptyObject,
    Object,
    Objects,
    PlatformObject,
    Text,
    one_of,
    valid,
)
from chalicelib.models import Author, Kind
from chalicelib.models import Channel as ChannelName

# Media messages whose optional caption is text the customer typed.
CAPTIONED_TYPES = frozenset({"image", "video", "document"})
EDIT_TYPE = "edit"


class TextContent(PlatformObject):
    body: Text = ""


class CaptionedMedia(PlatformObject):
    caption: Text = ""


class Context(PlatformObject):
    """What a message replies to."""

    id: Identifier = None


class WhatsAppEdit(PlatformObject):
    original_message_id: Identifier = None
    # The edited message, in the shape of a message.
    message: NonEmptyObject[WhatsAppMessage] = None


class WhatsAppMessage(PlatformObject):
    """A message in `value.messages[]`. Its type is checked on every message; the content of its type (and
    the rest) only on messages that are read."""

    type: str
    id: Identifier = None
    sender: Identifier = Field(default=None, validation_alias="from")
    from_user_id: Identifier = None
    group_id: Identifier = None
    timestamp: Deferred[MetaTime] = None
    context: Deferred[Object[Context]] = Context()
    text: Deferred[Object[TextContent]] = TextContent()
    image: Deferred[Object[CaptionedMedia]] = CaptionedMedia()
    video: Deferred[Object[CaptionedMedia]] = CaptionedMedia()
    document: Deferred[Object[CaptionedMedia]] = CaptionedMedia()
    edit: Deferred[Object[WhatsAppEdit]] = Field(default_factory=WhatsAppEdit)

    def typed_text(self) -> str:
        """The text the customer typed ('' for types that carry none)."""
        if self.type == "text":
            return valid(self.text).body
        captioned = {"image": self.image, "video": self.video, "document": self.document}.get(self.type)
        return valid(captioned).caption if captioned is not None else ""


WhatsAppEdit.model_rebuild()


class ContactProfile(PlatformObject):
    name: Name = None


class Contact(PlatformObject):
    profile: Object[ContactProfile] = ContactProfile()
    wa_id: Identifier = None
    user_id: Identifier = None


class PhoneNumber(PlatformObject):
    phone_number_id: Identifier = None


class MessagesValue(PlatformObject):
    metadata: Object[PhoneNumber] = PhoneNumber()
    # Read (and so checked) only for the wanted business phone number.
    contacts: Deferred[Objects[Contact]] = []
    messages: Deferred[Objects[WhatsAppMessage]] = []


class MessagesChange(PlatformObject):
    value: Object[MessagesValue] = MessagesValue()


def _change_shape(change: Any) -> type[PlatformObject]:
    # Every other field (smb_message_echoes, template and account updates …) is not read.
    return MessagesChange if isinstance(change, dict) and change.get("field") == "messages" else Ignored


class WhatsAppEntry(MetaEntry):
    changes: Objects[Annotated[MessagesChange | Ignored, one_of(_change_shape)]] = []


def _why_no_text(message_type: str) -> str:
    """Why a message without typed text is skipped: a tapped button or list item is the business's label,
    a reaction is no message, anything else (audio, sticker, location …) has no words."""
    if message_type in ("button", "interactive"):
        return NOT_CUSTOMER_WORDS
    return NOT_FEEDBACK if message_type in ("reaction", "system") else NO_TEXT


class WhatsAppChannel(MetaWebhookChannel):
    type = "whatsapp"
    webhook_object = "whatsapp_business_account"
    payload_model = MetaDelivery[WhatsAppEntry]
    setting_help = {
        "phone_number_id": "Optional: keep only messages sent to this business phone number id (a WhatsApp "
        "Business Account delivers every number's messages to the same webhook).",
    }
    console_help = (
        "developers.facebook.com → your app → WhatsApp → Configuration → Webhook: Callback URL "
        "https://<api>/webhooks/<source_id>, Verify token = this source's verify_token; then subscribe the "
        "`messages` webhook field. Secret app_secret = App settings → Basic → App Secret of that app."
    )

    def entry_events(
        self, request: WebhookRequest, entry: WhatsAppEntry, entry_time: datetime
    ) -> Iterator[PlacedOutcome]:
        wanted_number = request.setting("phone_number_id")
        for index, change in enumerate(entry.changes):
            place = f"changes[{index}]"
            if not isinstance(change, MessagesChange):
                yield place, NOT_FEEDBACK  # smb_message_echoes, template and account updates …
                continue
            value = change.value
            phone_number_id = value.metadata.phone_number_id
            if wanted_number and phone_number_id != wanted_number:
                yield place, OTHER_PHONE_NUMBER
                continue
            if not valid(value.messages):
                yield place, NOT_FEEDBACK  # statuses of the business's own messages, errors
                continue
            # A message names its sender by wa_id (or, for users with a username, user_id); contacts[]
            # carries the profile name under the same key.
            names: dict[str, str] = {}
            for contact in valid(value.contacts):
                for contact_id in (contact.wa_id, contact.user_id):
                    if contact_id and contact.profile.name:
                        names[contact_id] = contact.profile.name
            for message_index, message in enumerate(valid(value.messages)):
                outcome = self._message(
                    request, message, names=names, phone_number_id=phone_number_id, entry_time=entry_time
                )
                yield f"{place}.value.messages[{message_index}]", outcome

    @staticmethod
    def _message(
        request: WebhookRequest,
        message: WhatsAppMessage,
        *,
        names: dict[str, str],
        phone_number_id: str | None,
        entry_time: datetime,
    ) -> Outcome:
        edited = message.type == EDIT_TYPE
        if edited:
            # The edited message, in the shape of a message, and the id of the one it replaces.
            edit = valid(message.edit)
            if edit.message is None:
                return NO_TEXT
            content, message_id = edit.message, edit.original_message_id
        else:
            content, message_id = message, message.id
        text = content.typed_text()
        if not text.strip():
            return _why_no_text(content.type)
        phone, user_id = message.sender, message.from_user_id
        sender = phone or user_id
        if message_id is None or sender is None:
            raise PayloadInvalid("A message has no id or sender (from).")
        return feedback_event(
            request,
            channel=ChannelName.WHATSAPP,
            kind=Kind.MESSAGE,
            external_id=message_id,
            text=text,
            occurred_at=valid(message.timestamp) or entry_time,
            author=Author(channel_user_id=sender, name=names.get(phone or "") or names.get(user_id or "")),
            # The conversation is the business's chat with this customer (or the group it was said in).
            thread_id=message.group_id or sender,
            metadata={
                "phone_number_id": phone_number_id,
                "message_type": content.type,
                "reply_to": valid(content.context).id,
                "edited": True if edited else None,
            },
        )
