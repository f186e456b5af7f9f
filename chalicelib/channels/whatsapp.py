"""`whatsapp`: a WhatsApp Business Account through the Cloud API's webhooks — customers' messages (channel
`whatsapp`, kind message).

Handshake and signature: see meta_common (hub.challenge; X-Hub-Signature-256 with the App Secret of the
Meta app the WhatsApp Business Account is subscribed to).

Payloads (`"object": "whatsapp_business_account"`), per Meta's "messages webhook reference"
(developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages):
`entry[].changes[]` with `field: "messages"` and `value {messaging_product, metadata {display_phone_number,
phone_number_id}, contacts [{profile {name}, wa_id, user_id}], messages [{from, from_user_id, id,
timestamp (Unix seconds, as a string), type, text {body} | image/video/document {caption} | button |
interactive | reaction | …, context, group_id}], statuses [...], errors [...]}`.

Kept: `text` messages (`text.body`) and the caption a customer typed on an image, video or document.
Edits (`type: "edit"`, `edit {original_message_id, message}`, sent for WhatsApp Business app numbers) follow
the one rule for edits: stored under `original_message_id`, so the first version received is kept, and an
edit whose original never arrived is stored with `metadata.edited = true`.
Skipped: `statuses` (sent/delivered/read/failed of the business's own messages), `errors`, reactions;
`button` and `interactive` replies (their `text`/`title` is the business's own button or list label that
the customer tapped, so it says nothing in the customer's words and would skew sentiment); audio, stickers,
locations, contacts, orders, system and unsupported messages (no text); every other field
(`smb_message_echoes`, template and account updates …).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.channels.base import WebhookRequest, feedback_event
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.meta_common import (
    MetaWebhookChannel,
    identifier,
    obj,
    objects,
    text_of,
    timestamp,
)
from chalicelib.models import Author, FeedbackEvent, Kind
from chalicelib.models import Channel as ChannelName

# Media messages whose optional caption is text the customer typed.
CAPTIONED_TYPES = frozenset({"image", "video", "document"})
EDIT_TYPE = "edit"


def _text(message: dict[str, Any], message_type: str, where: str) -> str:
    """The customer-typed text of a message ('' for types that carry none)."""
    if message_type == "text":
        return text_of(obj(message, "text", where).get("body"), f"{where}.text.body")
    if message_type in CAPTIONED_TYPES:
        return text_of(obj(message, message_type, where).get("caption"), f"{where}.{message_type}.caption")
    return ""


class WhatsAppChannel(MetaWebhookChannel):
    type = "whatsapp"
    webhook_object = "whatsapp_business_account"
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
        self, request: WebhookRequest, entry: dict[str, Any], entry_time: datetime, where: str
    ) -> Iterator[FeedbackEvent]:
        wanted_number = request.setting("phone_number_id")
        for index, change in enumerate(objects(entry, "changes", where)):
            if change.get("field") != "messages":
                continue
            value_where = f"{where}.changes[{index}].value"
            value = obj(change, "value", f"{where}.changes[{index}]")
            phone_number_id = identifier(obj(value, "metadata", value_where).get("phone_number_id"))
            if wanted_number and phone_number_id != wanted_number:
                continue
            # A message names its sender by wa_id (or, for users with a username, user_id); contacts[]
            # carries the profile name under the same key.
            names: dict[str, str] = {}
            for contact in objects(value, "contacts", value_where):
                name = obj(contact, "profile", f"{value_where}.contacts").get("name")
                for key in ("wa_id", "user_id"):
                    contact_id = identifier(contact.get(key))
                    if contact_id and isinstance(name, str) and name:
                        names[contact_id] = name
            for message_index, message in enumerate(objects(value, "messages", value_where)):
                event = self._message(
                    request,
                    message,
                    names=names,
                    phone_number_id=phone_number_id,
                    entry_time=entry_time,
                    where=f"{value_where}.messages[{message_index}]",
                )
                if event is not None:
                    yield event

    @staticmethod
    def _message(
        request: WebhookRequest,
        message: dict[str, Any],
        *,
        names: dict[str, str],
        phone_number_id: str | None,
        entry_time: datetime,
        where: str,
    ) -> FeedbackEvent | None:
        message_type = message.get("type")
        if not isinstance(message_type, str):
            raise PayloadInvalid(f"{where}.type must be a string.")
        edited = message_type == EDIT_TYPE
        if edited:
            # The edited message, in the shape of a message, and the id of the one it replaces.
            edit = obj(message, EDIT_TYPE, where)
            content, content_where = obj(edit, "message", f"{where}.edit"), f"{where}.edit.message"
            if not content:
                return None
            content_type = content.get("type")
            if not isinstance(content_type, str):
                raise PayloadInvalid(f"{content_where}.type must be a string.")
            text = _text(content, content_type, content_where)
            message_id = identifier(edit.get("original_message_id"))
        else:
            content, content_type = message, message_type
            text = _text(message, message_type, where)
            message_id = identifier(message.get("id"))
        if not text.strip():
            return None
        phone, user_id = identifier(message.get("from")), identifier(message.get("from_user_id"))
        sender = phone or user_id
        if message_id is None or sender is None:
            raise PayloadInvalid(f"{where} is a message without its id or sender (from).")
        return feedback_event(
            request,
            channel=ChannelName.WHATSAPP,
            kind=Kind.MESSAGE,
            external_id=message_id,
            text=text,
            occurred_at=timestamp(message.get("timestamp"), f"{where}.timestamp", entry_time),
            author=Author(channel_user_id=sender, name=names.get(phone or "") or names.get(user_id or "")),
            # The conversation is the business's chat with this customer (or the group it was said in).
            thread_id=identifier(message.get("group_id")) or sender,
            metadata={
                "phone_number_id": phone_number_id,
                "message_type": content_type,
                "reply_to": identifier(obj(content, "context", where).get("id")),
                "edited": True if edited else None,
            },
        )
