"""`meta`: a Facebook Page through a Meta app's Webhooks — Page `feed` comments (channel `facebook`) and
Messenger messages (channel `messenger`).

Handshake and signature: see meta_common (hub.challenge; X-Hub-Signature-256 with the App Secret).

Payloads (`"object": "page"`), per Meta's Webhooks reference for the Page object
(developers.facebook.com/docs/graph-api/webhooks/reference/page, field `feed`) and the Messenger Platform
webhook events reference (…/messenger-platform/reference/webhook-events/messages):
- `entry[].changes[]` with `field: "feed"`: `value.item` is `comment` (or a post item such as `status`),
  `value.verb` is `add`, `edited`, `remove`, `hide` …; `from {id, name}`, `post_id`, `comment_id`,
  `parent_id`, `created_time` (Unix seconds), `message`, `post.permalink_url`.
- `entry[].messaging[]` (and `standby[]`): `sender.id` (page-scoped id), `recipient.id` (the Page),
  `timestamp` (Unix ms), `message {mid, text, is_echo, quick_reply, reply_to}`, or instead `reaction`,
  `read`, `delivery`, `postback` … which are not customer text.

Kept: comments and visitor posts added by someone other than the Page, and customers' text messages.
Edits (verb `edited`, or `edit` as Meta sends for some visitor posts; Messenger `message_edit`) follow the
one rule for edits: stored under the id of the comment, post or message they edit, so the first version
received is kept (an edit of a stored comment is a duplicate) and an edit whose `add` never arrived is
stored, with `metadata.edited = true`.
Skipped: the Page's own comments, posts and Messenger echoes; removals, hides and every other verb;
likes and reactions; comments without text (a photo or sticker only); see meta_common.messaging_event for
the messaging events skipped.
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
    messaging_events,
    obj,
    objects,
    text_of,
    timestamp,
)
from chalicelib.models import Author, FeedbackEvent, Kind
from chalicelib.models import Channel as ChannelName

# Feed items that are a visitor's post on the Page (a post by the Page itself is skipped by its author).
POST_ITEMS = frozenset({"post", "status", "photo", "video", "link", "share"})
ADDED = "add"
# Meta's verb for an edited comment or post is `edited`; edits of visitor posts have come as `edit`.
EDITED_VERBS = frozenset({"edited", "edit"})


def _feed_event(
    request: WebhookRequest, value: dict[str, Any], page_ids: set[str], entry_time: datetime, where: str
) -> FeedbackEvent | None:
    """A customer's comment (or visitor post) on the Page's feed, new or edited, or None for any other feed
    change."""
    item, verb = value.get("item"), value.get("verb")
    edited = verb in EDITED_VERBS if isinstance(verb, str) else False
    if (
        (verb != ADDED and not edited)
        or not isinstance(item, str)
        or (item != "comment" and item not in POST_ITEMS)
    ):
        return None
    author = obj(value, "from", where)
    author_id = identifier(author.get("id"))
    # The Page's own posts and replies are not feedback. A post must name its author to count as a visitor's
    # (a comment without `from` is kept, its author unknown).
    if author_id in page_ids or (item != "comment" and author_id is None):
        return None
    text = text_of(value.get("message"), f"{where}.message")
    if not text.strip():
        return None
    post_id = identifier(value.get("post_id"))
    external_id = identifier(value.get("comment_id")) if item == "comment" else post_id
    if external_id is None:
        raise PayloadInvalid(
            f"{where} is a feed {item} without its {'comment_id' if item == 'comment' else 'post_id'}."
        )
    parent_id = identifier(value.get("parent_id"))
    permalink = obj(value, "post", where).get("permalink_url")
    return feedback_event(
        request,
        channel=ChannelName.FACEBOOK,
        kind=Kind.COMMENT,
        external_id=external_id,
        text=text,
        occurred_at=timestamp(value.get("created_time"), f"{where}.created_time", entry_time),
        author=Author(
            channel_user_id=author_id, name=text_of(author.get("name"), f"{where}.from.name") or None
        ),
        thread_id=post_id,
        permalink=permalink if isinstance(permalink, str) else None,
        metadata={
            "item": item,
            # A reply to another comment names that comment as its parent; a top-level one names the post.
            "parent_id": parent_id if parent_id != post_id else None,
            "edited": True if edited else None,
        },
    )


class MetaChannel(MetaWebhookChannel):
    type = "meta"
    webhook_object = "page"
    setting_help = {
        "page_id": "The Facebook Page id. Optional: each entry's id is the Page id; set it to also skip the "
        "Page's own comments and messages when the entry id differs.",
    }
    console_help = (
        "developers.facebook.com → your app → Webhooks (and Messenger → Settings): object Page, Callback URL "
        "https://<api>/webhooks/<source_id>, Verify token = this source's verify_token; subscribe the fields "
        "`feed`, `messages` and `message_edits`, then install the app on the Page (POST "
        "/{page-id}/subscribed_apps with subscribed_fields=feed,messages,message_edits). Secret app_secret = "
        "App settings → Basic → App Secret."
    )

    def entry_events(
        self, request: WebhookRequest, entry: dict[str, Any], entry_time: datetime, where: str
    ) -> Iterator[FeedbackEvent]:
        page_ids = {i for i in (identifier(entry.get("id")), request.setting("page_id")) if i}
        for index, change in enumerate(objects(entry, "changes", where)):
            if change.get("field") == "feed":
                change_where = f"{where}.changes[{index}]"
                value = obj(change, "value", change_where)
                event = _feed_event(request, value, page_ids, entry_time, f"{change_where}.value")
                if event is not None:
                    yield event
        yield from messaging_events(
            request,
            entry,
            channel=ChannelName.MESSENGER,
            own_ids=page_ids,
            entry_time=entry_time,
            where=where,
        )
