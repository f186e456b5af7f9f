"""Feedback items: idempotent batched writes and the per-day read the export uses."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import date
from typing import Any

from chalicelib.config import settings
from chalicelib.models import StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store.schema import (
    CUSTOMER_PK,
    CUSTOMER_SK,
    DAY_INDEX,
    DAY_PK,
    DAY_SK,
    INDEX_KEYS,
    PK,
    RECORD_TYPE,
    SK,
    customer_partition,
)

ITEM_TYPE = "FEEDBACK"


def feedback_key(feedback_id: str) -> dict[str, str]:
    """Primary key of a feedback item."""
    return {PK: f"{ITEM_TYPE}#{feedback_id}", SK: ITEM_TYPE}


def day_partition(day: date, shard: int) -> str:
    """The per-day index partition `DAY#yyyy-mm-dd#n`."""
    return f"DAY#{day.isoformat()}#{shard}"


def shard_of(feedback_id: str, shards: int) -> int:
    """A stable shard for an item: its id is already a hash, so its leading hex digits spread evenly."""
    return int(feedback_id.removeprefix("fb_")[:8], 16) % shards


def to_item(feedback: StoredFeedback) -> dict[str, Any]:
    """The DynamoDB item for a stored feedback, keyed for the table and the per-day index.

    The day is the UTC day the item was stored, so the nightly export of a finished day sees every item
    stored in it, including late deliveries and DLQ replays of older feedback.
    """
    shard = shard_of(feedback.feedback_id, settings().day_shards)
    stored_at = feedback.stored_at.isoformat()
    item = {
        **feedback_key(feedback.feedback_id),
        DAY_PK: day_partition(feedback.stored_at.date(), shard),
        DAY_SK: f"{stored_at}#{feedback.feedback_id}",
        RECORD_TYPE: ITEM_TYPE,
        **feedback.model_dump(mode="json", exclude_none=True),
    }
    if feedback.customer_id:
        item[CUSTOMER_PK] = customer_partition(feedback.customer_id)
        item[CUSTOMER_SK] = customer_sort_key(feedback)
    return item


def customer_sort_key(feedback: StoredFeedback) -> str:
    """Sort key in the customer index: `FB#<occurred_at>#<id>`, so a descending Query is newest first."""
    return f"FB#{feedback.occurred_at.isoformat()}#{feedback.feedback_id}"


def from_item(item: dict[str, Any]) -> StoredFeedback:
    """The stored feedback an item holds (key attributes dropped)."""
    fields = {k: v for k, v in item.items() if k not in INDEX_KEYS}
    return StoredFeedback.model_validate(fields)


def get(feedback_id: str) -> StoredFeedback | None:
    """One feedback item by id."""
    item = dynamo.get_item(settings().table_name, feedback_key(feedback_id))
    return from_item(item) if item else None


def list_day(day: date) -> Iterator[StoredFeedback]:
    """Every item stored on a UTC day in stored order, read through the per-day index: one paginated Query
    per shard, merged lazily (each shard is already sorted by its sort key); never a Scan."""
    shards = [_list_shard(day, shard) for shard in range(settings().day_shards)]
    yield from heapq.merge(*shards, key=lambda feedback: (feedback.stored_at, feedback.feedback_id))


def _list_shard(day: date, shard: int) -> Iterator[StoredFeedback]:
    for item in dynamo.query_pages(
        TableName=settings().table_name,
        IndexName=DAY_INDEX,
        KeyConditionExpression="#pk = :day",
        ExpressionAttributeNames={"#pk": DAY_PK},
        ExpressionAttributeValues={":day": {"S": day_partition(day, shard)}},
    ):
        yield from_item(item)
