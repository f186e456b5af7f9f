"""DynamoDB reads per dashboard load for 7, 30 and 90 days: what the dashboard asks when it opens (its one
`GET /stats` and the first page of its list, `GET /feedback` with `limit=25`), unfiltered and filtered by a
form, at 1,000 items a day.

Built on stats_cost.py's stack: items stored through the analyze write path on the first day of each range
(where the list starts reading) and today, and the other days seeded as counter items holding those counts
scaled to the volume (a counter item's size depends on how many distinct channels, sources, ratings and
themes a day has, not on how many items).

Then the issue's figure, a 90-day range of 1,000,000 items (11,100 a day): every counter item holds the
names 11,100 synthetic items give a day (computed through the counting code), and each load states its
requests, read units, response bytes and the `/stats` handler's CPU time (moto's own excluded), with the
answer time a stated model projects on AWS against the 1 s target. Last, the same projection of `GET /stats`
alone for each range at 1,000 and 33,000 items a day.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from tools.bench.capacity import CapacityTally, global_index_keys
from tools.bench.counting import RequestCounter
from tools.bench.stats_cost import ANALYZE_BATCH, _seed_history, _themed
from tools.cost.prices import API_FUNCTION, lambda_memory_mb

DASHBOARD_RANGES = (7, 30, 90)
ITEMS_PER_DAY = 1_000
DAY_ITEMS = 200
LIST_PAGE = 25  # the dashboard's first page of items (dashboard.js THEME_PAGE)
# Target: a dashboard load, filtered or not, reads at most this many times from DynamoDB for 90 days:
# /stats' 6 requests, the list's day counters (1, or 2 filtered over 90 days) and a Query per partition its
# first page reads on its first day: a channel's until the page fills unfiltered, the form channel's alone
# filtered by the form (one per channel the day held, up to 17, before the counters said which hold a source).
TARGET_DASHBOARD_REQUESTS_90_DAYS = 15
FORM = "demo"


# The figure: a 90-day range holding 1,000,000 items answers in under a second on AWS.
MILLION_DAYS = 90
MILLION_ITEMS_PER_DAY = 11_100  # 999,000 items over 90 days
# The latency model's stated inputs (the measured ones are the requests, the bytes and the CPU time):
# .chalice/config.json: the API function's memory. 512 MB since /stats is CPU-bound (256 MB is a seventh of a
# vCPU); it at most doubles the GB-seconds of the ack path, which mostly waits on one AWS call.
READ_FUNCTION_MB = lambda_memory_mb("prod")[API_FUNCTION]
FULL_VCPU_MB = 1_769  # AWS Lambda: a function gets one full vCPU at 1,769 MB, a share in proportion below
DYNAMODB_ROUND_TRIP_MS = 10.0  # DynamoDB's documented single-digit millisecond latency, at its upper end
TRANSFER_MB_PER_SECOND = 50.0  # assumed network throughput of a Lambda function reading DynamoDB
TARGET_SECONDS = 1.0
# The projection at the volumes stats_cost.py reads, for each dashboard range.
LATENCY_VOLUMES = (1_000, 33_000)


@dataclass(frozen=True)
class DashboardLoad:
    days: int
    filtered: bool
    requests: Counter[str]  # DynamoDB operation → requests
    read_units: float
    items_per_day: int = ITEMS_PER_DAY
    stats_requests: int = 0  # of `requests`, those of `GET /stats` (made one after another)
    stats_bytes: int = 0  # the bytes of their responses
    stats_cpu_seconds: float | None = None  # CPU of the /stats handler on this machine (moto's own excluded)
    grid: bool = False  # a /stats-only load of the latency grid (LATENCY_VOLUMES by DASHBOARD_RANGES)

    def projected_seconds(self) -> float | None:
        """The `GET /stats` answer time on AWS by the model: its sequential round trips, its response bytes,
        and its CPU time scaled to the function's share of a vCPU."""
        if self.stats_cpu_seconds is None:
            return None
        round_trips = self.stats_requests * DYNAMODB_ROUND_TRIP_MS / 1000
        transfer = self.stats_bytes / (TRANSFER_MB_PER_SECOND * 1_000_000)
        return round_trips + transfer + self.stats_cpu_seconds * FULL_VCPU_MB / READ_FUNCTION_MB


def _counted_as_deployed() -> None:
    """The counters' completeness mark a new stage's deploy sets (deploy_hooks): without it every reader of
    the per-day index also Queries the old layout's shards of each day, which a new table never holds."""
    from chalicelib.store import counters

    counters.mark_complete_if_unset(counters.EVERY_DAY)


