"""The data contract: what every channel produces and what the analyzer adds (README, "How it works")."""

# No `from __future__ import annotations`: pydantic would evaluate each field's string annotation when the
# class is defined, a cost every cold start pays (tests/test_cold_start_classes.py keeps them real objects).

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from pydantic import HttpUrl, TypeAdapter


class DeferredModel(BaseModel):
    """A model whose validator is built on its first use, not at import: a cold start pays only for the
    models its request validates (pydantic's `defer_build`; subclasses keep it when they set a config)."""

    model_config = ConfigDict(defer_build=True)


class Channel(StrEnum):
    FORM = "form"
    FACEBOOK = "facebook"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    X = "x"
    SLACK = "slack"
    TYPEFORM = "typeform"
    ZENDESK = "zendesk"
    INTERCOM = "intercom"
    TELEGRAM = "telegram"
    TRUSTPILOT = "trustpilot"
    WEBHOOK = "webhook"
    EMAIL = "email"
    GOOGLE_PLAY = "google_play"
    APP_STORE = "app_store"
    GOOGLE_BUSINESS = "google_business"


class Kind(StrEnum):
    COMMENT = "comment"
    MESSAGE = "message"
    MENTION = "mention"
    REVIEW = "review"
    FORM_RESPONSE = "form_response"


