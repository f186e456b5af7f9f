"""Feedback items: their keys, their DynamoDB mapping, and the reads by id and of a whole day (the export's).
Their attributes' layout is feedback_layout.py's; new items are written with their customers by
feedback_write.py; the filtered listings' pages and counts are feedback_pages.py's, the old layout's re-key
feedback_rekey.py's (modules the analyze step, which writes items, does not load)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from chalicelib.config import settings
from chalicelib.models import Sentiment, StoredFeedback
from chalicelib.store import day_layout, dynamo
from chalicelib.store.day_layout import DayPartition

# id_of is re-exported: an item's readers take its id from here, as they take its type (ITEM_TYPE).
from chalicelib.store.feedback_layout import ITEM_TYPE, id_of, plain_fields, stored_fields  # noqa: F401
from chalicelib.store.schema import (
    CUSTOMER_PK,
    CUSTOMER_SK,
    DAY_INDEX,
    DAY_PK,
    DAY_SK,
    INDEX_KEYS,
    NEGATIVE_PARTITION,
    NEGATIVE_PK,
    PK,
    RECORD_TYPE,
    SK,
    TTL_ATTRIBUTE,
    customer_partition,
)


def feedback_key(feedback_id: str) -> dict[str, str]:
    """Primary key of a feedback item."""
    return {PK: f"{ITEM_TYPE}#{feedback_id}", SK: ITEM_TYPE}


def day_partition(day: date, channel: str, feedback_id: str) -> str:
    """The per-day index partition of an item: `DAY#yyyy-mm-dd#<channel>#n` (store/day_layout.py)."""
    return day_layout.channel_partition(day, channel, shard_of(feedback_id, settings().channel_shards))


def shard_of(feedback_id: str, shards: int) -> int:
    """A stable shard for an item: its id is already a hash, so its leading hex digits spread evenly."""
    return int(feedback_id.removeprefix("fb_")[:8], 16) % shards


def to_item(feedback: StoredFeedback) -> dict[str, Any]:
    """The DynamoDB item for a stored feedback, keyed for the table and the per-day index.

    The day is the UTC day the item was stored, so the nightly export of a finished day sees every item
    stored in it, including late deliveries and DLQ replays of older feedback.
    """
    stored_at = feedback.stored_at.isoformat()
    item = {
        **feedback_key(feedback.feedback_id),
        DAY_PK: day_partition(feedback.stored_at.date(), feedback.channel.value, feedback.feedback_id),
        DAY_SK: f"{stored_at}#{feedback.feedback_id}",
        RECORD_TYPE: ITEM_TYPE,
        **stored_fields(feedback),
    }
    if feedback.customer_id:
        item[CUSTOMER_PK] = customer_partition(feedback.customer_id)
        item[CUSTOMER_SK] = customer_sort_key(feedback)
    if is_negative(feedback):
        item[NEGATIVE_PK] = NEGATIVE_PARTITION
    expires_at = expiry(feedback)
    if expires_at is not None:
        item[TTL_ATTRIBUTE] = expires_at
    return item


def is_negative(feedback: StoredFeedback) -> bool:
    """Whether the item belongs in the sparse index of negative feedback (schema.NEGATIVE_INDEX)."""
    return feedback.sentiment == Sentiment.NEGATIVE


def expiry(feedback: StoredFeedback) -> int | None:
    """When DynamoDB's TTL may delete the item (epoch seconds, RETENTION_DAYS after it was stored), or None
    when no retention is configured; the nightly exports are the archive of what expires."""
    days = settings().retention_days
    if days <= 0:
        return None
    return int(feedback.stored_at.timestamp()) + days * 86_400


def customer_sort_key(feedback: StoredFeedback) -> str:
    """Sort key in the customer index: `FB#<occurred_at>#<id>`, so a descending Query is newest first."""
    return f"FB#{feedback.occurred_at.isoformat()}#{feedback.feedback_id}"


def from_item(item: dict[str, Any]) -> StoredFeedback:
    """The stored feedback an item holds, in either layout (key attributes and its expiry dropped)."""
    fields = {k: v for k, v in plain_fields(item).items() if k not in INDEX_KEYS and k != TTL_ATTRIBUTE}
    return StoredFeedback.model_validate(fields)


def get(feedback_id: str) -> StoredFeedback | None:
    """One feedback item by id."""
    item = dynamo.get_item(settings().table_name, feedback_key(feedback_id))
    return from_item(item) if item else None


def list_day(
    day: date,
    stored: tuple[datetime, datetime] | None = None,
    *,
    assume_counted: bool = False,
    every_partition: bool = False,
) -> Iterator[StoredFeedback]:
    """Every item stored on a UTC day in stored order, read through the per-day index: one paginated Query
    per partition the day's counters say may hold items (day_layout.py), each read ahead by its own thread,
    merged lazily (each partition is already sorted by its sort key); never a Scan. With `stored` (from,
    to), only the items stored from `from` to before `to`. `assume_counted`: see day_layout.read_counts;
    `every_partition`: every partition the day may have, whatever its counters say (a recount of them)."""
    if every_partition:
        parts = day_layout.partitions({}, counted=False, channels=None)
    else:
        parts = day_layout.read_counts([day], assume_counted).partitions(day)
    streams = [dynamo.read_ahead(_list_partition(day, part, stored)) for part in parts]
    yield from heapq.merge(*streams, key=lambda feedback: (feedback.stored_at, feedback.feedback_id))


def _list_partition(
    day: date, part: DayPartition, stored: tuple[datetime, datetime] | None
) -> Iterator[StoredFeedback]:
    condition, names, values = "#pk = :day", {"#pk": DAY_PK}, {":day": {"S": part.value(day)}}
    if stored is not None:
        # The sort key is `<stored_at ISO>#<id>`: "<to>#…" sorts after "<to>", so BETWEEN ends before `to`.
        condition += " AND #sk BETWEEN :from AND :to"
        names["#sk"] = DAY_SK
        values |= {":from": {"S": stored[0].isoformat()}, ":to": {"S": stored[1].isoformat()}}
    # A whole day is read here (the export): the pages' items skip botocore's parser (query_pages_unparsed).
    for item in dynamo.query_pages_unparsed(
        TableName=settings().table_name,
        IndexName=DAY_INDEX,
        KeyConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    ):
        yield from_item(item)
