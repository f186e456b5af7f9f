"""Aggregates for the dashboard (`GET /stats`), read from the day counters the writes keep
(store/counters.py): a BatchGetItem per 50 days of counter items, one Query of the sparse index of
negatives for the newest ones and one BatchGetItem for those items, whatever the range holds.

Per day: the sentiment mix and the NPS (promoters - detractors, in % of NPS ratings); per channel: the
sentiment mix; overall: totals, the NPS, and the newest negative feedback (with the customer it belongs to).
Feedback whose sentiment was not analysed (empty text, unsupported language …) counts as "NONE".

Per theme (theme_stats.py): volume and the mix of the sentiments about it, overall and per day, and the change
against the period of the same length just before (that period's counter items, in the same reads).

Per scale (scores.py): NPS, CSAT and stars with the change against that period; per source or form: volume,
sentiment mix and each scale's headline.

Filtered by one dimension (`Slice`: a channel, a source or form, a sentiment), still from the counters: the
counters hold each dimension crossed with sentiment and ratings, not dimensions crossed with each other, so
a part the slice cannot be cut from (channel by source, sentiment by rating, themes by channel, sentiment or a
source that is not a form) is answered for the whole range and named in `unfiltered`; two dimensions at once
are refused by the route. Cut by a theme: the items about it per day and per form (the counters count themes
per form, not per source), the sentiments about it as the mix, and the theme with its children in the
themes block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from chalicelib.config import settings
from chalicelib.models import RatingScale, Sentiment
from chalicelib.read import scores
from chalicelib.read.theme_stats import ThemeStats
from chalicelib.store import config_records, counters, dynamo
from chalicelib.store.counters import (
    DETRACTOR_MAX,
    FORM_ITEMS,
    PROMOTER_MIN,
    SOURCE_CHANNEL,
    SOURCE_ITEMS,
    SOURCE_TAGGED,
    SOURCE_THEME,
    TAGGED,
    THEME_SENTIMENTS,
    UNANALYSED,
    nps_band,
)
from chalicelib.store.feedback import feedback_key
from chalicelib.store.feedback_layout import COMPRESSED_TEXT, plain_fields, stored_names
from chalicelib.store.schema import PK
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy

SENTIMENTS = (*(s.value for s in Sentiment), UNANALYSED)
LATEST_NEGATIVE = 10
MAX_TEXT_CHARS = 500
# Only what the aggregates use, under the names of every item layout; each name through a placeholder
# (several are DynamoDB reserved words).
PROJECTED = stored_names(
    (
        PK,
        "feedback_id",
        COMPRESSED_TEXT,
        "channel",
        "source_id",
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
)


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

    def add_band(self, band: str, count: int) -> None:
        """`count` responses of a band as the counters name it: p, a or d."""
        if band == "p":
            self.promoters += count
        elif band == "d":
            self.detractors += count
        else:
            self.passives += count

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
    # Items counted apart from their sentiments (within a theme: an item may say two things about it).
    items: int | None = None

    @property
    def total(self) -> int:
        return sum(self.sentiment.values()) if self.items is None else self.items

    def add(self, item: dict[str, Any]) -> None:
        self.sentiment[item.get("sentiment") or UNANALYSED] += 1
        rating = item.get("rating")
        if item.get("rating_scale") == RatingScale.NPS.value and isinstance(rating, int):
            self.nps.add(rating)

    def merge(self, other: Tally) -> None:
        self.sentiment.update(other.sentiment)
        if other.items is not None:
            self.items = (self.items or 0) + other.items
        for band in ("promoters", "passives", "detractors"):
            setattr(self.nps, band, getattr(self.nps, band) + getattr(other.nps, band))

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "sentiment": _mix(self.sentiment), "nps": self.nps.as_json()}


def negative_entry(item: dict[str, Any]) -> dict[str, Any]:
    text = str(item.get("text") or "")
    author = item.get("author") if isinstance(item.get("author"), dict) else {}
    return {
        "feedback_id": item.get("feedback_id"),
        "channel": item.get("channel"),
        "source_id": item.get("source_id"),
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


@lru_cache(maxsize=4096)
def _mix_part(name: str) -> tuple[str, str, str] | None:
    """(s or n, channel, sentiment or NPS band) of a counter the mix and the NPS add up (s|channel|sentiment,
    n|channel|band), None for the others: parsed once per name, not once per day and name."""
    kind, _, rest = name.partition("|")
    if kind not in ("s", "n"):
        return None
    channel, _, value = rest.rpartition("|")
    return kind, channel, value


def _add_counts(counts: Mapping[str, int], tally: Tally | None, channels: dict[str, Tally] | None) -> None:
    """A day's counters into its tally, its channels' tallies, or both (one pass when both read the same
    counters)."""
    for name, count in counts.items():
        if name == THEMED_ITEMS:
            if tally is not None:
                tally.items = (tally.items or 0) + count
            continue
        part = _mix_part(name)
        if part is None:
            continue
        kind, channel, value = part
        buckets = [tally] if tally is not None else []
        if channels is not None:
            channel_tally = channels.get(channel)
            if channel_tally is None:
                channel_tally = channels[channel] = Tally()
            buckets.append(channel_tally)
        for bucket in buckets:
            if kind == "s":
                bucket.sentiment[value] += count
            else:
                bucket.nps.add_band(value, count)


def _newest_negative(days: list[date], latest_negative: int) -> list[dict[str, Any]]:
    """The newest negative items stored on `days`: their index entries, then the items themselves (their
    customer may have changed since, by a merge)."""
    entries = counters.newest_negative_ids(days[0], days[-1], latest_negative)
    if not entries:
        return []
    keys = [feedback_key(feedback_id) for _, feedback_id in entries]
    found = {
        item["feedback_id"]: item
        for item in map(plain_fields, dynamo.batch_get(settings().table_name, keys, attributes=PROJECTED))
    }
    items = [found.get(feedback_id) for _, feedback_id in entries]
    return [
        negative_entry(item) for item in items if item and item.get("sentiment") == Sentiment.NEGATIVE.value
    ]


SLICE_DIMENSIONS = ("channel", "source", "sentiment", "theme")
# The channel name a source's sentiment counts are filed under in a slice (channels are then unfiltered).
SLICED = "~slice"
# What each slice cannot be cut from the counters for, answered for the whole range instead.
UNFILTERED = {
    "channel": ("sources", "themes", "latest_negative"),
    "source": ("channels", "latest_negative"),
    "sentiment": ("scores", "themes", "latest_negative"),
    "theme": ("channels", "scores", "latest_negative"),
}
# Within a theme: the name its items' count is filed under in a day's view (their sentiments may overlap).
THEMED_ITEMS = "~items"


@dataclass(frozen=True)
class Slice:
    """One filter dimension (`channel`, `source`, `sentiment` or `theme`) and its value."""

    dimension: str
    value: str


def _in_channel(kind: str, rest: str, name: str, channel: str) -> str | None:
    if kind in ("s", "n") and rest.rpartition("|")[0] == channel:
        return name
    rated_channel, _, rating = rest.partition("|")
    return f"r|{rating}" if kind == "cr" and rated_channel == channel else None


def source_theme(rest: str) -> tuple[str, str, str]:
    """(source, theme, sentiment or "") of an `ft|` counter name after its kind: a source id may hold "|", a
    theme id never does and a sentiment is upper case (theme ids are lower case)."""
    head, _, last = rest.rpartition("|")
    if last in THEME_SENTIMENTS:
        source, _, theme = head.rpartition("|")
        return source, theme, last
    return head, last, ""


def _in_source(kind: str, rest: str, name: str, source: str) -> str | None:
    if kind in (SOURCE_ITEMS, SOURCE_CHANNEL):
        # `sc|<source>|<channel>`: a source's items in one channel (counters.py), part of its `src|` total.
        of_source = rest if kind == SOURCE_ITEMS else rest.rpartition("|")[0]
        return f"{SOURCE_ITEMS}|{source}" if of_source == source else None
    if kind == SOURCE_TAGGED:
        return TAGGED if rest == source else None
    if kind == SOURCE_THEME:
        of_source, theme, sentiment = source_theme(rest)
        return (
            "|".join(("t", theme, sentiment) if sentiment else ("t", theme)) if of_source == source else None
        )
    if kind == "fs" and rest.rpartition("|")[0] == source:
        return f"s|{SLICED}|{rest.rpartition('|')[2]}"
    if kind == "fr" and rest.rsplit("|", 2)[0] == source:
        return f"r|{'|'.join(rest.rsplit('|', 2)[1:])}"
    return None


def _in_sentiment(kind: str, rest: str, name: str, sentiment: str) -> str | None:
    if kind == "s" and rest.rpartition("|")[2] == sentiment:
        return name
    if kind == "fs" and rest.rpartition("|")[2] == sentiment:
        return f"src|{rest.rpartition('|')[0]}"
    return None


_SLICERS = {"channel": _in_channel, "source": _in_source, "sentiment": _in_sentiment}


def _sliced_name(name: str, only: Slice) -> str | None:
    """The unfiltered counter name a counter of a day adds to within `only`, None when outside it."""
    kind, _, rest = name.partition("|")
    return _SLICERS[only.dimension](kind, rest, name, only.value)


def theme_sliced(counts: Counter[str], family: frozenset[str], theme: str) -> Counter[str]:
    """A day's counters narrowed to the items about `theme` (in `family`, with its children): their number,
    the sentiments about it as the day's mix, the same per source, the family's theme counters; NPS and
    ratings whole (the counters do not cross them with themes)."""
    view: Counter[str] = Counter()
    for name, count in counts.items():
        kind, _, rest = name.partition("|")
        if kind in ("n", "fr", "r"):
            view[name] += count
        elif kind == "t" and rest.partition("|")[0] in family:
            view[name] += count
            if rest == theme:
                view[THEMED_ITEMS] += count
                view[TAGGED] += count
            elif rest.partition("|")[0] == theme:
                view[f"s|{SLICED}|{rest.partition('|')[2]}"] += count
        elif kind == SOURCE_THEME:
            source, about, sentiment = source_theme(rest)
            if about == theme:
                view[f"fs|{source}|{sentiment}" if sentiment else f"src|{source}"] += count
    return view


@lru_cache(maxsize=8192)
def _slice_targets(name: str, dimension: str, value: str) -> tuple[str, ...]:
    """The names a counter of a day adds to within the slice (not a theme), under the unfiltered names: parsed
    once per name and slice, not once per day and name."""
    only = Slice(dimension, value)
    targets = []
    if only.dimension == "sentiment" and name.startswith(("fr|", "n|")):
        targets.append(name)  # NPS and the sources' scores, whole: ratings are not counted per sentiment
    target = _sliced_name(name, only)
    if target is None:
        return tuple(targets)
    targets.append(target)
    if name.startswith(("fs|", "fr|")):
        targets.append(name)  # the per-source rows of the slice
    kind, _, rest = target.partition("|")
    scale, _, rating = rest.partition("|")
    if only.dimension == "source" and kind == "r" and scale == RatingScale.NPS.value:
        targets.append(f"n|{SLICED}|{nps_band(int(rating))}")
    return tuple(targets)


def sliced(counts: Counter[str], only: Slice | None, family: frozenset[str] = frozenset()) -> Counter[str]:
    """A day's counters narrowed to `only`, under the unfiltered names (s|, n|, r|, src|, t|)."""
    if only is None:
        return counts
    if only.dimension == "theme":
        return theme_sliced(counts, family, only.value)
    view: Counter[str] = Counter()
    for name, count in counts.items():
        for target in _slice_targets(name, only.dimension, only.value):
            view[target] += count
    return view