class RatingScale(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    STARS = "stars"

    @property
    def bounds(self) -> tuple[int, int]:
        """Inclusive (lowest, highest) rating on this scale."""
        return (0, 10) if self is RatingScale.NPS else (1, 5)

    @property
    def label(self) -> str:
        """The scale's name as people write it: "NPS", "CSAT", "Stars"."""
        return "Stars" if self is RatingScale.STARS else self.value.upper()

    def describe(self, rating: int) -> str:
        """A rating as people read it, with its scale and top: "NPS 9/10", "CSAT 4/5", "1/5 stars" (as the
        CRM activities have always written it: the nightly activities.csv stays byte for byte the same)."""
        top = self.bounds[1]
        return f"{rating}/{top} stars" if self is RatingScale.STARS else f"{self.label} {rating}/{top}"


class Sentiment(StrEnum):
    POSITIVE = "POSITIVE"
    NEGATIVE = "NEGATIVE"
    NEUTRAL = "NEUTRAL"
    MIXED = "MIXED"


def _as_utc(value: datetime) -> datetime:
    # A naive timestamp from a platform is UTC by every platform's documentation; an aware one is converted.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
MetadataValue = str | int | float | bool | None

# Bounds on what one event may hold, so whatever a channel acknowledges fits one DynamoDB item (400 KB) and
# one SQS message. Free text and labels are cut (a platform would resend the same); identifiers are refused
# beyond their bound, since an id cut short could merge two items.
MAX_TEXT_CHARS = 20_000
MAX_ID_CHARS = 512
MAX_NAME_CHARS = 256
MAX_EMAIL_CHARS = 320
MAX_LANGUAGE_CHARS = 35
MAX_URL_CHARS = 2_048
MAX_METADATA_VALUE_CHARS = 2_048

# Every ISO 639-1 code (183 two-letter codes, none added since 2009), written out here because no runtime
# dependency carries it: a form's or source's default language is checked against it.
_ISO_639_1_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv
    dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie
    ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv
    mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm
    rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts
    tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
# The languages the sentiment analyzers score (Comprehend's BatchDetectSentiment list; the lexicon's are a
# subset), kept here so the ack paths can weigh a browser's languages without reaching the analysis room.
SENTIMENT_LANGUAGES = frozenset({"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh", "zh-TW"})
# A language hint names an ISO 639-1 code, or "zh-TW" (Traditional Chinese, which Comprehend scores apart).
LANGUAGE_HINTS = ISO_639_1 | {"zh-TW"}


@cache
def _http_url() -> "TypeAdapter[HttpUrl]":
    # Built on first use, like the models (DeferredModel); pydantic's URL types are imported then too (a
    # function that validates no link, like the export of items without one, never loads them).
    from pydantic import HttpUrl, TypeAdapter

    return TypeAdapter(HttpUrl)


def checked_language_hint(value: str | None) -> str | None:
    """A default language as stored: lower-case ISO 639-1 ('EN' → 'en'); anything else is a ValueError."""
    if value is None or not value.strip():
        return None
    code = value.strip()
    code = "zh-TW" if code.lower() == "zh-tw" else code.lower()
    if code not in LANGUAGE_HINTS:
        raise ValueError(f"{value[:40]!r} is not an ISO 639-1 language code (such as en, es or pt)")
    return code


def _cut(limit: int) -> AfterValidator:
    return AfterValidator(lambda value: value[:limit] if isinstance(value, str) else value)


BoundedId = Annotated[str, Field(max_length=MAX_ID_CHARS)]
Label = Annotated[str, _cut(MAX_NAME_CHARS)]


def http_url_or_none(value: Any) -> str | None:
    """`value` as a normalized http(s) URL, or None for anything else (`javascript:`, `data:`, too long …)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_URL_CHARS:
        return None
    try:
        return str(_http_url().validate_python(value.strip()))
    except ValidationError:
        return None


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def feedback_id_for(source_id: str, external_id: str) -> str:
    """The stored item's identity: stable for a (source, platform id) pair, so redeliveries collide."""
    digest = hashlib.sha256(f"{source_id}\x1f{external_id}".encode()).hexdigest()
    return f"fb_{digest[:32]}"


class Author(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    channel_user_id: BoundedId | None = None
    handle: Label | None = None
    name: Label | None = None
    email: str | None = Field(default=None, max_length=MAX_EMAIL_CHARS)


class FeedbackEvent(DeferredModel):
    """One piece of customer-authored feedback, normalized from any channel."""

    model_config = ConfigDict(extra="forbid")

    feedback_id: str
    source_id: BoundedId
    channel: Channel
    kind: Kind
    external_id: BoundedId
    thread_id: BoundedId | None = None
    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    # Whether `text` is the first MAX_TEXT_CHARS characters of a longer text.
    text_truncated: bool = False
    language: str | None = Field(default=None, max_length=MAX_LANGUAGE_CHARS)
    # A weaker guess than `language`, set on the ack path (the form's or source's default language, else the
    # browser's Accept-Language): the analyzer uses it only where its own detector is unsure of the text.
    language_hint: str | None = None
    rating: int | None = None
    rating_scale: RatingScale | None = None
    author: Author = Field(default_factory=Author)
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    # Only http(s): any other URL (javascript:, data: …) is dropped, so no export hands one to a CRM or BI.
    permalink: str | None = None
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    # Where the raw received mail lies (its S3 key under INBOUND_MAIL_PREFIX, named by SES's message id, which
    # nothing in the mail carries), so an erasure can delete it; internal: no export or answer shows it.
    raw_mail_key: str | None = Field(default=None, max_length=MAX_ID_CHARS)

    @model_validator(mode="before")
    @classmethod
    def _bound_text(cls, data: Any) -> Any:
        # Cut here, in one place, for every channel; the flag says the stored text is not all of it.
        if isinstance(data, dict):
            text = data.get("text")
            if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
                return {**data, "text": text[:MAX_TEXT_CHARS], "text_truncated": True}
        return data

    @field_validator("language_hint", mode="after")
    @classmethod
    def _known_hint(cls, value: str | None) -> str | None:
        return checked_language_hint(value)

    @field_validator("permalink", mode="before")
    @classmethod
    def _http_permalink(cls, value: Any) -> str | None:
        return http_url_or_none(value)

    @field_validator("metadata", mode="after")
    @classmethod
    def _bound_metadata(cls, value: dict[str, MetadataValue]) -> dict[str, MetadataValue]:
        return {
            key[:MAX_NAME_CHARS]: item[:MAX_METADATA_VALUE_CHARS] if isinstance(item, str) else item
            for key, item in value.items()
        }

    @classmethod
    def create(cls, *, source_id: str, external_id: str, **fields: Any) -> "FeedbackEvent":
        """Build an event whose feedback_id derives from (source_id, external_id)."""
        return cls(
            feedback_id=feedback_id_for(source_id, external_id),
            source_id=source_id,
            external_id=external_id,
            **fields,
        )


class SentimentScores(DeferredModel):
    positive: float
    negative: float
    neutral: float
    mixed: float


class Analysis(DeferredModel):
    """What the analyzer concluded about one event's text."""

    sentiment: Sentiment | None
    scores: SentimentScores | None = None
    language: str | None = None
    analyzer: str
    analyzed_at: UtcDatetime
    skipped_reason: str | None = None


class ThemeTag(DeferredModel):
    """A theme of the team's taxonomy an item talks about, the sentiment about it, and the words saying so."""

    id: str
    sentiment: Sentiment
    evidence: str


class StoredFeedback(FeedbackEvent):
    """A feedback item as kept in DynamoDB and exported: the event plus its analysis."""

    # The hint served the analysis; the stored item keeps the language it settled on, not the guess.
    language_hint: str | None = Field(default=None, exclude=True)
    # Kept on the item (store/feedback_layout.py writes it) but left out of every dump: exports, the read API,
    # outbound events and the CRMs render the dump.
    raw_mail_key: str | None = Field(default=None, exclude=True)
    sentiment: Sentiment | None = None
    sentiment_scores: SentimentScores | None = None
    analyzer: str | None = None
    analyzed_at: UtcDatetime | None = None
    skipped_reason: str | None = None
    stored_at: UtcDatetime
    # The customer the author resolved to (None for anonymous feedback), and what PII redaction masked.
    customer_id: str | None = None
    pii_redacted: bool = False
    pii_types: list[str] = Field(default_factory=list)
    # What the item talks about (None when no tagger ran), and the taxonomy version it was tagged with.
    themes: list[ThemeTag] | None = None
    taxonomy_version: int | None = None
    # When the platform was seen to have deleted the review (pull reconcile, Trustpilot's deletion event):
    # our copy stays, marked; erasing it is the erasure feature's work.
    platform_deleted_at: UtcDatetime | None = None

    @classmethod
    def from_event(
        cls,
        event: FeedbackEvent,
        analysis: Analysis,
        stored_at: datetime,
        customer_id: str | None = None,
    ) -> "StoredFeedback":
        """Combine an event with its analysis; the analyzer's language wins where the channel gave none."""
        return cls(
            **event.model_dump(exclude={"language", "language_hint"}),
            language=event.language or analysis.language,
            sentiment=analysis.sentiment,
            sentiment_scores=analysis.scores,
            analyzer=analysis.analyzer,
            analyzed_at=analysis.analyzed_at,
            skipped_reason=analysis.skipped_reason,
            stored_at=stored_at,
            customer_id=customer_id,
        )

    @property
    def sentiment_score(self) -> float | None:
        """One number per item for averages: positive minus negative, from -1 to 1 (None if not scored)."""
        if self.sentiment_scores is None:
            return None
        return round(self.sentiment_scores.positive - self.sentiment_scores.negative, 4)


class PlatformDeletion(DeferredModel):
    """A platform's deletion of a stored item (a review no longer listed, a deletion webhook), queued beside
    the events and applied by the analyze step: the item is marked, never removed."""

    model_config = ConfigDict(extra="forbid")

    feedback_id: str = Field(min_length=1, max_length=64)
    source_id: BoundedId
    deleted_at: UtcDatetime


def message_problem(model: type[BaseModel], body: str, what: str) -> str | None:
    """Why a queue message's `body` is not a `model` in JSON ("not a {what}: …"), in pydantic's words without
    the input, which a poison message may fill with anything; None when it is one. A DLQ's `check`."""
    try:
        model.model_validate_json(body)
    except ValidationError as error:
        issues = error.errors(include_url=False, include_input=False)
        return f"not a {what}: " + "; ".join(
            f"{'.'.join(map(str, issue['loc'])) or 'body'}: {issue['msg']}" for issue in issues
        )
    return None


def routing_facts(body: str, names: Sequence[str]) -> dict[str, str]:
    """The text or number values of `names` in a JSON object `body`, read without validating (a broken
    message is listed too); {} for anything else. A DLQ's `describe`."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {name: str(parsed[name]) for name in names if isinstance(parsed.get(name), str | int)}
