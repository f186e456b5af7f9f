"""The `GET /stats` computation as it was before the counters: every item of the range read (the items the
per-day index holds) and counted one by one. Kept as the oracle the counters' answers are compared with."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import date
from typing import Any

from chalicelib import aws
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
from chalicelib.read.theme_stats import THEME_SENTIMENTS, ThemeStats
from chalicelib.store import day_layout, dynamo
from chalicelib.store.feedback_layout import plain_fields, stored_names
from chalicelib.store.schema import DAY_PK, DAY_SK
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy


def _has_form_items(days: list[date], source: str, stored: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether `source` is a form with items in the range or the period before (read off the items)."""
    for day in [*previous_period(days), *days]:
        if any(
            i.get("source_id") == source and i.get("channel") == "form"
            for i in day_items(day, ORACLE_ATTRIBUTES, stored)
        ):
            return True
    return False


def _in_sources(item: dict[str, Any], only: Slice | None, taxonomy: Taxonomy) -> bool:
    """Whether the item counts in the per-source rows of the cut: within a theme, per form (its responses)."""
    is_form_item = item.get("channel") == "form" or only is None or only.dimension != "theme"
    return within(item, only, taxonomy) and is_form_item


def _theme_tags(
    item: dict[str, Any], only: Slice | None, unfiltered: Sequence[str], taxonomy: Taxonomy
) -> Any:
    """The item's tags as the themes block counts them within the cut: every item's where themes are not cut;
    within a form, its form responses'; within a theme, the tags of it and its children."""
    tags = item.get("themes")
    if only is None or "themes" in unfiltered:
        return tags
    if not within(item, only, taxonomy) or (only.dimension == "source" and item.get("channel") != "form"):
        return None
    if only.dimension != "theme" or not isinstance(tags, list):
        return tags
    family = {only.value} | {t.id for t in taxonomy.themes if t.parent == only.value}
    return [t for t in tags if isinstance(t, dict) and t.get("id") in family]


