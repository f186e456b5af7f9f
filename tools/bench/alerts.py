"""Alerts: the AWS requests one scheduled evaluation makes, and how they grow with the history the table
holds (target: flat), on moto.

Four rules are evaluated (a count spike on all feedback, a negative-share spike per form, a negative-share
spike per theme, a 6-hour silence per source) against hour counters written for 1, 4, 13 and 52 weeks of
history (one item an hour from each of 3 sources with 2 themes); each run's requests are counted, and the
hour counter items it read. Then a burst of negative feedback is stored through the write path and one run
fires: what firing costs on top (the cool-down claim, the window's items for the samples, the notifications).

`PYTHONPATH=. python -m tools.bench.alerts` prints this section alone.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.bench.counting import RequestCounter

HISTORY_WEEKS = (1, 4, 13, 52)
NOW = datetime(2027, 6, 2, 14, 40, tzinfo=UTC)
QUIET, FIRE = "evaluation", "firing"


@dataclass(frozen=True)
class AlertFigures:
    # history weeks → ("service Operation" → requests in one evaluation), and the counter items it read
    requests: dict[int, Counter[str]]
    items_read: dict[int, int]
    firing: Counter[str]  # the extra requests of a run where one rule fires
    fired: int

    @property
    def flat(self) -> bool:
        return len({tuple(sorted(c.items())) for c in self.requests.values()}) == 1


def measure_alerts() -> AlertFigures:
    """The measurement on its own moto stack."""
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        boto3.setup_default_session()
        provision_stack()
        figures = measure_in_stack(boto3.DEFAULT_SESSION.events)
    reset_process_caches()
    return figures


def _seed_hours(first: datetime, last: datetime) -> None:
    """Hour counters as three sources delivering one item an hour each would leave (form `demo`)."""
    from chalicelib.config import settings
    from chalicelib.store import counters, dynamo
    from chalicelib.store.schema import RECORD_TYPE

    counts = {
        "s|form|NEUTRAL": 1,
        "fs|demo|NEUTRAL": 1,
        "fm|demo": 1,
        "s|webhook|NEGATIVE": 1,
        "fs|src_hook|NEGATIVE": 1,
        "s|slack|POSITIVE": 1,
        "fs|src_slack|POSITIVE": 1,
        "t|delivery": 2,
        "t|delivery|NEGATIVE": 1,
        "t|price": 1,
    }
    writes, hour = [], first
    while hour < last:
        item = {**counters.hour_key(hour, 0), RECORD_TYPE: counters.HOUR_COUNTER, **counts}
        writes.append(dynamo.put_request(item))
        hour += timedelta(hours=1)
    dynamo.batch_write(settings().table_name, writes)


def measure_in_stack(events: Any) -> AlertFigures:
    from chalicelib import aws
    from chalicelib.alerts import evaluator
    from chalicelib.alerts import rules as rule_store
    from chalicelib.alerts.rules import Dimension, Metric, Notify, SilenceRule, SpikeRule
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution

    counter = RequestCounter()
    counter.attach(events)
    aws.reset_clients()
    notify = Notify(webhook=True)
    for rule in (
        SpikeRule(rule_id=rule_store.new_rule_id(), notify=notify),
        SpikeRule(rule_id=rule_store.new_rule_id(), dimension=Dimension.FORM, metric=Metric.NEGATIVE_SHARE),
        SpikeRule(rule_id=rule_store.new_rule_id(), dimension=Dimension.THEME, metric=Metric.NEGATIVE_SHARE),
        SilenceRule(rule_id=rule_store.new_rule_id(), hours=6),
    ):
        rule_store.save(rule)
    requests: dict[int, Counter[str]] = {}
    items_read: dict[int, int] = {}
    seeded_from = NOW
    for weeks in HISTORY_WEEKS:
        _seed_hours(NOW - timedelta(weeks=weeks), seeded_from)
        seeded_from = NOW - timedelta(weeks=weeks)
        phase = f"{QUIET} {weeks}"
        with counter.phase_of(phase):
            report = evaluator.run(NOW, _kept)
        assert not report.fired, "the steady history fires nothing"
        requests[weeks] = Counter({f"{s} {op}": n for (s, op), n in counter.requests(phase).items()})
        items_read[weeks] = counter.items_got[phase]
    burst = [_negative(NOW - timedelta(minutes=m), m) for m in range(30)]
    feedback_write.save_feedback(burst, Resolution(), {})
    with counter.phase_of(FIRE):
        fired = evaluator.run(NOW, _kept).fired
    quiet = requests[HISTORY_WEEKS[-1]]
    everything = Counter({f"{s} {op}": n for (s, op), n in counter.requests(FIRE).items()})
    return AlertFigures(requests, items_read, everything - quiet, len(fired))


class _Kept:
    """A notifier that keeps the alert: the notifications' own requests are outbound's to measure."""

    name = "kept"

    def send(self, alert: Any) -> None:
        return


def _kept(channel: str, rule_id: str) -> Any:
    return _Kept()


def _negative(at: datetime, n: int) -> Any:
    """A NEGATIVE response to the demo form, stored at `at`."""
    from chalicelib.models import Analysis, Author, Channel, FeedbackEvent, Kind, Sentiment, StoredFeedback

    event = FeedbackEvent.create(
        source_id="demo",
        external_id=f"bench-alert-{n}",
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text=f"Broken again ({n})",
        author=Author(),
        occurred_at=at,
        received_at=at,
    )
    analysis = Analysis(sentiment=Sentiment.NEGATIVE, language="en", analyzer="lexicon", analyzed_at=at)
    return StoredFeedback.from_event(event, analysis, at)


def _ops(requests: Counter[str]) -> str:
    return ", ".join(f"{n} {name.split(' ', 1)[1]}" for name, n in sorted(requests.items())) or "none"


def alerts_section(figures: AlertFigures | None) -> list[str]:
    """The BENCHMARKS.md lines."""
    if figures is None:
        return ["Not measured in this run."]
    lines = [
        "One scheduled evaluation of four rules (a count spike on all feedback, negative-share spikes per "
        "form and per theme, a 6-hour silence per source) against hour counters of 1 to 52 weeks of "
        "history, on moto. Target: the same requests whatever the history.",
        "",
        "| history | requests per evaluation | hour counter items read |",
        "|---|---|---|",
    ]
    for weeks, requests in figures.requests.items():
        lines.append(f"| {weeks} weeks | {_ops(requests)} | {figures.items_read[weeks]} |")
    lines += [
        "",
        f"Flat with history: {'yes' if figures.flat else 'NO'}; the items read stop growing once the "
        "four baseline weeks exist. A run where "
        f"{figures.fired} rules fire adds {_ops(figures.firing)} (per firing: the cool-down claim, and the "
        "window's items for the samples through the per-day index, one Query per shard).",
        "",
    ]
    return lines


def alerts_checks(figures: AlertFigures | None) -> list[Any]:
    """The evaluation's requests do not grow with history."""
    from tools.bench.checks import Check

    if figures is None:
        return []
    per_run = sum(figures.requests[HISTORY_WEEKS[-1]].values())
    return [
        Check(
            "alerts: AWS requests per scheduled evaluation, 1 to 52 weeks of history",
            f"{per_run} ({'flat' if figures.flat else 'growing'})",
            "flat",
            figures.flat,
        )
    ]


if __name__ == "__main__":
    print("\n".join(alerts_section(measure_alerts())))
