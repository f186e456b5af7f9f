"""Alert rules driven by synthetic timelines on an injected clock, the evaluator run every few minutes as the
schedule runs it: exactly which alerts fire, and when.

The hour counters reach the table as the write path moves them (tests/test_counters.py shows they equal a
recount of the stored items); the weeks before the day under test are written at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.alerts import detractors, evaluator
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.rules import DetractorRule, Dimension, Metric, SilenceRule, SpikeRule
from chalicelib.models import Channel, RatingScale, Sentiment
from tests.alerts_support import Recorder, Timeline, every_hour, feedback, simulate
from tests.outbound_support import stream_record

FIRST_DAY = datetime(2027, 3, 1, tzinfo=UTC)  # a Monday; the day under test is four weeks and more later
WEDNESDAY = datetime(2027, 3, 31, tzinfo=UTC)
THURSDAY = datetime(2027, 4, 1, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)


def rule(model, **fields):
    saved = model(rule_id=rule_store.new_rule_id(), **fields)
    rule_store.save(saved)
    return saved


def test_a_quiet_month_then_a_burst_fires_once_at_the_burst_and_not_again_while_cooling_down(stack):
    background = every_hour(
        FIRST_DAY, WEDNESDAY + timedelta(hours=21), 3, source="src_webhook", channel=Channel.WEBHOOK
    )
    burst_start = WEDNESDAY + timedelta(hours=14, seconds=30)
    # Two hours of one negative response a minute: hour 15 crosses the threshold too, inside the cool-down.
    burst = [feedback(burst_start + timedelta(minutes=k), sentiment=Sentiment.NEGATIVE) for k in range(120)]
    overall = rule(SpikeRule, cooldown_minutes=240)
    per_channel = rule(SpikeRule, dimension=Dimension.CHANNEL, cooldown_minutes=240)
    timeline = Timeline(background + burst)
    timeline.seed(WEDNESDAY + timedelta(hours=12))
    recorder = Recorder()

    fired = simulate(
        timeline, WEDNESDAY + timedelta(hours=12), WEDNESDAY + timedelta(hours=20), FIVE_MINUTES, recorder
    )

    # At 14:10 the hour holds 10 burst items and 1 usual one: over both thresholds (10 items; 3 times the
    # 3 usual), for all feedback and for the form channel (usually none); never for the webhook channel.
    assert sorted(fired) == sorted(
        [("Wed 14:10", overall.rule_id, "overall=*"), ("Wed 14:10", per_channel.rule_id, "channel=form")]
    )
    assert [channel for channel, _ in recorder.sent] == ["webhook", "webhook"]
    [alert] = [alert for _, alert in recorder.sent if alert.rule_id == overall.rule_id]
    assert (alert.count, alert.negatives, alert.baseline, alert.threshold) == (11, 10, 3.0, 10.0)


def test_a_gradual_rise_with_the_day_and_over_the_weeks_does_not_fire(stack):
    shape = [1, 1, 1, 1, 1, 2, 4, 8, 14, 20, 26, 30, 32, 30, 26, 22, 18, 14, 10, 7, 5, 3, 2, 1]
    items = []
    for week in range(5):
        # 8% more feedback every week, the same 1 in 5 negative: a business growing, not an incident.
        scaled = [round(n * 1.08**week) for n in shape]
        negative = [round(n / 5) for n in scaled]
        start = FIRST_DAY + timedelta(weeks=week)
        end = min(start + timedelta(weeks=1), THURSDAY)
        items += every_hour(start, end, [n - m for n, m in zip(scaled, negative, strict=True)])
        items += every_hour(
            start, end, negative, sentiment=Sentiment.NEGATIVE, source="src_webhook", channel=Channel.WEBHOOK
        )
    rules = [
        rule(SpikeRule),
        rule(SpikeRule, dimension=Dimension.CHANNEL),
        rule(SpikeRule, metric=Metric.NEGATIVE_SHARE, min_count=5),
        rule(SilenceRule, hours=2),
    ]
    timeline = Timeline(items)
    timeline.seed(WEDNESDAY)

    fired = simulate(
        timeline, WEDNESDAY, WEDNESDAY + timedelta(hours=23, minutes=45), timedelta(minutes=15), Recorder()
    )

    assert fired == []
    # The same day does cross a threshold barely above the usual: the rise is seen, and judged ordinary.
    sensitive = rule(SpikeRule, factor=1.05)
    again = Timeline(items)
    again.seed(WEDNESDAY)
    fired = simulate(
        again, WEDNESDAY, WEDNESDAY + timedelta(hours=23, minutes=45), timedelta(minutes=15), Recorder()
    )
    assert {rule_id for _, rule_id, _ in fired} == {sensitive.rule_id}
    assert all(rule_id not in {r.rule_id for r in rules} for _, rule_id, _ in fired)


def test_a_source_that_stops_delivering_fires_after_its_silence_and_again_after_the_cool_down(stack):
    # src_webhook delivers four items every hour, until 09:46 on the day under test; src_rare once a day.
    steady = every_hour(
        FIRST_DAY, THURSDAY + timedelta(hours=10), 4, source="src_webhook", channel=Channel.WEBHOOK
    )
    rare = [feedback(FIRST_DAY + timedelta(days=d, hours=3, minutes=1), source="src_rare") for d in range(31)]
    silence = rule(SilenceRule, hours=3, cooldown_minutes=240)
    timeline = Timeline(steady + rare)
    timeline.seed(THURSDAY + timedelta(hours=8))

    fired = simulate(
        timeline, THURSDAY + timedelta(hours=8), THURSDAY + timedelta(hours=18), FIVE_MINUTES, Recorder()
    )

    # 10:00 to 13:00 without an item (clock hours 10, 11, 12 and 13 so far), where 16 usually arrive.
    assert fired == [
        ("Thu 13:00", silence.rule_id, "source=src_webhook"),
        ("Thu 17:00", silence.rule_id, "source=src_webhook"),
    ]


def test_each_detractor_alerts_once_from_the_stream(stack):
    detractor = rule(DetractorRule)
    forms_only = rule(DetractorRule, channels=[Channel.WEBHOOK], negative_from_named_customer=False)
    rule_store.clear_cache()
    at = WEDNESDAY + timedelta(hours=9)
    items = {
        "nps 3": feedback(at, rating=(RatingScale.NPS, 3), sentiment=Sentiment.POSITIVE),
        "nps 7": feedback(at, rating=(RatingScale.NPS, 7), sentiment=Sentiment.NEGATIVE),
        "csat 2": feedback(at, rating=(RatingScale.CSAT, 2)),
        "stars 3": feedback(at, rating=(RatingScale.STARS, 3)),
        "named negative": feedback(at, sentiment=Sentiment.NEGATIVE, customer="cust_1", text="Never again"),
        "anonymous negative": feedback(at, sentiment=Sentiment.NEGATIVE),
    }
    records = [stream_record(item) for item in items.values()]
    records.append(stream_record(feedback(at, rating=(RatingScale.NPS, 0)), event_name="MODIFY"))
    recorder = Recorder()

    assert detractors.handle_stream_batch({"Records": records}, recorder.factory) == 3
    by_item = {alert.samples[0].feedback_id if alert.samples else "": alert for _, alert in recorder.sent}
    assert set(by_item) == {items[name].feedback_id for name in ("nps 3", "csat 2", "named negative")}
    assert {alert.rule_id for alert in by_item.values()} == {detractor.rule_id}
    assert by_item[items["nps 3"].feedback_id].summary.startswith("Detractor: NPS 3/10, ")
    assert by_item[items["csat 2"].feedback_id].summary.startswith("Detractor: CSAT 2/5, ")
    # The stream batch retried: every alert is already claimed.
    assert detractors.handle_stream_batch({"Records": records}, recorder.factory) == 0
    assert forms_only.rule_id not in {alert.rule_id for _, alert in recorder.sent}
    rule_store.clear_cache()


def test_the_reads_of_a_run_are_one_query_and_one_batch_get_whatever_the_history(stack):
    rule(SpikeRule)
    rule(SpikeRule, dimension=Dimension.THEME, metric=Metric.NEGATIVE_SHARE)
    rule(SilenceRule, hours=6)
    now = WEDNESDAY + timedelta(hours=14)
    hours = evaluator.hours_needed(
        [r for r in rule_store.list_all() if not isinstance(r, DetractorRule)], now
    )
    # Window hours and the same hours 1..4 weeks back: 7 (silence: 6 + 1) times 5, the spikes' within them.
    assert len(hours) == 35
    assert hours[0] == now - timedelta(weeks=4, hours=6)
