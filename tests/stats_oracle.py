"""The `GET /stats` computation as it was before the counters: every item of the range read through the
per-day index and counted one by one. Kept as the oracle the counters' answers are compared with."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import date
from typing import Any

from chalicelib.config import settings
from chalicelib.models import Sentiment
from chalicelib.read import scores
from chalicelib.read.stats import (
    LATEST_NEGATIVE,
    PROJECTED,
    SENTIMENTS,
    UNFILTERED,
    Slice,
    Tally,
    negative_entry,
    previous_period,
)
from chalicelib.read.theme_stats import ThemeStats
from chalicelib.store import dynamo
from chalicelib.store.feedback import day_partition, plain_fields
from chalicelib.store.schema import DAY_INDEX, DAY_PK
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy


def day_items(day: date, attributes: Sequence[str] = PROJECTED) -> list[dict[str, Any]]:
    """The projected attributes of every item stored on a UTC day, through the per-day index (as the fields
    StoredFeedback names, in either item layout)."""
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    items: list[dict[str, Any]] = []
    for shard in range(settings().day_shards):
        pages = dynamo.query_pages(
            TableName=settings().table_name,
            IndexName=DAY_INDEX,
            KeyConditionExpression="#pk = :day",
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames={"#pk": DAY_PK, **names},
            ExpressionAttributeValues={":day": {"S": day_partition(day, shard)}},
        )
        items.extend(map(plain_fields, pages))
    return items


ORACLE_ATTRIBUTES = (*PROJECTED, "source_id")


def within(item: dict[str, Any], only: Slice | None) -> bool:
    """Whether an item belongs to the slice, read off the item itself."""
    if only is None:
        return True
    name = {"channel": "channel", "source": "source_id", "sentiment": "sentiment"}[only.dimension]
    return (item.get(name) or ("NONE" if name == "sentiment" else None)) == only.value


def count_in(tallies: list[Tally], item: dict[str, Any], inside: bool, unfiltered: Sequence[str]) -> None:
    """An item into tallies: whole when inside the slice, else its rating alone where scores are unfiltered
    (NPS is not cut by sentiment)."""
    for tally in tallies:
        if inside or "scores" in unfiltered:
            tally.add(item)
        if not inside and "scores" in unfiltered:
            tally.sentiment[item.get("sentiment") or "NONE"] -= 1


def ratings(items: list[dict[str, Any]]) -> scores.Ratings:
    return scores.Ratings(
        (str(i["rating_scale"]), int(i["rating"])) for i in items if i.get("rating_scale") and "rating" in i
    )


def sources(items: list[dict[str, Any]], rated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per source: its items' volume, sentiment mix and each scale's headline (from the `rated` items)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        grouped.setdefault(str(item["source_id"]), []).append(item)
    rows = []
    for source, group in sorted(grouped.items(), key=lambda pair: (-len(pair[1]), pair[0])):
        tally = Tally()
        for item in group:
            tally.add(item)
        mix = {s: tally.sentiment.get(s, 0) for s in SENTIMENTS}
        row = {"source_id": source, "total": len(group), "sentiment": mix}
        of_source = [i for i in rated if i["source_id"] == source]
        rows.append({**row, "scores": scores.headlines(ratings(of_source))})
    return rows


def compute(
    days: list[date],
    latest_negative: int = LATEST_NEGATIVE,
    taxonomy: Taxonomy | None = None,
    only: Slice | None = None,
) -> dict[str, Any]:
    """Aggregates over `days` (each day listed, with zeros where nothing was stored)."""
    themes = ThemeStats(taxonomy or taxonomy_records.current())
    unfiltered = UNFILTERED[only.dimension] if only else ()
    overall = Tally()
    per_day: list[dict[str, Any]] = []
    channels: dict[str, Tally] = {}
    negatives: list[tuple[str, str, dict[str, Any]]] = []
    period: list[dict[str, Any]] = []
    for day in days:
        tally = Tally()
        for item in day_items(day, ORACLE_ATTRIBUTES):
            period.append(item)
            themes.add(day, item.get("themes"))
            channel = channels.setdefault(str(item.get("channel") or "unknown"), Tally())
            count_in([channel], item, within(item, only) or "channels" in unfiltered, unfiltered)
            if item.get("sentiment") == Sentiment.NEGATIVE.value:
                entry = (str(item.get("stored_at") or ""), str(item.get("feedback_id") or ""), item)
                if len(negatives) < latest_negative:
                    heapq.heappush(negatives, entry)
                else:
                    heapq.heappushpop(negatives, entry)
            count_in([tally, overall], item, within(item, only), unfiltered)
        per_day.append({"date": day.isoformat(), **tally.as_json()})
    by_channel = [
        {"channel": name, **tally.as_json()}
        for name, tally in sorted(channels.items(), key=lambda pair: (-pair[1].total, pair[0]))
        if tally.total
    ]
    newest = [negative_entry(item) for _, _, item in sorted(negatives, key=lambda e: e[:2], reverse=True)]
    before = previous_period(days)
    earlier: list[dict[str, Any]] = []
    for day in before:
        for item in day_items(day, ORACLE_ATTRIBUTES):
            themes.add_previous(item.get("themes"))
            earlier.append(item)
    rated_now, rated_before = period, earlier
    if "scores" not in unfiltered:
        rated_now = [i for i in period if within(i, only)]
        rated_before = [i for i in earlier if within(i, only)]
    return {
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "filter": {only.dimension: only.value} if only else {},
        "unfiltered": list(unfiltered),
        "sentiments": list(SENTIMENTS),
        **overall.as_json(),
        "days": per_day,
        "channels": by_channel,
        "sources": sources(
            period if "sources" in unfiltered else [i for i in period if within(i, only)],
            period if "sources" in unfiltered else rated_now,
        ),
        "scores": scores.scores(ratings(rated_now), ratings(rated_before)),
        "latest_negative": newest,
        "themes": themes.as_json(before[0], before[-1]),
    }
