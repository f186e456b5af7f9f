"""DynamoDB reads per dashboard load for 7, 30 and 90 days: what the dashboard asks when it opens (its one
`GET /stats` and the first page of its list, `GET /feedback` with `limit=25`), unfiltered and filtered by a
form, at 1,000 items a day.

Built on stats_cost.py's stack: items stored through the analyze write path on the first day of each range
(where the list starts reading) and today, and the other days seeded as counter items holding those counts
scaled to the volume (a counter item's size depends on how many distinct channels, sources, ratings and
themes a day has, not on how many items).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.bench.capacity import CapacityTally, global_index_keys
from tools.bench.counting import RequestCounter
from tools.bench.stats_cost import ANALYZE_BATCH, _seed_history, _themed

DASHBOARD_RANGES = (7, 30, 90)
ITEMS_PER_DAY = 1_000
DAY_ITEMS = 200
LIST_PAGE = 25  # the dashboard's first page of items (dashboard.js THEME_PAGE)
# Target: a dashboard load, filtered or not, reads at most this many times from DynamoDB for 90 days.
TARGET_DASHBOARD_REQUESTS_90_DAYS = 12
FORM = "demo"


@dataclass(frozen=True)
class DashboardLoad:
    days: int
    filtered: bool
    requests: Counter[str]  # DynamoDB operation → requests
    read_units: float


def _store_day(count: int, day: Any, parents: dict[str, str | None]) -> None:
    """`count` synthetic items stored on `day` through the analyze write path, a batch of 25 at a time."""
    import random

    from chalicelib.aws import chunked
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution
    from tools.bench.synthetic import synthetic_stored

    rng = random.Random(day.toordinal())
    start = datetime.combine(day, datetime.min.time(), UTC)
    items = [
        _themed(rng, synthetic_stored(rng, f"dash-{day}-{n:05d}", start + timedelta(seconds=n)), parents)
        for n in range(count)
    ]
    for batch in chunked(items, ANALYZE_BATCH):
        outcome = feedback_write.save_feedback(batch, Resolution(), parents)
        assert not outcome.failed, outcome.failed


def _one_load(days: list[Any], filtered: bool) -> None:
    """What the dashboard asks on opening: /stats, then the list's first page (as the routes compute them)."""
    from chalicelib.read import stats
    from chalicelib.store import feedback as feedback_store

    only = stats.Slice("source", FORM) if filtered else None
    stats.compute(days, only=only)
    filters = feedback_store.Filters(source_id=FORM if filtered else None)
    feedback_store.page_days(days, filters, LIST_PAGE)


def measure_dashboard_cost(ranges: Sequence[int] = DASHBOARD_RANGES) -> list[DashboardLoad]:
    """The measurement on its own moto stack (the starter taxonomy loaded, as deployed)."""
    from tools.bench.moto_speedups import one_rollback_copy_per_transaction
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    with mock_aws(), one_rollback_copy_per_transaction():
        boto3.setup_default_session()
        provision_stack()
        loads = measure_in_stack(boto3.DEFAULT_SESSION.events, ranges)
    reset_process_caches()
    return loads


def measure_in_stack(events: Any, ranges: Sequence[int], day_items: int = DAY_ITEMS) -> list[DashboardLoad]:
    """Store and seed the days, then load the dashboard for each range, counting on `events`."""
    from chalicelib import aws
    from chalicelib.store import counters
    from chalicelib.themes import records as taxonomy_records

    counter = RequestCounter()
    capacity = CapacityTally(counter, global_index_keys())
    for tally in (counter, capacity):
        tally.attach(events)
    aws.reset_clients()  # a client copies its session's handlers when created: these clients see the tallies
    today = datetime.now(UTC).date()
    parents = taxonomy_records.current().parents()
    with counter.phase_of("seed"):
        _store_day(day_items, today, parents)
        today_counts = counters.read_days([today])[today]
        _seed_history(today, today_counts, ITEMS_PER_DAY / day_items, 2 * max(ranges) - 1)
        for length in ranges:
            # Items on the range's first day, where the list starts (their counters are the seeded ones).
            _store_day(day_items, today - timedelta(days=length - 1), parents)
    from tools.bench.capacity import take_inventory

    capacity.resolve(take_inventory().items)
    loads = []
    for length in ranges:
        days = [today - timedelta(days=back) for back in reversed(range(length))]
        for filtered in (False, True):
            phase = f"dashboard {length} days{' by form' if filtered else ''}"
            taxonomy_records.current()  # cached, as in a warm function (a slow run outlives the cache)
            with counter.phase_of(phase):
                _one_load(days, filtered)
            requests = Counter(
                {op: n for (service, op), n in counter.requests(phase).items() if service == "dynamodb"}
            )
            reads = capacity.read_4kb[phase]
            loads.append(DashboardLoad(length, filtered, requests, 0.5 * reads["eventual"] + reads["strong"]))
    return loads


def dashboard_cost_section(loads: list[DashboardLoad] | None) -> list[str]:
    """The per-load table for BENCHMARKS.md."""
    if not loads:
        return ["Not measured."]
    lines = [
        "| range | filter | DynamoDB requests | by operation | read units (RRU) |",
        "|---:|---|---:|---|---:|",
    ]
    for load in loads:
        operations = ", ".join(f"{op} {n}" for op, n in sorted(load.requests.items()))
        lines.append(
            f"| {load.days} days | {'one form' if load.filtered else 'none'} | {sum(load.requests.values())} "
            f"| {operations} | {load.read_units:,.1f} |"
        )
    return [
        *lines,
        "",
        f"A dashboard load at {ITEMS_PER_DAY:,} items a day: its `GET /stats` (the counter items of the "
        "range and of the period before, the newest negative pointers and their items) and the first page "
        f"of its list (`GET /feedback`, {LIST_PAGE} items; with the form filter, items of other forms are "
        "read and left out within the page's budget). A click on a chart, a theme or a customer adds one "
        "such page or one profile Query.",
    ]


if __name__ == "__main__":
    print("\n".join(dashboard_cost_section(measure_dashboard_cost())))
