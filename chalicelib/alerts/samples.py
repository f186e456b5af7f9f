"""What an alert shows of its slice: the top themes and three sample comments of the window's items.

Read only when a rule fires (never per evaluation): the window's items through the per-day index (one
Query per day shard, bounded to MAX_ITEMS_READ), those of the slice kept.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import islice

from chalicelib.alerts.notify.base import Sample
from chalicelib.models import Channel, Sentiment, StoredFeedback
from chalicelib.store import feedback as feedback_store

MAX_ITEMS_READ = 1_000
SAMPLES = 3
TOP_THEMES = 5
SAMPLE_CHARS = 280


def in_slice(item: StoredFeedback, dimension: str, value: str | None) -> bool:
    """Whether an item belongs to the slice (a theme: tagged with it, not with one of its children)."""
    if dimension == "overall" or value is None:
        return True
    if dimension == "channel":
        return item.channel.value == value
    if dimension == "form":
        return item.channel is Channel.FORM and item.source_id == value
    if dimension == "source":
        return item.source_id == value
    if dimension == "theme":
        return any(tag.id == value for tag in item.themes or ())
    return False


def sample_of(item: StoredFeedback) -> Sample:
    text = " ".join(item.text.split())
    return Sample(
        feedback_id=item.feedback_id,
        text=text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…",
        sentiment=item.sentiment.value if item.sentiment else None,
        rating=item.rating,
        rating_scale=item.rating_scale.value if item.rating_scale else None,
        source_id=item.source_id,
        channel=item.channel.value,
    )


def window_items(start: datetime, end: datetime) -> list[StoredFeedback]:
    """The items stored from `start` to `end` (at most MAX_ITEMS_READ, oldest first)."""
    days, day = [], start.date()
    while day <= end.date():
        days.append(day)
        day += timedelta(days=1)
    items: list[StoredFeedback] = []
    for day in days:
        # assume_counted: the alerts' role reads counter items only, and a fired window's items are counted.
        window = feedback_store.list_day(day, (start, end), assume_counted=True)
        items += islice(window, MAX_ITEMS_READ - len(items))
    return items


def slice_samples(
    dimension: str, value: str | None, start: datetime, end: datetime, negatives_first: bool
) -> tuple[list[tuple[str, int]], list[Sample]]:
    """(the slice's top themes with their item counts, three sample comments, newest first; negative ones
    first when the alert is about negatives)."""
    items = [item for item in window_items(start, end) if in_slice(item, dimension, value)]
    themes = Counter(tag.id for item in items for tag in item.themes or ())
    with_text = [item for item in reversed(items) if item.text.strip()]
    if negatives_first:
        with_text.sort(key=lambda item: item.sentiment is not Sentiment.NEGATIVE)
    return themes.most_common(TOP_THEMES), [sample_of(item) for item in with_text[:SAMPLES]]
