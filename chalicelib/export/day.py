"""The day export: one UTC day's items, read once through the per-day index, written to S3 as files plus
a manifest (the CRM files also read the profiles of that day's customers, nothing else). Re-running a day
overwrites the same keys."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export.base import ExportWriter, ThemeNames, for_export
from chalicelib.export.crm import crm_writers
from chalicelib.export.csv_writer import CsvWriter
from chalicelib.export.jsonl_writer import JsonLinesWriter
from chalicelib.export.parquet_writer import ParquetWriter
from chalicelib.export.themes_writer import FeedbackThemesWriter
from chalicelib.models import utc_now
from chalicelib.observability import logger, metrics
from chalicelib.store import feedback as feedback_store

MANIFEST_NAME = "manifest.json"
EXPORTS_ROOT = "exports/"
# Each writer is one file of the export; a factory makes one writer, or several that share state (the CRM
# files share one read of the day's customer profiles). A writer whose file must not share the day's folder
# (Athena reads every object under a table's location) names its own root in a `key_prefix` attribute; its
# file then goes to <key_prefix>dt=YYYY-MM-DD/<filename>. A writer with a `manifest_count` attribute adds its
# row count to the manifest's counts under that name.
WriterFactory = Callable[[Path], ExportWriter | Sequence[ExportWriter]]


def themed_writers(directory: Path) -> tuple[JsonLinesWriter, ParquetWriter, FeedbackThemesWriter]:
    """The files that name each theme, sharing one read of the taxonomy so they name it alike."""
    names = ThemeNames()
    return (
        JsonLinesWriter(directory, names=names),
        ParquetWriter(directory, names=names),
        FeedbackThemesWriter(directory, names=names),
    )


WRITER_FACTORIES: list[WriterFactory] = [CsvWriter, themed_writers, crm_writers]


def partition_prefix(day: date, root: str = EXPORTS_ROOT) -> str:
    """The S3 prefix of a day's export (Hive-style `dt=` so Athena can project the partition)."""
    return f"{root}dt={day.isoformat()}/"


def object_key(writer: ExportWriter, day: date) -> str:
    """Where a writer's file goes: the day's prefix, or the same layout under the writer's own key_prefix."""
    return partition_prefix(day, getattr(writer, "key_prefix", EXPORTS_ROOT)) + writer.filename


def make_writers(directory: Path) -> list[ExportWriter]:
    """Every registered writer for one export, in registration order."""
    writers: list[ExportWriter] = []
    for factory in WRITER_FACTORIES:
        made = factory(directory)
        writers.extend(made if isinstance(made, Sequence) else [made])
    return writers


def previous_utc_day(now: datetime | None = None) -> date:
    """The UTC day before `now` (what the nightly run exports)."""
    return ((now or utc_now()) - timedelta(days=1)).date()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_day(day: date, rewrite: bool = False) -> dict[str, Any]:
    """Export one day to S3 and return its manifest. A `rewrite` (of a day an erasure changed) is counted
    apart, so that it cannot stand in for the nightly export the "export not run" alarm watches."""
    bucket = settings().bucket_name
    prefix = partition_prefix(day)
    s3 = aws.client("s3")
    with tempfile.TemporaryDirectory(prefix="export-") as workdir:
        writers = make_writers(Path(workdir))
        count = 0
        for stored in feedback_store.list_day(day):
            feedback = for_export(stored)
            for writer in writers:
                writer.write(feedback)
            count += 1
        files = []
        counts = {"feedback": count}
        for writer in writers:
            path = writer.close()
            count_name = getattr(writer, "manifest_count", None)
            if count_name:
                counts[count_name] = writer.rows
            key = object_key(writer, day)
            s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": writer.content_type})
            files.append(
                {
                    "key": key,
                    "rows": writer.rows,
                    "bytes": path.stat().st_size,
                    "sha256": _sha256(path),
                    "content_type": writer.content_type,
                }
            )
    manifest = {
        "date": day.isoformat(),
        "generated_at": utc_now().isoformat(),
        "counts": counts,
        "files": files,
    }
    s3.put_object(
        Bucket=bucket,
        Key=prefix + MANIFEST_NAME,
        Body=json.dumps(manifest, indent=2).encode(),
        ContentType="application/json",
    )
    logger.info("day exported", extra={"date": day.isoformat(), "rewrite": rewrite, **counts})
    if rewrite:
        metrics.add_metric(name="ExportRewritten", unit="Count", value=1)
        return manifest
    # ExportCompleted feeds the "export has not run" alarm; FeedbackExported the volume dashboards.
    metrics.add_metric(name="ExportCompleted", unit="Count", value=1)
    metrics.add_metric(name="FeedbackExported", unit="Count", value=count)
    return manifest