def _is_form(counts: dict[date, Counter[str]], source: str) -> bool:
    """Whether the counters hold items of `source` as a form (whose themes they count apart)."""
    marker = f"{FORM_ITEMS}|{source}"
    return any(day_counts.get(marker) for day_counts in counts.values())


def by_source(counts: Counter[str]) -> list[dict[str, Any]]:
    """Per source or form: volume, sentiment mix and each scale's headline, most feedback first."""
    totals: Counter[str] = Counter()
    mixes: dict[str, Counter[str]] = {}
    ratings: dict[str, scores.Ratings] = {}
    for name, count in counts.items():
        kind, _, rest = name.partition("|")
        if kind == SOURCE_ITEMS:
            totals[rest] += count
        elif kind == SOURCE_CHANNEL:
            totals[rest.rpartition("|")[0]] += count
        elif kind == "fs":
            source, _, sentiment = rest.rpartition("|")
            mixes.setdefault(source, Counter())[sentiment] += count
        elif kind == "fr":
            source, scale, rating = rest.rsplit("|", 2)
            ratings.setdefault(source, Counter())[(scale, int(rating))] += count
    return [
        {
            "source_id": source,
            "total": total,
            "sentiment": _mix(mixes.get(source, Counter())),
            "scores": scores.headlines(ratings.get(source, Counter())),
        }
        for source, total in sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))
        if total
    ]


