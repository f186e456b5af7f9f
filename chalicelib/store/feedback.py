"""Feedback items: their keys and DynamoDB shape, and the reads (by id, per day for the export and the
listings, per customer). New items are written with their customers by feedback_write.py."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store.schema import (
    CUSTOMER_INDEX,
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


@dataclass
class Page:
    """One page of a feedback listing and the cursor of the next (None at the end)."""

    items: list[StoredFeedback]
    cursor: dict[str, Any] | None


@dataclass(frozen=True)
class Filters:
    """What a listing keeps: channel and sentiment are filtered server-side (DynamoDB FilterExpression)."""

    channel: str | None = None
    sentiment: str | None = None
    customer_id: str | None = None

    def expression(self) -> dict[str, Any]:
        conditions, values = [], {}
        for name in ("channel", "sentiment", "customer_id"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(f"{name} = :{name}")
                values[f":{name}"] = {"S": value}
        if not conditions:
            return {}
        return {"FilterExpression": " AND ".join(conditions), "ExpressionAttributeValues": values}


def page_days(
    days: Sequence[date], filters: Filters, limit: int, cursor: dict[str, Any] | None = None
) -> Page:
    """Items stored on `days`, day after day and shard after shard, `limit` at most; resumable by cursor.

    The cursor names the day, the shard and DynamoDB's LastEvaluatedKey, so a listing reads each item once
    however it is paged.
    """
    items: list[StoredFeedback] = []
    start_day, start_shard = (cursor["day"], cursor["shard"]) if cursor else (0, 0)
    start_key = cursor.get("key") if cursor else None
    extra = filters.expression()
    for day_index in range(start_day, len(days)):
        for shard in range(start_shard if day_index == start_day else 0, settings().day_shards):
            query: dict[str, Any] = {
                "TableName": settings().table_name,
                "IndexName": DAY_INDEX,
                "KeyConditionExpression": "#pk = :day",
                "ExpressionAttributeNames": {"#pk": DAY_PK},
                **extra,
                "ExpressionAttributeValues": {
                    ":day": {"S": day_partition(days[day_index], shard)},
                    **extra.get("ExpressionAttributeValues", {}),
                },
            }
            start_key = _read_into(items, query, limit, start_key)
            if len(items) >= limit:
                next_cursor = (
                    {"day": day_index, "shard": shard, "key": start_key}
                    if start_key
                    else _after(day_index, shard, len(days))
                )
                return Page(items, next_cursor)
    return Page(items, None)


def _read_into(
    items: list[StoredFeedback], query: dict[str, Any], limit: int, start_key: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Page through one Query from `start_key`, adding to `items` until they number `limit` or the Query
    ends; the LastEvaluatedKey to resume from, or None when the Query ended."""
    while True:
        if start_key:
            query["ExclusiveStartKey"] = start_key
        response = aws.client("dynamodb").query(**query, Limit=limit - len(items))
        items += [from_item(dynamo.deserialize(i)) for i in response.get("Items", [])]
        start_key = response.get("LastEvaluatedKey")
        if not start_key or len(items) >= limit:
            return start_key


def _after(day_index: int, shard: int, days: int) -> dict[str, Any] | None:
    """The cursor of the first shard after (day_index, shard), or None when that was the last."""
    if shard + 1 < settings().day_shards:
        return {"day": day_index, "shard": shard + 1, "key": None}
    if day_index + 1 < days:
        return {"day": day_index + 1, "shard": 0, "key": None}
    return None


def page_customer(
    customer_id: str, filters: Filters, limit: int, cursor: dict[str, Any] | None = None
) -> Page:
    """A customer's feedback, newest first, through the customer index; resumable by cursor."""
    extra = filters.expression()
    query: dict[str, Any] = {
        "TableName": settings().table_name,
        "IndexName": CUSTOMER_INDEX,
        "KeyConditionExpression": "#pk = :customer AND begins_with(#sk, :feedback)",
        "ExpressionAttributeNames": {"#pk": CUSTOMER_PK, "#sk": CUSTOMER_SK},
        "ScanIndexForward": False,
        **extra,
        "ExpressionAttributeValues": {
            ":customer": {"S": customer_partition(customer_id)},
            ":feedback": {"S": "FB#"},
            **extra.get("ExpressionAttributeValues", {}),
        },
    }
    items: list[StoredFeedback] = []
    start_key = _read_into(items, query, limit, cursor.get("key") if cursor else None)
    return Page(items, {"key": start_key} if start_key else None)


def count_days(days: Sequence[date]) -> int:
    """How many items were stored on `days`: Select=COUNT Queries on the per-day index, shard by shard
    (paginated, as each response counts at most 1 MB of items); never a Scan."""
    dynamodb = aws.client("dynamodb")
    total = 0
    for day in days:
        for shard in range(settings().day_shards):
            query: dict[str, Any] = {
                "TableName": settings().table_name,
                "IndexName": DAY_INDEX,
                "KeyConditionExpression": "#pk = :day",
                "ExpressionAttributeNames": {"#pk": DAY_PK},
                "ExpressionAttributeValues": {":day": {"S": day_partition(day, shard)}},
                "Select": "COUNT",
            }
            while True:
                response = dynamodb.query(**query)
                total += response.get("Count", 0)
                if "LastEvaluatedKey" not in response:
                    break
                query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return total
