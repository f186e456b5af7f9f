"""The bench's alert figures as floors: one evaluation reads the rules and the hour counters in one Query
and one BatchGetItem, the same with 1 week of history as with 52."""

from __future__ import annotations

from collections import Counter

import boto3

from tools.bench.alerts import HISTORY_WEEKS, alerts_checks, alerts_section, measure_in_stack


def test_an_evaluation_reads_the_same_whatever_the_history(stack):
    boto3.setup_default_session()
    figures = measure_in_stack(boto3.DEFAULT_SESSION.events)

    for weeks in HISTORY_WEEKS:
        assert figures.requests[weeks] == Counter({"dynamodb Query": 1, "dynamodb BatchGetItem": 1}), weeks
    # 35 hours (the silence's 7 and the same hours four weeks back; the spikes' within them), 1 item each,
    # less the current hour that holds nothing yet.
    assert figures.items_read[52] == figures.items_read[13] == 34
    assert figures.fired == 2 and figures.firing["dynamodb PutItem"] == 2, "one cool-down claim per alert"
    assert all(check.ok for check in alerts_checks(figures))
    assert any("Flat with history: yes" in line for line in alerts_section(figures))
