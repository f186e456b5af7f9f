"""Filtered `GET /feedback`: DynamoDB requests and read units per page, against moto, for a range of days
seeded at a fixed number of items a day (an absent channel, a rare channel, a common channel, the rare
channel's source, a customer with dates), the day
counters kept as the write path keeps them and marked complete (so the counters may rule days out). At
HIGH_PER_DAY items a day only the counters are seeded, for the absent channel: its listing reads no item
(the requests column shows any day it would read).

`python -m tools.bench.listings [--per-day N] [--days 7 30 90]` prints the table alone.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from tools.bench.counting import event_key
from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches, write_items

PER_DAY = 1000
HIGH_PER_DAY = 33_000
# Target: a filtered listing evaluates at most this many items per item it returns (the issue's "≤ 3 times
# the items returned plus the empty days skipped": the days skipped cost counter reads, reported beside it).
TARGET_EVALUATED_PER_RETURNED = 3
DAY_COUNTS = (7, 30, 90)
RARE_CHANNEL, RARE_SHARE = "trustpilot", 0.01  # one item in a hundred
ABSENT_CHANNEL = "telegram"  # none in the range
COMMON_CHANNELS = ("form", "webhook", "facebook", "instagram", "zendesk", "intercom")
# Each channel's items come from a source of their own (`bench-<channel>`): a source filter then reads only
# its channel's partitions (store/day_layout.py, source_channels), not one per channel the day holds.
RARE_SOURCE = f"bench-{RARE_CHANNEL}"
CUSTOMER_ITEMS_PER_DAY = 2  # the listed customer's share of each day
PAGE_LIMIT = 100
CHANNEL_SHARDS_TEXT = "`CHANNEL_SHARDS` shards of each day and channel, 1 by default"
READ_UNIT_BYTES = 4096
# "Before" figures, measured with this module on main at e87b05e (no read budget, no customer index with
# dates; 7 days seeded alone, 30 days as here), 1,000 items a day: days → scenario → (pages, requests, RRU)
# for the whole listing. The 90-day run of that code did not finish within an hour under moto.
BEFORE: dict[int, dict[str, tuple[int, int, float]]] = {
    7: {
        "absent channel": (1, 112, 607.0),
        "rare channel": (1, 153, 634.0),
        "customer with dates": (1, 112, 620.5),
    },
    30: {
        "absent channel": (1, 480, 2725.0),
        "rare channel": (4, 1848, 3107.0),
        "customer with dates": (1, 576, 2690.5),
    },
}


@dataclass
class ListingFigures:
    """One listing followed to its end: pages, items returned, DynamoDB requests and read units."""

    scenario: str
    days: int
    per_day: int
    pages: int = 0
    items: int = 0
    requests: int = 0
    read_units: float = 0.0
    max_page_requests: int = 0
    max_page_read_units: float = 0.0
    evaluated: int = 0
    days_skipped: int = 0
    counter_reads: int = 0  # BatchGetItem requests of a day listing (the counters; items by key otherwise)


class ReadTally:
    """DynamoDB requests and eventually consistent read units, from botocore events.

    A Query bills what it evaluated, before its FilterExpression: `ScannedCount` items of the seeded mean
    size (in the index read), rounded up to 4 KB per response; BatchGetItem/GetItem bill each item read.
    """

    def __init__(self, mean_item_bytes: float) -> None:
        self.mean_item_bytes = mean_item_bytes
        self.active = False
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.read_units = 0.0
        self.evaluated = 0
        self.batch_gets = 0
        self.days_read: set[str] = set()

    def attach(self, events: Any) -> None:
        events.register("before-send.dynamodb.*", self._on_send, unique_id="bench-listings-send")
        events.register("provide-client-params.dynamodb.*", self._on_params, unique_id="bench-listings-days")
        events.register("after-call.dynamodb.*", self._on_result, unique_id="bench-listings-read")

    def _on_send(self, **kwargs: Any) -> None:
        if self.active:
            self.requests += 1

    def _on_params(self, event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        if not self.active:
            return
        if event_key(event_name)[1] == "BatchGetItem":
            self.batch_gets += 1
        partition = params.get("ExpressionAttributeValues", {}).get(":day", {}).get("S", "")
        if partition.startswith("DAY#"):
            self.days_read.add(partition.split("#")[1])

    def _on_result(self, event_name: str, parsed: dict[str, Any], **kwargs: Any) -> None:
        if not self.active:
            return
        from tools.cost.units import item_size

        operation = event_key(event_name)[1]
        if operation == "Query":
            scanned = int(parsed.get("ScannedCount", 0))
            self.evaluated += scanned
            self.read_units += 0.5 * max(1, math.ceil(scanned * self.mean_item_bytes / READ_UNIT_BYTES))
        elif operation == "BatchGetItem":
            found = [item for items in parsed.get("Responses", {}).values() for item in items]
            self.read_units += sum(0.5 * math.ceil(item_size(item) / READ_UNIT_BYTES) for item in found)
        elif operation == "GetItem":
            self.read_units += 0.5 * max(1, math.ceil(item_size(parsed.get("Item", {})) / READ_UNIT_BYTES))


@contextmanager
def index_partitions_only() -> Iterator[None]:
    """Within the block, moto's Query on a global secondary index considers only the items of the partition
    asked for, instead of every item of the table.

    moto 5.2 compares every item's index key with the asked one through its DynamoType (about 3 µs an item):
    a 90,000-item table costs 0.3 s per Query, and a 90-day listing makes hundreds. The items it would have
    discarded are the same ones skipped here, so what a Query answers (items, order, ScannedCount,
    LastEvaluatedKey) is unchanged.
    """
    from moto.dynamodb.models.table import Table

    stock = Table.query

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        conditions = kwargs.get("hash_key_conditions")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        if not (index_name and conditions):
            return stock(self, *args, **kwargs)
        wanted = [(name, value.type, value.value) for name, value in conditions]
        every = [item for hash_set in self.items.values() for item in hash_set.values()]
        partition = [
            item
            for item in every
            if all(
                (found := item.attrs.get(name)) is not None and (found.type, found.value) == (kind, value)
                for name, kind, value in wanted
            )
        ]
        partition.sort(key=lambda item: (item.hash_key, item.range_key))
        self.all_items = lambda: partition
        try:
            return stock(self, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = stock  # type: ignore[method-assign]


def _write_counters(counts: dict[date, Any], scale: int = 1) -> None:
    """The day counters as the write path leaves them (in shard 0), each count times `scale`."""
    from chalicelib.store import counters
    from chalicelib.store.schema import RECORD_TYPE

    write_items(
        [
            {
                **counters.counter_key(day, 0),
                RECORD_TYPE: counters.COUNTER,
                **{name: n * scale for name, n in day_counts.items()},
            }
            for day, day_counts in counts.items()
        ]
    )


def _seed(days: Sequence[date], per_day: int, customer_id: str, seed: int = 15) -> tuple[float, Any]:
    """Write `per_day` stored items on each day (the mix above) and their day counters; returns their mean
    size in bytes and the counts per day."""
    from chalicelib.models import Analysis, FeedbackEvent, Kind, Sentiment, StoredFeedback
    from chalicelib.store import counters, dynamo
    from chalicelib.store import feedback as feedback_store
    from tools.bench.synthetic import synthetic_comment
    from tools.cost.units import item_size

    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    stored: list[StoredFeedback] = []
    for day in days:
        for index in range(per_day):
            stored_at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=index * 86 + 1)
            channel = RARE_CHANNEL if rng.random() < RARE_SHARE else rng.choice(COMMON_CHANNELS)
            event = FeedbackEvent.create(
                source_id=f"bench-{channel}",
                external_id=f"{day.isoformat()}-{index:06d}",
                channel=channel,
                kind=Kind.FORM_RESPONSE,
                text=synthetic_comment(rng),
                occurred_at=stored_at - timedelta(minutes=rng.randint(0, 600)),
                received_at=stored_at,
            )
            analysis = Analysis(
                sentiment=rng.choice(list(Sentiment)),
                language="en",
                analyzer="comprehend",
                analyzed_at=stored_at,
            )
            owner = customer_id if index < CUSTOMER_ITEMS_PER_DAY else None
            stored.append(StoredFeedback.from_event(event, analysis, stored_at, customer_id=owner))
            items.append(feedback_store.to_item(stored[-1]))
    write_items(items, direct=True)
    counts = counters.day_deltas(stored, [], {})
    _write_counters(counts)
    return sum(item_size(dynamo.serialize(item)) for item in items) / len(items), counts


def _follow(
    client: Any, path: str, headers: dict[str, str], tally: ReadTally, figures: ListingFigures
) -> None:
    """GET `path`, then its `next` until null, tallying each page."""
    import json

    token = None
    while True:
        before_requests, before_units = tally.requests, tally.read_units
        tally.active = True
        response = client.http.get(path + (f"&next={quote(token)}" if token else ""), headers=headers)
        tally.active = False
        body = json.loads(response.body)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {body}")
        figures.pages += 1
        figures.items += len(body["items"])
        figures.max_page_requests = max(figures.max_page_requests, tally.requests - before_requests)
        figures.max_page_read_units = max(figures.max_page_read_units, tally.read_units - before_units)
        token = body["next"]
        if token is None:
            figures.requests, figures.read_units, figures.evaluated = (
                figures.requests + tally.requests,
                figures.read_units + tally.read_units,
                tally.evaluated,
            )
            if "customer_id=" not in path:
                figures.days_skipped = figures.days - len(tally.days_read)
                figures.counter_reads = tally.batch_gets
            return


def measure_listings(
    per_day: int = PER_DAY, day_counts: Sequence[int] = DAY_COUNTS, high_per_day: int = HIGH_PER_DAY
) -> list[ListingFigures]:
    """Seed the longest range once (in moto), then follow each scenario's listing over the last `n` days;
    then the absent channel over a range a year earlier whose counters say `high_per_day` items a day."""
    prepare_environment()
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from tools.bench.moto_speedups import fast_dynamodb_read_encoding

    customer_id = "cus_" + "15" * 12
    end = datetime.now(UTC).date() - timedelta(days=1)
    all_days = [end - timedelta(days=offset) for offset in range(max(day_counts))][::-1]
    results = []
    with mock_aws(), fast_dynamodb_read_encoding(), index_partitions_only():
        boto3.setup_default_session()
        provision_stack()
        mean_bytes, counts = _seed(all_days, per_day, customer_id)
        scale = max(1, round(high_per_day / per_day))
        _write_counters({day - timedelta(days=365): day_counts for day, day_counts in counts.items()}, scale)
        import app
        from chalicelib import aws
        from chalicelib.auth import tokens
        from chalicelib.store import counters

        counters.mark_complete(all_days[0] - timedelta(days=365), end, end)

        token, _ = tokens.create_token("bench listings", ["read"])
        headers = {"Authorization": f"Bearer {token}"}
        tally = ReadTally(mean_bytes)
        tally.attach(aws.client("dynamodb").meta.events)
        with Client(app.app) as client:
            # Outside every tally: the token and the cursor key are read once and cached.
            client.http.get(f"/feedback?date={end.isoformat()}&limit=1", headers=headers)
            for days in day_counts:
                start = end - timedelta(days=days - 1)
                dates = f"from={start.isoformat()}&to={end.isoformat()}&limit={PAGE_LIMIT}"
                scenarios = {
                    "absent channel": f"/feedback?{dates}&channel={ABSENT_CHANNEL}",
                    "rare channel": f"/feedback?{dates}&channel={RARE_CHANNEL}",
                    "common channel": f"/feedback?{dates}&channel={COMMON_CHANNELS[0]}",
                    "rare source": f"/feedback?{dates}&source={RARE_SOURCE}",
                    "customer with dates": f"/feedback?{dates}&customer_id={customer_id}",
                }
                for scenario, path in scenarios.items():
                    tally.reset()
                    figures = ListingFigures(scenario, days, per_day)
                    _follow(client, path, headers, tally, figures)
                    results.append(figures)
            for days in day_counts:
                start, last = end - timedelta(days=days - 1 + 365), end - timedelta(days=365)
                path = f"/feedback?from={start.isoformat()}&to={last.isoformat()}&channel={ABSENT_CHANNEL}"
                tally.reset()
                figures = ListingFigures("absent channel (counters only)", days, per_day * scale)
                _follow(client, f"{path}&limit={PAGE_LIMIT}", headers, tally, figures)
                results.append(figures)
    reset_process_caches()
    return results


def evaluated_within_target(row: ListingFigures) -> bool:
    """Items evaluated ≤ TARGET_EVALUATED_PER_RETURNED times the items returned (the days skipped cost counter
    reads, not items)."""
    return row.evaluated <= TARGET_EVALUATED_PER_RETURNED * row.items


def listings_section(results: Sequence[ListingFigures] | None) -> list[str]:
    """The report's table: per listing followed to its end, and per page."""
    if not results:
        return ["Not run."]
    lines = [
        f"Seeded {results[0].per_day:,} stored items a day (channels mixed, {RARE_CHANNEL} about "
        f"{RARE_SHARE:.0%}, {ABSENT_CHANNEL} none, one customer {CUSTOMER_ITEMS_PER_DAY} a day) with their "
        "day counters; each listing "
        f"(`limit={PAGE_LIMIT}`) followed to its end. At {HIGH_PER_DAY:,} a day only the counters are seeded "
        "(the absent channel's listing reads no item; a day it read would show as Queries). RRU: eventually "
        "consistent read units as billed, a Query's from the items it evaluated (filtered-out ones included) "
        "at the seeded mean size. Target: items evaluated ≤ "
        f"{TARGET_EVALUATED_PER_RETURNED} times the items returned, the days skipped costing the counter "
        "reads beside it (BatchGetItem, 50 days each, once per page). The per-day index is keyed by day and "
        f"channel (store/day_layout.py: {CHANNEL_SHARDS_TEXT}), so a channel listing Queries only its "
        f"channel's partitions of the days that hold it; the common channel is {COMMON_CHANNELS[0]} (one of "
        f"{len(COMMON_CHANNELS)} sharing the rest). Each channel's items come from a source of its own: the "
        f"rare source ({RARE_SOURCE}) is read in its channel's partitions only, as the day's counters say "
        "which channels hold a source's items (`fm|` for a form, `sc|<source>|<channel>` for the others). "
        "Items seeded in the channel layout (a table written by "
        "this version; an upgraded table's older days also read the old layout's shards until `feedback "
        "rekey`).",
        "",
        "| listing | days | items/day | pages | items | requests | RRU | per page: requests (max) | "
        "RRU (max) | items evaluated | days skipped | counter reads | target | "
        "today: pages / requests / RRU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        before = BEFORE.get(row.days, {}).get(row.scenario) if row.per_day == PER_DAY else None
        before_text = f"{before[0]} / {before[1]} / {before[2]:,.1f}" if before else "—"
        day_listing = row.scenario != "customer with dates"
        lines.append(
            f"| {row.scenario} | {row.days} | {row.per_day:,} | {row.pages} | {row.items:,} | "
            f"{row.requests:,} | "
            f"{row.read_units:,.1f} | {row.max_page_requests} | {row.max_page_read_units:,.1f} | "
            f"{row.evaluated:,} | {row.days_skipped if day_listing else '—'} | "
            f"{row.counter_reads if day_listing else '—'} | "
            f"{'met' if evaluated_within_target(row) else 'MISSED'} | {before_text} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.listings")
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    parser.add_argument("--days", type=int, nargs="+", default=list(DAY_COUNTS))
    args = parser.parse_args(argv)
    print("\n".join(listings_section(measure_listings(args.per_day, args.days))))


if __name__ == "__main__":
    main()
