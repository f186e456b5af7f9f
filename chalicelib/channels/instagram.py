"""`instagram`: an Instagram professional account through a Meta app's Webhooks — comments, live comments
and direct messages (channel `instagram`).

Handshake and signature: see meta_common (hub.challenge; X-Hub-Signature-256 with the App Secret).

Payloads (`"object": "instagram"`), per Meta's Instagram Platform "Webhook Notification Examples"
(developers.facebook.com/docs/instagram-platform/webhooks/examples), the Webhooks reference for the
Instagram object (…/graph-api/webhooks/reference/instagram) and the Mentions guide:
- `changes[]` with `field: "comments"` or `"live_comments"`: `value {id, text, from {id, username},
  media {id, media_product_type}, parent_id}` — no timestamp, so `entry.time` (when Meta sent it) is used.
- `changes[]` with `field: "mentions"`: `value {comment_id, media_id}` (a comment mention) or
  `value {media_id}` (a caption mention). Meta sends no text and no author with a mention, so it is not
  stored: like every channel, an item with neither text nor rating is acknowledged and skipped (it would
  be an empty row in every export). Reading it needs GET /{ig-user-id}?fields=mentioned_comment… (an API
  call), which this product does not make.
- `messaging[]` (direct messages, Messenger Platform shape; echoes of the account's own messages come in
  the same subscription with `is_echo`), or `changes[]` with `field: "messages"` and the same item as value.

Skipped: comments by the account itself (`from.id` is the account id = `entry.id` or the `account_id`
setting, or `from.username` is the `username` setting); comments without text; mentions (ids only, above);
every other field (story_insights, messaging_seen …); see meta_common.messaging_event for the messaging
events skipped.
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
    messaging_event,
    messaging_events,
    obj,
    objects,
    text_of,
)
from chalicelib.models import Author, FeedbackEvent, Kind
from chalicelib.models import Channel as ChannelName

COMMENT_FIELDS = frozenset({"comments", "live_comments"})


class InstagramChannel(MetaWebhookChannel):
    type = "instagram"
    webhook_object = "instagram"
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
        self, request: WebhookRequest, entry: dict[str, Any], entry_time: datetime, where: str
    ) -> Iterator[FeedbackEvent]:
        own_ids = {i for i in (identifier(entry.get("id")), request.setting("account_id")) if i}
        own_username = (request.setting("username") or "").lstrip("@").lower()
        for index, change in enumerate(objects(entry, "changes", where)):
            change_where = f"{where}.changes[{index}]"
            # Unknown fields, and a field that is not even a string, are skipped alike.
            field = change.get("field") if isinstance(change.get("field"), str) else None
            value = obj(change, "value", change_where)
            event: FeedbackEvent | None = None
            if field in COMMENT_FIELDS:
                event = self._comment(
                    request,
                    value,
                    field=field,
                    own_ids=own_ids,
                    own_username=own_username,
                    entry_time=entry_time,
                    where=change_where,
                )
            elif field == "messages":
                event = messaging_event(
                    request,
                    value,
                    channel=ChannelName.INSTAGRAM,
                    own_ids=own_ids,
                    entry_time=entry_time,
                    where=f"{change_where}.value",
                )
            if event is not None:
                yield event
        yield from messaging_events(
            request, entry, channel=ChannelName.INSTAGRAM, own_ids=own_ids, entry_time=entry_time, where=where
        )

    @staticmethod
    def _comment(
        request: WebhookRequest,
        value: dict[str, Any],
        *,
        field: str,
        own_ids: set[str],
        own_username: str,
        entry_time: datetime,
        where: str,
    ) -> FeedbackEvent | None:
        """A comment (or live comment) on the account's media, unless the account wrote it."""
        author = obj(value, "from", f"{where}.value")
        author_id = identifier(author.get("id"))
        username = text_of(author.get("username"), f"{where}.value.from.username")
        if author_id in own_ids or (own_username and username.lower() == own_username):
            return None
        text = text_of(value.get("text"), f"{where}.value.text")
        if not text.strip():
            return None
        comment_id = identifier(value.get("id"))
        if comment_id is None:
            raise PayloadInvalid(f"{where} is an Instagram comment without its id.")
        media = obj(value, "media", f"{where}.value")
        return feedback_event(
            request,
            channel=ChannelName.INSTAGRAM,
            kind=Kind.COMMENT,
            external_id=comment_id,
            text=text,
            # The comments webhook carries no creation time; entry.time is when Meta sent it, moments later.
            occurred_at=entry_time,
            author=Author(channel_user_id=author_id, handle=username or None),
            thread_id=identifier(media.get("id")),
            metadata={
                "field": field,
                "media_product_type": identifier(media.get("media_product_type")),  # FEED, REELS, LIVE …
                "parent_id": identifier(value.get("parent_id")),
            },
        )
