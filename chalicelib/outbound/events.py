"""The events subscribers receive: versioned payloads (pydantic models) built from what the table stored.

A delivery's body is `{"type", "version", "timestamp", "data"}` (the Standard Webhooks payload shape, plus
the payload version). Its `webhook-id` derives from the event itself (the stored item and the event type),
so a stream record delivered twice, a retry and a DLQ replay all carry the same id and receivers dedupe.
Bodies are serialized once and kept as bytes: every attempt signs and sends exactly the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.models import Channel, Kind, RatingScale, Sentiment, StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.profiles import PROFILE
from chalicelib.store.schema import RECORD_TYPE

PAYLOAD_VERSION = 1
ERASURE_RECORD = "ERASURE"  # privacy/erasure.py's log record, named here without importing privacy


class EventType(StrEnum):
    FEEDBACK_STORED = "feedback.stored"
    FEEDBACK_NEGATIVE = "feedback.negative"
    CUSTOMER_MERGED = "customer.merged"
    CUSTOMER_ERASED = "customer.erased"
    ALERT_TRIGGERED = "alert.triggered"


class FeedbackData(BaseModel):
    """`feedback.stored` and `feedback.negative`: the item as stored (PII already redacted)."""

    model_config = ConfigDict(extra="forbid")

    feedback_id: str
    source_id: str = Field(description="The source, or for forms the form id")
    channel: Channel
    kind: Kind
    text: str = Field(description="PII already redacted")
    language: str | None = None
    rating: int | None = None
    rating_scale: RatingScale | None = None
    sentiment: Sentiment | None = None
    sentiment_score: float | None = Field(default=None, json_schema_extra={"minimum": -1, "maximum": 1})
    themes: list[str] = Field(default=[], description="The ids of the themes tagged (the taxonomy's)")
    customer_id: str | None = None
    permalink: str | None = None
    occurred_at: datetime
    stored_at: datetime

    @classmethod
    def of(cls, item: StoredFeedback) -> FeedbackData:
        return cls(
            feedback_id=item.feedback_id,
            source_id=item.source_id,
            channel=item.channel,
            kind=item.kind,
            text=item.text,
            language=item.language,
            rating=item.rating,
            rating_scale=item.rating_scale,
            sentiment=item.sentiment,
            sentiment_score=item.sentiment_score,
            themes=[tag.id for tag in item.themes or []],
            customer_id=item.customer_id,
            permalink=item.permalink,
            occurred_at=item.occurred_at,
            stored_at=item.stored_at,
        )


class CustomerMergedData(BaseModel):
    """`customer.merged`: `absorbed_customer_id` is now part of `customer_id`."""

    customer_id: str = Field(description="The customer kept")
    absorbed_customer_id: str = Field(description="The customer now part of it")


class CustomerErasedData(BaseModel):
    """`customer.erased`: which customer was erased, as a one-way hash (sha256 of `erasure:<customer_id>`),
    so the event itself names nobody; receivers holding the id compute the same hash."""

    customer_hash: str = Field(description="sha256 hex of `erasure:<customer_id>`: the event names nobody")
    requested_at: datetime
    feedback_deleted: int = Field(json_schema_extra={"minimum": 0})


class ThemeCount(BaseModel):
    theme: str
    items: int


class AlertTriggeredData(BaseModel):
    """`alert.triggered`: a rule fired (chalicelib/alerts/): its slice, window and counts; sample items by
    id only (their text stays where erasure reaches it)."""

    model_config = ConfigDict(extra="allow")

    alert_id: str
    rule_id: str
    rule_kind: str = Field(description="spike, detractor or silence")
    summary: str
    fired_at: datetime
    dimension: str | None = Field(
        default=None,
        description="the rule's slice: overall, form, channel, source or theme (a detractor: its item's "
        "form, or its source); never guessed from the counts",
    )
    value: str | None = Field(
        default=None, description="which form, channel, source or theme (none: overall)"
    )
    window_start: datetime | None = None
    window_end: datetime | None = None
    count: int | None = None
    negatives: int | None = None
    baseline: float | None = None
    threshold: float | None = None
    top_themes: list[ThemeCount] = []
    sample_feedback_ids: list[str] = []
    dashboard_url: str | None = None


DATA_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.FEEDBACK_STORED: FeedbackData,
    EventType.FEEDBACK_NEGATIVE: FeedbackData,
    EventType.CUSTOMER_MERGED: CustomerMergedData,
    EventType.CUSTOMER_ERASED: CustomerErasedData,
    EventType.ALERT_TRIGGERED: AlertTriggeredData,
}


class OutboundEvent(BaseModel):
    """One event, before it is matched to subscriptions; `subject` is what its id derives from."""

    type: EventType
    subject: str
    timestamp: datetime
    data: BaseModel
    # What subscription filters look at (feedback events only).
    feedback: StoredFeedback | None = None

    @property
    def webhook_id(self) -> str:
        """Stable per event: `msg_` and a hash of the type and what the event is about."""
        return "msg_" + hashlib.sha256(f"{self.type.value}:{self.subject}".encode()).hexdigest()[:32]

    def body(self) -> bytes:
        """The JSON body, compact, fixed once: every attempt sends and signs these bytes."""
        payload = {
            "type": self.type.value,
            "version": PAYLOAD_VERSION,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "data": self.data.model_dump(mode="json", exclude_none=True),
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def feedback_events(item: StoredFeedback) -> list[OutboundEvent]:
    """`feedback.stored`, and `feedback.negative` when the analysis found it negative."""
    data = FeedbackData.of(item)
    types = [EventType.FEEDBACK_STORED]
    if item.sentiment is Sentiment.NEGATIVE:
        types.append(EventType.FEEDBACK_NEGATIVE)
    return [
        OutboundEvent(type=t, subject=item.feedback_id, timestamp=item.stored_at, data=data, feedback=item)
        for t in types
    ]


def alert_event(data: AlertTriggeredData) -> OutboundEvent:
    """The `alert.triggered` event for a fired alert (one id per alert, so its redelivery dedupes)."""
    return OutboundEvent(
        type=EventType.ALERT_TRIGGERED, subject=data.alert_id, timestamp=data.fired_at, data=data
    )


def events_from_stream_record(record: dict[str, Any]) -> list[OutboundEvent]:
    """The events one DynamoDB stream record (NEW_IMAGE) stands for; [] for anything else.

    Only an INSERT of a feedback item is `feedback.stored`: re-analysis, a merge moving the item and TTL
    expiry are MODIFY/REMOVE records, so each stored item yields its events once.
    """
    image = record.get("dynamodb", {}).get("NewImage")
    if not image:
        return []
    item = dynamo.deserialize(image)
    kind, name = item.get(RECORD_TYPE), record.get("eventName")
    if kind == feedback_store.ITEM_TYPE and name == "INSERT":
        return feedback_events(feedback_store.from_item(item))
    if kind == PROFILE and item.get("merged_into"):
        # The tombstone is a MODIFY; if it is touched again the same id is sent, and receivers dedupe.
        data = CustomerMergedData(customer_id=item["merged_into"], absorbed_customer_id=item["customer_id"])
        subject = f"{data.absorbed_customer_id}>{data.customer_id}"
        timestamp = _approximate_time(record)
        merged = EventType.CUSTOMER_MERGED
        return [OutboundEvent(type=merged, subject=subject, timestamp=timestamp, data=data)]
    if kind == ERASURE_RECORD and name == "INSERT":
        data = CustomerErasedData(
            customer_hash=item["customer_hash"],
            requested_at=item["requested_at"],
            feedback_deleted=int(item.get("feedback_deleted", 0)),
        )
        subject = f"{data.customer_hash}@{item['requested_at']}"
        return [
            OutboundEvent(
                type=EventType.CUSTOMER_ERASED, subject=subject, timestamp=data.requested_at, data=data
            )
        ]
    return []


def _approximate_time(record: dict[str, Any]) -> datetime:
    """When the change was written, in UTC: Lambda's stream event gives epoch seconds, a record boto3 parsed
    from GetRecords gives a datetime (a naive one read as UTC); now when the record has none."""
    created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return created.astimezone(UTC) if created.tzinfo else created.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(created), UTC) if created else datetime.now(UTC)
