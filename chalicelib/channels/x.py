"""`x`: the X (Twitter) Account Activity API, delivered through X's v2 Webhooks.

Verification follows X's webhook documentation (docs.x.com, "Webhooks → Quickstart", "Securing webhooks"):
- CRC: X sends `GET ?crc_token=…`; the answer is `{"response_token": "sha256=<base64 HMAC-SHA256>"}`
  keyed with the app's consumer secret (API Key Secret) over the token.
- Deliveries: `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, raw body)>`.
  X signs no timestamp, so there is no replay window; a replayed delivery carries the same tweet and DM
  ids and is stored once.

What becomes feedback (payload shapes from docs.x.com "Account Activity API → Payload examples"):
- `tweet_create_events`: tweets by others. `mention` when the tweet replies to or @mentions the
  subscribed account (`for_user_id`), otherwise `comment` (a quote tweet of the account's post). The
  account's own tweets and retweets (`retweeted_status`: no text of their own) are skipped.
- `direct_message_events` of type `message_create` sent by others → `message`.
Text: X sends tweet and DM text HTML-escaped (`&amp;`, `&lt;`, `&gt;`); it is unescaped exactly once, so
the stored text is what the customer wrote.
Edits: an edited tweet arrives as a new tweet whose `edit_history.initial_tweet_id` names the original. It
follows the one rule for edits: stored under the original's id, so the first version received is kept, and
an edit whose original never arrived is stored with `metadata.edited = true`.
Everything else (likes, follows, blocks, typing and read indicators, deletes, revokes) is acknowledged and
nothing is queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalice import Response

from chalicelib.channels import signatures
from chalicelib.channels.base import Channel, Delivery, SignedRequest, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import HandshakeMalformed, PayloadInvalid
from chalicelib.channels.text import unescape_entities
from chalicelib.models import Author, FeedbackEvent, Kind
from chalicelib.models import Channel as ChannelName

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
SIGNATURE_PREFIX = "sha256="
SECRET = "consumer_secret"  # noqa: S105 - the secret's name, not a secret
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"
MAX_CRC_TOKEN = 1024
# X's `lang` values that name no language: undetermined, no linguistic content, and its private-use
# `q..` codes (qme media only, qht hashtags only, qam mentions only …). The analyzer detects those itself.
NO_LANGUAGE = {"und", "zxx"}


def _signature(consumer_secret: str, message: bytes) -> str:
    """`sha256=<base64 HMAC-SHA256>`: both the CRC response token and the delivery signature."""
    return SIGNATURE_PREFIX + signatures.b64_digest(consumer_secret, message)


def _object(value: Any, field: str) -> dict[str, Any]:
    """`value` as a JSON object ({} when absent or null); 422 when it is anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadInvalid(f"{field} must be an object.")
    return value


def _id(value: Any) -> str | None:
    """An id as a string (X sends `id_str` strings; numbers are read too); None when it is no id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def _string(value: Any, field: str) -> str:
    """Text ('' when absent or null); 422 when it is not a string."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadInvalid(f"{field} must be a string.")
    return value


def _name(value: Any) -> str | None:
    # Names and screen names only show who wrote; one of another type is left out rather than refused.
    return value if isinstance(value, str) and value else None


def _millis(value: Any, field: str) -> datetime:
    try:
        millis = int(str(value))
        return datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=(millis % 1000) * 1000)
    except (ValueError, OverflowError, OSError) as error:  # not a number, or beyond the year 9999
        raise PayloadInvalid(f"{field} must be epoch milliseconds.") from error


def _tweet_time(tweet: dict[str, Any]) -> datetime:
    if tweet.get("timestamp_ms") is not None:
        return _millis(tweet["timestamp_ms"], "timestamp_ms")
    try:
        return datetime.strptime(str(tweet.get("created_at")), CREATED_AT_FORMAT)
    except ValueError as error:
        raise PayloadInvalid("A tweet has neither timestamp_ms nor a valid created_at.") from error


def _language(tweet: dict[str, Any]) -> str | None:
    lang = tweet.get("lang")
    if not isinstance(lang, str) or lang in NO_LANGUAGE or (len(lang) == 3 and lang.startswith("q")):
        return None
    return lang


def _mentioned_ids(tweet: dict[str, Any]) -> set[str]:
    # A truncated (longform) tweet lists mentions past the cut only in extended_tweet.entities.
    ids: set[str] = set()
    for holder in (tweet, _object(tweet.get("extended_tweet"), "extended_tweet")):
        mentions = _object(holder.get("entities"), "entities").get("user_mentions") or []
        if not isinstance(mentions, list):
            raise PayloadInvalid("entities.user_mentions must be a list.")
        for mention in mentions:
            mention_id = (
                _id(mention.get("id_str")) or _id(mention.get("id")) if isinstance(mention, dict) else None
            )
            if mention_id:
                ids.add(mention_id)
    return ids


def _original_id(tweet: dict[str, Any], tweet_id: str) -> str:
    """The id of the tweet this one edits (its own id when it is no edit)."""
    history = _object(tweet.get("edit_history"), "edit_history")
    return _id(history.get("initial_tweet_id")) or tweet_id


