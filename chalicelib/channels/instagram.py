"""`instagram`: an Instagram professional account through a Meta app's Webhooks — comments, live comments
and direct messages (channel `instagram`).

What it stores, skips and why, and how it verifies: README.md#channel-instagram.
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
    NOT_FEEDBACK,
    OWN_MESSAGE,
    MessagingEntry,
    MessagingItem,
    MetaDelivery,
    MetaWebhookChannel,
    Outcome,
    PlacedOutcome,
    messaging_event,
    messaging_events,
)
from chalicelib.channels.payloads import (
    Deferred,
    Identifier,
    Ignored,
    Object,
    Objects,
    PlatformObject,
    Text,
    one_of,
    valid,
)
from chalicelib.models import Author, Kind
from chalicelib.models import Channel as ChannelName

COMMENT_FIELDS = frozenset({"comments", "live_comments"})


class CommentAuthor(PlatformObject):
    id: Identifier = None
    username: Text = ""


class Media(PlatformObject):
    id: Identifier = None
    media_product_type: Identifier = None  # FEED, REELS, LIVE …


class CommentValue(PlatformObject):
    """A comment or live comment on the account's media. Its author is checked on every comment; the rest
    only on comments by others, as only those are read."""

    author: Object[CommentAuthor] = Field(default=CommentAuthor(), validation_alias="from")
    id: Identifier = None
    text: Deferred[Text] = ""
    parent_id: Identifier = None
    media: Deferred[Object[Media]] = Media()


class CommentChange(PlatformObject):
    field: str
    value: Object[CommentValue] = CommentValue()


class MessagesChange(PlatformObject):
    """A direct message delivered as a change (`field: messages`), in the Messenger Platform shape."""

    value: Object[MessagingItem] = MessagingItem()


class OtherChange(PlatformObject):
    """A change of a field this channel does not read (story_insights, messaging_seen, mentions …)."""

    field: Any = None
    value: Object[Ignored] = Ignored()


def _change_shape(change: Any) -> type[PlatformObject]:
    # Unknown fields, and a field that is not even a string, are skipped alike.
    field = change.get("field") if isinstance(change, dict) else None
    if isinstance(field, str) and field in COMMENT_FIELDS:
        return CommentChange
    return MessagesChange if field == "messages" else OtherChange


class InstagramEntry(MessagingEntry):
    changes: Objects[Annotated[CommentChange | MessagesChange | OtherChange, one_of(_change_shape)]] = []


class InstagramChannel(MetaWebhookChannel):
    type = "instagram"
    webhook_object = "instagram"
    payload_model = MetaDelivery[InstagramEntry]
    setting_help = {
        "account_id": "The Instagram professional account id. Optional: each entry's id is the account "
        "id; set it to also skip the account's own comments and messages when the entry id differs.",
        "username": "The account's Instagram username (without @). Optional: comments from this username "
        "are the account's own replies and are skipped.",
    }
    console_help = (
        "developers.facebook.com → your app → Webhooks (or Instagram → API setup → Configure webhooks): "
        "object Instagram, Callback URL https://<api>/webhooks/<source_id>, Verify token = this source's "
        "verify_token; subscribe the fields `comments`, `live_comments` and `messages`. Secret "
        "app_secret = App settings → Basic → App Secret (the Instagram app secret for Business Login for "
        "Instagram apps)."
    )

    def entry_events(
        self, request: WebhookRequest, entry: InstagramEntry, entry_time: datetime
    ) -> Iterator[PlacedOutcome]:
        own_ids = {i for i in (entry.id, request.setting("account_id")) if i}
        own_username = (request.setting("username") or "").lstrip("@").lower()
        for index, change in enumerate(entry.changes):
            outcome: Outcome
            if isinstance(change, CommentChange):
                outcome = self._comment(
                    request, change, own_ids=own_ids, own_username=own_username, entry_time=entry_time
                )
            elif isinstance(change, MessagesChange):
                outcome = messaging_event(
                    request,
                    change.value,
                    channel=ChannelName.INSTAGRAM,
                    own_ids=own_ids,
                    entry_time=entry_time,
                )
            else:
                # A mention carries ids only (no text, no author); other fields are no feedback.
                outcome = NO_TEXT if change.field == "mentions" else NOT_FEEDBACK
            yield f"changes[{index}]", outcome
        yield from messaging_events(
            request, entry, channel=ChannelName.INSTAGRAM, own_ids=own_ids, entry_time=entry_time
        )

    @staticmethod
    def _comment(
        request: WebhookRequest,
        change: CommentChange,
        *,
        own_ids: set[str],
        own_username: str,
        entry_time: datetime,
    ) -> Outcome:
        """A comment (or live comment) on the account's media, or why it is none (the account wrote it)."""
        value = change.value
        author = value.author
        if author.id in own_ids or (own_username and author.username.lower() == own_username):
            return OWN_MESSAGE
        text = valid(value.text)
        if not text.strip():
            return NO_TEXT
        if value.id is None:
            raise PayloadInvalid("An Instagram comment has no id.")
        media = valid(value.media)
        return feedback_event(
            request,
            channel=ChannelName.INSTAGRAM,
            kind=Kind.COMMENT,
            external_id=value.id,
            text=text,
            # The comments webhook carries no creation time; entry.time is when Meta sent it, moments later.
            occurred_at=entry_time,
            author=Author(channel_user_id=author.id, handle=author.username or None),
            thread_id=media.id,
            metadata={
                "field": change.field,
                "media_product_type": media.media_product_type,
                "parent_id": value.parent_id,
            },
        )
