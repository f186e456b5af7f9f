"""`GET /stats` read from the day counters: DynamoDB requests and read units per request for 7, 30 and 93 days
at 1,000 and 33,000 items a day, and the write units per stored item the counters add to the analyze write.

The bench's own items (`STATS_ITEMS`, stored today through the real write path in analyze batches of 100, as
the analyze step stores a batch) make today's counter items, and are what the write units are measured on.
The 185 days before today are seeded outside every counted phase, straight as counter items holding today's
counts scaled to each volume: a counter item's size depends on how many distinct channels, sources, ratings
and themes a day has, not on how many items, so a volume changes only the numbers in it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.ingest import ANALYZE_BATCH_SIZE
from tools.bench.capacity import CapacityTally, global_index_keys, take_inventory
from tools.bench.counting import RequestCounter

STATS_ITEMS = 500
ANALYZE_BATCH = ANALYZE_BATCH_SIZE  # the analyze function's batch (chalicelib/ingest)
RANGES = (7, 30, 93)
VOLUMES = (1_000, 33_000)
# Target (BENCHMARKS.md, "Targets"): whatever the volume.
TARGET_STATS_REQUESTS_93_DAYS = 10
THEMED_SHARE = 0.7
WRITE_PHASE = "write"


@dataclass(frozen=True)
class StatsRow:
    days: int
    items_per_day: int
    requests: Counter[str]  # DynamoDB operation → requests
    read_units: float  # RRU: half a unit per 4 KB read eventually consistent


@dataclass
class StatsCost:
    items: int
    write_units_per_item: float  # WRU per stored item, all the write path's writes
    counter_write_units_per_item: float  # of which the counter Updates
    counter_item_bytes: int  # today's largest counter item
    rows: list[StatsRow] = field(default_factory=list)

    def requests(self, days: int) -> list[int]:
        """DynamoDB requests per `/stats` of `days` days, one per volume measured."""
        return [sum(row.requests.values()) for row in self.rows if row.days == days]


def is_counter_action(action: dict[str, Any]) -> bool:
    """A TransactWriteItems action on a counter item."""
    from chalicelib.store.counters import COUNTER
    from chalicelib.store.schema import PK

    (body,) = action.values()
    pk = (body.get("Key") or body.get("Item") or {}).get(PK, {}).get("S", "")
    return pk.startswith(f"{COUNTER}#")


class CounterCapacity(CapacityTally):
    """A CapacityTally of the counter actions inside TransactWriteItems only (sized by the same rules)."""

    def _on_params(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if model.name == "TransactWriteItems":
            counted = [action for action in params.get("TransactItems", []) if is_counter_action(action)]
            super()._on_params({"TransactItems": counted}, model, **kwargs)

    def _on_result(self, event_name: str, parsed: dict[str, Any], **kwargs: Any) -> None:
        return None


def write_units(tally: CapacityTally, phase: str) -> int:
    """WRU as on-demand bills them: two per 1 KB unit in a transaction, one per plain write or index entry."""
    writes = tally.write_1kb[phase]
    return 2 * writes["transactional"] + writes["standard"]


def _themed(rng: random.Random, item: Any, parents: dict[str, str | None]) -> Any:
    from chalicelib.models import Sentiment, ThemeTag

    if rng.random() > THEMED_SHARE or not parents:
        return item
    themes = rng.sample(sorted(parents), rng.randint(1, 3))
    tags = [ThemeTag(id=t, sentiment=rng.choice(list(Sentiment)), evidence="...") for t in themes]
    return item.model_copy(update={"themes": tags})


def _store_items(count: int, today: date, parents: dict[str, str | None]) -> None:
    """`count` synthetic items stored today through the analyze write path, an analyze batch at a time."""
    from chalicelib.aws import chunked
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution
    from tools.bench.synthetic import synthetic_stored

    rng = random.Random(15)
    start = datetime.combine(today, datetime.min.time(), UTC)
    items = [
        _themed(rng, synthetic_stored(rng, f"stats-{n:05d}", start + timedelta(seconds=n)), parents)
        for n in range(count)
    ]
    for batch in chunked(items, ANALYZE_BATCH):
        outcome = feedback_write.save_feedback(batch, Resolution(), parents)
        assert not outcome.failed, outcome.failed


def _seed_history(today: date, counts: Counter[str], scale: float, days: int) -> None:
    """Counter items for the `days` days before today: today's counts times `scale` (not counted)."""
    from chalicelib.store import counters
    from chalicelib.store.schema import RECORD_TYPE
    from tools.bench.stack import write_items

    scaled = {name: max(1, round(n * scale)) for name, n in counts.items()}
    write_items(
        [
            {**counters.counter_key(today - timedelta(days=back), 0), RECORD_TYPE: counters.COUNTER, **scaled}
            for back in range(1, days + 1)
        ]
    )


