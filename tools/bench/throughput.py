"""The export throughput run: one day of 100,000 stored items exported in a worker process, timed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tools.bench.counting import Key, RequestCounter, per_thousand
from tools.bench.moto_speedups import fast_dynamodb_read_encoding
from tools.bench.pipeline import export_days
from tools.bench.stack import (
    BENCH_ENVIRONMENT,
    PROJECT_DIR,
    prepare_environment,
    provision_stack,
    reset_process_caches,
    write_items,
)
from tools.bench.synthetic import profile_item, synthetic_customer, synthetic_stored

THROUGHPUT_ITEMS = 100_000

THROUGHPUT_CUSTOMER_SHARE = 0.6  # items of the throughput day written by a known customer
THROUGHPUT_ITEMS_PER_CUSTOMER = 4  # 100,000 items → 60,000 with a customer → 15,000 customers
THROUGHPUT_TIMEOUT_SECONDS = 900

THROUGHPUT_PHASE = "export throughput"


@dataclass
class ThroughputResult:
    """The one-day export of `items` stored items, measured in a worker process with its own moto."""

    items: int
    customers: int = 0
    exported: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    s3_objects: int = 0
    seconds: float = 0.0  # wall clock of export_day alone
    seed_seconds: float = 0.0
    table_items: int = 0  # feedback items and profiles seeded
    requests: Counter[Key] = field(default_factory=Counter)
    service_seconds: dict[str, float] = field(default_factory=dict)
    items_scanned: int = 0
    items_returned: int = 0
    items_got: int = 0
    retries: int = 0
    unsent: list[str] = field(default_factory=list)
    fast_encoded: dict[str, int] = field(default_factory=dict)  # responses json.dumps encoded, by operation
    error: str | None = None

    @property
    def items_per_minute(self) -> float:
        return self.exported * 60 / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["requests"] = [[service, operation, n] for (service, operation), n in self.requests.items()]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThroughputResult:
        requests = Counter({(service, operation): n for service, operation, n in data.pop("requests")})
        return cls(**data, requests=requests)


def in_id_order(stored: list[Any]) -> list[Any]:
    """The same items and the same stored times, the times handed out in feedback-id order (each item's
    other timestamps move with its stored time).

    For DynamoDB and the app this is one random day like any other. For moto it means a shard's items come
    out of its primary-key sort already in index order, so the per-page sort of each Query stays linear.
    """
    times = sorted(item.stored_at for item in stored)
    moved = []
    for item, at in zip(sorted(stored, key=lambda i: i.feedback_id), times, strict=True):
        shift = at - item.stored_at
        moved.append(
            item.model_copy(
                update={
                    "stored_at": at,
                    "analyzed_at": item.analyzed_at + shift,
                    "occurred_at": item.occurred_at + shift,
                    "received_at": item.received_at + shift,
                }
            )
        )
    return moved


def seed_day(day: date, count: int, seed: int = 13) -> tuple[int, int]:
    """Write `count` stored items on `day`, THROUGHPUT_CUSTOMER_SHARE of them by known customers (about
    THROUGHPUT_ITEMS_PER_CUSTOMER items each), with those customers' profiles, straight into moto's
    backend (not counted); (items, customers)."""
    from chalicelib.store import feedback as feedback_store

    rng = random.Random(seed)
    customers = [
        synthetic_customer(n)
        for n in range(max(1, round(count * THROUGHPUT_CUSTOMER_SHARE / THROUGHPUT_ITEMS_PER_CUSTOMER)))
    ]
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    stored = []
    for index in range(count):
        stored_at = midnight + timedelta(microseconds=rng.randrange(86_400 * 10**6))
        customer = rng.choice(customers) if rng.random() < THROUGHPUT_CUSTOMER_SHARE else None
        stored.append(synthetic_stored(rng, f"day-{index:06d}", stored_at, customer))
    stored = in_id_order(stored)
    by_customer: defaultdict[str, list[Any]] = defaultdict(list)
    for item in stored:
        if item.customer_id is not None:
            by_customer[item.customer_id].append(item)
    known = {customer.customer_id: customer for customer in customers}
    now = midnight + timedelta(days=1)
    items = [feedback_store.to_item(item) for item in stored]
    items += [profile_item(known[cid], found, now) for cid, found in by_customer.items()]
    write_items(items, direct=True)
    return count, len(by_customer)


def run_throughput(items: int) -> ThroughputResult:
    """Seed `items` stored items on one day (with customers and profiles) in a fresh moto, then time
    export_day for that day alone, counting its requests."""
    prepare_environment()
    import boto3
    from moto import mock_aws

    counter = RequestCounter()
    result = ThroughputResult(items=items)
    day = datetime.now(UTC).date() - timedelta(days=1)
    with mock_aws():
        boto3.setup_default_session()
        counter.attach(boto3.DEFAULT_SESSION.events)
        provision_stack()
        started = time.perf_counter()
        _, result.customers = seed_day(day, items)
        result.seed_seconds = time.perf_counter() - started
        result.table_items = items + result.customers  # and the demo form: no Scan of 100,000 items in moto
        started = time.perf_counter()
        with fast_dynamodb_read_encoding() as fast, counter.phase_of(THROUGHPUT_PHASE):
            result.exported, result.s3_objects, counts = export_days([day])
        result.seconds = time.perf_counter() - started
        result.fast_encoded = dict(fast)
    reset_process_caches()
    result.counts = dict(counts)
    result.requests = counter.requests(THROUGHPUT_PHASE)
    result.service_seconds = dict(counter.seconds[THROUGHPUT_PHASE])
    result.items_scanned = counter.items_scanned[THROUGHPUT_PHASE]
    result.items_returned = counter.items_returned[THROUGHPUT_PHASE]
    result.items_got = counter.items_got[THROUGHPUT_PHASE]
    result.retries = counter.retries(THROUGHPUT_PHASE)
    result.unsent = counter.unsent_calls()
    return result


def throughput_worker(path: Path, items: int) -> int:
    """`--throughput-worker`: run_throughput in this process, its result as JSON in `path`."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            result = run_throughput(items)
    except Exception as error:  # reported in BENCHMARKS.md as a failed check
        result = ThroughputResult(items=items, error=f"{type(error).__name__}: {error}")
    path.write_text(json.dumps(result.to_json()), encoding="utf-8")
    return 0 if result.error is None else 1


