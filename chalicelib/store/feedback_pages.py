"""Feedback listings: pages of a filtered listing by day (the API's GET /feedback, the CRM and analysis
backfills) or by customer, resumable by cursor within a read budget, and Select=COUNT counts of the per-day
index. Only readers load it: the items' keys and mapping are feedback.py's, which the analyze step loads
without this module (tests/test_cold_start.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import StoredFeedback
from chalicelib.store import day_layout, dynamo, listing_hints
from chalicelib.store.day_layout import DayPartition
from chalicelib.store.feedback import from_item
from chalicelib.store.schema import (
    CUSTOMER_INDEX,
    CUSTOMER_PK,
    CUSTOMER_SK,
    DAY_INDEX,
    DAY_PK,
    DAY_SK,
    PK,
    SK,
    customer_partition,
)


@dataclass
class Page:
    """One page of a feedback listing and the cursor of the next (None at the end)."""

    items: list[StoredFeedback]
    cursor: dict[str, Any] | None


# The sentiment an item without one (not analysed: empty text, a language no analyzer scores) is listed under,
# as /stats and the day counters (counters.UNANALYSED) count it.
NOT_ANALYSED = "NONE"


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
    # Checked on each item read, like the themes (the customer index projects none of them):
    source_id: str | None = None
    language: str | None = None
    # A rating band: the scale and the ratings on it that match.
    rating_scale: str | None = None
    ratings: frozenset[int] = frozenset()
    # Free text the comment contains, compared case-folded.
    text: str | None = None

    def expression(self, themes_projected: bool = True) -> dict[str, Any]:
        """The FilterExpression; `themes_projected=False` for an index without `themes` (the customer index),
        where the themes are checked on the items fetched by key only."""
        conditions, values = [], {}
        if self.sentiment == NOT_ANALYSED:
            # Left out of the item when None (an item of an earlier layout may hold a NULL).
            conditions.append("(attribute_not_exists(sentiment) OR attribute_type(sentiment, :null))")
            values[":null"] = {"S": "NULL"}
        for name in ("channel", "sentiment", "customer_id"):
            value = getattr(self, name)
            if value is not None and not (name == "sentiment" and value == NOT_ANALYSED):
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
    def active(self) -> bool:
        """Whether the listing keeps fewer items than it reads."""
        return any((self.channel, self.sentiment, self.customer_id, self.themes, *self._checked_on_items()))

    def _checked_on_items(self) -> tuple[object, ...]:
        return (self.source_id, self.language, self.rating_scale, self.text)

    def _keeps_fields(self, feedback: StoredFeedback) -> bool:
        if self.source_id is not None and feedback.source_id != self.source_id:
            return False
        if self.language is not None and feedback.language != self.language:
            return False
        if self.rating_scale is not None and (
            feedback.rating_scale != self.rating_scale or feedback.rating not in self.ratings
        ):
            return False
        return self.text is None or self.text.casefold() in (feedback.text or "").casefold()

    def keeps(self, feedback: StoredFeedback) -> bool:
        if not self._keeps_fields(feedback):
            return False
        if not self.themes:
            return True
        return any(
            tag.id in self.themes and self.theme_sentiment in (None, tag.sentiment)
            for tag in feedback.themes or ()
        )


# What one page may read, whatever it filters, so a request never runs longer than the gateway waits: at
# most PAGE_ITEM_BUDGET items evaluated and PAGE_QUERY_BUDGET Query requests (an empty shard costs one). A
# page that spends its budget holds fewer than `limit` items, even none, while its cursor continues.
PAGE_ITEM_BUDGET = 5000
PAGE_QUERY_BUDGET = 32
DAY_KEY_NAMES = (PK, SK, DAY_PK, DAY_SK)
CUSTOMER_KEY_NAMES = (PK, SK, CUSTOMER_PK, CUSTOMER_SK)


@dataclass
class _PageReader:
    """Fills one page from one or more Queries within the page's budget, and says where the next starts."""

    filters: Filters
    limit: int
    key_names: tuple[str, ...]
    # The index holds keys only (the customer index): each response's items are then read by key.
    fetch_by_key: bool = False
    # A newest-first listing shares one page's budget among a day's partitions (page_days_newest); None is
    # the whole page's (the module's budgets, read when used).
    item_budget: int | None = None
    query_budget: int | None = None
    items: list[StoredFeedback] = field(default_factory=list)
    evaluated: int = 0
    requests: int = 0

    @property
    def done(self) -> bool:
        """The page is full, or it has spent its read budget."""
        queries = PAGE_QUERY_BUDGET if self.query_budget is None else self.query_budget
        spent = self.evaluated >= self._items_allowed or self.requests >= queries
        return len(self.items) >= self.limit or spent

    def _request_limit(self) -> int:
        """Items the next request evaluates: what the page still wants, divided by the share of items kept so
        far (so a rare match does not cost a request per item), within what is left of the budget."""
        wanted = self.limit - len(self.items)
        if not self.filters.active:
            return wanted
        kept_share = (len(self.items) + 1) / (self.evaluated + 1)
        return max(1, min(self._items_allowed - self.evaluated, math.ceil(wanted / kept_share)))

    @property
    def _items_allowed(self) -> int:
        return PAGE_ITEM_BUDGET if self.item_budget is None else self.item_budget

    def read_query(self, query: dict[str, Any], start_key: dict[str, Any] | None) -> dict[str, Any] | None:
        """Page through one Query from `start_key` until the page is done or the Query ends; the key to
        resume from (the last item kept when the page filled mid-response), or None when the Query ended."""
        dynamodb = aws.client("dynamodb")
        while not self.done:
            if start_key:
                query["ExclusiveStartKey"] = start_key
            response = dynamodb.query(**query, Limit=self._request_limit())
            self.requests += 1
            start_key = response.get("LastEvaluatedKey")
            found = response.get("Items", [])
            self.evaluated += response.get("ScannedCount", len(found))
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
            if not start_key:
                return None
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
    """Items stored on `days`, day after day and partition after partition, `limit` at most (fewer when
    the page's read budget is spent first); resumable by cursor.

    The cursor names the day, the partition (`channel`, None for an old-layout shard, and `shard`) and the
    key to start after, so a listing reads each item once however it is paged. The day's counters (one
    BatchGetItem per 50 days) say which partitions may hold items (day_layout.py): a channel filter reads its
    channel's only, a source or form filter those of the channels its counters prove it has (every channel's
    on a day they cannot), and days they know hold no match are skipped without a read.
    """
    page = _PageReader(filters, limit, DAY_KEY_NAMES)
    start_day = cursor["day"] if cursor else 0
    start = DayPartition(cursor.get("channel"), cursor["shard"]) if cursor else None
    start_key = cursor.get("key") if cursor else None
    # A filtered listing needs every day's counters to skip days; an unfiltered one reads them as it goes,
    # one BatchGetItem's worth of days at a time, as its first page seldom leaves the first days.
    window = len(days) if filters.active else day_layout.COUNTS_WINDOW_DAYS
    counts = day_layout.read_counts(days[start_day : start_day + window])
    read_until = start_day + window
    matching = listing_hints.matching_days(days[start_day:], filters, counts) if filters.active else None
    skipped = set() if matching is None else set(days[start_day:]) - set(matching)
    extra = filters.expression()
    for day_index in range(start_day, len(days)):
        day = days[day_index]
        if day in skipped:
            continue
        if day_index >= read_until:
            counts = day_layout.read_counts(days[day_index : day_index + window])
            read_until = day_index + window
        parts = counts.partitions(day, filters.channel, filters.source_id)
        if day_index == start_day and start is not None:
            # Resumed: from the cursor's partition on (read even if the counters no longer list it, so the
            # rest of a partition it stopped in is never lost).
            parts = sorted({*parts, start} if start_key else parts, key=lambda part: part.order)
            parts = [part for part in parts if part.order >= start.order]
        for position, part in enumerate(parts):
            query: dict[str, Any] = {
                "TableName": settings().table_name,
                "IndexName": DAY_INDEX,
                "KeyConditionExpression": "#pk = :day",
                "ExpressionAttributeNames": {"#pk": DAY_PK},
                **extra,
                "ExpressionAttributeValues": {
                    ":day": {"S": part.value(day)},
                    **extra.get("ExpressionAttributeValues", {}),
                },
            }
            start_key = page.read_query(query, start_key)
            if page.done:
                if start_key:
                    return Page(page.items, _position(day_index, part, start_key))
                if position + 1 < len(parts):
                    return Page(page.items, _position(day_index, parts[position + 1], None))
                following = _next_day(
                    days,
                    day_index,
                    filters=filters,
                    counts=counts,
                    read_until=read_until,
                    skipped=skipped,
                )
                return Page(page.items, following)
    return Page(page.items, None)