def _list_of_objects(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = payload.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise PayloadInvalid(f"{key} must be a list of objects.")
    return items


class XChannel(Channel):
    type = "x"
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

    def verify(self, request: WebhookRequest) -> None:
        provided = signatures.strip_prefix(
            request.header(SIGNATURE_HEADER), SIGNATURE_PREFIX, SIGNATURE_HEADER
        )
        expected = [
            _signature(secret, request.body)[len(SIGNATURE_PREFIX) :]
            for secret in request.secrets.accepted(SECRET)
        ]
        signatures.require(provided, expected)

    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        return SignedRequest(headers={SIGNATURE_HEADER: _signature(secrets[SECRET], body)})

    def normalize(self, request: WebhookRequest, payload: dict[str, Any]) -> Delivery:
        tweets = _list_of_objects(payload, "tweet_create_events")
        messages = _list_of_objects(payload, "direct_message_events")
        if not tweets and not messages:
            return Delivery.nothing("not_a_message_event")  # likes, follows, typing indicators …
        account = _id(payload.get("for_user_id"))
        if account is None:
            raise PayloadInvalid("for_user_id is missing: it says which subscribed account this is for.")
        return Delivery(
            events=self._tweets(request, payload, account, tweets)
            + self._messages(request, payload, account, messages)
        )

    def _tweets(
        self, request: WebhookRequest, payload: dict[str, Any], account: str, tweets: list[dict[str, Any]]
    ) -> list[FeedbackEvent]:
        events = []
        for tweet in tweets:
            user = tweet.get("user")
            tweet_id = _id(tweet.get("id_str"))
            user_id = _id(user.get("id_str")) if isinstance(user, dict) else None
            if tweet_id is None or user_id is None:
                raise PayloadInvalid("A tweet needs id_str and a user with id_str.")
            if user_id == account or "retweeted_status" in tweet:
                continue  # the account's own post, or a retweet that adds no words
            extended = _object(tweet.get("extended_tweet"), "extended_tweet")
            text = _string(extended.get("full_text"), "extended_tweet.full_text") or _string(
                tweet.get("text"), "text"
            )
            if not text.strip():
                continue
            replied_to = tweet.get("in_reply_to_user_id_str")
            mentions = account == replied_to or account in _mentioned_ids(tweet)
            screen_name = _name(user.get("screen_name"))
            original_id = _original_id(tweet, tweet_id)
            event = feedback_event(
                request,
                channel=ChannelName.X,
                kind=Kind.MENTION if mentions else Kind.COMMENT,
                external_id=original_id,
                text=unescape_entities(text),
                occurred_at=_tweet_time(tweet),
                author=Author(
                    channel_user_id=user_id,
                    handle=f"@{screen_name}" if screen_name else None,
                    name=_name(user.get("name")),
                ),
                # v1.1 tweet objects have no conversation id: a reply belongs to the post it answers.
                thread_id=_id(tweet.get("in_reply_to_status_id_str")) or original_id,
                language=_language(tweet),
                permalink=f"https://x.com/{screen_name}/status/{tweet_id}" if screen_name else None,
                metadata={
                    "for_user_id": account,
                    "event_type": "tweet_create",
                    "quoted_status_id": _id(tweet.get("quoted_status_id_str")),
                    "edited": True if original_id != tweet_id else None,
                    "edit_tweet_id": tweet_id if original_id != tweet_id else None,
                    # Kept, not dropped: blocking is moderation, and the text is still what was said.
                    "user_has_blocked": str(payload["user_has_blocked"]).lower() == "true"
                    if "user_has_blocked" in payload
                    else None,
                },
            )
            events.append(event)
        return events

    def _messages(
        self, request: WebhookRequest, payload: dict[str, Any], account: str, messages: list[dict[str, Any]]
    ) -> list[FeedbackEvent]:
        users = _object(payload.get("users"), "users")
        events = []
        for message in messages:
            if message.get("type") != "message_create":
                continue
            create = message.get("message_create")
            message_id = _id(message.get("id"))
            sender = _id(create.get("sender_id")) if isinstance(create, dict) else None
            if message_id is None or sender is None:
                raise PayloadInvalid("A message_create event needs id, message_create and sender_id.")
            if sender == account:
                continue  # sent by the subscribed account itself (X delivers both directions)
            data = _object(create.get("message_data"), "message_create.message_data")
            text = _string(data.get("text"), "message_data.text")
            if not text.strip():
                continue
            profile = _object(users.get(sender), f"users.{sender}")
            screen_name = _name(profile.get("screen_name"))
            events.append(
                feedback_event(
                    request,
                    channel=ChannelName.X,
                    kind=Kind.MESSAGE,
                    external_id=message_id,
                    text=unescape_entities(text),
                    occurred_at=_millis(message.get("created_timestamp"), "created_timestamp"),
                    author=Author(
                        channel_user_id=sender,
                        handle=f"@{screen_name}" if screen_name else None,
                        name=_name(profile.get("name")),
                    ),
                    # One-to-one conversation between the account and this sender.
                    thread_id=f"dm:{sender}",
                    metadata={"for_user_id": account, "event_type": "direct_message"},
                )
            )
        return events
