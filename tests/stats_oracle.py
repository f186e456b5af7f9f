"""The `GET /stats` computation as it was before the counters: every item of the range read through the
per-day index and counted one by one. Kept as the oracle the counters' answers are compared with."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import date
from typing import Any

from chalicelib.config import settings
from chalicelib.models import Sentiment
from chalicelib.read.stats import (
    LATEST_NEGATIVE,
    PROJECTED,
    SENTIMENTS,
    Tally,
    negative_entry,
    previous_period,
)
from chalicelib.read.theme_stats import ThemeStats
from chalicelib.store import dynamo
from chalicelib.store.feedback import day_partition
from chalicelib.store.schema import DAY_INDEX, DAY_PK
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy


def day_items(day: date, attributes: Sequence[str] = PROJECTED) -> list[dict[str, Any]]:
    """The projected attributes of every item stored on a UTC day, through the per-day index."""
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    items: list[dict[str, Any]] = []
    for shard in range(settings().day_shards):
        items.extend(
            dynamo.query_pages(
                TableName=settings().table_name,
                IndexName=DAY_INDEX,
                KeyConditionExpression="#pk = :day",
                ProjectionExpression=", ".join(names),
                ExpressionAttributeNames={"#pk": DAY_PK, **names},
                ExpressionAttributeValues={":day": {"S": day_partition(day, shard)}},
            )
        )
    return items


def compute(
    days: list[date], latest_negative: int = LATEST_NEGATIVE, taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """Aggregates over `days` (each day listed, with zeros where nothing was stored)."""
    themes = ThemeStats(taxonomy or taxonomy_records.current())
    overall = Tally()
    per_day: list[dict[str, Any]] = []
    channels: dict[str, Tally] = {}
    negatives: list[tuple[str, str, dict[str, Any]]] = []
    for day in days:
        tally = Tally()
        for item in day_items(day):
            tally.add(item)
            themes.add(day, item.get("themes"))
            overall.add(item)
            channels.setdefault(str(item.get("channel") or "unknown"), Tally()).add(item)
            if item.get("sentiment") == Sentiment.NEGATIVE.value:
                entry = (str(item.get("stored_at") or ""), str(item.get("feedback_id") or ""), item)
                if len(negatives) < latest_negative:
                    heapq.heappush(negatives, entry)
                else:
                    heapq.heappushpop(negatives, entry)
        per_day.append({"date": day.isoformat(), **tally.as_json()})
    by_channel = [
        {"channel": name, **tally.as_json()}
        for name, tally in sorted(channels.items(), key=lambda pair: (-pair[1].total, pair[0]))
    ]
    newest = [negative_entry(item) for _, _, item in sorted(negatives, key=lambda e: e[:2], reverse=True)]
    before = previous_period(days)
    for day in before:
        for item in day_items(day, ("themes",)):
            themes.add_previous(item.get("themes"))
    return {
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "sentiments": list(SENTIMENTS),
        **overall.as_json(),
        "days": per_day,
        "channels": by_channel,
        "latest_negative": newest,
        "themes": themes.as_json(before[0], before[-1]),
    }
