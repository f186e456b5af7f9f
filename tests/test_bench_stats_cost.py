"""The bench's `/stats` cost: the counters' tally sees exactly the counter Updates inside
TransactWriteItems, and `/stats` costs the same few requests at any volume."""

from __future__ import annotations

from types import SimpleNamespace

import boto3

from chalicelib.config import settings
from chalicelib.local.moto_patches import fit_for_threads
from chalicelib.local.provision import load_starter_taxonomy
from chalicelib.store import dynamo
from tools.bench.capacity import StoredItem
from tools.bench.checks import stats_checks
from tools.bench.counting import RequestCounter
from tools.bench.stats_cost import (
    TARGET_STATS_REQUESTS_93_DAYS,
    CounterCapacity,
    measure_in_stack,
    stats_cost_section,
)


def test_the_counter_tally_sizes_the_counter_update_of_a_transaction_only(stack):
    counter = RequestCounter()
    tally = CounterCapacity(counter, [])
    table = settings().table_name
    negative = {"pk": "FEEDBACK#fb_1", "sk": "FEEDBACK", "gsi3pk": "NEGATIVE", "gsi1sk": "2027-01-01#fb_1"}
    actions = [
        {"Put": {"TableName": table, "Item": dynamo.serialize(negative)}},
        {"Update": {"TableName": table, "Key": dynamo.serialize({"pk": "PROFILE#c", "sk": "PROFILE"})}},
        {
            "Update": {
                "TableName": table,
                "Key": dynamo.serialize({"pk": "COUNTER#2027-01-01", "sk": "SHARD#1"}),
            }
        },
    ]
    with counter.phase_of("write"):
        tally._on_params({"TransactItems": actions}, SimpleNamespace(name="TransactWriteItems"))
        tally._on_params({"Item": actions[0]["Put"]["Item"]}, SimpleNamespace(name="PutItem"))
    tally.resolve({("COUNTER#2027-01-01", "SHARD#1"): StoredItem(1_500, {})})

    # The 1.5 KB counter item (2 units, transactional); not the feedback item nor its negatives' entry.
    assert tally.write_1kb["write"] == {"transactional": 2, "standard": 0}


def test_stats_cost_is_a_few_requests_at_any_volume_and_the_counters_cost_some_write_units(stack):
    load_starter_taxonomy()
    with fit_for_threads():
        cost = measure_in_stack(boto3.DEFAULT_SESSION.events, 60, (7, 93), (1_000, 33_000))

    assert [(row.days, row.items_per_day) for row in cost.rows] == [
        (7, 1_000),
        (93, 1_000),
        (7, 33_000),
        (93, 33_000),
    ]
    small, large = cost.requests(93)
    # 186 days of counter items: 4 BatchGetItem; the negatives index: 1 Query; the items: 1 BatchGetItem.
    assert small == large == 6 <= TARGET_STATS_REQUESTS_93_DAYS
    assert cost.requests(7) == [3, 3]
    assert all(row.read_units > 0 for row in cost.rows)
    assert 0 < cost.counter_write_units_per_item < cost.write_units_per_item
    assert cost.counter_item_bytes > 0
    (check,) = stats_checks(cost)
    assert check.ok and check.measured == "6 / 6"
    assert any("of which the counters' Updates" in line for line in stats_cost_section(cost))


def test_a_measurement_that_saw_no_request_misses_the_target():
    from collections import Counter

    from tools.bench.stats_cost import StatsCost, StatsRow

    blind = StatsCost(10, 0.0, 0.0, 0, [StatsRow(93, 1_000, Counter(), 0.0)])
    (check,) = stats_checks(blind)
    assert not check.ok
