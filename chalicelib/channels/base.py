"""The channel contract: what a webhook request looks like to a channel, and what a channel must provide.

A channel is one module in this package holding one `Channel` subclass; `registry.py` maps its `type` to
it. The route does the rest the same way for every channel: load the source (cached), check the size,
`verify` the signature on the raw bytes, `parse` the body into the channel's typed payload model (400 when
it is no JSON object, 422 when it does not fit), `normalize` that into FeedbackEvents, one SQS send, answer.
`sign` is the inverse of `verify` (the request the platform would send with a body), for tests and tools.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, ClassVar, NamedTuple

from chalice import Response
from pydantic import TypeAdapter, ValidationError

from chalicelib.channels import signatures
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.payloads import invalid_payload
from chalicelib.channels.sources import SourceConfig, SourceSecrets
from chalicelib.http import NotFound, parse_json_object, primary_language
from chalicelib.models import LANGUAGE_HINTS, Author, FeedbackEvent, Kind, PlatformDeletion, RatingScale
from chalicelib.models import Channel as ChannelName
from chalicelib.records import FrozenRecord


# A NamedTuple (an immutable record): cheaper to define at the API's cold start than a frozen dataclass.
class WebhookRequest(NamedTuple):
    """One inbound request as a channel sees it: headers lower-cased, the body as raw bytes."""

    source: SourceConfig
    secrets: SourceSecrets
    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    received_at: datetime

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower())

    def setting(self, name: str) -> str | None:
        """A non-secret source setting (page id, bot user id …)."""
        return self.source.settings.get(name)


# A plain slotted class (chalicelib/records.py says why): a NamedTuple cannot default each request to its own
# empty headers and query.
class SignedRequest(FrozenRecord):
    """What a platform sends beside a body to authenticate it: headers, and query parameters (a URL token);
    immutable."""

    __slots__ = ("headers", "query")
    headers: dict[str, str]
    query: dict[str, str]

    def __init__(self, headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> None:
        self._set("headers", {} if headers is None else headers)
        self._set("query", {} if query is None else query)


class Skipped(NamedTuple):
    """Something a delivery held that is acknowledged but not stored, and why (a stable snake_case reason)."""

    reason: str
    # The item's position when the delivery is a batch of items (a Standard Webhooks `data` list); the field
    # hides tuple.index, which nothing calls on a Skipped.
    index: int | None = None
    # Where the item is when the platform nests its batches (Meta's "entry[0].changes[1]").
    item: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": self.reason}
        if self.index is not None:
            body["index"] = self.index
        if self.item is not None:
            body["item"] = self.item
        return body


# A plain slotted class, not a dataclass: chalicelib/records.py says why.
class Delivery:
    """What one webhook delivery amounts to: its customer feedback, what it held that is not feedback (with
    the reason), and optionally a specific reply (Slack's url_verification challenge) instead of the default
    acknowledgement."""

    __slots__ = ("deletions", "events", "reply", "skipped")

    def __init__(
        self,
        events: list[FeedbackEvent] | None = None,
        reply: Response | None = None,
        skipped: list[Skipped] | None = None,
        deletions: list[PlatformDeletion] | None = None,
    ) -> None:
        self.events = [] if events is None else events
        self.reply = reply
        self.skipped = [] if skipped is None else skipped
        # Items the platform says it deleted (Trustpilot's service-review-deleted): queued beside the events.
        self.deletions = [] if deletions is None else deletions

    @classmethod
    def nothing(cls, reason: str) -> Delivery:
        """A delivery acknowledged with nothing to store, for `reason`."""
        return cls(skipped=[Skipped(reason)])


class Channel(ABC):
    """A platform's webhook dialect."""

    type: ClassVar[str]
    # Secrets a source of this type must have (stored in SSM), and ones `sources add` may generate.
    secret_names: ClassVar[tuple[str, ...]]
    generated_secrets: ClassVar[tuple[str, ...]] = ()
    # Optional non-secret settings a source of this type understands, with what each is for.
    setting_help: ClassVar[Mapping[str, str]] = {}
    # The settings among them whose value is one of a few words (Typeform's opinion_scale: nps or csat).
    setting_choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # How the platform's console is set up, shown by `sources add` and documented in the README.
    console_help: ClassVar[str] = ""
    # The documented shape of a delivery's body, which `parse` validates it into: a pydantic model, or
    # `Annotated[A | B, one_of(…)]` for a body that comes in several shapes (see payloads.py).
    payload_model: ClassVar[Any]
    # What the 422 calls the body's fields: "Invalid payload fields: entry[0].time (a JSON integer)."
    payload_name: ClassVar[str] = "payload"
    # How far a signed timestamp may be from the server's clock; None when the platform signs no time.
    replay_window: ClassVar[timedelta | None] = None
    # False for platforms that send a shared token as is (in a header or the URL) instead of signing the body.
    signs_body: ClassVar[bool] = True

    def secret_error(self, name: str, value: str) -> str | None:
        """Why `value` cannot be this type's secret `name` (a key that is no base64 …), or None; checked when
        a source is added or rotated, since a delivery can only fail on it."""
        return None

    def source_errors(self, settings: Mapping[str, str], secret_values: Mapping[str, str]) -> list[str]:
        """What `sources add` must refuse in a source of this type: settings and secrets it does not know (a
        misspelt one would be ignored without a word), setting values outside their choices and secret values
        the platform could not have issued."""
        errors = [
            f"--setting {name}: a {self.type} source has no such setting; it knows "
            + ("; ".join(f"{known} ({meaning})" for known, meaning in self.setting_help.items()) or "none")
            for name in sorted(set(settings) - set(self.setting_help))
        ]
        errors += [
            f"--setting {name}: must be {' or '.join(choices)}"
            for name, choices in self.setting_choices.items()
            if name in settings and settings[name] not in choices
        ]
        errors += [
            f"--secret {name}: a {self.type} source has no such secret; its secrets are "
            + ", ".join(self.secret_names)
            for name in sorted(set(secret_values) - set(self.secret_names))
        ]
        return errors + self.secret_errors(secret_values)

    def secret_errors(self, secret_values: Mapping[str, str]) -> list[str]:
        """`secret_error` of each of its secrets among `secret_values`, as `--secret NAME: why`."""
        reasons = {name: self.secret_error(name, value) for name, value in secret_values.items()}
        return [f"--secret {name}: {reason}" for name, reason in sorted(reasons.items()) if reason]

    def generate_secret(self, name: str) -> str:
        """A fresh random value for a secret this product chooses (verify tokens, URL tokens …)."""
        return secrets.token_urlsafe(32)

    def handshake(self, request: WebhookRequest) -> Response:
        """Answer the platform's GET verification; most platforms have none."""
        raise NotFound("This source type has no GET handshake.", code="no_handshake")

    @abstractmethod
    def verify(self, request: WebhookRequest) -> None:
        """Raise a 401 error unless the request is authentic (signature over the raw body, replay window)."""

    def parse(self, request: WebhookRequest) -> Any:
        """The body as a `payload_model`: 400 when it is no JSON object, 422 naming the fields that misfit."""
        document = parse_json_object(request.body)
        try:
            return _adapter(self.payload_model).validate_python(document)
        except ValidationError as error:
            raise invalid_payload(error, self.payload_name) from error

    @abstractmethod
    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        """The inverse of `verify`: what the platform sends with `body` at `now`, made with the value of each
        secret in `secrets`; the same request for the same arguments, as a platform's resend is."""

    @abstractmethod
    def normalize(self, request: WebhookRequest, payload: Any) -> Delivery:
        """Every customer-authored text of the parsed delivery as a FeedbackEvent; skips everything else."""


class BodySignedChannel(Channel):
    """A channel whose platform signs the raw body alone, under one secret and with no timestamp:
    `<signature_header>: <signature_prefix><digest>` (Meta, Intercom, Typeform, X)."""

    signature_header: ClassVar[str]
    signature_prefix: ClassVar[str]
    # The secret the platform signs with.
    signing_secret: ClassVar[str]

    @abstractmethod
    def body_digest(self, secret: str, body: bytes) -> str:
        """The digest the platform writes after the prefix for `body` (raw bytes, as received)."""

    def provided_digest(self, digest: str) -> str:
        """The sent digest as compared: as sent, unless the platform's digests come in a looser form."""
        return digest

    def verify(self, request: WebhookRequest) -> None:
        """401 unless the signature header is the prefixed digest of the raw body under an accepted secret."""
        provided = signatures.strip_prefix(
            request.header(self.signature_header), self.signature_prefix, self.signature_header
        )
        expected = [
            self.body_digest(secret, request.body) for secret in request.secrets.accepted(self.signing_secret)
        ]
        signatures.require(self.provided_digest(provided), expected)

    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        digest = self.body_digest(secrets[self.signing_secret], body)
        return SignedRequest(headers={self.signature_header: self.signature_prefix + digest})


def language_code(tag: str | None) -> str | None:
    """A platform's language tag as items store it: its ISO 639-1 code ('en-US', 'pt_BR' → 'en', 'pt';
    Traditional Chinese 'zh-TW'), or None for a tag naming no such language ('und', 'english'), which the
    analyzer then detects: the read API's `language` filter and the analyzers know the codes alone."""
    if not tag or not tag.strip():
        return None
    language = primary_language(tag)
    return language if language in LANGUAGE_HINTS else None


@cache
def _adapter(payload_model: Any) -> TypeAdapter[Any]:
    # One adapter per model, built when a delivery first needs it.
    return TypeAdapter(payload_model)


def feedback_event(
    request: WebhookRequest,
    *,
    channel: ChannelName,
    kind: Kind,
    external_id: str,
    text: str,
    occurred_at: datetime,
    author: Author | None = None,
    thread_id: str | None = None,
    language: str | None = None,
    rating: int | None = None,
    rating_scale: RatingScale | None = None,
    permalink: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> FeedbackEvent:
    """A FeedbackEvent for this request's source, its identity derived from the platform's own id. It is
    never dated after it arrived: a later time is a sender's wrong clock (or a typo such as 2036), which
    would leave its customer "last seen" years ahead (as e-mail's Date, channels/email/message.py)."""
    try:
        event = FeedbackEvent.create(
            source_id=request.source.source_id,
            external_id=str(external_id),
            channel=channel,
            kind=kind,
            text=text or "",
            occurred_at=occurred_at,
            received_at=request.received_at,
            author=author or Author(),
            thread_id=thread_id,
            language=language_code(language),
            rating=rating,
            rating_scale=rating_scale if rating is not None else None,
            permalink=permalink,
            metadata={k: v for k, v in (metadata or {}).items() if v is not None},
        )
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, issue["loc"])) for issue in error.errors())
        raise PayloadInvalid(f"The payload has fields of the wrong shape or length: {fields}.") from error
    except OverflowError as error:
        # A time such as 0001-01-01T00:00:00+14:00 parses, but has no UTC equivalent datetime can hold.
        raise PayloadInvalid("The payload has a time outside the years 1 to 9999 (UTC).") from error
    if event.occurred_at > event.received_at:
        return event.model_copy(update={"occurred_at": event.received_at})
    return event