def measure_stats_cost(
    items: int = STATS_ITEMS, ranges: Sequence[int] = RANGES, volumes: Sequence[int] = VOLUMES
) -> StatsCost:
    """The measurement on its own moto stack (the starter taxonomy loaded, as deployed)."""
    from tools.bench.moto_speedups import one_rollback_copy_per_transaction
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    with mock_aws(), one_rollback_copy_per_transaction():
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events
        provision_stack()
        result = measure_in_stack(events, items, ranges, volumes)
    reset_process_caches()
    return result


def measure_in_stack(events: Any, items: int, ranges: Sequence[int], volumes: Sequence[int]) -> StatsCost:
    """Store `items` today through the write path, then ask `/stats` for each range at each volume, counting
    on `events` (the default boto3 session's)."""
    from chalicelib import aws
    from chalicelib.read import stats
    from chalicelib.store import counters
    from chalicelib.store.schema import PK, SK
    from chalicelib.themes import records as taxonomy_records

    counter = RequestCounter()
    capacity = CapacityTally(counter, global_index_keys())
    counted = CounterCapacity(counter, global_index_keys())
    for tally in (counter, capacity, counted):
        tally.attach(events)
    aws.reset_clients()  # a client copies its session's handlers when created: these clients see the tallies
    today = datetime.now(UTC).date()
    parents = taxonomy_records.current().parents()
    with counter.phase_of(WRITE_PHASE):
        _store_items(items, today, parents)
    inventory = take_inventory()
    capacity.resolve(inventory.items)
    counted.resolve(inventory.items)
    sizes = [inventory.items.get((key[PK], key[SK])) for key in counters.counter_keys([today])]
    result = StatsCost(
        items=items,
        write_units_per_item=write_units(capacity, WRITE_PHASE) / items,
        counter_write_units_per_item=write_units(counted, WRITE_PHASE) / items,
        counter_item_bytes=max((size.size for size in sizes if size), default=0),
    )
    today_counts = counters.read_days([today])[today]
    for volume in volumes:
        _seed_history(today, today_counts, volume / items, 2 * max(ranges) - 1)
        for length in ranges:
            days = [today - timedelta(days=back) for back in reversed(range(length))]
            phase = f"stats {length} days at {volume}"
            taxonomy_records.current()  # cached, as in a warm function (a slow run outlives the cache)
            stats.name_sources({"sources": []})  # the forms' and sources' names too (a cold one: 2 Queries)
            with counter.phase_of(phase):
                stats.name_sources(stats.compute(days))  # what GET /stats answers
            requests = Counter(
                {op: n for (service, op), n in counter.requests(phase).items() if service == "dynamodb"}
            )
            reads = capacity.read_4kb[phase]
            result.rows.append(StatsRow(length, volume, requests, 0.5 * reads["eventual"] + reads["strong"]))
    return result


def stats_cost_section(cost: StatsCost | None) -> list[str]:
    """The `/stats` cost table and the counters' share of the write units."""
    if cost is None:
        return ["Not measured."]
    lines = [
        "| range | items a day | DynamoDB requests | by operation | read units (RRU) |",
        "|---:|---:|---:|---|---:|",
    ]
    for row in cost.rows:
        operations = ", ".join(f"{op} {n}" for op, n in sorted(row.requests.items()))
        lines.append(
            f"| {row.days} days | {row.items_per_day:,} | {sum(row.requests.values())} | {operations} "
            f"| {row.read_units:,.1f} |"
        )
    before = cost.write_units_per_item - cost.counter_write_units_per_item
    return [
        *lines,
        "",
        "`/stats` reads the counter items of the range and of the period before it (two shards a day, a "
        "BatchGetItem per 50 days), one Query of the sparse index of negatives and one BatchGetItem of those "
        "items; before the counters it ran 8 Queries a day and read every item of the range. "
        f"Today's counter items hold the counts of {cost.items} items stored through the analyze write "
        "path (70% tagged with 1-3 themes of the starter taxonomy); the days before are seeded as counter "
        "items with those counts scaled to the volume. "
        f"The largest counter item is {cost.counter_item_bytes:,} bytes.",
        "",
        f"Write units per stored item (analyze write path, batches of {ANALYZE_BATCH}, no customer): "
        f"{cost.write_units_per_item:.2f} WRU, of which the counters' Updates "
        f"{cost.counter_write_units_per_item:.2f} ({before:.2f} without them).",
    ]