def _summed(counts: dict[date, Counter[str]], days: list[date]) -> Counter[str]:
    total: Counter[str] = Counter()
    for day in days:
        total.update(counts.get(day, Counter()))
    return total


def compute(
    days: list[date],
    latest_negative: int = LATEST_NEGATIVE,
    taxonomy: Taxonomy | None = None,
    only: Slice | None = None,
) -> dict[str, Any]:
    """Aggregates over `days` (each day listed, with zeros where nothing was stored), within `only`."""
    taxonomy = taxonomy or taxonomy_records.current()
    themes = ThemeStats(taxonomy)
    before = previous_period(days)
    counts = counters.read_days([*days, *before])
    family = (
        frozenset(taxonomy.with_children(only.value)) if only and only.dimension == "theme" else frozenset()
    )
    view = (
        counts
        if only is None
        else {day: sliced(day_counts, only, family) for day, day_counts in counts.items()}
    )
    unfiltered = UNFILTERED[only.dimension] if only else ()
    if only and only.dimension == "source" and not _is_form(counts, only.value):
        unfiltered = (*unfiltered, "themes")  # themes are counted per form only (counters.py)
    themed = counts if "themes" in unfiltered else view
    rated = counts if "scores" in unfiltered else view
    by_sources = counts if "sources" in unfiltered else view
    rated_period = _summed(rated, days)
    sources_period = rated_period if by_sources is rated else _summed(by_sources, days)
    overall = Tally()
    per_day: list[dict[str, Any]] = []
    channels: dict[str, Tally] = {}
    nothing: Counter[str] = Counter()
    for day in days:
        tally = Tally()
        day_view = view.get(day, nothing)
        day_channels = (counts if "channels" in unfiltered else view).get(day, nothing)
        if day_channels is day_view:
            _add_counts(day_view, tally, channels)
        else:
            _add_counts(day_view, tally, None)
            _add_counts(day_channels, None, channels)
        themes.add_day(day, themed.get(day, nothing))
        overall.merge(tally)
        day_scores = scores.headlines(scores.ratings_of(rated.get(day, nothing)))
        per_day.append({"date": day.isoformat(), **tally.as_json(), "scores": day_scores})
    for day in before:
        themes.add_previous_day(themed.get(day, nothing))
    by_channel = [
        {"channel": name, **tally.as_json()}
        for name, tally in sorted(channels.items(), key=lambda pair: (-pair[1].total, pair[0]))
        if tally.total
    ]
    return {
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "filter": {only.dimension: only.value} if only else {},
        "unfiltered": list(unfiltered),
        "sentiments": list(SENTIMENTS),
        **overall.as_json(),
        "days": per_day,
        "channels": by_channel,
        "sources": by_source(sources_period),
        "scores": scores.scores(scores.ratings_of(rated_period), scores.ratings_of(_summed(rated, before))),
        "latest_negative": _newest_negative(days, latest_negative),
        "themes": themes.as_json(before[0], before[-1]),
    }


def name_sources(answer: dict[str, Any]) -> dict[str, Any]:
    """`answer` with each source row's `name`: the form's or source's name as configured, None for one no
    longer configured. The configurations are read from memory (one Query per kind when the cache is cold
    or stale, as the ack path reads them), so names cost no read of the counters."""
    names: dict[str, str] = {}
    for records in (config_records.SOURCES, config_records.FORMS):
        found = records.get_multiple(records.kind, max_age=settings().config_cache_seconds) or {}
        names.update({record_id: fields["name"] for record_id, fields in found.items() if fields.get("name")})
    answer["sources"] = [{**row, "name": names.get(row["source_id"])} for row in answer["sources"]]
    return answer
