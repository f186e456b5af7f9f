"""`meta`: a Facebook Page through a Meta app's Webhooks — Page `feed` comments (channel `facebook`) and
Messenger messages (channel `messenger`).

What it stores, skips and why, and how it verifies: README.md#channel-meta.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from chalicelib.channels.base import WebhookRequest, feedback_event
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.meta_common import (
    NO_AUTHOR,
    NO_TEXT,
    NOT_FEEDBACK,
    OWN_MESSAGE,
    MessagingEntry,
    MetaDelivery,
    MetaTime,
    MetaWebhookChannel,
    Outcome,
    PlacedOutcome,
    messaging_events,
    platform_deletion,
)
from chalicelib.channels.payloads import (
    Deferred,
    Identifier,
    Ignored,
    Object,
    Objects,
    OptionalString,
    PlatformObject,
    Text,
    one_of,
    valid,
)
from chalicelib.models import Author, Kind
from chalicelib.models import Channel as ChannelName

# Feed items that are a visitor's post on the Page (a post by the Page itself is skipped by its author).
POST_ITEMS = frozenset({"post", "status", "photo", "video", "link", "share"})
ADDED = "add"
REMOVED = "remove"
# Meta's verb for an edited comment or post is `edited`; edits of visitor posts have come as `edit`.
EDITED_VERBS = frozenset({"edited", "edit"})


class FeedAuthor(PlatformObject):
    id: Identifier = None
    name: Deferred[Text] = ""


class FeedPost(PlatformObject):
    permalink_url: OptionalString = None


class FeedValue(PlatformObject):
    """A `feed` change's value: a comment or post added, edited, removed … Only comments and posts added or
    edited by a visitor are read (so only theirs are refused when malformed)."""

    item: Any = None
    verb: Any = None
    author: Deferred[Object[FeedAuthor]] = Field(default=FeedAuthor(), validation_alias="from")
    message: Deferred[Text] = ""
    post_id: Identifier = None
    comment_id: Identifier = None
    parent_id: Identifier = None
    post: Deferred[Object[FeedPost]] = FeedPost()
    created_time: Deferred[MetaTime] = None


class FeedChange(PlatformObject):
    value: Object[FeedValue] = FeedValue()


def _change_shape(change: Any) -> type[PlatformObject]:
    return FeedChange if isinstance(change, dict) and change.get("field") == "feed" else Ignored


class PageEntry(MessagingEntry):
    changes: Objects[Annotated[FeedChange | Ignored, one_of(_change_shape)]] = []


def _feed_event(
    request: WebhookRequest, value: FeedValue, page_ids: set[str], entry_time: datetime
) -> Outcome:
    """A customer's comment (or visitor post) on the Page's feed, new or edited, or why the feed change is
    none."""
    item, verb = value.item, value.verb
    edited = verb in EDITED_VERBS if isinstance(verb, str) else False
    if verb == REMOVED and isinstance(item, str) and (item == "comment" or item in POST_ITEMS):
        # A comment or post removed (by its author or the Page): the stored one is marked, not removed.
        removed_id = value.comment_id if item == "comment" else value.post_id
        return platform_deletion(request, removed_id) if removed_id else NOT_FEEDBACK
    if (
        (verb != ADDED and not edited)
        or not isinstance(item, str)
        or (item != "comment" and item not in POST_ITEMS)
    ):
        return NOT_FEEDBACK
    author = valid(value.author)
    # The Page's own posts and replies are not feedback. A post must name its author to count as a visitor's
    # (a comment without `from` is kept, its author unknown).
    if author.id in page_ids:
        return OWN_MESSAGE
    if item != "comment" and author.id is None:
        return NO_AUTHOR
    text = valid(value.message)
    if not text.strip():
        return NO_TEXT
    post_id = value.post_id
    external_id = value.comment_id if item == "comment" else post_id
    if external_id is None:
        raise PayloadInvalid(f"A feed {item} has no {'comment_id' if item == 'comment' else 'post_id'}.")
    parent_id = value.parent_id
    return feedback_event(
        request,
        channel=ChannelName.FACEBOOK,
        kind=Kind.COMMENT,
        external_id=external_id,
        text=text,
        occurred_at=valid(value.created_time) or entry_time,
        author=Author(channel_user_id=author.id, name=valid(author.name) or None),
        thread_id=post_id,
        permalink=valid(value.post).permalink_url,
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
    payload_model = MetaDelivery[PageEntry]
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
        self, request: WebhookRequest, entry: PageEntry, entry_time: datetime
    ) -> Iterator[PlacedOutcome]:
        page_ids = {i for i in (entry.id, request.setting("page_id")) if i}
        for index, change in enumerate(entry.changes):
            if isinstance(change, FeedChange):
                yield f"changes[{index}]", _feed_event(request, change.value, page_ids, entry_time)
            else:
                yield f"changes[{index}]", NOT_FEEDBACK  # a field other than feed (ratings, mention …)
        yield from messaging_events(
            request,
            entry,
            channel=ChannelName.MESSENGER,
            own_ids=page_ids,
            entry_time=entry_time,
        )
