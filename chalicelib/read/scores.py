"""Scores per rating scale for `GET /stats`, from the counts of each rating value (the counters'
`r|<scale>|<rating>`): NPS with its promoter/passive/detractor split, CSAT (% satisfied: 4 or 5, and
the mean), stars (mean and distribution); each with the same figures over the period of the same length
just before, and the change of its headline (NPS score, CSAT % satisfied, stars mean) and of its mean.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

from chalicelib.models import RatingScale
from chalicelib.store.counters import DETRACTOR_MAX, PROMOTER_MIN

CSAT_SATISFIED_MIN = 4
HEADLINE = {RatingScale.NPS: "score", RatingScale.CSAT: "satisfied_percent", RatingScale.STARS: "mean"}

# (scale, rating) → count
Ratings = Counter[tuple[str, int]]


@lru_cache(maxsize=4096)
def rating_part(name: str) -> tuple[str, int] | None:
    """(scale, rating) of an `r|<scale>|<rating>` counter, None for the others: parsed once per name, not once
    per day and name."""
    kind, _, rest = name.partition("|")
    scale, _, rating = rest.partition("|")
    return (scale, int(rating)) if kind == "r" and rating.isdigit() else None


def ratings_of(counts: Counter[str] | dict[str, int]) -> Ratings:
    """The `r|<scale>|<rating>` counters of a day (or a sum of days) as (scale, rating) → count."""
    ratings: Ratings = Counter()
    for name, count in counts.items():
        part = rating_part(name)
        if part is not None:
            ratings[part] += count
    return ratings


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def scale_figures(scale: RatingScale, ratings: Ratings) -> dict[str, Any]:
    """One scale's figures: responses, distribution (every value of the scale), mean and its headline."""
    low, high = scale.bounds
    distribution = {str(value): ratings.get((scale.value, value), 0) for value in range(low, high + 1)}
    responses = sum(distribution.values())
    total = sum(int(value) * count for value, count in distribution.items())
    figures: dict[str, Any] = {
        "responses": responses,
        "mean": round(total / responses, 2) if responses else None,
        "distribution": distribution,
    }
    if scale is RatingScale.NPS:
        promoters = sum(c for v, c in distribution.items() if int(v) >= PROMOTER_MIN)
        detractors = sum(c for v, c in distribution.items() if int(v) <= DETRACTOR_MAX)
        figures.update(
            promoters=promoters,
            passives=responses - promoters - detractors,
            detractors=detractors,
            score=round(100 * (promoters - detractors) / responses, 1) if responses else None,
        )
    elif scale is RatingScale.CSAT:
        satisfied = sum(c for v, c in distribution.items() if int(v) >= CSAT_SATISFIED_MIN)
        figures.update(satisfied=satisfied, satisfied_percent=_percent(satisfied, responses))
    return figures


def _change(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 2)


def scores(current: Ratings, previous: Ratings) -> dict[str, Any]:
    """Every scale's figures over the period, over the period before, and the changes."""
    block: dict[str, Any] = {}
    for scale in RatingScale:
        now, before = scale_figures(scale, current), scale_figures(scale, previous)
        headline = HEADLINE[scale]
        block[scale.value] = {
            **now,
            "previous": {
                "responses": before["responses"],
                "mean": before["mean"],
                headline: before[headline],
            },
            "change": _change(now[headline], before[headline]),
            "mean_change": _change(now["mean"], before["mean"]),
        }
    return block


def headlines(ratings: Ratings) -> dict[str, Any]:
    """Each scale's responses and headline (for a row per form): {"nps": {"responses", "score"}, …}."""
    out = {}
    for scale in RatingScale:
        figures = scale_figures(scale, ratings)
        out[scale.value] = {"responses": figures["responses"], HEADLINE[scale]: figures[HEADLINE[scale]]}
    return out