@dataclass
class ThroughputWorker:
    """The throughput run in a child interpreter, beside the main run (2 cores: one each)."""

    items: int
    directory: tempfile.TemporaryDirectory[str] = field(default_factory=tempfile.TemporaryDirectory)
    process: subprocess.Popen[bytes] | None = None

    @property
    def result_path(self) -> Path:
        return Path(self.directory.name) / "throughput.json"

    def start(self) -> ThroughputWorker:
        log = (Path(self.directory.name) / "worker.log").open("wb")
        args = ["-m", "tools.bench", "--throughput-worker", str(self.result_path), "--throughput-items"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter with fixed arguments
            [sys.executable, *args, str(self.items)],
            cwd=PROJECT_DIR,
            env={**os.environ, **BENCH_ENVIRONMENT},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def stop(self) -> None:
        """End the worker (the main run failed or was interrupted) and drop its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.directory.cleanup()

    def result(self, timeout: float = THROUGHPUT_TIMEOUT_SECONDS) -> ThroughputResult:
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return ThroughputResult(items=self.items, error=f"worker still running after {timeout:.0f} s")
        try:
            if self.result_path.exists():
                return ThroughputResult.from_json(json.loads(self.result_path.read_text(encoding="utf-8")))
            log = (Path(self.directory.name) / "worker.log").read_text(encoding="utf-8", errors="replace")
            tail = " | ".join(log.strip().splitlines()[-3:])
            return ThroughputResult(
                items=self.items, error=f"worker exited {self.process.returncode}: {tail}"
            )
        finally:
            self.directory.cleanup()


def throughput_section(throughput: ThroughputResult | None) -> list[str]:
    if throughput is None:
        return ["Not run (`--quick`)."]
    if throughput.error is not None:
        return [f"The worker failed: {throughput.error}"]
    requests = throughput.requests
    per_item = throughput.items_scanned / max(1, throughput.exported)
    counts = ", ".join(f"{name} {n:,}" for name, n in sorted(throughput.counts.items()))
    inside = ", ".join(
        f"{service} {seconds:.0f} s" for service, seconds in sorted(throughput.service_seconds.items())
    )
    fast = ", ".join(f"{op} {n}" for op, n in sorted(throughput.fast_encoded.items())) or "none"
    lines = [
        f"One UTC day holding {throughput.items:,} stored items (channels, ratings, languages, sentiment "
        f"scores and redaction flags as the analyze path stores them; {THROUGHPUT_CUSTOMER_SHARE:.0%} by "
        f"{throughput.customers:,} known customers, whose profiles are in the table too: "
        f"{throughput.table_items:,} items in all), exported with `export_day` in a worker process with its "
        f"own moto, beside the main run.",
        "",
        f"- **{throughput.items_per_minute:,.0f} items per minute**: {throughput.exported:,} items in "
        f"{throughput.seconds:.1f} s of wall clock for `export_day` alone. This is moto in process on this "
        "machine, not AWS: of those seconds, inside API calls (moto's work plus botocore's parsing): "
        f"{inside}.",
        f"- Items read through the per-day index (sum of Query ScannedCount): {throughput.items_scanned:,} "
        f"(Count: {throughput.items_returned:,}) → **{per_item:.3f} per exported item**. Items fetched by "
        f"key (GetItem/BatchGetItem, the customers' profiles): {throughput.items_got:,}.",
        f"- Manifest counts: {counts}; S3 objects: {throughput.s3_objects}.",
        "",
        "| service | operation | requests | per 1,000 exported items |",
        "|---|---|---:|---:|",
    ]
    for (service, operation), n in sorted(requests.items()):
        lines.append(
            f"| {service} | {operation} | {n} | {per_thousand(n, max(1, throughput.exported)):.2f} |"
        )
    lines += [
        "",
        f"HTTP retries by botocore: {throughput.retries}. Seeding the day straight into moto's backend (not "
        f"counted, see How measured) took {throughput.seed_seconds:.0f} s. Responses encoded with "
        f"`json.dumps` instead of moto's serializer (see How measured): {fast}.",
    ]
    return lines