def _store_day(count: int, day: Any, parents: dict[str, str | None]) -> None:
    """`count` synthetic items stored on `day` through the analyze write path, an analyze batch at a time."""
    import random

    from chalicelib.aws import chunked
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution
    from tools.bench.synthetic import synthetic_stored

    # Seeded by the count, not the date: the same mix whichever day the bench runs on (the first page of a
    # filtered list reads as many partitions as it takes to find its items, so the mix sets the requests).
    rng = random.Random(count)
    start = datetime.combine(day, datetime.min.time(), UTC)
    items = [
        _spread(
            rng,
            _themed(rng, synthetic_stored(rng, f"dash-{day}-{n:05d}", start + timedelta(seconds=n)), parents),
        )
        for n in range(count)
    ]
    for batch in chunked(items, ANALYZE_BATCH):
        outcome = feedback_write.save_feedback(batch, Resolution(), parents)
        assert not outcome.failed, outcome.failed


def _spread(rng: Any, item: Any) -> Any:
    """An item not of the form moved to one of the 16 other channels, from that channel's own source
    (`demo-<channel>`): a busy stage's day holds many channels, an unfiltered first page reads a partition
    per channel present until it fills, and the form's list the form channel's only (the day's counters say
    which channels hold a source's items)."""
    from chalicelib.models import Channel

    if item.source_id == FORM:
        return item
    channel = rng.choice([channel for channel in Channel if channel != Channel.FORM])
    return item.model_copy(update={"channel": channel, "source_id": f"{FORM}-{channel.value}"})


def _one_load(days: list[Any], filtered: bool) -> None:
    """What the dashboard asks on opening: /stats, then the list's first page (as the routes compute them)."""
    from chalicelib.read import stats
    from chalicelib.store import feedback_pages

    only = stats.Slice("source", FORM) if filtered else None
    stats.compute(days, only=only)
    filters = feedback_pages.Filters(source_id=FORM if filtered else None)
    feedback_pages.page_days(days, filters, LIST_PAGE)


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
        loads += measure_million_in_stack(boto3.DEFAULT_SESSION.events)
        loads += measure_latency_in_stack(boto3.DEFAULT_SESSION.events)
    reset_process_caches()
    return loads


def measure_in_stack(events: Any, ranges: Sequence[int], day_items: int = DAY_ITEMS) -> list[DashboardLoad]:
    """Store and seed the days, then load the dashboard for each range, counting on `events`."""
    from chalicelib import aws
    from chalicelib.store import counters
    from chalicelib.themes import records as taxonomy_records

    _counted_as_deployed()
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


@contextmanager
def moto_cpu() -> Iterator[list[float]]:
    """The CPU time moto spends answering (its stubber, which serves each request in process), so that the
    handler's own CPU is what remains of a load's."""
    from moto.core.botocore_stubber import BotocoreStubber

    spent = [0.0]
    stock = BotocoreStubber.__call__

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return stock(self, *args, **kwargs)
        finally:
            spent[0] += time.process_time() - start

    with mock.patch.object(BotocoreStubber, "__call__", timed):
        yield spent


def _realistic_day(items_per_day: int, parents: dict[str, str | None]) -> Counter[str]:
    """What `items_per_day` synthetic items add to a day's counters (computed, not stored): the names a busy
    day holds, so the counter items have their size at that volume."""
    import random

    from chalicelib.store import counters
    from tools.bench.synthetic import synthetic_stored

    rng = random.Random(90)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        _themed(rng, synthetic_stored(rng, f"m-{n:05d}", start + timedelta(seconds=n)), parents)
        for n in range(items_per_day)
    ]
    return counters.day_deltas(items, [], parents)[start.date()]