def day_sort_key(feedback: StoredFeedback) -> str:
    """Its sort key in the per-day index (feedback.py's to_item): when it was stored, then its id."""
    return f"{feedback.stored_at.isoformat()}#{feedback.feedback_id}"


def page_days_newest(
    days: Sequence[date], filters: Filters, limit: int, cursor: dict[str, Any] | None = None
) -> Page:
    """Items stored on `days`, newest first: the last day first and, on a day, the items of all its
    partitions merged by the time they were stored, `limit` at most; resumable by cursor.

    Each partition of a day is read backwards from below the cursor's `before` (the sort key of the last item
    listed) for at most what the page still wants, so a page costs one Query per partition of its days; what a
    page read but did not list is read again by the next. The page's read budget is shared by a day's
    partitions: one that spends its share stops the page where every partition has been read down to.
    """
    start_day = cursor["day"] if cursor else len(days) - 1
    before = cursor.get("before") if cursor else None
    counts = day_layout.read_counts(days[: start_day + 1])  # at most 93 days: two BatchGetItem
    matching = listing_hints.matching_days(days[: start_day + 1], filters, counts) if filters.active else None
    skipped = set() if matching is None else set(days[: start_day + 1]) - set(matching)
    extra = filters.expression()
    items: list[StoredFeedback] = []
    evaluated = requests = 0
    for day_index in range(start_day, -1, -1):
        day = days[day_index]
        if evaluated >= PAGE_ITEM_BUDGET or requests >= PAGE_QUERY_BUDGET:
            return Page(items, {"day": day_index, "before": None})
        if day in skipped:
            before = None
            continue
        parts = counts.partitions(day, filters.channel, filters.source_id)
        wanted = limit - len(items)
        found: list[StoredFeedback] = []
        more = False  # a partition holds items below those read
        floor = None  # the sort key a partition cut short by the budget was read down to
        for part in parts:
            reader = _PageReader(
                filters,
                wanted,
                DAY_KEY_NAMES,
                item_budget=max(wanted, (PAGE_ITEM_BUDGET - evaluated) // len(parts)),
                query_budget=max(1, (PAGE_QUERY_BUDGET - requests) // len(parts)),
            )
            condition, names, values = "#pk = :day", {"#pk": DAY_PK}, {":day": {"S": part.value(day)}}
            if before is not None:
                condition += " AND #sk < :before"
                names["#sk"], values[":before"] = DAY_SK, {"S": before}
            query: dict[str, Any] = {
                "TableName": settings().table_name,
                "IndexName": DAY_INDEX,
                "ScanIndexForward": False,
                "KeyConditionExpression": condition,
                **extra,
                "ExpressionAttributeNames": {**names, **extra.get("ExpressionAttributeNames", {})},
                "ExpressionAttributeValues": {**values, **extra.get("ExpressionAttributeValues", {})},
            }
            resume = reader.read_query(query, None)
            evaluated, requests = evaluated + reader.evaluated, requests + reader.requests
            found.extend(reader.items)
            if resume is not None:
                more = True
                if len(reader.items) < wanted:
                    floor = max(floor or "", resume[DAY_SK]["S"])
        found.sort(key=day_sort_key, reverse=True)
        if floor is not None:
            found = [item for item in found if day_sort_key(item) >= floor]
        items.extend(found[:wanted])
        if floor is not None and len(found) <= wanted:
            return Page(items, {"day": day_index, "before": floor})
        if len(items) >= limit:
            if more or len(found) > wanted:
                return Page(items, {"day": day_index, "before": day_sort_key(items[-1])})
            following = next((i for i in range(day_index - 1, -1, -1) if days[i] not in skipped), None)
            return Page(items, None if following is None else {"day": following, "before": None})
        before = None
    return Page(items, None)


def _position(day_index: int, part: DayPartition, key: dict[str, Any] | None) -> dict[str, Any]:
    return {"day": day_index, "channel": part.channel, "shard": part.shard, "key": key}


def _next_day(
    days: Sequence[date],
    day_index: int,
    *,
    filters: Filters,
    counts: day_layout.DayCounts,
    read_until: int,
    skipped: set[date],
) -> dict[str, Any] | None:
    """The cursor of the first partition after `day_index`'s that may hold an item: the first partition of
    the next day the counters read leave some to read on, or of the first day past them (unknown until its
    counters are read); None when no partition left may, so an exhausted listing ends with `next: null`."""
    for index in range(day_index + 1, len(days)):
        if index >= read_until:
            return _position(index, DayPartition(None, 0), None)
        if days[index] in skipped:
            continue
        parts = counts.partitions(days[index], filters.channel, filters.source_id)
        if parts:
            return _position(index, parts[0], None)
    return None


def customer_sort_range(days: Sequence[date]) -> tuple[str, str]:
    """The customer index's sort keys (`FB#<occurred_at>#<id>`) of feedback that occurred on `days`
    (first..last, inclusive): `~` sorts after every character an ISO time or an id holds."""
    return f"FB#{days[0].isoformat()}", f"FB#{days[-1].isoformat()}~"


def page_customer(
    customer_id: str,
    filters: Filters,
    limit: int,
    cursor: dict[str, Any] | None = None,
    days: Sequence[date] | None = None,
) -> Page:
    """A customer's feedback, newest first, through the customer index (its keys, channel and sentiment;
    the items read by key; only what occurred on `days` when given: a key condition, so other days are never
    read); resumable by cursor."""
    extra = filters.expression(themes_projected=False)
    if days:
        key_condition, bounds = "#pk = :customer AND #sk BETWEEN :first AND :last", customer_sort_range(days)
        sort_values = {":first": {"S": bounds[0]}, ":last": {"S": bounds[1]}}
    else:
        key_condition, sort_values = (
            "#pk = :customer AND begins_with(#sk, :feedback)",
            {":feedback": {"S": "FB#"}},
        )
    query: dict[str, Any] = {
        "TableName": settings().table_name,
        "IndexName": CUSTOMER_INDEX,
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeNames": {"#pk": CUSTOMER_PK, "#sk": CUSTOMER_SK},
        "ScanIndexForward": False,
        **extra,
        "ExpressionAttributeValues": {
            ":customer": {"S": customer_partition(customer_id)},
            **sort_values,
            **extra.get("ExpressionAttributeValues", {}),
        },
    }
    page = _PageReader(filters, limit, CUSTOMER_KEY_NAMES, fetch_by_key=True)
    start_key = page.read_query(query, cursor.get("key") if cursor else None)
    return Page(page.items, {"key": start_key} if start_key else None)


def count_partition(day: date, part: DayPartition) -> int:
    """Items in one partition of a day: Select=COUNT Queries (paginated, as each counts at most 1 MB)."""
    dynamodb = aws.client("dynamodb")
    query: dict[str, Any] = {
        "TableName": settings().table_name,
        "IndexName": DAY_INDEX,
        "KeyConditionExpression": "#pk = :day",
        "ExpressionAttributeNames": {"#pk": DAY_PK},
        "ExpressionAttributeValues": {":day": {"S": part.value(day)}},
        "Select": "COUNT",
    }
    total = 0
    while True:
        response = dynamodb.query(**query)
        total += response.get("Count", 0)
        if "LastEvaluatedKey" not in response:
            return total
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def count_days(days: Sequence[date]) -> int:
    """How many items were stored on `days`: Select=COUNT Queries on the per-day index, partition by
    partition of those the counters say may hold items; never a Scan."""
    counts = day_layout.read_counts(days)
    return sum(count_partition(day, part) for day in days for part in counts.partitions(day))
