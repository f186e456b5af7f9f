"""Alerts: the AWS requests one scheduled evaluation makes, and how they grow with the history the table
holds (target: flat), on moto.

Four rules are evaluated (a count spike on all feedback, a negative-share spike per form, a negative-share
spike per theme, a 6-hour silence per source) against hour counters written for 1, 4, 13 and 52 weeks of
history (one item an hour from each of 3 sources with 2 themes); each run's requests are counted, and the
hour counter items it read. Then a burst of negative feedback is stored through the write path and one run
fires: what firing costs on top (the cool-down claim, the window's items for the samples, the notifications).

A burst of detractors: BURST detractors in one stream batch against one detractor rule that notifies Slack (a
receiver on loopback), e-mail (the SNS topic) and the alert.triggered event (one subscription): the Slack
POSTs, SNS Publishes and other AWS requests of the stream batch, of the same batch replayed, and of the
evaluator run that sends the digest once the window closed.

`PYTHONPATH=. python -m tools.bench.alerts` prints this section alone.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.bench.counting import RequestCounter

HISTORY_WEEKS = (1, 4, 13, 52)
BURST = 200
NOW = datetime(2027, 6, 2, 14, 40, tzinfo=UTC)
QUIET, FIRE = "evaluation", "firing"


@dataclass(frozen=True)
class BurstFigures:
    """What BURST detractors in one stream batch cost one rule notifying Slack, e-mail and the event."""

    # phase ("stream batch", "replayed batch", "digest run") → Slack POSTs, and AWS requests by operation
    slack_posts: dict[str, int]
    requests: dict[str, Counter[str]]
    events_queued: int
    seconds: dict[str, float]


@dataclass(frozen=True)
class AlertFigures:
    # history weeks → ("service Operation" → requests in one evaluation), and the counter items it read
    requests: dict[int, Counter[str]]
    items_read: dict[int, int]
    firing: Counter[str]  # the extra requests of a run where one rule fires
    fired: int
    burst: BurstFigures | None = None

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
        figures = replace(figures, burst=measure_burst_in_stack(boto3.DEFAULT_SESSION.events))
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


def measure_burst_in_stack(events: Any) -> BurstFigures:
    """BURST detractors through the stream function's judge, replayed, then the evaluator's digest."""
    import os
    import time

    from chalicelib import aws
    from chalicelib.alerts import detractors, evaluator
    from chalicelib.alerts import rules as rule_store
    from chalicelib.alerts.rules import DetractorRule, Notify
    from chalicelib.config import settings
    from chalicelib.outbound import subscriptions
    from chalicelib.store import dynamo, feedback_write
    from chalicelib.store import feedback as feedback_store
    from chalicelib.store.identities import Resolution
    from tools.webhook_receiver import Receiver, running_receiver

    counter = RequestCounter()
    counter.attach(events)
    aws.reset_clients()
    queue_url = _burst_channels()
    at = NOW + timedelta(minutes=3)  # in the 14:40-14:50 window of a 10-minute rule
    burst = [_detractor(at - timedelta(seconds=n), n) for n in range(BURST)]
    feedback_write.save_feedback(burst, Resolution(), {})
    records = [
        {"eventName": "INSERT", "dynamodb": {"NewImage": dynamo.serialize(feedback_store.to_item(item))}}
        for item in burst
    ]
    slack_posts: dict[str, int] = {}
    requests: dict[str, Counter[str]] = {}
    seconds: dict[str, float] = {}
    try:
        with running_receiver(Receiver(), path="/services/BENCH/ALERTS/x") as slack:
            rule = DetractorRule(
                rule_id=rule_store.new_rule_id(), notify=Notify(webhook=True, slack=True, email=True)
            )
            rule_store.save(rule)
            rule_store.set_slack_url(rule.rule_id, slack.url)
            rule_store.clear_cache()
            phases = {
                "stream batch": lambda: detractors.judge(detractors.stored_items(records), [rule], now=at),
                "replayed batch": lambda: detractors.judge(detractors.stored_items(records), [rule], now=at),
                "digest run": lambda: evaluator.run(at + timedelta(minutes=10)),
            }
            for phase, work in phases.items():
                before, started = len(slack.received), time.perf_counter()
                with counter.phase_of(phase):
                    work()
                seconds[phase] = time.perf_counter() - started
                slack_posts[phase] = len(slack.received) - before
                requests[phase] = Counter({f"{s} {op}": n for (s, op), n in counter.requests(phase).items()})
            events_queued = int(
                aws.client("sqs").get_queue_attributes(
                    QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
    finally:
        for name in ("OUTBOUND_ALLOW_LOOPBACK", "ALERTS_TOPIC_ARN", "DELIVERY_QUEUE_URL"):
            os.environ.pop(name, None)
        settings.cache_clear()
        subscriptions.clear_cache()
        rule_store.clear_cache()
    return BurstFigures(slack_posts, requests, events_queued, seconds)


def _burst_channels() -> str:
    """The burst's channels on the stack: the alerts topic, the delivery queue (its URL) and a subscription
    to alert.triggered; the evaluation's rules removed, so only the digest's work is measured."""
    import os

    from chalicelib import aws
    from chalicelib.alerts import rules as rule_store
    from chalicelib.config import settings
    from chalicelib.local.outbound import create_delivery_queues
    from chalicelib.outbound import subscriptions

    for rule in rule_store.list_all():
        rule_store.remove(rule.rule_id)
    os.environ["OUTBOUND_ALLOW_LOOPBACK"] = "1"
    os.environ["ALERTS_TOPIC_ARN"] = aws.client("sns").create_topic(Name="bench-alerts")["TopicArn"]
    _, queue_url = create_delivery_queues()
    os.environ["DELIVERY_QUEUE_URL"] = queue_url
    settings.cache_clear()
    subscriptions.clear_cache()
    subscriptions.create("http://127.0.0.1:9/alerts", ["alert.triggered"])
    return queue_url


def _detractor(at: datetime, n: int) -> Any:
    """An NPS 0-6 response to the demo form, stored at `at`."""
    from chalicelib.models import (
        Analysis,
        Author,
        Channel,
        FeedbackEvent,
        Kind,
        RatingScale,
        Sentiment,
        StoredFeedback,
    )

    event = FeedbackEvent.create(
        source_id="demo",
        external_id=f"bench-detractor-{n}",
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text=f"Checkout failed ({n})",
        rating=n % 7,
        rating_scale=RatingScale.NPS,
        author=Author(),
        occurred_at=at,
        received_at=at,
    )
    analysis = Analysis(sentiment=Sentiment.NEGATIVE, language="en", analyzer="lexicon", analyzed_at=at)
    return StoredFeedback.from_event(event, analysis, at)


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
    if figures.burst is not None:
        lines += burst_lines(figures.burst)
    return lines


def burst_lines(burst: BurstFigures) -> list[str]:
    lines = [
        f"A burst of {BURST} detractors in one stream batch, one detractor rule notifying Slack (a receiver "
        "on loopback), e-mail (SNS) and the `alert.triggered` event (one subscription), on moto. Target: "
        "Slack "
        "and e-mail O(1) per rule and window (the first 3 one by one, the rest in one digest), one event "
        "per detractor, nothing again on replay. Each one notified one by one would be "
        f"{BURST} Slack POSTs (over 3 minutes at Slack's 1 a second) and {BURST} SNS Publishes.",
        "",
        "| phase | Slack POSTs | SNS Publish | AWS requests | seconds (moto) |",
        "|---|---|---|---|---|",
    ]
    for phase, requests in burst.requests.items():
        lines.append(
            f"| {phase} | {burst.slack_posts[phase]} | {requests['sns Publish']} | {_ops(requests)} | "
            f"{burst.seconds[phase]:.2f} |"
        )
    lines += ["", f"`alert.triggered` deliveries queued: {burst.events_queued} (one per detractor).", ""]
    return lines


def alerts_checks(figures: AlertFigures | None) -> list[Any]:
    """The evaluation's requests do not grow with history."""
    from tools.bench.checks import Check

    if figures is None:
        return []
    per_run = sum(figures.requests[HISTORY_WEEKS[-1]].values())
    checks = [
        Check(
            "alerts: AWS requests per scheduled evaluation, 1 to 52 weeks of history",
            f"{per_run} ({'flat' if figures.flat else 'growing'})",
            "flat",
            figures.flat,
        )
    ]
    if figures.burst is not None:
        burst = figures.burst
        slack = sum(burst.slack_posts.values())
        mails = sum(requests["sns Publish"] for requests in burst.requests.values())
        checks.append(
            Check(
                f"alerts: Slack POSTs and e-mails for a burst of {BURST} detractors (one rule)",
                f"{slack} and {mails}",
                "at most 4 each",
                slack <= 4 and mails <= 4 and burst.events_queued == BURST,
            )
        )
    return checks


if __name__ == "__main__":
    print("\n".join(alerts_section(measure_alerts())))
