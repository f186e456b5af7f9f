"""The themes block of `GET /stats`: per theme of the taxonomy, how many items talk about it and how they
feel about it, per day and over the period, and the change against the period before.

A parent theme counts the items tagged with it or one of its children, each item once, as `GET
/feedback?theme=<parent>` lists them. An item counts under each sentiment one of its matching tags has, as
`theme_sentiment=` selects them: so `sentiment.NEGATIVE` is what `?theme=…&theme_sentiment=NEGATIVE` lists,
and a parent's sentiment counts may add up to more than its total when an item says different things about
two of its children.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from chalicelib.models import Sentiment
from chalicelib.store.counters import TAGGED
from chalicelib.themes.taxonomy import Taxonomy

THEME_SENTIMENTS = tuple(s.value for s in Sentiment)
# The most talked-about themes listed: a 500-theme taxonomy over 93 days would otherwise answer megabytes (and
# Lambda answers at most 6 MB); the rest are counted in `left_off`, and `?theme=` still reads any of them.
MAX_THEMES_LISTED = 100


@lru_cache(maxsize=4096)
def theme_part(name: str) -> tuple[str, str | None] | None:
    """(theme id, sentiment or None) of a `t|<theme>` or `t|<theme>|<sentiment>` counter, None for the other
    counters: parsed once per name, not once per day and name (a 90-day `/stats` adds 47,000 counters)."""
    kind, _, rest = name.partition("|")
    if kind != "t":
        return None
    theme_id, _, sentiment = rest.partition("|")
    return theme_id, sentiment or None


@dataclass
class ThemeCount:
    """Items about one theme in one bucket (a day or the period), and their sentiments about it."""

    total: int = 0
    sentiment: Counter[str] = field(default_factory=Counter)

    def add(self, sentiments: set[str]) -> None:
        self.total += 1
        self.sentiment.update(sentiments)

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "sentiment": {s: self.sentiment.get(s, 0) for s in THEME_SENTIMENTS}}


@dataclass
class ThemeTally:
    """One theme over the period, per day, and over the period before."""

    period: ThemeCount = field(default_factory=ThemeCount)
    days: dict[date, ThemeCount] = field(default_factory=dict)
    previous_total: int = 0


class ThemeStats:
    """Counts items per theme (parents including their children) as the stats read them."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.parent_of = {theme.id: theme.parent for theme in taxonomy.themes}
        self.tallies: dict[str, ThemeTally] = {}
        self.tagged = 0
        self.previous_tagged = 0

    def _matches(self, tags: Any) -> dict[str, set[str]]:
        """Theme id → the sentiments of the item's tags that match it (the tag's own theme and its parent)."""
        matches: dict[str, set[str]] = {}
        for tag in tags if isinstance(tags, list) else ():
            theme_id = tag.get("id") if isinstance(tag, dict) else None
            if not isinstance(theme_id, str):
                continue
            sentiment = tag.get("sentiment")
            for matched in {theme_id, self.parent_of.get(theme_id)} - {None}:
                sentiments = matches.setdefault(matched, set())
                if sentiment in THEME_SENTIMENTS:
                    sentiments.add(sentiment)
        return matches

    def add(self, day: date, tags: Any) -> None:
        """An item of the period stored on `day`, with its `themes` attribute as stored."""
        matches = self._matches(tags)
        self.tagged += bool(matches)
        for theme_id, sentiments in matches.items():
            tally = self.tallies.setdefault(theme_id, ThemeTally())
            tally.period.add(sentiments)
            tally.days.setdefault(day, ThemeCount()).add(sentiments)

    def add_previous(self, tags: Any) -> None:
        """An item of the period before."""
        matches = self._matches(tags)
        self.previous_tagged += bool(matches)
        for theme_id in matches:
            self.tallies.setdefault(theme_id, ThemeTally()).previous_total += 1

    def add_day(self, day: date, counts: Mapping[str, int]) -> None:
        """Every counter of a day of the period (store/counters.py): `tg`, `t|<theme>` and
        `t|<theme>|<sentiment>` count, the others are not about themes."""
        for name, count in counts.items():
            part = theme_part(name)
            if part is None:
                if name == TAGGED:
                    self.tagged += count
                continue
            theme_id, sentiment = part
            tally = self.tallies.get(theme_id)
            if tally is None:
                tally = self.tallies[theme_id] = ThemeTally()
            day_count = tally.days.get(day)
            if day_count is None:
                day_count = tally.days[day] = ThemeCount()
            if sentiment is None:
                tally.period.total += count
                day_count.total += count
            else:
                tally.period.sentiment[sentiment] += count
                day_count.sentiment[sentiment] += count

    def add_previous_day(self, counts: Mapping[str, int]) -> None:
        """Every counter of a day of the period before (its items, per theme and tagged)."""
        for name, count in counts.items():
            part = theme_part(name)
            if part is None:
                if name == TAGGED:
                    self.previous_tagged += count
                continue
            theme_id, sentiment = part
            if sentiment is None:
                tally = self.tallies.get(theme_id)
                if tally is None:
                    tally = self.tallies[theme_id] = ThemeTally()
                tally.previous_total += count

    def _theme_json(self, theme_id: str, tally: ThemeTally) -> dict[str, Any]:
        theme = self.taxonomy.get(theme_id)
        total, previous = tally.period.total, tally.previous_total
        negative = tally.period.sentiment.get(Sentiment.NEGATIVE.value, 0)
        return {
            "id": theme_id,
            # A theme a later import removed is still counted, under its id.
            "name": theme.name if theme else theme_id,
            "parent": theme.parent if theme else None,
            **tally.period.as_json(),
            "negative_share": round(negative / total, 3) if total else None,
            "previous_total": previous,
            "change": total - previous,
            "change_percent": round(100 * (total - previous) / previous, 1) if previous else None,
            "days": [
                {"date": day.isoformat(), **count.as_json()} for day, count in sorted(tally.days.items())
            ],
        }

    def as_json(self, previous_from: date, previous_to: date) -> dict[str, Any]:
        """The block: the themes talked about in either period, most talked about first."""
        ranked = sorted(
            self.tallies.items(), key=lambda pair: (-pair[1].period.total, -pair[1].previous_total, pair[0])
        )
        listed = ranked[:MAX_THEMES_LISTED]
        return {
            "taxonomy_version": self.taxonomy.version,
            "sentiments": list(THEME_SENTIMENTS),
            "tagged": self.tagged,
            "previous": {"from": previous_from.isoformat(), "to": previous_to.isoformat()},
            "previous_tagged": self.previous_tagged,
            "by_theme": [self._theme_json(theme_id, tally) for theme_id, tally in listed],
            "left_off": len(ranked) - len(listed),
        }
