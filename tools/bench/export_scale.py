"""Export at scale: CPU per item by stage (query page parsing, attribute decoding, the model, the writers),
requests per 1,000 items, and the projected time, /tmp and memory of a 1M- and a 2M-item day.

A day of EXPORT_SCALE_ITEMS items is seeded in moto and exported once, with every DynamoDB Query response kept
as it came over the wire. The CPU of each stage is then timed apart from moto (which runs in this process and
would otherwise be counted as the app's): botocore's parse of the kept pages against the one-pass JSON parse
the export uses, boto3's TypeDeserializer against the one-pass decoder, `from_item`, and every writer of the
day fed the same items into a sink that only counts bytes.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

EXPORT_SCALE_ITEMS = 4_000
PROJECTED_DAYS = (1_000_000, 2_000_000)
# Assumptions of the projection, stated in the report.
MEMORY_BEFORE_MB = 1024  # the export function's memory before streaming (now .chalice/config.json's)
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, CPU in proportion below it
LAMBDA_LIMIT_SECONDS = 900
TMP_DEFAULT_BYTES = 512 * 1024 * 1024
QUERY_PAGE_SECONDS = 0.030  # one 1 MB DynamoDB Query page, network and service
QUERY_PAGE_BYTES = 1024 * 1024
TIMING_REPEATS = 3


@dataclass
class ExportScale:
    items: int
    requests: Counter[str] = field(default_factory=Counter)
    query_pages: int = 0
    page_bytes: int = 0  # bytes of the Query responses, as sent
    file_bytes: int = 0  # bytes of the export's files
    spool_bytes: int = 0  # the activities spool: on disk before streaming, compressed in memory now
    cpu: dict[str, float] = field(default_factory=dict)  # seconds per item by stage
    error: str | None = None
    fanout: Any = None  # export_fanout.FanoutScale: the same day's items through the fan-out's stages

    def per_item(self, *stages: str) -> float:
        return sum(self.cpu[stage] for stage in stages)


BEFORE_STAGES = ("parse: botocore", "decode: TypeDeserializer", "model", "writers")
AFTER_STAGES = ("parse: json.loads", "decode: one pass", "model", "writers")


def _cpu_per_item(run: Callable[[], Any], items: int) -> float:
    best = math.inf
    for _ in range(TIMING_REPEATS):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / max(1, items)


def day_shards() -> int:
    """Shards of the per-day index (DAY_SHARDS of .chalice/config.json): the Queries in flight at once."""
    import json

    from tools.cost.prices import CHALICE_CONFIG

    config = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
    return int(config["environment_variables"]["DAY_SHARDS"])


def export_memory_mb() -> int:
    """The deployed export function's memory (prod stage of .chalice/config.json)."""
    from tools.cost.prices import lambda_memory_mb

    return lambda_memory_mb("prod")["nightly_export"]


def measure_safely(items: int = EXPORT_SCALE_ITEMS) -> ExportScale:
    """measure(), a failure reported in the section instead of ending the bench."""
    try:
        return measure(items)
    except Exception as error:  # reported in BENCHMARKS.md as a failed check
        return ExportScale(items=items, error=f"{type(error).__name__}: {error}")


def measure(items: int = EXPORT_SCALE_ITEMS) -> ExportScale:
    """Seed and export one day in a fresh moto, then time each stage of the export's CPU apart from moto."""
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    result = ExportScale(items=items)
    day = datetime.now(UTC).date() - timedelta(days=1)
    pages: list[dict[str, Any]] = []

    def keep_page(response_dict: dict[str, Any], **_: Any) -> None:
        pages.append(copy.deepcopy(response_dict))

    def count(event_name: str, **_: Any) -> None:
        result.requests[event_name.split(".", 1)[1]] += 1

    with mock_aws():
        boto3.setup_default_session()
        provision_stack()
        from chalicelib import aws
        from chalicelib.export import day as export
        from tools.bench.throughput import seed_day

        seed_day(day, items)
        aws.client("dynamodb").meta.events.register("before-parse.dynamodb.Query", keep_page)
        for service in ("dynamodb", "s3"):
            aws.client(service).meta.events.register(f"before-call.{service}", count)
        manifest = export.export_day(day)
        result.file_bytes = sum(file["bytes"] for file in manifest["files"])
        aws.client("dynamodb").meta.events.unregister("before-parse.dynamodb.Query", keep_page)
        for service in ("dynamodb", "s3"):
            aws.client(service).meta.events.unregister(f"before-call.{service}", count)
        _time_stages(result, pages, export)
    reset_process_caches()
    return result


