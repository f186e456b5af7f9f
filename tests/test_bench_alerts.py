"""The bench's alert figures as floors: one evaluation reads the rules and the hour counters in one Query
and one BatchGetItem, the same with 1 week of history as with 13.

An evaluation looks 4 weeks back at most, so 13 weeks of hour counters already hold 9 weeks it must not
read; the bench's 52 (four times the writes to moto) belong to `make bench`."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from tools.bench import alerts as bench_alerts
from tools.bench.alerts import (
    BURST,
    alerts_checks,
    alerts_section,
    burst_lines,
    measure_burst_in_stack,
    measure_in_stack,
)

# 5 weeks hold every hour an evaluation reads (4 weeks back and the window): from there on it reads no more.
HISTORY_WEEKS = (1, 4, 5, 13)


def test_an_evaluation_reads_the_same_whatever_the_history(stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bench_alerts, "HISTORY_WEEKS", HISTORY_WEEKS)
    boto3.setup_default_session()
    figures = measure_in_stack(boto3.DEFAULT_SESSION.events)

    assert list(figures.requests) == list(HISTORY_WEEKS)
    for weeks in HISTORY_WEEKS:
        assert figures.requests[weeks] == Counter({"dynamodb Query": 1, "dynamodb BatchGetItem": 1}), weeks
    # 35 hours (the silence's 7 and the same hours four weeks back; the spikes' within them), 1 item each,
    # less the current hour that holds nothing yet.
    assert (
        figures.items_read[1] < figures.items_read[4] < figures.items_read[5] == figures.items_read[13] == 34
    )
    assert figures.fired == 2 and figures.firing["dynamodb PutItem"] == 2, "one cool-down claim per alert"
    assert all(check.ok for check in alerts_checks(figures))
    assert any("Flat with history: yes" in line for line in alerts_section(figures))


def test_a_burst_of_detractors_costs_o1_messages_per_rule_and_nothing_on_replay(stack):
    boto3.setup_default_session()
    burst = measure_burst_in_stack(boto3.DEFAULT_SESSION.events)

    assert burst.slack_posts == {"stream batch": 3, "replayed batch": 0, "digest run": 1}
    assert {phase: r["sns Publish"] for phase, r in burst.requests.items()} == {
        "stream batch": 3,
        "replayed batch": 0,
        "digest run": 1,
    }
    # The stream batch: a claim per detractor, the window's count and what went one by one, the events
    # ten to a request; replayed, only the refused claims.
    assert burst.requests["stream batch"]["dynamodb PutItem"] == BURST
    assert burst.requests["stream batch"]["dynamodb UpdateItem"] == 2
    assert burst.requests["stream batch"]["sqs SendMessageBatch"] == BURST // 10
    assert burst.requests["replayed batch"] == Counter({"dynamodb PutItem": BURST})
    assert burst.events_queued == BURST
    lines = burst_lines(burst)
    assert any(line.startswith("| stream batch | 3 | 3 |") for line in lines)
