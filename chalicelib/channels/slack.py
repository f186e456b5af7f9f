"""`slack`: the Slack Events API (a Slack app's Event Subscriptions Request URL).

What it stores, skips and why, and how it verifies: README.md#channel-slack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from chalice import Response
from pydantic import Field

from chalicelib.channels import signatures
from chalicelib.channels.base import Channel, Delivery, SignedRequest, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.payloads import Ignored, LaxObject, OptionalString, PlatformObject, one_of
from chalicelib.channels.text import unescape_entities
from chalicelib.models import Author, FeedbackEvent, Kind, PlatformDeletion, feedback_id_for
from chalicelib.models import Channel as ChannelName
from chalicelib.observability import logger

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
VERSION = "v0"
TOLERANCE_SECONDS = 5 * 60
SECRET = "signing_secret"  # noqa: S105 - the secret's name, not a secret
# Message subtypes that carry a person's own words; every other subtype is a system notice or a change.
PERSON_SUBTYPES = {None, "thread_broadcast", "file_share"}
KINDS = {"message": Kind.MESSAGE, "app_mention": Kind.MENTION}
EDITED_SUBTYPE = "message_changed"
DELETED_SUBTYPE = "message_deleted"
# Slack's markup: <@U…|name>, <#C…|name>, <!here>, <!subteam^S…|@team>, <https://…|label>.
_MARKUP = re.compile(r"<([^<>]*)>")


def _signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """`v0=<hex>`: the X-Slack-Signature Slack computes."""
    return f"{VERSION}=" + signatures.hex_digest(signing_secret, f"{VERSION}:{timestamp}:".encode() + body)


def _ts_time(ts: Any) -> datetime:
    """A Slack `ts` ("1355517523.000005": seconds and microseconds) as an exact UTC datetime."""
    seconds, _, fraction = str(ts).partition(".")
    # ASCII digits only: str.isdigit also admits "²" and other digits int() refuses.
    digits = f"{seconds}{fraction}"
    if not seconds or not digits.isascii() or not digits.isdigit() or len(fraction) > 6:
        raise PayloadInvalid("The message ts must look like 1355517523.000005.")
    try:
        return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(fraction.ljust(6, "0")))
    except (ValueError, OverflowError, OSError) as error:  # beyond the year 9999, or too many digits
        raise PayloadInvalid("The message ts is not a time.") from error


def _markup_text(markup: str) -> str:
    """What Slack shows for one `<…>` sequence."""
    target, _, label = markup.partition("|")
    target, label = unescape_entities(target), unescape_entities(label)
    if target.startswith("@"):  # a user: <@U123> or <@U123|bob>
        return "@" + (label.lstrip("@") or target[1:])
    if target.startswith("#"):  # a channel
        return "#" + (label.lstrip("#") or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^…|fallback text>
        return label or "@" + target[1:].split("^", 1)[0]
    return label or target  # a link: its label, else the URL itself


def plain_text(mrkdwn: str) -> str:
    """A message's text as people read it in Slack: markup resolved, `&amp;` `&lt;` `&gt;` unescaped once."""
    parts = _MARKUP.split(mrkdwn)  # even indices: text between sequences; odd: a sequence's inside
    return "".join(
        unescape_entities(part) if index % 2 == 0 else _markup_text(part) for index, part in enumerate(parts)
    )


class SlackEdited(PlatformObject):
    ts: OptionalString = None


class SlackMessage(PlatformObject):
    """A message in an event (or inside `message_changed`). Nothing here is refused: a message that does not
    look like a person's is skipped, and the fields its identity needs are checked once it is kept."""

    # A string names a system notice or a change; any other value is not a person's message either.
    subtype: Any = None
    bot_id: Any = None
    hidden: Any = None
    user: OptionalString = None
    text: OptionalString = None
    ts: Any = None
    thread_ts: OptionalString = None
    permalink: Any = None
    channel_type: Any = None
    edited: LaxObject[SlackEdited] = None