def _seed_million(today: Any, counts: Counter[str], days: int) -> None:
    """Both shards of every day of the range and the period before hold the day's names (as concurrent
    writers spread each name over both), the counts split between them."""
    from chalicelib.store import counters
    from chalicelib.store.schema import RECORD_TYPE
    from tools.bench.stack import write_items

    halves = [
        {name: n - n // 2 for name, n in counts.items()},
        {name: n // 2 or 1 for name, n in counts.items()},
    ]
    write_items(
        [
            {
                **counters.counter_key(today - timedelta(days=back), shard),
                RECORD_TYPE: counters.COUNTER,
                **half,
            }
            for back in range(2 * days)
            for shard, half in enumerate(halves)
        ]
    )


def measure_million_in_stack(
    events: Any,
    items_per_day: int = MILLION_ITEMS_PER_DAY,
    days: int = MILLION_DAYS,
    repeats: int = 3,
    day_items: int = DAY_ITEMS,
) -> list[DashboardLoad]:
    """Dashboard loads over `days` days of `items_per_day` items (after measure_in_stack stored today's
    items): requests, read units, and the /stats handler's CPU (the least of `repeats` runs)."""
    from chalicelib import aws
    from chalicelib.read import stats
    from chalicelib.themes import records as taxonomy_records
    from tools.bench.capacity import take_inventory

    _counted_as_deployed()
    counter = RequestCounter()
    capacity = CapacityTally(counter, global_index_keys())
    received: Counter[str] = Counter()

    def response_bytes(http_response: Any, **_: Any) -> None:
        received[str(counter.phase)] += len(http_response.content or b"")

    for tally in (counter, capacity):
        tally.attach(events)
    events.register("after-call.dynamodb", response_bytes)
    aws.reset_clients()
    today = datetime.now(UTC).date()
    _seed_million(today, _realistic_day(items_per_day, taxonomy_records.current().parents()), days)
    # Items on the range's first day, where the list starts.
    _store_day(day_items, today - timedelta(days=days - 1), taxonomy_records.current().parents())
    capacity.resolve(take_inventory().items)
    range_days = [today - timedelta(days=back) for back in reversed(range(days))]
    loads = []
    for filtered in (False, True):
        only = stats.Slice("source", FORM) if filtered else None
        cpu = stats_cpu(range_days, only, repeats)
        phase = f"million {filtered} stats"
        taxonomy_records.current()
        with counter.phase_of(phase):
            stats.compute(range_days, only=only)
        stats_requests = sum(
            n for (service, _), n in counter.requests(phase).items() if service == "dynamodb"
        )
        stats_bytes = received[phase]
        phase = f"million {filtered} load"
        taxonomy_records.current()
        with counter.phase_of(phase):
            _one_load(range_days, filtered)
        requests = Counter(
            {op: n for (service, op), n in counter.requests(phase).items() if service == "dynamodb"}
        )
        reads = capacity.read_4kb[phase]
        loads.append(
            DashboardLoad(
                days,
                filtered,
                requests,
                0.5 * reads["eventual"] + reads["strong"],
                items_per_day,
                stats_requests,
                stats_bytes,
                cpu,
            )
        )
    events.unregister("after-call.dynamodb", response_bytes)
    return loads


def stats_cpu(days: list[Any], only: Any, repeats: int) -> float:
    """The `/stats` handler's CPU over `days` (the least of `repeats` runs), moto's own excluded, and outside
    any counted phase: the bench's tallies (requests, read units) walk every attribute read, which the
    deployed function does not do."""
    from chalicelib.read import stats
    from chalicelib.themes import records as taxonomy_records

    cpu = []
    for _ in range(repeats):
        taxonomy_records.current()  # cached, as in a warm function
        with moto_cpu() as in_moto:
            start = time.process_time()
            stats.compute(days, only=only)
            cpu.append(time.process_time() - start - in_moto[0])
    return min(cpu)


def measure_latency_in_stack(
    events: Any,
    volumes: Sequence[int] = LATENCY_VOLUMES,
    ranges: Sequence[int] = DASHBOARD_RANGES,
    repeats: int = 3,
) -> list[DashboardLoad]:
    """`GET /stats` alone (unfiltered and by a form) for each range at each volume a day: its requests, the
    bytes DynamoDB answers and the handler's CPU, for the projection (the list's page is made alongside)."""
    from chalicelib import aws
    from chalicelib.read import stats
    from chalicelib.themes import records as taxonomy_records

    counter = RequestCounter()
    received: Counter[str] = Counter()

    def response_bytes(http_response: Any, **_: Any) -> None:
        received[str(counter.phase)] += len(http_response.content or b"")

    counter.attach(events)
    events.register("after-call.dynamodb", response_bytes)
    aws.reset_clients()
    today = datetime.now(UTC).date()
    loads = []
    for volume in volumes:
        _seed_million(today, _realistic_day(volume, taxonomy_records.current().parents()), max(ranges))
        for length in ranges:
            days = [today - timedelta(days=back) for back in reversed(range(length))]
            for filtered in (False, True):
                only = stats.Slice("source", FORM) if filtered else None
                cpu = stats_cpu(days, only, repeats)
                phase = f"latency {volume} {length} {filtered}"
                taxonomy_records.current()  # cached, as in a warm function (a slow run outlives the cache)
                with counter.phase_of(phase):
                    stats.compute(days, only=only)
                requests = Counter(
                    {op: n for (service, op), n in counter.requests(phase).items() if service == "dynamodb"}
                )
                total = sum(requests.values())
                loads.append(
                    DashboardLoad(
                        length, filtered, requests, 0.0, volume, total, received[phase], cpu, grid=True
                    )
                )
    events.unregister("after-call.dynamodb", response_bytes)
    return loads


def million_section(loads: list[DashboardLoad]) -> list[str]:
    """The 1,000,000-item table and its latency model."""
    million = [load for load in loads if load.stats_cpu_seconds is not None and not load.grid]
    if not million:
        return []
    lines = [
        "",
        f"At {million[0].items_per_day:,} items a day over {million[0].days} days "
        f"({million[0].items_per_day * million[0].days:,} items):",
        "",
        "| filter | requests per load (of which /stats) | read units (RRU) | /stats response "
        "| /stats CPU here | projected /stats on AWS |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for load in million:
        projected = load.projected_seconds() or 0.0
        lines.append(
            f"| {'one form' if load.filtered else 'none'} | {sum(load.requests.values())} "
            f"({load.stats_requests}) | {load.read_units:,.1f} | {load.stats_bytes / 1_000_000:.2f} MB "
            f"| {1000 * (load.stats_cpu_seconds or 0):.0f} ms | {1000 * projected:.0f} ms "
            f"({'under' if projected < TARGET_SECONDS else 'OVER'} {TARGET_SECONDS:g} s) |"
        )
    return [
        *lines,
        "",
        "The model: the `/stats` requests run one after another, each a DynamoDB round trip of "
        f"{DYNAMODB_ROUND_TRIP_MS:g} ms (the documented single-digit milliseconds, at their upper end), plus "
        f"its response bytes at an assumed {TRANSFER_MB_PER_SECOND:g} MB/s, plus the handler's CPU time "
        "measured here (moto's own and the bench's request tallies excluded; the least of 3 runs) times "
        f"{FULL_VCPU_MB:,}/{READ_FUNCTION_MB} "
        f"(the {READ_FUNCTION_MB} MB function's share of a vCPU, taking a core here as fast as Lambda's). "
        "The list's page is a request of its own, made alongside.",
    ]


def latency_section(loads: list[DashboardLoad]) -> list[str]:
    """The projected `/stats` time per range and volume a day, by the million's model."""
    grid = [load for load in loads if load.grid]
    if not grid:
        return []
    lines = [
        "",
        "`GET /stats` alone per range and volume, projected on AWS by the same model:",
        "",
        "| range | items a day | filter | /stats requests | DynamoDB response | /stats CPU here "
        "| projected /stats on AWS |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for load in grid:
        projected = load.projected_seconds() or 0.0
        lines.append(
            f"| {load.days} days | {load.items_per_day:,} | {'one form' if load.filtered else 'none'} "
            f"| {load.stats_requests} | {load.stats_bytes / 1_000_000:.2f} MB "
            f"| {1000 * (load.stats_cpu_seconds or 0):.0f} ms | {1000 * projected:.0f} ms "
            f"({'under' if projected < TARGET_SECONDS else 'OVER'} {TARGET_SECONDS:g} s) |"
        )
    return lines


def dashboard_cost_section(loads: list[DashboardLoad] | None) -> list[str]:
    """The per-load table for BENCHMARKS.md."""
    if not loads:
        return ["Not measured."]
    lines = [
        "| range | filter | DynamoDB requests | by operation | read units (RRU) |",
        "|---:|---|---:|---|---:|",
    ]
    for load in (load for load in loads if load.stats_cpu_seconds is None and not load.grid):
        operations = ", ".join(f"{op} {n}" for op, n in sorted(load.requests.items()))
        lines.append(
            f"| {load.days} days | {'one form' if load.filtered else 'none'} | {sum(load.requests.values())} "
            f"| {operations} | {load.read_units:,.1f} |"
        )
    return [
        *lines,
        "",
        f"A dashboard load at {ITEMS_PER_DAY:,} items a day: its `GET /stats` (the counter items of the "
        "range and of the period before, the newest negatives by their index and their items) and the first "
        "page "
        f"of its list (`GET /feedback`, {LIST_PAGE} items, the day it starts on holding items of all 17 "
        "channels: unfiltered, a Query per channel until the page fills; with the form filter, the form "
        "channel's partition alone, as the day's counters say the form's items are all there). A click on a "
        "chart, a theme or a customer adds one such page or one profile Query.",
        *million_section(loads),
        *latency_section(loads),
    ]


if __name__ == "__main__":
    print("\n".join(dashboard_cost_section(measure_dashboard_cost())))