def _time_stages(result: ExportScale, pages: list[dict[str, Any]], export: Any) -> None:
    import json

    from botocore.parsers import create_parser

    from chalicelib import aws
    from chalicelib.export.base import for_export
    from chalicelib.export.crm import CompressedSpool, activity_row
    from chalicelib.export.streams import OutputFile
    from chalicelib.store import dynamo
    from chalicelib.store.feedback import from_item

    n = result.items
    result.query_pages = len(pages)
    result.page_bytes = sum(len(page["body"]) for page in pages)
    shape = aws.client("dynamodb").meta.service_model.operation_model("Query").output_shape
    parser = create_parser("json")
    raw_items = [item for page in pages for item in json.loads(page["body"])["Items"]]
    # TypeDeserializer takes what botocore parsed (a Binary attribute as bytes, not the wire's base64).
    parsed_items = [item for page in pages for item in parser.parse(page, shape)["Items"]]
    decoded = [dynamo.deserialize(item) for item in parsed_items]
    stored = [from_item(item) for item in decoded]
    result.cpu["parse: botocore"] = _cpu_per_item(lambda: [parser.parse(p, shape) for p in pages], n)
    result.cpu["parse: json.loads"] = _cpu_per_item(lambda: [json.loads(p["body"]) for p in pages], n)
    slow, fast = dynamo.deserialize, dynamo.decode_item
    result.cpu["decode: TypeDeserializer"] = _cpu_per_item(lambda: [slow(i) for i in parsed_items], n)
    result.cpu["decode: one pass"] = _cpu_per_item(lambda: [fast(i) for i in raw_items], n)
    result.cpu["model"] = _cpu_per_item(lambda: [from_item(i) for i in decoded], n)

    class CountingSink(OutputFile):
        def _send(self, data: memoryview) -> None:
            pass

        def _finish(self) -> None:
            pass

        def _discard(self) -> None:
            pass

    class NullTarget:
        def open(self, filename: str, key_prefix: str, content_type: str) -> OutputFile:
            return CountingSink(filename)

        def abort_all(self) -> None:
            pass

    # The profiles read once here: moto's response encoding would otherwise be timed as the writers' CPU.
    from chalicelib.export import crm

    real_resolve = crm._resolve
    profiles = real_resolve({item.customer_id for item in stored if item.customer_id})
    crm._resolve = lambda ids: {cid: profiles[cid] for cid in ids if cid in profiles}

    def write_all() -> None:
        writers = export.make_writers(NullTarget())
        for item in stored:
            feedback = for_export(item)
            for writer in writers:
                writer.write(feedback)
        for writer in writers:
            writer.close()

    try:
        result.cpu["writers"] = _cpu_per_item(write_all, n)
        from tools.bench.export_fanout import measure_fanout

        measure_fanout(result, stored, NullTarget)
    finally:
        crm._resolve = real_resolve
    spool = CompressedSpool()
    for item in stored:
        if item.customer_id:
            spool.append(json.dumps(activity_row(item)))
    result.spool_bytes = sum(len(chunk) for chunk in spool._chunks)


def projection(
    result: ExportScale, items: int, stages: tuple[str, ...], memory_mb: int, queries_at_once: int = 1
) -> dict[str, float]:
    """Seconds (CPU at `memory_mb` plus the Query pages' waits, `queries_at_once` in flight, counted as not
    overlapping the CPU) and bytes of one day of `items` items."""
    cpu = result.per_item(*stages) * items * FULL_VCPU_MB / min(FULL_VCPU_MB, memory_mb)
    pages = math.ceil(result.page_bytes / result.items * items / QUERY_PAGE_BYTES)
    waits = pages * QUERY_PAGE_SECONDS / queries_at_once
    return {
        "cpu_seconds": cpu,
        "query_seconds": waits,
        "seconds": cpu + waits,
        "file_bytes": result.file_bytes / result.items * items,
        "spool_bytes": result.spool_bytes / result.items * items,
        "query_pages": pages,
    }