class SlackEvent(SlackMessage):
    """The `event` of an event_callback: a message, an app_mention, or a type this channel does not read."""

    type: OptionalString = None
    channel: Any = None
    # The message as edited, in a `message_changed` event.
    message: LaxObject[SlackMessage] = None
    # The deleted message's own ts, in a `message_deleted` event (whose `ts` is the deletion's).
    deleted_ts: Any = None


class UrlVerification(PlatformObject):
    """The handshake Slack sends when the Request URL is set; answered with its challenge."""

    challenge: str = Field(min_length=1)


class EventCallback(PlatformObject):
    team_id: Any = None
    enterprise_id: Any = None
    event_id: OptionalString = None
    event: LaxObject[SlackEvent] = None


def _envelope_shape(payload: dict[str, Any]) -> type[PlatformObject]:
    envelope = payload.get("type")
    if envelope == "url_verification":
        return UrlVerification
    # app_rate_limited and future envelope types are acknowledged unread.
    return EventCallback if envelope == "event_callback" else Ignored


SlackPayload = Annotated[UrlVerification | EventCallback | Ignored, one_of(_envelope_shape)]


def _is_from_person(event: SlackMessage) -> bool:
    subtype, text = event.subtype, event.text
    return (
        (subtype is None or isinstance(subtype, str))
        and subtype in PERSON_SUBTYPES
        and not event.bot_id
        and not event.hidden
        and event.user is not None
        and text is not None
        and bool(text.strip())
    )


