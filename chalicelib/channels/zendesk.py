"""`zendesk`: Zendesk webhooks — event subscriptions (fixed schema) and trigger webhooks (our JSON body).

What it stores, skips and why, and how it verifies: README.md#channel-zendesk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from chalicelib.channels import signatures
from chalicelib.channels.base import Channel, Delivery, SignedRequest, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import SignatureMissing, TimestampExpired
from chalicelib.channels.payloads import Ignored, PlatformEmail, PlatformObject, one_of, refused
from chalicelib.models import Author, FeedbackEvent, Kind, RatingScale
from chalicelib.models import Channel as ChannelName

SECRET = "signing_secret"  # noqa: S105 - the secret's name, not its value
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
TOLERANCE_SECONDS = 60 * 60
EVENT_TYPE_PREFIX = "zen:event-type:"
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
TICKET_CREATED = "zen:event-type:ticket.created"
# Zendesk's binary CSAT on the product's 1-5 csat scale.
SATISFACTION_SCORES = {"good": 5, "bad": 1}
_TIMESTAMP = TypeAdapter(datetime)
_SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

# The trigger webhook body this channel understands (documented in the README). Unresolved placeholders
# render as "", which the models below read as absent.
TRIGGER_TEMPLATE = """{
  "ticket": {"id": "{{ticket.id}}", "url": "{{ticket.url_with_protocol}}"},
  "requester": {"id": "{{ticket.requester.id}}", "name": "{{ticket.requester.name}}",
                "email": "{{ticket.requester.email}}"},
  "comment": {
    "id": "{{ticket.latest_public_comment.id}}",
    "body": "{{ticket.latest_public_comment.value}}",
    "author": {"id": "{{current_user.id}}", "name": "{{current_user.name}}",
               "email": "{{current_user.email}}"},
    "created_at": "{{ticket.updated_at_with_timestamp}}"
  },
  "satisfaction": {
    "score": "{{satisfaction.current_rating}}",
    "comment": "{{satisfaction.current_comment}}",
    "rated_at": "{{ticket.updated_at_with_timestamp}}"
  }
}"""


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


BlankIsNone = BeforeValidator(_blank_to_none)


class ZendeskUser(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: Annotated[str | None, BlankIsNone] = Field(default=None, max_length=100)
    name: Annotated[str | None, BlankIsNone] = Field(default=None, max_length=200)
    email: PlatformEmail = Field(default=None, max_length=320)
    is_staff: bool | None = None


class TicketDetail(PlatformObject):
    """The `detail` object of a ticket event (the ticket as it is after the event)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=100)
    requester_id: Annotated[str | None, BlankIsNone] = None
    submitter_id: Annotated[str | None, BlankIsNone] = None
    description: str | None = None
    subject: str | None = None
    is_public: bool | None = None
    created_at: Annotated[datetime | None, BlankIsNone] = None


class EventComment(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=100)
    body: str = ""
    is_public: bool | None = None
    author: ZendeskUser = Field(default_factory=ZendeskUser)


class TicketEvent(PlatformObject):
    """The fixed schema of an event-subscribed webhook request; as such, a `ticket.created` event."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    type: str
    id: str = Field(min_length=1, max_length=200)
    time: datetime
    detail: TicketDetail
    event: dict[str, Any] = Field(default_factory=dict)


class CommentEvent(PlatformObject):
    comment: EventComment


class CommentAdded(TicketEvent):
    """A `ticket.comment_added` event: its `event` holds the comment."""

    event: CommentEvent


def _with_scheme(url: str | None) -> str | None:
    # {{ticket.url}} renders without the scheme; {{ticket.url_with_protocol}} with it. Accept both.
    return url if url is None or url.startswith(("https://", "http://")) else f"https://{url}"


class TriggerTicket(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=100)
    url: Annotated[str | None, BlankIsNone, AfterValidator(_with_scheme)] = Field(
        default=None, max_length=2048
    )


class TriggerComment(PlatformObject):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    # Required: an empty id (a misspelt placeholder renders as "") would make every comment one item.
    id: str = Field(min_length=1, max_length=100)
    body: str = ""
    author: ZendeskUser | None = None
    created_at: Annotated[datetime | None, BlankIsNone] = None


class TriggerSatisfaction(PlatformObject):
    score: str = ""
    comment: str = ""
    rated_at: Annotated[datetime | None, BlankIsNone] = None


class TriggerBody(PlatformObject):
    """The documented trigger webhook body (`TRIGGER_TEMPLATE`)."""

    ticket: TriggerTicket
    requester: ZendeskUser = Field(default_factory=ZendeskUser)
    comment: TriggerComment | None = None
    satisfaction: TriggerSatisfaction | None = None

    @model_validator(mode="before")
    @classmethod
    def _is_a_trigger_body(cls, body: Any) -> Any:
        if isinstance(body, dict) and not isinstance(body.get("ticket"), dict):
            raise refused(
                "expected a Zendesk event (type zen:event-type:…) or the documented trigger body "
                "(ticket, requester, comment and/or satisfaction)"
            )
        return body

    @model_validator(mode="after")
    def _has_a_section(self) -> TriggerBody:
        if self.comment is None and self.satisfaction is None:
            raise refused("the trigger body needs a comment or a satisfaction section")
        return self


def _delivery_shape(payload: dict[str, Any]) -> type[PlatformObject]:
    event_type = payload.get("type")
    if isinstance(event_type, str) and event_type.startswith(EVENT_TYPE_PREFIX):
        # Assignments, status changes … are acknowledged unread.
        return {TICKET_CREATED: TicketEvent, COMMENT_ADDED: CommentAdded}.get(event_type, Ignored)
    return TriggerBody


ZendeskPayload = Annotated[CommentAdded | TicketEvent | TriggerBody | Ignored, one_of(_delivery_shape)]


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Zendesk-Webhook-Signature value Zendesk computes."""
    return signatures.b64_digest(secret, timestamp.encode() + body)


