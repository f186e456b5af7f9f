"""The bench's dashboard load cost: a load (`/stats` and the list's first page) costs a few DynamoDB requests
whatever the range, filtered by a form or not, and the section reports each range.

moto answers Query and BatchGetItem through `fast_dynamodb_read_encoding` (json.dumps instead of its
model-driven serializer, which spends seconds on each /stats of a busy stage's counter items): the same
answers (tests/test_bench.py checks it), so the same requests and read units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from chalicelib.config import settings
from chalicelib.local.moto_patches import fit_for_threads
from chalicelib.local.provision import load_starter_taxonomy
from tools.bench.dashboard_cost import (
    DAY_ITEMS,
    READ_FUNCTION_MB,
    TARGET_DASHBOARD_REQUESTS_90_DAYS,
    dashboard_cost_section,
    measure_in_stack,
    measure_latency_in_stack,
    measure_million_in_stack,
)
from tools.bench.moto_speedups import fast_dynamodb_read_encoding

# The channels of the day the list starts on: a page reads a partition per channel present unless a filter
# narrows them, so the bench's days hold most channels (a busy stage's do).
MIN_CHANNELS = 15


def test_a_dashboard_load_costs_a_few_requests_at_any_range(stack):
    load_starter_taxonomy()
    with fit_for_threads(), fast_dynamodb_read_encoding() as fast:
        # As many items as the bench stores on the day the list starts (a page reads a partition per channel).
        loads = measure_in_stack(boto3.DEFAULT_SESSION.events, (7, 90), day_items=DAY_ITEMS)
    assert fast["BatchGetItem"] > 0  # the counters were read through the fast encoding
    from chalicelib.store import day_layout

    today = datetime.now(UTC).date()
    first_days = [today - timedelta(days=length - 1) for length in (7, 90)]
    assert all(len(day_layout.read_counts(first_days).channels[day]) >= MIN_CHANNELS for day in first_days)

    assert [(load.days, load.filtered) for load in loads] == [(7, False), (7, True), (90, False), (90, True)]
    for load in loads:
        total = sum(load.requests.values())
        # /stats: a BatchGetItem per 50 days of counters (range and period before), the negatives' Query and
        # BatchGetItem; the list: its first page, one Query per partition (day and channel) read.
        assert 3 <= total <= TARGET_DASHBOARD_REQUESTS_90_DAYS, load
        # /stats 2 (7 days) or 5 (90 days), and the list's counters: 1 for its first 49 days unfiltered,
        # every day's (49 days and the completeness mark a request) filtered, to skip days without a match.
        list_counter_reads = 1 if load.days == 7 or not load.filtered else 2
        assert load.requests["BatchGetItem"] == (2 if load.days == 7 else 5) + list_counter_reads, load
        assert load.read_units > 0
        if load.filtered:
            # The negatives' Query, and the form channel's partitions of the first day only (its counters
            # say the form's items are all there), not one per channel of that day.
            assert load.requests["Query"] == 1 + settings().channel_shards, load
    assert "Scan" not in {op for load in loads for op in load.requests}
    lines = dashboard_cost_section(loads)
    assert sum(line.startswith("| 90 days") for line in lines) == 2


def test_a_90_day_load_of_a_busy_stage_costs_a_few_requests_and_states_its_time(stack):
    load_starter_taxonomy()
    with fit_for_threads(), fast_dynamodb_read_encoding() as fast:
        measure_in_stack(boto3.DEFAULT_SESSION.events, (90,), day_items=30)
        loads = measure_million_in_stack(
            boto3.DEFAULT_SESSION.events, items_per_day=400, repeats=1, day_items=60
        )
    assert fast["BatchGetItem"] > 0

    assert [(load.days, load.filtered) for load in loads] == [(90, False), (90, True)]
    for load in loads:
        # /stats: 360 counter items (range and period before, 2 shards) in 4 BatchGetItem, the negatives'
        # Query and BatchGetItem, whatever a day holds; the list: its first page.
        assert load.stats_requests == 6, load
        assert load.stats_requests < sum(load.requests.values()) <= TARGET_DASHBOARD_REQUESTS_90_DAYS, load
        assert load.read_units >= 360 * 0.5 and load.stats_bytes > 0
        assert load.stats_cpu_seconds is not None and load.stats_cpu_seconds > 0
        assert load.projected_seconds() is not None
    lines = dashboard_cost_section(loads)
    assert any(line.startswith("| none | ") for line in lines)
    assert any(f"times 1,769/{READ_FUNCTION_MB}" in line for line in lines)


def test_the_latency_grid_projects_each_range_and_volume(stack):
    load_starter_taxonomy()
    with fit_for_threads(), fast_dynamodb_read_encoding() as fast:
        loads = measure_latency_in_stack(
            boto3.DEFAULT_SESSION.events, volumes=(40, 120), ranges=(7, 30), repeats=1
        )
    assert fast["BatchGetItem"] > 0

    assert [(load.items_per_day, load.days, load.filtered) for load in loads] == [
        (volume, days, filtered) for volume in (40, 120) for days in (7, 30) for filtered in (False, True)
    ]
    for load in loads:
        # The counters of the range and the period before (2 shards a day, 100 keys a request), and the
        # negatives' Query (no negative stored: no BatchGetItem for them).
        assert load.requests["BatchGetItem"] == (1 if load.days == 7 else 2), load
        assert load.stats_requests == sum(load.requests.values()) and load.stats_bytes > 0
        assert load.stats_cpu_seconds is not None and load.stats_cpu_seconds > 0 and load.grid
    lines = dashboard_cost_section(loads)
    assert sum(line.startswith("| 30 days | 120 | ") for line in lines) == 2
    assert not any(line.startswith("| 7 days | none | ") for line in lines)  # not a dashboard load's row
