"""The data contract: what every channel produces and what the analyzer adds (see DESIGN.md)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


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


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def feedback_id_for(source_id: str, external_id: str) -> str:
    """The stored item's identity: stable for a (source, platform id) pair, so redeliveries collide."""
    digest = hashlib.sha256(f"{source_id}\x1f{external_id}".encode()).hexdigest()
    return f"fb_{digest[:32]}"


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_user_id: str | None = None
    handle: str | None = None
    name: str | None = None
    email: str | None = None


class FeedbackEvent(BaseModel):
    """One piece of customer-authored feedback, normalized from any channel."""

    model_config = ConfigDict(extra="forbid")

    feedback_id: str
    source_id: str
    channel: Channel
    kind: Kind
    external_id: str
    thread_id: str | None = None
    text: str = ""
    language: str | None = None
    rating: int | None = None
    rating_scale: RatingScale | None = None
    author: Author = Field(default_factory=Author)
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    permalink: str | None = None
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)

    @classmethod
    def create(cls, *, source_id: str, external_id: str, **fields: Any) -> FeedbackEvent:
        """Build an event whose feedback_id derives from (source_id, external_id)."""
        return cls(
            feedback_id=feedback_id_for(source_id, external_id),
            source_id=source_id,
            external_id=external_id,
            **fields,
        )


class SentimentScores(BaseModel):
    positive: float
    negative: float
    neutral: float
    mixed: float


class Analysis(BaseModel):
    """What the analyzer concluded about one event's text."""

    sentiment: Sentiment | None
    scores: SentimentScores | None = None
    language: str | None = None
    analyzer: str
    analyzed_at: UtcDatetime
    skipped_reason: str | None = None


class StoredFeedback(FeedbackEvent):
    """A feedback item as kept in DynamoDB and exported: the event plus its analysis."""

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

    @classmethod
    def from_event(
        cls,
        event: FeedbackEvent,
        analysis: Analysis,
        stored_at: datetime,
        customer_id: str | None = None,
    ) -> StoredFeedback:
        """Combine an event with its analysis; the analyzer's language wins where the channel gave none."""
        return cls(
            **event.model_dump(exclude={"language"}),
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
