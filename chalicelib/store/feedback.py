"""Feedback items: their keys and DynamoDB shape, and the reads (by id, per day for the export and the
listings, per customer). New items are written with their customers by feedback_write.py."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
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
    TTL_ATTRIBUTE,
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
    expires_at = expiry(feedback)
    if expires_at is not None:
        item[TTL_ATTRIBUTE] = expires_at
    return item


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
    """The stored feedback an item holds (key attributes and its expiry dropped)."""
    fields = {k: v for k, v in item.items() if k not in INDEX_KEYS and k != TTL_ATTRIBUTE}
    return StoredFeedback.model_validate(fields)


def get(feedback_id: str) -> StoredFeedback | None:
    """One feedback item by id."""
    item = dynamo.get_item(settings().table_name, feedback_key(feedback_id))
    return from_item(item) if item else None


def list_day(day: date) -> Iterator[StoredFeedback]:
    """Every item stored on a UTC day in stored order, read through the per-day index: one paginated Query
    per shard, each read ahead by its own thread, merged lazily (each shard is already sorted by its sort
    key); never a Scan."""
    shards = [dynamo.read_ahead(_list_shard(day, shard)) for shard in range(settings().day_shards)]
    yield from heapq.merge(*shards, key=lambda feedback: (feedback.stored_at, feedback.feedback_id))


def _list_shard(day: date, shard: int) -> Iterator[StoredFeedback]:
    # A whole day is read here (the export): the pages' items skip botocore's parser (query_pages_unparsed).
    for item in dynamo.query_pages_unparsed(
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
    """What a listing keeps: channel and sentiment are filtered by DynamoDB (FilterExpression); themes are
    checked on each item read, as "one of a list of maps has this id" is beyond a FilterExpression.

    `themes` holds the ids any of which matches (a theme and its children), `theme_sentiment` the sentiment
    a matching theme must have.
    """

    channel: str | None = None
    sentiment: str | None = None
    customer_id: str | None = None
    themes: tuple[str, ...] = ()
    theme_sentiment: str | None = None

    def expression(self, themes_projected: bool = True) -> dict[str, Any]:
        """The FilterExpression; `themes_projected=False` for an index without `themes` (the customer index),
        where the themes are checked on the items fetched by key only."""
        conditions, values = [], {}
        for name in ("channel", "sentiment", "customer_id"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(f"{name} = :{name}")
                values[f":{name}"] = {"S": value}
        if self.themes and themes_projected:
            # Untagged items never match: DynamoDB leaves them out before they are sent.
            conditions.append("attribute_exists(themes) AND size(themes) > :no_themes")
            values[":no_themes"] = {"N": "0"}
        if not conditions:
            return {}
        return {"FilterExpression": " AND ".join(conditions), "ExpressionAttributeValues": values}

    @property
    def checks_items(self) -> bool:
        return bool(self.themes)

    def keeps(self, feedback: StoredFeedback) -> bool:
        if not self.themes:
            return True
        return any(
            tag.id in self.themes and self.theme_sentiment in (None, tag.sentiment)
            for tag in feedback.themes or ()
        )


# A listing filtered by theme reads at least this many items per Query request (a rare theme would otherwise
# cost a request per item near the end of a page) and at most THEMED_PAGE_BUDGET items per page, so one
# request never reads for longer than the gateway waits: such a page may hold fewer than `limit` items, even
# none, while its cursor continues.
THEMED_READ_CHUNK = 250
THEMED_PAGE_BUDGET = 5000
DAY_KEY_NAMES = (PK, SK, DAY_PK, DAY_SK)
CUSTOMER_KEY_NAMES = (PK, SK, CUSTOMER_PK, CUSTOMER_SK)


@dataclass
class _PageReader:
    """Fills one page from one or more Queries, and says where the next page starts."""

    filters: Filters
    limit: int
    key_names: tuple[str, ...]
    # The index holds keys only (the customer index): each response's items are then read by key.
    fetch_by_key: bool = False
    items: list[StoredFeedback] = field(default_factory=list)
    read: int = 0

    @property
    def done(self) -> bool:
        """The page is full, or a themed page has read its budget."""
        spent = self.filters.checks_items and self.read >= THEMED_PAGE_BUDGET
        return len(self.items) >= self.limit or spent

    def read_query(self, query: dict[str, Any], start_key: dict[str, Any] | None) -> dict[str, Any] | None:
        """Page through one Query from `start_key` until the page is done or the Query ends; the key to
        resume from (the last item kept when the page filled mid-response), or None when the Query ended."""
        dynamodb = aws.client("dynamodb")
        while True:
            if start_key:
                query["ExclusiveStartKey"] = start_key
            wanted = self.limit - len(self.items)
            chunk = max(wanted, THEMED_READ_CHUNK) if self.filters.checks_items else wanted
            response = dynamodb.query(**query, Limit=chunk)
            start_key = response.get("LastEvaluatedKey")
            found = response.get("Items", [])
            self.read += response.get("ScannedCount", len(found))
            whole = self._whole_items(found)
            for position, item in enumerate(found):
                key = (item[PK]["S"], item[SK]["S"])
                if key not in whole:
                    continue  # deleted since the index was read (an erasure)
                feedback = from_item(whole[key])
                if not self.filters.keeps(feedback):
                    continue
                self.items.append(feedback)
                if len(self.items) >= self.limit and position < len(found) - 1:
                    return {name: item[name] for name in self.key_names}
            if not start_key or self.done:
                return start_key

    def _whole_items(self, found: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """(pk, sk) → the whole item, for a Query response's items (from the table when the index has
        keys only: one BatchGetItem per 100 items)."""
        if not self.fetch_by_key:
            return {(item[PK]["S"], item[SK]["S"]): dynamo.deserialize(item) for item in found}
        keys = [{PK: item[PK]["S"], SK: item[SK]["S"]} for item in found]
        return {(item[PK], item[SK]): item for item in dynamo.batch_get(settings().table_name, keys)}


def page_days(
    days: Sequence[date], filters: Filters, limit: int, cursor: dict[str, Any] | None = None
) -> Page:
    """Items stored on `days`, day after day and shard after shard, `limit` at most; resumable by cursor.

    The cursor names the day, the shard and the key to start after, so a listing reads each item once
    however it is paged.
    """
    page = _PageReader(filters, limit, DAY_KEY_NAMES)
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
            start_key = page.read_query(query, start_key)
            if page.done:
                next_cursor = (
                    {"day": day_index, "shard": shard, "key": start_key}
                    if start_key
                    else _after(day_index, shard, len(days))
                )
                return Page(page.items, next_cursor)
    return Page(page.items, None)


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
    """A customer's feedback, newest first, through the customer index (its keys, channel and sentiment;
    the items read by key); resumable by cursor."""
    extra = filters.expression(themes_projected=False)
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
    page = _PageReader(filters, limit, CUSTOMER_KEY_NAMES, fetch_by_key=True)
    start_key = page.read_query(query, cursor.get("key") if cursor else None)
    return Page(page.items, {"key": start_key} if start_key else None)


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
