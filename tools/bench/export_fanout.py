"""Export fanned out (export/fanout.py): the CPU per item of a slice invocation's writers and of each stage of
the combining step, timed apart from moto on the items export_scale.py seeded, and the projected time of each
invocation of a 1M- and a 2M-item day exported in DAY_SHARDS slices; and an erasure's rewrite of such a day,
in one invocation as before and fanned out now (the same slices and combining step: a rewrite writes the same
files).

A slice does what the one-invocation export does for its stretch of the day (read, decode, model), with the
parts' writers (CSV rows, plain JSON lines, Arrow batches). The combining step reads the parts once: it hashes
the CSV parts that S3 copies, gzips the JSON lines, writes the Parquet row groups from the Arrow batches and
writes contacts.csv from the customer ids (reading their profiles, as the one-invocation export does).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.bench.export_scale import (
    AFTER_STAGES,
    FULL_VCPU_MB,
    LAMBDA_LIMIT_SECONDS,
    PROJECTED_DAYS,
    QUERY_PAGE_BYTES,
    QUERY_PAGE_SECONDS,
    ExportScale,
    _cpu_per_item,
    day_shards,
    export_memory_mb,
    projection,
)

# Assumptions of the projection, stated in the report.
PARTS_READ_BYTES_PER_SECOND = 60 * 2**20  # one S3 GetObject stream into Lambda, parts read one after another
BATCH_GET_SECONDS = 0.010  # one BatchGetItem of 100 profiles, network and service
READ_STAGES = tuple(stage for stage in AFTER_STAGES if stage != "writers")
COMBINE_STAGES = ("combine: sha256 of copied CSVs", "combine: gzip", "combine: Parquet", "combine: contacts")


@dataclass
class FanoutScale:
    cpu: dict[str, float] = field(default_factory=dict)  # seconds per item by stage
    part_bytes: float = 0.0  # bytes per item of the parts the combining step reads


def measure_fanout(result: ExportScale, stored: Sequence[Any], null_target: Callable[[], Any]) -> None:
    """Time the slice writers and the combining stages on `stored` (profiles already patched in by the
    caller); the figures go to result.fanout."""
    from chalicelib.export.base import ThemeNames, for_export
    from chalicelib.export.crm import ActivitiesWriter, ContactsWriter, TouchedCustomers
    from chalicelib.export.csv_writer import CsvWriter
    from chalicelib.export.jsonl_writer import JsonLinesWriter, gzip_stream
    from chalicelib.export.parquet_writer import (
        ArrowStreamRows,
        ParquetRows,
        ParquetWriter,
        parquet_schema,
        read_arrow_stream,
    )
    from chalicelib.export.streams import OutputFile
    from chalicelib.export.themes_writer import FeedbackThemesWriter, themes_schema

    n = len(stored)
    fanout = FanoutScale()

    class Kept(OutputFile):
        def __init__(self, location: str) -> None:
            super().__init__(location)
            self.data = bytearray()

        def _send(self, data: memoryview) -> None:
            self.data += data

        def _finish(self) -> None:
            pass

        def _discard(self) -> None:
            pass

    class KeepingTarget:
        def __init__(self) -> None:
            self.files: dict[str, Kept] = {}

        def open(self, filename: str, key_prefix: str, content_type: str) -> OutputFile:
            self.files[filename] = Kept(filename)
            return self.files[filename]

        def abort_all(self) -> None:
            pass

    def write_slice(target: Any) -> TouchedCustomers:
        names, customers = ThemeNames(), TouchedCustomers()
        writers = [
            CsvWriter(target),
            JsonLinesWriter(target, names, compressed=False),
            ParquetWriter(target, names=names, rows=ArrowStreamRows),
            FeedbackThemesWriter(target, names=names, rows=ArrowStreamRows),
            ActivitiesWriter(target, customers),
        ]
        for item in stored:
            feedback = for_export(item)
            for writer in writers:
                writer.write(feedback)
        for writer in writers:
            writer.close()
        return customers

    fanout.cpu["slice writers"] = _cpu_per_item(lambda: write_slice(null_target()), n)
    kept = KeepingTarget()
    ids = write_slice(kept).ids
    parts = {name: bytes(file.data) for name, file in kept.files.items()}
    fanout.part_bytes = sum(len(data) for data in parts.values()) / n

    def hash_csvs() -> None:
        for name in ("feedback.csv", "activities.csv"):
            hashlib.sha256(parts[name]).hexdigest()

    def gzip_lines() -> None:
        compressed = gzip_stream(null_target().open("feedback.jsonl.gz", "", ""))
        data = memoryview(parts["feedback.jsonl.gz"])
        for start in range(0, len(data), 2**20):
            compressed.write(data[start : start + 2**20])
        compressed.flush()
        compressed.close()

    def parquet_files() -> None:
        for name, schema in (
            ("feedback.parquet", parquet_schema()),
            ("feedback_themes.parquet", themes_schema()),
        ):
            rows = ParquetRows(null_target().open(name, "", ""), schema)
            rows.write_batches(read_arrow_stream(io.BytesIO(parts[name])))
            rows.close()

    def contacts() -> None:
        customers = TouchedCustomers()
        for customer_id in ids:
            customers.add(customer_id)
        ContactsWriter(null_target(), customers).close()

    fanout.cpu["combine: sha256 of copied CSVs"] = _cpu_per_item(hash_csvs, n)
    fanout.cpu["combine: gzip"] = _cpu_per_item(gzip_lines, n)
    fanout.cpu["combine: Parquet"] = _cpu_per_item(parquet_files, n)
    fanout.cpu["combine: contacts"] = _cpu_per_item(contacts, n)
    result.fanout = fanout


def fanout_projection(result: ExportScale, items: int, slices: int, memory_mb: int) -> dict[str, float]:
    """Seconds of one slice invocation and of the combining step for a day of `items` items."""
    assert result.fanout is not None
    vcpu = FULL_VCPU_MB / min(FULL_VCPU_MB, memory_mb)
    per_slice = math.ceil(items / slices)
    slice_cpu = (result.per_item(*READ_STAGES) + result.fanout.cpu["slice writers"]) * per_slice * vcpu
    # Each slice reads its stretch from every shard, the shards' Queries in flight at once.
    slice_pages = math.ceil(result.page_bytes / result.items * per_slice / QUERY_PAGE_BYTES)
    slice_waits = slice_pages * QUERY_PAGE_SECONDS / day_shards()
    combine_cpu = sum(result.fanout.cpu[stage] for stage in COMBINE_STAGES) * items * vcpu
    reads = result.fanout.part_bytes * items / PARTS_READ_BYTES_PER_SECOND
    profiles = result.requests["dynamodb.BatchGetItem"] / result.items * items * BATCH_GET_SECONDS
    return {
        "items_per_slice": per_slice,
        "slice_seconds": slice_cpu + slice_waits,
        "combine_seconds": combine_cpu + reads + profiles,
        "part_bytes": result.fanout.part_bytes * items,
    }


def rewrite_projection(result: ExportScale, items: int, slices: int, memory_mb: int) -> dict[str, float]:
    """An erasure's rewrite of a day of `items` items: in one invocation (before: export_day) and fanned out
    (now: the rewrite invocation only starts the slices, whose invocations are those of fanout_projection)."""
    fanned = fanout_projection(result, items, slices, memory_mb)
    return {
        "one_invocation_seconds": projection(result, items, AFTER_STAGES, memory_mb, day_shards())["seconds"],
        "slice_seconds": fanned["slice_seconds"],
        "combine_seconds": fanned["combine_seconds"],
        # The day's counters (BatchGetItem), the run record (PutItem), one asynchronous Invoke per slice.
        "start_requests": slices + 2,
    }


def export_fanout_section(result: ExportScale | None) -> list[str]:
    """The fanned-out export's lines in BENCHMARKS.md's "Export at scale" section."""
    if result is None or result.error or result.fanout is None:
        return []
    memory, slices = export_memory_mb(), day_shards()
    lines = [
        "",
        f"**Fanned out** (export/fanout.py; a day of at least EXPORT_FANOUT_ITEMS items, {slices} slices):",
        "",
        "| stage | CPU per item |",
        "|---|---:|",
        *(
            f"| {stage} | {result.fanout.cpu[stage] * 1e6:,.1f} µs |"
            for stage in ("slice writers", *COMBINE_STAGES)
        ),
        "",
        "| day | slices | items per slice | one slice invocation s | combining step s | fits 900 s |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for items in PROJECTED_DAYS:
        projected = fanout_projection(result, items, slices, memory)
        fits = max(projected["slice_seconds"], projected["combine_seconds"]) < LAMBDA_LIMIT_SECONDS
        lines.append(
            f"| {items:,} | {slices} | {projected['items_per_slice']:,} | "
            f"{projected['slice_seconds']:,.0f} | {projected['combine_seconds']:,.0f} | "
            f"{'yes' if fits else 'no'} |"
        )
    lines += [
        "",
        "| erasure rewrite of a day | one invocation s (before) | rewrite invocation, fanned out (now) | "
        "one slice invocation s | combining step s | fits 900 s now |",
        "|---:|---:|---|---:|---:|---|",
    ]
    for items in PROJECTED_DAYS:
        rewrite = rewrite_projection(result, items, slices, memory)
        fits = max(rewrite["slice_seconds"], rewrite["combine_seconds"]) < LAMBDA_LIMIT_SECONDS
        lines.append(
            f"| {items:,} | {rewrite['one_invocation_seconds']:,.0f} | starts {slices} slices "
            f"({rewrite['start_requests']} requests) | {rewrite['slice_seconds']:,.0f} | "
            f"{rewrite['combine_seconds']:,.0f} | {'yes' if fits else 'no'} |"
        )
    lines += [
        "",
        f"Assumptions: as above ({memory} MB, {QUERY_PAGE_SECONDS * 1000:.0f} ms a Query page), and the "
        "slices run at once (Lambda's asynchronous invocations; the day's items spread evenly over its "
        "stretches of hours: a day whose items bunch in a few hours makes those slices longer). "
        "A slice reads its stretch "
        f"from all {slices} shards at once. The combining step reads the parts once "
        f"({result.fanout.part_bytes:,.0f} bytes per item) at {PARTS_READ_BYTES_PER_SECOND // 2**20} MiB/s "
        "one after another, counted on top of its CPU; S3 copies the CSV parts itself (UploadPartCopy, on "
        "the upload threads while the step goes on); contacts.csv reads the day's profiles "
        f"({BATCH_GET_SECONDS * 1000:.0f} ms a BatchGetItem of 100, serially). A rewrite writes the "
        "same files as the nightly export of its day, so its slices and combining step take as long; the "
        "rewrite invocation goes on to its next day once the slices are started.",
    ]
    return lines


def export_fanout_checks(result: ExportScale | None) -> list[Any]:
    """The target: each invocation of a fanned-out 2,000,000-item day within Lambda's 900 s."""
    from tools.bench.checks import Check

    if result is None or result.error or result.fanout is None:
        return []
    projected = fanout_projection(result, PROJECTED_DAYS[-1], day_shards(), export_memory_mb())
    longest = max(projected["slice_seconds"], projected["combine_seconds"])
    return [
        Check(
            f"export fanned out: longest invocation of a {PROJECTED_DAYS[-1]:,}-item day",
            f"{longest:,.0f} s",
            f"< {LAMBDA_LIMIT_SECONDS} s",
            longest < LAMBDA_LIMIT_SECONDS,
        )
    ]