def export_scale_section(result: ExportScale | None) -> list[str]:
    """The section of BENCHMARKS.md: CPU per item by stage, requests, and the projected 1M and 2M days."""
    if result is None:
        return ["Not run."]
    if result.error:
        return [f"Failed: {result.error}"]
    from chalicelib.export.streams import PART_SIZE

    n = result.items
    lines = [
        f"One day of {n:,} synthetic items (60% by known customers) exported once in moto; each stage's CPU "
        f"timed apart from moto (best of {TIMING_REPEATS}).",
        "",
        "| stage | CPU per item, before | CPU per item, now |",
        "|---|---:|---:|",
    ]
    for before, now in zip(BEFORE_STAGES, AFTER_STAGES, strict=True):
        label = before if before == now else f"{before} → {now.split(': ')[1]}"
        lines.append(f"| {label} | {result.cpu[before] * 1e6:,.0f} µs | {result.cpu[now] * 1e6:,.0f} µs |")
    lines.append(
        f"| **total** | **{result.per_item(*BEFORE_STAGES) * 1e6:,.0f} µs** | "
        f"**{result.per_item(*AFTER_STAGES) * 1e6:,.0f} µs** |"
    )
    lines += ["", "Requests of the measured day, per 1,000 items:", ""]
    lines += [f"- {op}: {count} ({count * 1000 / n:.2f})" for op, count in sorted(result.requests.items())]
    lines += [
        "",
        "| day | CPU s (before → now) | Query pages | time s (before → now) | /tmp before | "
        "/tmp now | fits 900 s now |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    memory, shards = export_memory_mb(), day_shards()
    for items in PROJECTED_DAYS:
        before = projection(result, items, BEFORE_STAGES, MEMORY_BEFORE_MB)
        now = projection(result, items, AFTER_STAGES, memory, shards)
        tmp_before = before["file_bytes"] + before["spool_bytes"]
        lines.append(
            f"| {items:,} | {before['cpu_seconds']:,.0f} → {now['cpu_seconds']:,.0f} | "
            f"{now['query_pages']:,} | "
            f"{before['seconds']:,.0f} → {now['seconds']:,.0f} | {tmp_before / 2**20:,.0f} MiB"
            f"{' (over 512 MiB)' if tmp_before > TMP_DEFAULT_BYTES else ''} | 0 | "
            f"{'yes' if now['seconds'] < LAMBDA_LIMIT_SECONDS else 'no'} |"
        )
    largest = projection(result, PROJECTED_DAYS[-1], AFTER_STAGES, memory, shards)
    parts = largest["file_bytes"] / PART_SIZE
    files = len(result.requests) and 6
    lines += [
        "",
        f"Requests per 1,000 items of the {PROJECTED_DAYS[-1]:,}-item day: Query "
        f"{largest['query_pages'] * 1000 / PROJECTED_DAYS[-1]:.2f}, BatchGetItem "
        f"{result.requests['dynamodb.BatchGetItem'] * 1000 / n:.2f} (profiles, 100 a request), S3 "
        f"{(parts + files * 2 + 1) * 1000 / PROJECTED_DAYS[-1]:.3f} (UploadPart, and per file "
        "CreateMultipartUpload + CompleteMultipartUpload, plus the manifest's PutObject).",
        "",
        f"Assumptions: Lambda gives one full vCPU at {FULL_VCPU_MB} MB and CPU in proportion below it; "
        f"before: {MEMORY_BEFORE_MB} MB ({MEMORY_BEFORE_MB / FULL_VCPU_MB:.2f} vCPU, CPU seconds times "
        f"{FULL_VCPU_MB / MEMORY_BEFORE_MB:.2f}), now: {memory} MB (.chalice/config.json; a single-threaded "
        f"export gains nothing above {FULL_VCPU_MB} MB); one Query page is {QUERY_PAGE_BYTES // 2**20} MB, "
        "taking "
        f"{QUERY_PAGE_SECONDS * 1000:.0f} ms; before, one page at a time; now, each of the {shards} shards "
        "read ahead by its own thread (pages in flight at once), the waits still counted on top of the CPU; "
        "S3 parts "
        f"({PART_SIZE // 2**20} MiB, about {parts:,.0f} for the {PROJECTED_DAYS[-1]:,}-item day) upload on "
        "worker threads while the writers go on, so they add no serial time. The figures scale linearly from "
        f"the {n:,}-item day (files {result.file_bytes / n:,.0f} bytes per item, activities spool "
        f"{result.spool_bytes / n:,.0f} compressed bytes per item, kept in memory now). 'Before' is the "
        "export before streaming: every file and the activities spool in /tmp until the end.",
    ]
    return lines


def export_scale_checks(result: ExportScale | None) -> list[Any]:
    """The target: a 2,000,000-item day projected within Lambda's 900 s and with nothing in /tmp."""
    from tools.bench.checks import Check

    if result is None:
        return []
    name = f"export at scale: projected seconds of a {PROJECTED_DAYS[-1]:,}-item day"
    if result.error:
        return [Check(name, result.error, "runs", False)]
    seconds = projection(result, PROJECTED_DAYS[-1], AFTER_STAGES, export_memory_mb(), day_shards())[
        "seconds"
    ]
    return [Check(name, f"{seconds:,.0f} s", f"< {LAMBDA_LIMIT_SECONDS} s", seconds < LAMBDA_LIMIT_SECONDS)]
