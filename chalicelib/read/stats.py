"""Aggregates for the dashboard (`GET /stats`), computed from the per-day index: one paginated Query per day
and shard reading only the attributes the aggregates need, never a Scan.

Per day: the sentiment mix and the NPS (promoters - detractors, in % of NPS ratings); per channel: the
sentiment mix; overall: totals, the NPS, and the newest negative feedback (with the customer it belongs to).
Feedback whose sentiment was not analysed (empty text, unsupported language …) counts as "NONE".

Per theme (theme_stats.py): volume and the mix of the sentiments about it, overall and per day, and the change
against the period of the same length just before, which costs a second read of that period's themes.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chalicelib.config import settings
from chalicelib.models import RatingScale, Sentiment
from chalicelib.read.theme_stats import ThemeStats
from chalicelib.store import dynamo
from chalicelib.store.feedback import day_partition
from chalicelib.store.schema import DAY_INDEX, DAY_PK
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy

UNANALYSED = "NONE"
SENTIMENTS = (*(s.value for s in Sentiment), UNANALYSED)
LATEST_NEGATIVE = 10
MAX_TEXT_CHARS = 500
# Only what the aggregates use; each name through a placeholder (several are DynamoDB reserved words).
PROJECTED = (
    "feedback_id",
    "channel",
    "sentiment",
    "rating",
    "rating_scale",
    "stored_at",
    "occurred_at",
    "customer_id",
    "text",
    "author",
    "themes",
)
PROMOTER_MIN, DETRACTOR_MAX = 9, 6


@dataclass
class Nps:
    """NPS tally: promoters rate 9-10, passives 7-8, detractors 0-6."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    def add(self, rating: int) -> None:
        if rating >= PROMOTER_MIN:
            self.promoters += 1
        elif rating <= DETRACTOR_MAX:
            self.detractors += 1
        else:
            self.passives += 1

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors

    def as_json(self) -> dict[str, Any]:
        score = None
        if self.responses:
            score = round(100 * (self.promoters - self.detractors) / self.responses, 1)
        return {
            "score": score,
            "responses": self.responses,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
        }


def _mix(counter: Counter[str]) -> dict[str, int]:
    return {sentiment: counter.get(sentiment, 0) for sentiment in SENTIMENTS}


@dataclass
class Tally:
    """Counts for one bucket (a day, a channel or everything)."""

    sentiment: Counter[str] = field(default_factory=Counter)
    nps: Nps = field(default_factory=Nps)

    @property
    def total(self) -> int:
        return sum(self.sentiment.values())

    def add(self, item: dict[str, Any]) -> None:
        self.sentiment[item.get("sentiment") or UNANALYSED] += 1
        rating = item.get("rating")
        if item.get("rating_scale") == RatingScale.NPS.value and isinstance(rating, int):
            self.nps.add(rating)

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "sentiment": _mix(self.sentiment), "nps": self.nps.as_json()}


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


def _negative_entry(item: dict[str, Any]) -> dict[str, Any]:
    text = str(item.get("text") or "")
    author = item.get("author") if isinstance(item.get("author"), dict) else {}
    return {
        "feedback_id": item.get("feedback_id"),
        "channel": item.get("channel"),
        "text": text[:MAX_TEXT_CHARS] + ("…" if len(text) > MAX_TEXT_CHARS else ""),
        "rating": item.get("rating"),
        "rating_scale": item.get("rating_scale"),
        "stored_at": item.get("stored_at"),
        "occurred_at": item.get("occurred_at"),
        "customer_id": item.get("customer_id"),
        "author_name": author.get("name") or author.get("handle"),
    }


def previous_period(days: list[date]) -> list[date]:
    """The days of the same number just before `days`."""
    return [days[0] - timedelta(days=len(days) - offset) for offset in range(len(days))]


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
    newest = [_negative_entry(item) for _, _, item in sorted(negatives, key=lambda e: e[:2], reverse=True)]
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