class SlackChannel(Channel):
    type = "slack"
    payload_model = SlackPayload
    secret_names = (SECRET,)
    setting_help = {
        "team_id": "Only keep events of this workspace (T…) or Enterprise Grid org (E…); events of other "
        "workspaces the app is installed in are acknowledged and dropped.",
    }
    console_help = (
        "At api.slack.com/apps → your app → Basic Information → App Credentials, copy the Signing Secret: "
        "it is the signing_secret. Under Event Subscriptions, enable events and set the Request URL to "
        "https://<api>/webhooks/<source_id> (Slack verifies it at once), then subscribe to bot events "
        "message.channels, message.groups, message.im, message.mpim and/or app_mention (the events of one "
        "message are stored once, as the README says)."
    )

    replay_window = timedelta(seconds=TOLERANCE_SECONDS)

    def verify(self, request: WebhookRequest) -> None:
        provided = signatures.strip_prefix(request.header(SIGNATURE_HEADER), f"{VERSION}=", SIGNATURE_HEADER)
        timestamp = request.header(TIMESTAMP_HEADER) or ""
        signatures.check_timestamp(timestamp, request.received_at, TOLERANCE_SECONDS, TIMESTAMP_HEADER)
        # The timestamp is signed as sent: the header string, not a reformatted number.
        expected = [
            _signature(secret, timestamp, request.body).split("=", 1)[1]
            for secret in request.secrets.accepted(SECRET)
        ]
        signatures.require(provided.lower(), expected)

    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        timestamp = str(int(now.timestamp()))
        signature = _signature(secrets[SECRET], timestamp, body)
        return SignedRequest(headers={TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature})

    def normalize(
        self, request: WebhookRequest, payload: UrlVerification | EventCallback | Ignored
    ) -> Delivery:
        if isinstance(payload, UrlVerification):
            return Delivery(reply=Response(body={"challenge": payload.challenge}, status_code=200))
        if not isinstance(payload, EventCallback):
            return Delivery.nothing("not_a_message_event")  # app_rate_limited and future envelope types
        if not self._is_own_workspace(request, payload):
            return Delivery.nothing("other_workspace")
        if payload.event is None or not payload.event_id:
            raise PayloadInvalid("event_callback needs an event object and an event_id.")
        return self._message(request, payload, payload.event, payload.event_id)

    def _message(
        self, request: WebhookRequest, payload: EventCallback, event: SlackEvent, event_id: str
    ) -> Delivery:
        """The person's message an event carries, if it carries one."""
        kind = KINDS.get(event.type)
        if kind is None:
            return Delivery.nothing("not_a_message_event")
        if kind is Kind.MESSAGE and event.subtype == EDITED_SUBTYPE:
            return self._edit(request, payload, event, event_id)
        if kind is Kind.MESSAGE and event.subtype == DELETED_SUBTYPE:
            return self._deletion(request, event)
        if not _is_from_person(event):
            return Delivery.nothing("not_customer_authored")
        return Delivery(events=[self._event(request, payload, event, event_id, kind, channel=event.channel)])

    def _edit(
        self, request: WebhookRequest, payload: EventCallback, event: SlackEvent, event_id: str
    ) -> Delivery:
        """A person's edit of their message: the message as edited, under the original message's identity."""
        message = event.message
        if message is None or message.edited is None:
            return Delivery.nothing("not_an_edit")  # an unfurl or a reply count changed the message
        if not _is_from_person(message):
            return Delivery.nothing("not_customer_authored")
        edit = {"edited": True, "edited_ts": message.edited.ts}
        return Delivery(
            events=[
                self._event(
                    request, payload, message, event_id, Kind.MESSAGE, channel=event.channel, edit=edit
                )
            ]
        )

    def _deletion(self, request: WebhookRequest, event: SlackEvent) -> Delivery:
        """A message deleted in Slack: the stored message (identity `{channel}:{ts}`) is marked deleted, not
        removed, as Trustpilot's deleted reviews are; a message never stored (a bot's) is left unmarked."""
        channel, deleted_ts = event.channel, event.deleted_ts
        if not isinstance(channel, str) or not channel or not isinstance(deleted_ts, str) or not deleted_ts:
            # Acknowledged as before deletions were read: a refusal would only make Slack retry it.
            return Delivery.nothing("no_message_id")
        source_id = request.source.source_id
        deletion = PlatformDeletion(
            feedback_id=feedback_id_for(source_id, f"{channel}:{deleted_ts}"),
            source_id=source_id,
            deleted_at=request.received_at,
        )
        return Delivery(deletions=[deletion])

    def _is_own_workspace(self, request: WebhookRequest, payload: EventCallback) -> bool:
        wanted = request.setting("team_id")
        if not wanted or wanted in (payload.team_id, payload.enterprise_id):
            return True
        # A 200, not a 403: the delivery is genuine Slack traffic (one signing secret per app, whatever the
        # workspace), and failed deliveries make Slack retry and eventually disable the app's events.
        logger.info(
            "slack event from another workspace dropped",
            extra={"source_id": request.source.source_id, "team_id": payload.team_id},
        )
        return False

    def _event(
        self,
        request: WebhookRequest,
        payload: EventCallback,
        event: SlackMessage,
        event_id: str,
        kind: Kind,
        *,
        channel: Any,
        edit: dict[str, Any] | None = None,
    ) -> FeedbackEvent:
        ts = event.ts
        occurred_at = _ts_time(ts)
        if not isinstance(channel, str) or not channel:
            raise PayloadInvalid("A message event needs the channel it was posted in.")
        return feedback_event(
            request,
            channel=ChannelName.SLACK,
            kind=kind,
            external_id=f"{channel}:{ts}",
            text=plain_text(event.text or ""),
            occurred_at=occurred_at,
            author=Author(channel_user_id=event.user),
            # Slack names a thread by its parent's ts; a top-level message starts its own thread.
            thread_id=event.thread_ts or str(ts),
            # Slack payloads carry no permalink; building one needs chat.getPermalink (an API call).
            permalink=event.permalink,
            metadata={
                "team_id": payload.team_id,
                "channel": channel,
                "channel_type": event.channel_type,
                "subtype": event.subtype,
                "ts": str(ts),
                "event_id": event_id,
                **(edit or {}),
            },
        )
