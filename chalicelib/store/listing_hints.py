"""What a filtered listing may skip without reading: the days the per-(day, shard) counters rule out.

`page_days` asks before it reads; None means "unknown, read every day". The counters (store/counters.py,
kept in the same conditional write as each item) answer for the filters they count:

- `channel` and `sentiment`, alone or together: `s|<channel>|<sentiment>` summed over what is not asked;
- `source` (a source or form id): its `src|` and `sc|` counts (day_layout.source_items);
- `theme` (the theme and its children, as the listing matches them): `t|<id>` for any of those ids, and
  with `theme_sentiment`, `t|<id>|<sentiment>`; every tag counts under its own id, so a theme moved under
  another parent since is still found.

A day is kept when every counted filter may match (a count above zero), and always when its items may not
all be counted: before the stage's `COUNTERS`/`COMPLETE` mark (counters.py: set where absent by the nightly
run and the local stack, moved earlier by `counters rebuild` reaching today),
a day may hold items stored before the counters existed, and a missing or negative count proves nothing
there. From the mark on, a day without a counter item holds no item. Counts only ever over-state what is
left (TTL expiry does not lower them), so a kept day may hold no match, never the other way round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from chalicelib.store import day_layout
from chalicelib.store.day_layout import DayCounts

if TYPE_CHECKING:
    from chalicelib.store.feedback_pages import Filters


def counted(filters: Filters) -> bool:
    """Whether the counters answer any of `filters` (a customer is not counted)."""
    return any((filters.channel, filters.sentiment, filters.themes, filters.source_id))


def may_match(counts: Counter[str], filters: Filters) -> bool:
    """Whether a day with these counts (summed over shards) may hold an item every counted filter keeps."""
    if filters.channel or filters.sentiment:
        by_mix = sum(
            n
            for name, n in counts.items()
            if name.startswith("s|")
            and (filters.channel is None or name.split("|")[1] == filters.channel)
            and (filters.sentiment is None or name.split("|")[2] == filters.sentiment)
        )
        if by_mix <= 0:
            return False
    if filters.source_id is not None and day_layout.source_items(counts, filters.source_id) <= 0:
        return False
    if filters.themes:
        suffix = f"|{filters.theme_sentiment}" if filters.theme_sentiment else ""
        if not any(counts.get(f"t|{theme_id}{suffix}", 0) > 0 for theme_id in filters.themes):
            return False
    return True


def days_with_matches(days: Sequence[date], filters: Filters) -> list[date] | None:
    """The days among `days` that may hold an item `filters` keeps (a superset: a day listed is read; a day
    left out holds no match), or None when the counters answer none of the filters. One BatchGetItem per 50
    days (their shards' counter items and the completeness mark)."""
    if not days or not counted(filters):
        return None
    return matching_days(days, filters, day_layout.read_counts(days))


def matching_days(days: Sequence[date], filters: Filters, counts: DayCounts) -> list[date] | None:
    """days_with_matches, from counters already read (page_days reads them once for this and the day's
    partitions)."""
    if not days or not counted(filters):
        return None
    return [
        day
        for day in days
        if not counts.counted(day) or may_match(Counter(counts.per_day.get(day, Counter())), filters)
    ]