def day_items(
    day: date, attributes: Sequence[str] = PROJECTED, stored: dict[str, list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """The projected attributes of every item stored on a UTC day (as the fields StoredFeedback names, in
    either item layout): those the per-day index holds under any partition the day may have (the oracle does
    not trust the counters it checks), in the index's order. `stored`: items_by_day_key's, else read now."""
    groups = items_by_day_key(attributes) if stored is None else stored
    found: list[dict[str, Any]] = []
    for part in day_layout.partitions({}, counted=False):
        found.extend(groups.get(part.value(day), ()))
    return found


def items_by_day_key(attributes: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item the per-day index holds, grouped by its partition key in the index's order (sort key), read
    by one Scan of the table: moto answers each Query of an index by sorting the whole table, and a range
    has a Query per day and partition."""
    keys = [name for name in (DAY_PK, DAY_SK) if name not in attributes]
    names = {f"#a{index}": name for index, name in enumerate((*attributes, *keys))}
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    pages = (
        aws.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=settings().table_name,
            ProjectionExpression=", ".join(names),
            FilterExpression="attribute_exists(#pk) AND attribute_exists(#sk)",
            ExpressionAttributeNames={**names, "#pk": DAY_PK, "#sk": DAY_SK},
        )
    )
    for page in pages:
        for raw in page["Items"]:
            item = dynamo.deserialize(raw)
            partition, sort = str(item[DAY_PK]), str(item[DAY_SK])
            for name in keys:
                del item[name]
            groups.setdefault(partition, []).append((sort, plain_fields(item)))
    return {
        key: [item for _, item in sorted(found, key=lambda pair: pair[0])] for key, found in groups.items()
    }


ORACLE_ATTRIBUTES = stored_names((*PROJECTED, "source_id", "kind"))


def theme_sentiments(item: dict[str, Any], theme: str, taxonomy: Taxonomy) -> set[str] | None:
    """The sentiments an item's tags express about `theme` (a tag of it or of one of its children as the
    taxonomy has them), None when the item does not talk about it: read off the tags themselves."""
    family = {theme} | {t.id for t in taxonomy.themes if t.parent == theme}
    tags = [t for t in item.get("themes") or () if isinstance(t, dict) and t.get("id") in family]
    return {str(t["sentiment"]) for t in tags if t.get("sentiment") in THEME_SENTIMENTS} if tags else None


def within(item: dict[str, Any], only: Slice | None, taxonomy: Taxonomy | None = None) -> bool:
    """Whether an item belongs to the slice, read off the item itself."""
    if only is None:
        return True
    if only.dimension == "theme":
        return theme_sentiments(item, only.value, taxonomy or taxonomy_records.current()) is not None
    name = {"channel": "channel", "source": "source_id", "sentiment": "sentiment"}[only.dimension]
    return (item.get(name) or ("NONE" if name == "sentiment" else None)) == only.value


def count_in(
    tallies: list[Tally],
    item: dict[str, Any],
    inside: bool,
    unfiltered: Sequence[str],
    about: set[str] | None,
) -> None:
    """An item into tallies: whole when inside the slice, else its rating alone where scores are unfiltered
    (NPS is not cut by sentiment nor theme). Within a theme (`about`: what the item says about it), the item
    counts once and its sentiments are those about the theme."""
    for tally in tallies:
        if inside or "scores" in unfiltered:
            tally.add(item)
        if not inside and "scores" in unfiltered:
            tally.sentiment[item.get("sentiment") or "NONE"] -= 1
        if about is not None and inside:
            tally.sentiment[item.get("sentiment") or "NONE"] -= 1
            tally.sentiment.update(about)
            tally.items = (tally.items or 0) + 1


def ratings(items: list[dict[str, Any]]) -> scores.Ratings:
    return scores.Ratings(
        (str(i["rating_scale"]), int(i["rating"])) for i in items if i.get("rating_scale") and "rating" in i
    )


def sources(
    items: list[dict[str, Any]], rated: list[dict[str, Any]], theme: str | None = None
) -> list[dict[str, Any]]:
    """Per source: its items' volume, sentiment mix (about `theme` within one) and each scale's headline
    (from the `rated` items)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        grouped.setdefault(str(item["source_id"]), []).append(item)
    rows = []
    for source, group in sorted(grouped.items(), key=lambda pair: (-len(pair[1]), pair[0])):
        tally = Tally()
        for item in group:
            tally.add(item)
            if theme is not None:
                tally.sentiment[item.get("sentiment") or "NONE"] -= 1
                tally.sentiment.update(theme_sentiments(item, theme, taxonomy_records.current()) or ())
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
    taxonomy = taxonomy or taxonomy_records.current()
    themes = ThemeStats(taxonomy)
    unfiltered = UNFILTERED[only.dimension] if only else ()
    stored = items_by_day_key(ORACLE_ATTRIBUTES)
    if only and only.dimension == "source" and not _has_form_items(days, only.value, stored):
        unfiltered = (*unfiltered, "themes")
    theme = only.value if only and only.dimension == "theme" else None
    overall = Tally()
    per_day: list[dict[str, Any]] = []
    channels: dict[str, Tally] = {}
    negatives: list[tuple[str, str, dict[str, Any]]] = []
    period: list[dict[str, Any]] = []
    for day in days:
        tally = Tally()
        rated_today: list[dict[str, Any]] = []
        for item in day_items(day, ORACLE_ATTRIBUTES, stored):
            period.append(item)
            inside = within(item, only, taxonomy)
            themes.add(day, _theme_tags(item, only, unfiltered, taxonomy))
            if inside or "scores" in unfiltered:
                rated_today.append(item)
            channel = channels.setdefault(str(item.get("channel") or "unknown"), Tally())
            count_in([channel], item, inside or "channels" in unfiltered, unfiltered, None)
            if item.get("sentiment") == Sentiment.NEGATIVE.value:
                entry = (str(item.get("stored_at") or ""), str(item.get("feedback_id") or ""), item)
                if len(negatives) < latest_negative:
                    heapq.heappush(negatives, entry)
                else:
                    heapq.heappushpop(negatives, entry)
            about = theme_sentiments(item, theme, taxonomy) if theme else None
            count_in([tally, overall], item, inside, unfiltered, about)
        day_scores = scores.headlines(ratings(rated_today))
        per_day.append({"date": day.isoformat(), **tally.as_json(), "scores": day_scores})
    by_channel = [
        {"channel": name, **tally.as_json()}
        for name, tally in sorted(channels.items(), key=lambda pair: (-pair[1].total, pair[0]))
        if tally.total
    ]
    newest = [negative_entry(item) for _, _, item in sorted(negatives, key=lambda e: e[:2], reverse=True)]
    before = previous_period(days)
    earlier: list[dict[str, Any]] = []
    for day in before:
        for item in day_items(day, ORACLE_ATTRIBUTES, stored):
            themes.add_previous(_theme_tags(item, only, unfiltered, taxonomy))
            earlier.append(item)
    if theme is not None:
        # A sub-theme's tags also match its parent, which is outside the cut.
        family = {theme} | {t.id for t in taxonomy.themes if t.parent == theme}
        themes.tallies = {theme_id: t for theme_id, t in themes.tallies.items() if theme_id in family}
    rated_now, rated_before = period, earlier
    if "scores" not in unfiltered:
        rated_now = [i for i in period if within(i, only, taxonomy)]
        rated_before = [i for i in earlier if within(i, only, taxonomy)]
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
            period if "sources" in unfiltered else [i for i in period if _in_sources(i, only, taxonomy)],
            period if "sources" in unfiltered else rated_now,
            theme,
        ),
        "scores": scores.scores(ratings(rated_now), ratings(rated_before)),
        "latest_negative": newest,
        "themes": themes.as_json(before[0], before[-1]),
    }


# The cuts the per-form theme and theme counters answer (tests/test_stats_counters.py's sources and themes).
THEMED_CUTS = (
    None,
    Slice("source", "checkout-csat"),
    Slice("source", "src_typeform|odd"),
    Slice("theme", "delivery"),
)


def assert_cuts_match(days: list[date], cuts: Sequence[Slice | None] = THEMED_CUTS) -> None:
    """/stats from the counters equals the recount of the items, whole and within each of `cuts`."""
    from chalicelib.read import stats

    for only in cuts:
        assert stats.compute(days, only=only) == compute(days, only=only), only
