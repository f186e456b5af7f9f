"""`x`: the X (Twitter) Account Activity API, delivered through X's v2 Webhooks.

What it stores, skips and why, and how it verifies: README.md#channel-x.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from chalice import Response
from pydantic import BeforeValidator, PlainValidator

from chalicelib.channels import signatures
from chalicelib.channels.base import BodySignedChannel, Delivery, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import HandshakeMalformed
from chalicelib.channels.payloads import (
    Deferred,
    Identifier,
    Ignored,
    LaxObject,
    Name,
    Object,
    PlatformObject,
    RequiredIdentifier,
    Text,
    absent,
    one_of,
    refused,
    valid,
)
from chalicelib.channels.text import unescape_entities
from chalicelib.models import Author, FeedbackEvent, Kind, PlatformDeletion, feedback_id_for
from chalicelib.models import Channel as ChannelName

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
SIGNATURE_PREFIX = "sha256="
SECRET = "consumer_secret"  # noqa: S105 - the secret's name, not a secret
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"
MAX_CRC_TOKEN = 1024
# X's `lang` values that name no language: undetermined, no linguistic content, and its private-use
# `q..` codes (qme media only, qht hashtags only, qam mentions only …). The analyzer detects those itself.
NO_LANGUAGE = {"und", "zxx"}
T = TypeVar("T")


def _signature(consumer_secret: str, message: bytes) -> str:
    """`sha256=<base64 HMAC-SHA256>`: both the CRC response token and the delivery signature."""
    return SIGNATURE_PREFIX + signatures.b64_digest(consumer_secret, message)


def _epoch_millis(value: Any) -> datetime:
    try:
        millis = int(str(value))
        return datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=(millis % 1000) * 1000)
    except (ValueError, OverflowError, OSError) as error:  # not a number, or beyond the year 9999
        raise refused("must be epoch milliseconds") from error


def _created_at(value: Any) -> datetime:
    try:
        return datetime.strptime(str(value), CREATED_AT_FORMAT)
    except ValueError as error:
        raise refused("must be a time such as Wed Oct 10 20:19:24 +0000 2018") from error


def _falsy_is_empty(value: Any) -> Any:
    return value or []


# X's times: epoch milliseconds (a number or its digits), and the v1.1 `created_at` text.
EpochMillis = Annotated[datetime, PlainValidator(_epoch_millis)]
CreatedAt = Annotated[datetime, PlainValidator(_created_at)]
# A list X may send as null, [] or leave out; any other falsy value reads as empty too.
ListOrNothing = Annotated[list[T], BeforeValidator(_falsy_is_empty)]


class Mention(PlatformObject):
    id_str: Identifier = None
    id: Identifier = None


class Entities(PlatformObject):
    # Items that are not objects name no one and are skipped.
    user_mentions: ListOrNothing[LaxObject[Mention]] = []


class ExtendedTweet(PlatformObject):
    """The whole text (and its entities) of a tweet longer than 140 characters."""

    full_text: Text = ""
    entities: Deferred[Object[Entities]] = Entities()


class EditHistory(PlatformObject):
    initial_tweet_id: Identifier = None


class TweetUser(PlatformObject):
    id_str: RequiredIdentifier
    # Names and screen names only show who wrote; one of another type is left out rather than refused.
    screen_name: Name = None
    name: Name = None


class Tweet(PlatformObject):
    """A v1.1 Tweet object. Its id and author are checked on every tweet; the rest only on the tweets that
    are kept (by others, not retweets, with text), as only those are read."""

    id_str: RequiredIdentifier
    user: TweetUser
    # Present (even null): a retweet, which adds no words of its own.
    retweeted_status: Any = None
    text: Deferred[Text] = ""
    extended_tweet: Deferred[Object[ExtendedTweet]] = ExtendedTweet()
    entities: Deferred[Object[Entities]] = Entities()
    edit_history: Deferred[Object[EditHistory]] = EditHistory()
    timestamp_ms: Deferred[EpochMillis | None] = None
    created_at: Deferred[CreatedAt] = absent("created_at")
    lang: Any = None
    in_reply_to_user_id_str: Any = None
    in_reply_to_status_id_str: Identifier = None
    quoted_status_id_str: Identifier = None

    @property
    def is_retweet(self) -> bool:
        return "retweeted_status" in self.model_fields_set


class MessageData(PlatformObject):
    text: Text = ""


class MessageCreate(PlatformObject):
    sender_id: RequiredIdentifier
    message_data: Deferred[Object[MessageData]] = MessageData()


class DirectMessage(PlatformObject):
    """A `message_create` direct message event (other types are not read)."""

    id: RequiredIdentifier
    message_create: MessageCreate
    created_timestamp: Deferred[EpochMillis] = absent("created_timestamp")


class Profile(PlatformObject):
    screen_name: Name = None
    name: Name = None


def _message_shape(message: Any) -> type[PlatformObject]:
    is_message = isinstance(message, dict) and message.get("type") == "message_create"
    return DirectMessage if is_message else Ignored


class DeletedStatus(PlatformObject):
    id: RequiredIdentifier


class TweetDeletion(PlatformObject):
    """One of `tweet_delete_events`: a post deleted by its author (`status.id`)."""

    status: DeletedStatus


class AccountActivity(PlatformObject):
    """A delivery with tweets, direct messages or deleted tweets, for the subscribed account `for_user_id`."""

    # Which subscribed account this is for: needed to tell the account's own posts and messages apart.
    for_user_id: RequiredIdentifier
    tweet_create_events: ListOrNothing[Tweet] = []
    direct_message_events: ListOrNothing[Annotated[DirectMessage | Ignored, one_of(_message_shape)]] = []
    tweet_delete_events: ListOrNothing[TweetDeletion] = []
    # The senders' profiles by user id.
    users: Object[dict[str, Deferred[Object[Profile]]]] = {}
    user_has_blocked: Annotated[bool | None, BeforeValidator(lambda value: str(value).lower() == "true")] = (
        None
    )


def _delivery_shape(payload: dict[str, Any]) -> type[PlatformObject]:
    kinds = ("tweet_create_events", "direct_message_events", "tweet_delete_events")
    return AccountActivity if any(payload.get(kind) for kind in kinds) else Ignored  # likes, follows …


XPayload = Annotated[AccountActivity | Ignored, one_of(_delivery_shape)]


def _tweet_time(tweet: Tweet) -> datetime:
    if tweet.timestamp_ms is not None:
        return valid(tweet.timestamp_ms)
    return valid(tweet.created_at)


def _language(lang: Any) -> str | None:
    if not isinstance(lang, str) or lang in NO_LANGUAGE or (len(lang) == 3 and lang.startswith("q")):
        return None
    return lang


def _mentioned_ids(tweet: Tweet, extended: ExtendedTweet) -> set[str]:
    # A truncated (longform) tweet lists mentions past the cut only in extended_tweet.entities.
    ids: set[str] = set()
    for entities in (valid(tweet.entities), valid(extended.entities)):
        for mention in entities.user_mentions:
            mention_id = (mention.id_str or mention.id) if mention is not None else None
            if mention_id:
                ids.add(mention_id)
    return ids


class XChannel(BodySignedChannel):
    type = "x"
    signature_header = SIGNATURE_HEADER
    signature_prefix = SIGNATURE_PREFIX
    signing_secret = SECRET
    payload_model = XPayload
    secret_names = (SECRET,)
    setting_help = {}  # for_user_id arrives in every payload; nothing to configure
    console_help = (
        "In the X Developer Console (Keys and tokens) copy the app's API Key Secret: it is the "
        "consumer_secret. Register https://<api>/webhooks/<source_id> with POST /2/webhooks (X runs the "
        "CRC against it at once), then subscribe each account with "
        "POST /2/account_activity/webhooks/<webhook_id>/subscriptions/all (user-context OAuth)."
    )

    def handshake(self, request: WebhookRequest) -> Response:
        """Answer X's Challenge-Response Check with the HMAC of crc_token under the consumer secret."""
        token = request.query.get("crc_token")
        if not token:
            raise HandshakeMalformed("The CRC request has no crc_token.")
        # The CRC computes exactly what a delivery signature is (same key, same HMAC), so an unrestricted
        # CRC would sign any body an attacker chooses. A JSON object cannot be written without "{", so
        # refusing tokens containing one leaves the CRC unable to produce a signature parse() accepts.
        if "{" in token or len(token) > MAX_CRC_TOKEN:
            raise HandshakeMalformed("The crc_token is not a token X sends.")
        secret = request.secrets.current(SECRET) or ""
        return Response(
            body={"response_token": _signature(secret, token.encode())},
            status_code=200,
            headers={"Content-Type": "application/json"},
        )

    def body_digest(self, secret: str, body: bytes) -> str:
        return signatures.b64_digest(secret, body)

    def normalize(self, request: WebhookRequest, payload: AccountActivity | Ignored) -> Delivery:
        if not isinstance(payload, AccountActivity):
            return Delivery.nothing("not_a_message_event")  # likes, follows, typing indicators …
        return Delivery(
            events=self._tweets(request, payload) + self._messages(request, payload),
            deletions=self._deletions(request, payload),
        )

    def _deletions(self, request: WebhookRequest, payload: AccountActivity) -> list[PlatformDeletion]:
        """Deleted posts: each stored one (its id is the external_id) is marked platform_deleted_at, not
        removed; one never stored (the account's own) changes nothing."""
        source_id = request.source.source_id
        ids = dict.fromkeys(deletion.status.id for deletion in payload.tweet_delete_events)
        return [
            PlatformDeletion(
                feedback_id=feedback_id_for(source_id, tweet_id),
                source_id=source_id,
                deleted_at=request.received_at,
            )
            for tweet_id in ids
        ]

    def _tweets(self, request: WebhookRequest, payload: AccountActivity) -> list[FeedbackEvent]:
        account = payload.for_user_id
        events = []
        for tweet in payload.tweet_create_events:
            tweet_id, user = tweet.id_str, tweet.user
            if user.id_str == account or tweet.is_retweet:
                continue  # the account's own post, or a retweet that adds no words
            extended = valid(tweet.extended_tweet)
            text = extended.full_text or valid(tweet.text)
            if not text.strip():
                continue
            mentions = account == tweet.in_reply_to_user_id_str or account in _mentioned_ids(tweet, extended)
            screen_name = user.screen_name
            original_id = valid(tweet.edit_history).initial_tweet_id or tweet_id
            event = feedback_event(
                request,
                channel=ChannelName.X,
                kind=Kind.MENTION if mentions else Kind.COMMENT,
                external_id=original_id,
                text=unescape_entities(text),
                occurred_at=_tweet_time(tweet),
                author=Author(
                    channel_user_id=user.id_str,
                    handle=f"@{screen_name}" if screen_name else None,
                    name=user.name,
                ),
                # v1.1 tweet objects have no conversation id: a reply belongs to the post it answers.
                thread_id=tweet.in_reply_to_status_id_str or original_id,
                language=_language(tweet.lang),
                permalink=f"https://x.com/{screen_name}/status/{tweet_id}" if screen_name else None,
                metadata={
                    "for_user_id": account,
                    "event_type": "tweet_create",
                    "quoted_status_id": tweet.quoted_status_id_str,
                    "edited": True if original_id != tweet_id else None,
                    "edit_tweet_id": tweet_id if original_id != tweet_id else None,
                    # Kept, not dropped: blocking is moderation, and the text is still what was said.
                    "user_has_blocked": payload.user_has_blocked,
                },
            )
            events.append(event)
        return events

    def _messages(self, request: WebhookRequest, payload: AccountActivity) -> list[FeedbackEvent]:
        account = payload.for_user_id
        events = []
        for message in payload.direct_message_events:
            if not isinstance(message, DirectMessage):
                continue
            sender = message.message_create.sender_id
            if sender == account:
                continue  # sent by the subscribed account itself (X delivers both directions)
            text = valid(message.message_create.message_data).text
            if not text.strip():
                continue
            profile = valid(payload.users.get(sender, Profile()))
            screen_name = profile.screen_name
            events.append(
                feedback_event(
                    request,
                    channel=ChannelName.X,
                    kind=Kind.MESSAGE,
                    external_id=message.id,
                    text=unescape_entities(text),
                    occurred_at=valid(message.created_timestamp),
                    author=Author(
                        channel_user_id=sender,
                        handle=f"@{screen_name}" if screen_name else None,
                        name=profile.name,
                    ),
                    # One-to-one conversation between the account and this sender.
                    thread_id=f"dm:{sender}",
                    metadata={"for_user_id": account, "event_type": "direct_message"},
                )
            )
        return events
