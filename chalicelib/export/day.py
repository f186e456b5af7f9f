"""The day export: one UTC day's items, read once through the per-day index, streamed to S3 as files plus
a manifest (the CRM files also read the profiles of that day's customers, nothing else). Nothing of the day
goes to disk: each file is a multipart upload fed as the items come (streams.py), aborted on a failure.
Re-running a day overwrites the same keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export.base import EXPORTS_ROOT, ExportWriter, ThemeNames, for_export
from chalicelib.export.crm import crm_writers
from chalicelib.export.csv_writer import CsvWriter
from chalicelib.export.jsonl_writer import JsonLinesWriter
from chalicelib.export.parquet_writer import ParquetWriter
from chalicelib.export.streams import PART_SIZE, FileTarget, S3Day, WrittenFile
from chalicelib.export.themes_writer import FeedbackThemesWriter
from chalicelib.models import utc_now
from chalicelib.observability import logger, metrics
from chalicelib.store import feedback as feedback_store

MANIFEST_NAME = "manifest.json"
# Each writer is one file of the export; a factory makes one writer, or several that share state (the CRM
# files share one read of the day's customer profiles). A writer's file goes to
# <key_prefix>dt=YYYY-MM-DD/<filename>: EXPORTS_ROOT for the day's folder, a root of its own for a file that
# must not share it (Athena reads every object under a table's location). A writer with a `manifest_count`
# attribute adds its row count to the manifest's counts under that name.
WriterFactory = Callable[[Path | FileTarget], ExportWriter | Sequence[ExportWriter]]


def themed_writers(where: Path | FileTarget) -> tuple[JsonLinesWriter, ParquetWriter, FeedbackThemesWriter]:
    """The files that name each theme, sharing one read of the taxonomy so they name it alike."""
    names = ThemeNames()
    return (
        JsonLinesWriter(where, names=names),
        ParquetWriter(where, names=names),
        FeedbackThemesWriter(where, names=names),
    )


WRITER_FACTORIES: list[WriterFactory] = [CsvWriter, themed_writers, crm_writers]


def partition_prefix(day: date, root: str = EXPORTS_ROOT) -> str:
    """The S3 prefix of a day's export (Hive-style `dt=` so Athena can project the partition)."""
    return f"{root}dt={day.isoformat()}/"


def object_key(writer: ExportWriter, day: date) -> str:
    """Where a writer's file goes: the day's prefix, or the same layout under the writer's own key_prefix."""
    return partition_prefix(day, writer.key_prefix) + writer.filename


def make_writers(where: Path | FileTarget) -> list[ExportWriter]:
    """Every registered writer for one export, in registration order."""
    writers: list[ExportWriter] = []
    for factory in WRITER_FACTORIES:
        made = factory(where)
        writers.extend(made if isinstance(made, Sequence) else [made])
    return writers


def previous_utc_day(now: datetime | None = None) -> date:
    """The UTC day before `now` (what the nightly run exports)."""
    return ((now or utc_now()) - timedelta(days=1)).date()


def export_day(day: date, rewrite: bool = False, part_size: int = PART_SIZE) -> dict[str, Any]:
    """Export one day to S3 and return its manifest. A `rewrite` (of a day an erasure changed) is counted
    apart, so that it cannot stand in for the nightly export the "export not run" alarm watches."""
    started_at = utc_now()
    with S3Day(settings().bucket_name, partition_prefix(day, root=""), part_size) as target:
        writers = make_writers(target)
        count = 0
        for stored in feedback_store.list_day(day):
            feedback = for_export(stored)
            for writer in writers:
                writer.write(feedback)
            count += 1
        counts = {"feedback": count}
        files = [file_entry(writer, writer.close(), day, counts) for writer in writers]
    return finish_day(day, counts, files, rewrite, started_at)


def file_entry(
    writer: ExportWriter, written: WrittenFile, day: date, counts: dict[str, int]
) -> dict[str, Any]:
    """A finished file as the manifest lists it; its rows go to `counts` when the writer names a count."""
    count_name = getattr(writer, "manifest_count", None)
    if count_name:
        counts[count_name] = writer.rows
    return {
        "key": object_key(writer, day),
        "rows": writer.rows,
        "bytes": written.bytes,
        "sha256": written.sha256,
        "content_type": writer.content_type,
    }


def day_over_at(day: date, started_at: datetime) -> bool:
    """Whether an export that began reading at `started_at` saw the whole UTC day: items are stored on the
    day they arrive, so once the day has ended none is added to it."""
    return started_at >= datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def finish_day(
    day: date, counts: dict[str, int], files: list[dict[str, Any]], rewrite: bool, started_at: datetime
) -> dict[str, Any]:
    """Write the day's manifest, once every file is whole (it is what says the day is exported), and count
    the export. `complete` is false for an export that began before the day ended (`cli export --partial`):
    a loader taking each day once waits for the nightly run's manifest, which replaces it."""
    manifest = {
        "date": day.isoformat(),
        "generated_at": utc_now().isoformat(),
        "complete": day_over_at(day, started_at),
        "counts": counts,
        "files": files,
    }
    aws.client("s3").put_object(
        Bucket=settings().bucket_name,
        Key=partition_prefix(day) + MANIFEST_NAME,
        Body=json.dumps(manifest, indent=2).encode(),
        ContentType="application/json",
    )
    logger.info("day exported", extra={"date": day.isoformat(), "rewrite": rewrite, **counts})
    if rewrite:
        metrics.add_metric(name="ExportRewritten", unit="Count", value=1)
        return manifest
    # ExportCompleted feeds the "export has not run" alarm; FeedbackExported the volume dashboards.
    metrics.add_metric(name="ExportCompleted", unit="Count", value=1)
    metrics.add_metric(name="FeedbackExported", unit="Count", value=counts["feedback"])
    return manifest