def _check_timestamp(raw: str | None, now: datetime) -> None:
    """Refuse (401) a missing, unreadable or stale ISO 8601 signature timestamp."""
    try:
        sent = _TIMESTAMP.validate_python((raw or "").strip())
    except ValidationError as error:
        format_ = "an ISO 8601 time (such as 2021-07-25T10:00:00Z)"
        raise TimestampExpired(TOLERANCE_SECONDS, TIMESTAMP_HEADER, raw, format_) from error
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)  # Zendesk sends UTC ("…Z"); a bare time is read the same way
    if abs((now - sent).total_seconds()) > TOLERANCE_SECONDS:
        raise TimestampExpired(TOLERANCE_SECONDS, TIMESTAMP_HEADER, raw, "")


def _same_text(a: str | None, b: str | None) -> bool:
    return bool(a and b) and " ".join((a or "").split()) == " ".join((b or "").split())


def _author(user: ZendeskUser | None) -> Author:
    user = user or ZendeskUser()
    return Author(
        channel_user_id=user.id, name=user.name, email=user.email.strip().lower() if user.email else None
    )


class ZendeskChannel(Channel):
    type = "zendesk"
    payload_model = ZendeskPayload
    secret_names = (SECRET,)
    setting_help = {
        "subdomain": "Your Zendesk subdomain (acme for acme.zendesk.com): event-subscribed feedback then "
        "links to the ticket in Agent Workspace.",
    }
    console_help = (
        "Admin Center → Apps and integrations → Webhooks → Create webhook, endpoint "
        "https://<api>/webhooks/<source_id>, method POST, format JSON, no authentication. Either subscribe "
        "it to the events ticket.comment_added (and ticket.created), or connect it to triggers whose JSON "
        "body is the documented template (comments: conditions 'Comment is Public' and 'Current user is "
        "(end-user)'; ratings: a Satisfaction condition such as 'changed to Good/Bad'). Then Reveal the "
        "webhook's signing secret: it is this source's signing_secret."
    )

    replay_window = timedelta(seconds=TOLERANCE_SECONDS)

    def verify(self, request: WebhookRequest) -> None:
        provided = (request.header(SIGNATURE_HEADER) or "").strip()
        if not provided:
            raise SignatureMissing(SIGNATURE_HEADER)
        raw_timestamp = request.header(TIMESTAMP_HEADER)
        _check_timestamp(raw_timestamp, request.received_at)
        # Signed as sent: the header string, not a reformatted datetime.
        expected = [
            _signature(secret, raw_timestamp or "", request.body)
            for secret in request.secrets.accepted(SECRET)
        ]
        signatures.require(provided, expected)

    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        timestamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # as Zendesk writes it
        signature = _signature(secrets[SECRET], timestamp, body)
        return SignedRequest(headers={TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature})

    def normalize(
        self, request: WebhookRequest, payload: CommentAdded | TicketEvent | TriggerBody | Ignored
    ) -> Delivery:
        if isinstance(payload, Ignored):
            return Delivery.nothing("not_feedback_event")  # assignments, status changes …
        if isinstance(payload, TriggerBody):
            return Delivery(events=self._trigger_events(request, payload))
        return Delivery(events=self._subscribed_event(request, payload))

    # Event-subscribed webhooks -------------------------------------------------------------------------

    def _subscribed_event(
        self, request: WebhookRequest, event: CommentAdded | TicketEvent
    ) -> list[FeedbackEvent]:
        ticket = event.detail
        metadata = {"event_type": event.type.removeprefix(EVENT_TYPE_PREFIX), "event_id": event.id}
        if not isinstance(event, CommentAdded):
            submitted_by_requester = not (
                ticket.requester_id and ticket.submitter_id and ticket.requester_id != ticket.submitter_id
            )
            text = (ticket.description or "").strip()
            if ticket.is_public is False or not submitted_by_requester or not text:
                return []  # an agent opened it on the customer's behalf: the words are the agent's
            return [
                self._event(
                    request,
                    external_id=f"ticket:{ticket.id}:description",
                    kind=Kind.MESSAGE,
                    text=text,
                    occurred_at=ticket.created_at or event.time,
                    author=Author(channel_user_id=ticket.requester_id),
                    ticket_id=ticket.id,
                    permalink=self._ticket_link(request, ticket.id),
                    metadata=metadata,
                )
            ]
        comment = event.event.comment
        author = comment.author
        by_end_user = (
            author.is_staff is False
            if author.is_staff is not None
            else bool(author.id) and author.id == ticket.requester_id
        )
        text = comment.body.strip()
        if comment.is_public is not True or not by_end_user or not text:
            return []  # internal notes, agent replies, attachment-only comments
        first_comment = _same_text(text, ticket.description)
        return [
            self._event(
                request,
                external_id=f"ticket:{ticket.id}:description" if first_comment else f"comment:{comment.id}",
                kind=Kind.MESSAGE,
                text=text,
                occurred_at=event.time,
                author=_author(author),
                ticket_id=ticket.id,
                permalink=self._ticket_link(request, ticket.id),
                metadata={**metadata, "comment_id": comment.id},
            )
        ]

    # Trigger webhooks ----------------------------------------------------------------------------------

    def _trigger_events(self, request: WebhookRequest, body: TriggerBody) -> list[FeedbackEvent]:
        ticket = body.ticket
        events: list[FeedbackEvent] = []
        comment = body.comment
        if comment is not None and comment.body.strip():
            events.append(
                self._event(
                    request,
                    external_id=f"comment:{comment.id}",
                    kind=Kind.MESSAGE,
                    text=comment.body.strip(),
                    occurred_at=comment.created_at or request.received_at,
                    author=_author(
                        comment.author if comment.author and comment.author.id else body.requester
                    ),
                    ticket_id=ticket.id,
                    permalink=ticket.url,
                    metadata={"event_type": "trigger.comment", "comment_id": comment.id},
                )
            )
        satisfaction = body.satisfaction
        if satisfaction is not None:
            raw_score = " ".join(satisfaction.score.split())
            # `{{satisfaction.current_rating}}` renders as text ("Good, I'm satisfied"); a literal good/bad
            # in the body works too, and in any language.
            score = next((s for s in SATISFACTION_SCORES if raw_score.lower().startswith(s)), None)
            remark = satisfaction.comment.strip()
            if score is not None or remark:
                events.append(
                    self._event(
                        request,
                        external_id=f"satisfaction:{ticket.id}",
                        kind=Kind.REVIEW,
                        text=remark,
                        occurred_at=satisfaction.rated_at or request.received_at,
                        author=_author(body.requester),
                        ticket_id=ticket.id,
                        permalink=ticket.url,
                        rating=SATISFACTION_SCORES[score] if score else None,
                        metadata={
                            "event_type": "trigger.satisfaction",
                            "zendesk_score": score or raw_score or None,
                        },
                    )
                )
        return events

    # Shared --------------------------------------------------------------------------------------------

    def _ticket_link(self, request: WebhookRequest, ticket_id: str) -> str | None:
        subdomain = (request.setting("subdomain") or "").strip().lower()
        if not _SUBDOMAIN.match(subdomain) or not ticket_id.isdigit():
            return None
        return f"https://{subdomain}.zendesk.com/agent/tickets/{ticket_id}"

    def _event(
        self,
        request: WebhookRequest,
        *,
        external_id: str,
        kind: Kind,
        text: str,
        occurred_at: datetime,
        author: Author,
        ticket_id: str,
        permalink: str | None,
        metadata: dict[str, Any],
        rating: int | None = None,
    ) -> FeedbackEvent:
        return feedback_event(
            request,
            channel=ChannelName.ZENDESK,
            kind=kind,
            external_id=external_id,
            text=text,
            occurred_at=occurred_at,
            author=author,
            thread_id=ticket_id,
            rating=rating,
            rating_scale=RatingScale.CSAT,
            permalink=permalink,
            metadata={"ticket_id": ticket_id, **metadata},
        )
