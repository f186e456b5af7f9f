"""Helpers for the alert tests: synthetic feedback on a timeline, the hour counters it would have moved
(written as the store writes them), an evaluator driven every few minutes on an injected clock, and a
notifier that keeps what it is given."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib import aws
from chalicelib.alerts import evaluator
from chalicelib.alerts.notify.base import Alert, Notifier
from chalicelib.config import settings
from chalicelib.models import (
    Analysis,
    Author,
    Channel,
    FeedbackEvent,
    Kind,
    RatingScale,
    Sentiment,
    StoredFeedback,
    ThemeTag,
)
from chalicelib.store import counters, dynamo
from chalicelib.store.schema import RECORD_TYPE

_ids = itertools.count()
KINDS = {Channel.FORM: Kind.FORM_RESPONSE}


def feedback(
    at: datetime,
    *,
    source: str = "demo",
    channel: Channel = Channel.FORM,
    sentiment: Sentiment | None = Sentiment.NEUTRAL,
    text: str = "Some feedback",
    themes: Sequence[str] = (),
    rating: tuple[RatingScale, int] | None = None,
    customer: str | None = None,
) -> StoredFeedback:
    """One stored item, stored at `at`."""
    event = FeedbackEvent.create(
        source_id=source,
        external_id=f"synthetic-{next(_ids)}",
        channel=channel,
        kind=KINDS.get(channel, Kind.MESSAGE),
        text=text,
        rating=rating[1] if rating else None,
        rating_scale=rating[0] if rating else None,
        author=Author(),
        occurred_at=at,
        received_at=at,
    )
    analysis = Analysis(sentiment=sentiment, language="en", analyzer="lexicon", analyzed_at=at)
    stored = StoredFeedback.from_event(event, analysis, at, customer_id=customer)
    tags = [
        ThemeTag(id=theme, sentiment=sentiment or Sentiment.NEUTRAL, evidence=text[:5]) for theme in themes
    ]
    return stored.model_copy(update={"themes": tags or None})


def every_hour(
    first: datetime, last: datetime, per_hour: Iterable[int] | int, **fields: object
) -> list[StoredFeedback]:
    """Items at the same minutes of every hour from `first` to before `last` (`per_hour`: a count, or one
    per hour of the day)."""
    counts = [per_hour] * 24 if isinstance(per_hour, int) else list(per_hour)
    items, hour = [], first
    while hour < last:
        n = counts[hour.hour]
        items += [feedback(hour + timedelta(minutes=(60 * k) // max(n, 1) + 1), **fields) for k in range(n)]
        hour += timedelta(hours=1)
    return items


@dataclass
class Timeline:
    """Items whose hour counters reach the table as time passes, as the write path moves them."""

    items: list[StoredFeedback]
    applied_until: datetime | None = None

    def __post_init__(self) -> None:
        self.items.sort(key=lambda item: item.stored_at)

    def seed(self, until: datetime) -> None:
        """The hour counters of every item stored before `until`, written at once (the quiet weeks)."""
        before = [item for item in self.items if item.stored_at < until]
        writes = [
            dynamo.put_request({**counters.hour_key(hour, 0), RECORD_TYPE: counters.HOUR_COUNTER, **counts})
            for hour, counts in counters.hour_deltas(before, [], {}).items()
        ]
        dynamo.batch_write(settings().table_name, writes)
        self.applied_until = until

    def advance(self, now: datetime) -> None:
        """The items stored since the last call, counted as their transactions count them."""
        start = self.applied_until
        new = [
            item
            for item in self.items
            if (start is None or item.stored_at >= start) and item.stored_at <= now
        ]
        for action in counters.counter_actions(new, [], {}):
            if action["Update"]["ExpressionAttributeValues"][":rt"]["S"] == counters.HOUR_COUNTER:
                aws.client("dynamodb").update_item(**action["Update"])
        self.applied_until = now + timedelta(microseconds=1)


@dataclass
class Recorder:
    """Stands in for every channel: keeps (channel, alert) of each notification."""

    sent: list[tuple[str, Alert]] = field(default_factory=list)

    def factory(self, channel: str, rule_id: str) -> Notifier:
        return _Recording(channel, self.sent)


class _Recording(Notifier):
    def __init__(self, channel: str, sent: list[tuple[str, Alert]]) -> None:
        self.name, self.sent = channel, sent

    def send(self, alert: Alert) -> None:
        self.sent.append((self.name, alert))


def simulate(
    timeline: Timeline, first: datetime, last: datetime, step: timedelta, recorder: Recorder
) -> list[tuple[str, str, str]]:
    """Run the evaluator every `step` from `first` to `last`: (time, rule id, slice) of each alert fired."""
    fired = []
    now = first
    while now <= last:
        timeline.advance(now)
        for alert in evaluator.run(now, recorder.factory).fired:
            fired.append((f"{now:%a %H:%M}", alert.rule_id, f"{alert.dimension}={alert.value or '*'}"))
        now += step
    return fired
