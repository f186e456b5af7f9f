"""A busy day's export, fanned out: one invocation per slice of the day, then one that combines the slices
into the day's files and writes the manifest, last.

A slice is a stretch of the day's hours (the day cut into `day_shards` equal stretches), not a DynamoDB shard:
every file lists the day's items in stored order, and the shards interleave in time, while consecutive
stretches give consecutive pieces of every file. Each slice invocation reads its stretch from every shard of
the per-day index and writes its part of each file under exports/_parts/ (Athena skips folders starting with
an underscore; the bucket's lifecycle rule deletes parts after a few days):

- feedback.csv and activities.csv: its rows (the first slice with the header); the combining step has S3 copy
  them into the day's file (UploadPartCopy) and reads them only to hash them;
- feedback.jsonl.gz: plain lines, gzipped once by the combining step (one gzip stream is sequential);
- feedback.parquet and feedback_themes.parquet: Arrow IPC batches, which the combining step writes as row
  groups of the same size (Parquet row groups and their footer cannot be concatenated);
- contacts.csv: the customer ids its items name; the combining step writes one row per customer of the day;
- part.json last, with its counts and sizes: a slice whose part.json is there is done.

The files are byte for byte those of the one-invocation export (tests/test_export_fanout.py). Each slice adds
itself to the day's fan-out record (pk EXPORT_FANOUT, one record per day and run); the one completing the set
starts the combining step. Every step is idempotent: a retried slice rewrites the same parts, a retried
combine rewrites the same files. An erasure's rewrite of a busy day is fanned out the same way (the run then
carries the day's rewrite mark, which the export function removes once the combining step wrote the manifest).

A slice that fails emits EXPORT_SLICE_FAILED (its own alarm, infra/monitoring.py) and raises (Lambda retries
it twice); a combining step that finds a slice not done or its part gone emits it too and writes nothing. A
slice Lambda kills (its timeout, out of memory) runs none of its own code to say so: Lambda's on-failure
destination sends the record of every asynchronous invocation it gave up to EventBridge, and a rule hands
those of the fan-out's steps back to the export function (infra/stack.py), which emits EXPORT_SLICE_FAILED
for it and adds the slice to the run's `failed` set (record_given_up_step). Nothing waits on a slice: the
combining step starts only when the last slice is done, so a day with a slice given up is never combined. So
a day with a slice missing gets no manifest: a nightly day is not exported (GET /exports answers 404, the
"export has not run" alarm fires too), a rewritten day stays marked (409) and is fanned out again by the next
nightly run; the record names the slices missing (missing_slices).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export.base import ThemeNames, for_export
from chalicelib.export.crm import ActivitiesWriter, ContactsWriter, TouchedCustomers
from chalicelib.export.csv_writer import CsvWriter
from chalicelib.export.day import file_entry, finish_day, partition_prefix
from chalicelib.export.jsonl_writer import JsonLinesWriter, gzip_stream
from chalicelib.export.parquet_writer import (
    ArrowStreamRows,
    ParquetRows,
    ParquetWriter,
    parquet_schema,
    read_arrow_stream,
)
from chalicelib.export.streams import COPY_READ_SIZE, PART_SIZE, OutputFile, S3Day, S3File, WrittenFile
from chalicelib.export.themes_writer import FeedbackThemesWriter, themes_schema
from chalicelib.models import utc_now
from chalicelib.observability import logger, metrics
from chalicelib.store import counters, dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import PK, RECORD_TYPE, SK

EXPORT_FANOUT = "EXPORT_FANOUT"
PARTS_ROOT = "exports/_parts/"
PART_MANIFEST = "part.json"
CUSTOMERS_PART = "customers.txt"
S3_DELETE_BATCH = 1000  # DeleteObjects' limit
# Emitted (slices) when a slice fails or the combining step finds slices missing (infra/monitoring.py).
EXPORT_SLICE_FAILED = "ExportSliceFailed"
# What Lambda's on-failure destination puts on the EventBridge bus for an asynchronous invocation it gave up
# (the retries exhausted or the event too old); its detail is the invocation record.
GIVEN_UP_SOURCE = "lambda"
GIVEN_UP_DETAIL_TYPE = "Lambda Function Invocation Result - Failure"
# The export function's own events, in EventBridge's shape (Chalice hands them to the scheduled handler).
FANOUT_SOURCE = "feedback-collector.export"
SLICE_DETAIL_TYPE = "Export slice requested"
COMBINE_DETAIL_TYPE = "Export combine requested"
# Starts the export function asynchronously on an event; False when it cannot (the step then runs here).
Dispatcher = Callable[[dict[str, Any]], bool]
# Called with the day and the run's event detail once its manifest is written (the export function then hands
# on the day's rewrites, or, for a rewrite's run, removes the day's rewrite mark: detail["rewrite"]).
OnExported = Callable[[date, Mapping[str, Any]], None]


def day_item_count(day: date) -> int:
    """The items stored on `day`, from its counters (one BatchGetItem): each item counts once under its
    channel and sentiment. A day stored before the counters existed counts 0 and is exported in one go."""
    totals = counters.read_days([day]).get(day)
    return sum(value for name, value in (totals or {}).items() if name.startswith("s|"))


def slice_count(day: date) -> int:
    """How many invocations export `day`: 1 below EXPORT_FANOUT_ITEMS items, else one per day shard."""
    threshold = settings().export_fanout_items
    if threshold <= 0 or settings().day_shards < 2:
        return 1
    return settings().day_shards if day_item_count(day) >= threshold else 1


def slice_bounds(day: date, index: int, slices: int) -> tuple[datetime, datetime]:
    """The stored-at stretch of slice `index`: [from, to) of the day cut in `slices` equal stretches."""
    midnight = datetime.combine(day, time.min, UTC)
    step = timedelta(days=1) / slices
    return midnight + step * index, midnight + step * (index + 1)


def fanout_event(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return aws.eventbridge_event(FANOUT_SOURCE, detail_type, detail)


def is_fanout_event(event: Mapping[str, Any]) -> bool:
    return event.get("source") == FANOUT_SOURCE and event.get("detail-type") in (
        SLICE_DETAIL_TYPE,
        COMBINE_DETAIL_TYPE,
    )


def is_given_up_record(event: Mapping[str, Any]) -> bool:
    """Whether `event` is the on-failure record of an asynchronous invocation Lambda gave up."""
    return event.get("source") == GIVEN_UP_SOURCE and event.get("detail-type") == GIVEN_UP_DETAIL_TYPE


def record_given_up_step(event: Mapping[str, Any]) -> dict[str, Any]:
    """A fan-out step Lambda gave up (killed by its timeout or memory, or failing every attempt): emit
    EXPORT_SLICE_FAILED and, for a slice, add it to its run's `failed` set. The record of any other
    invocation (the record of a record included; the stack's rule routes none here) is logged and ignored.
    Never raises: a failure here would only make another record."""
    record = event.get("detail") or {}
    step = record.get("requestPayload")
    if not isinstance(step, Mapping) or not is_fanout_event(step):
        logger.warning("on-failure record of another invocation: ignored")
        return {"ignored": True}
    detail = step.get("detail") or {}
    context, response = record.get("requestContext") or {}, record.get("responsePayload")
    said: dict[str, Any] = {
        "date": str(detail.get("day")),
        "run": str(detail.get("run")),
        "condition": context.get("condition"),  # RetriesExhausted or EventAgeExceeded
        "attempts": context.get("approximateInvokeCount"),
        # The error's type only: its message may quote data.
        "error_type": response.get("errorType") if isinstance(response, Mapping) else None,
    }
    metrics.add_metric(name=EXPORT_SLICE_FAILED, unit="Count", value=1)
    if step.get("detail-type") == COMBINE_DETAIL_TYPE:
        logger.error("export combining step given up by Lambda: no manifest written", extra=said)
        return {**said, "given_up": "combine"}
    said["slice"] = detail.get("slice")
    try:
        _record_failed_slice(date.fromisoformat(said["date"]), said["run"], int(detail["slice"]))
    except (ValueError, KeyError, TypeError, BotoCoreError, ClientError):
        logger.exception("given-up export slice not recorded in its run", extra=said)
    logger.error("export slice given up by Lambda: the day is not combined", extra=said)
    return {**said, "given_up": "slice"}


def _record_failed_slice(day: date, run: str, index: int) -> None:
    try:
        aws.client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(_record_key(day)),
            UpdateExpression="ADD #failed :slice",
            ConditionExpression="#run = :run",
            ExpressionAttributeNames={"#failed": "failed", "#run": "run"},
            ExpressionAttributeValues={":slice": {"NS": [str(index)]}, ":run": {"S": run}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.warning("given-up export slice of a replaced run", extra={"day": day.isoformat()})


def _record_key(day: date) -> dict[str, str]:
    return {PK: EXPORT_FANOUT, SK: day.isoformat()}


def start(
    day: date,
    slices: int,
    dispatch: Dispatcher,
    on_exported: OnExported,
    rewrite_mark: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a new run of the day's fan-out and start one invocation per slice (a slice that cannot be
    started runs here, in turn). `rewrite_mark` (the erasure's mark, its token) makes the run a rewrite: its
    manifest is counted as one and the mark goes with the run to on_exported. Returns the run."""
    run: dict[str, Any] = {"day": day.isoformat(), "run": uuid.uuid4().hex, "slices": slices}
    if rewrite_mark is not None:
        run["rewrite"] = dict(rewrite_mark)
    aws.client("dynamodb").put_item(
        TableName=settings().table_name,
        Item=dynamo.serialize(
            {**_record_key(day), RECORD_TYPE: EXPORT_FANOUT, "run": run["run"], "slices": slices}
            | {"started_at": utc_now().isoformat(), "rewrite": rewrite_mark is not None}
        ),
    )
    logger.info("day export fanned out", extra=run)
    for index in range(slices):
        event = fanout_event(SLICE_DETAIL_TYPE, {**run, "slice": index})
        if not dispatch(event):
            run_step(event, dispatch, on_exported)
    return run


def run_step(event: Mapping[str, Any], dispatch: Dispatcher, on_exported: OnExported) -> dict[str, Any]:
    """A fan-out invocation: a slice (which starts the combining step when it completes the set) or the
    combining step (which returns the day's manifest)."""
    detail = event.get("detail") or {}
    day, run, slices = date.fromisoformat(detail["day"]), str(detail["run"]), int(detail["slices"])
    if event.get("detail-type") == COMBINE_DETAIL_TYPE:
        manifest = combine(day, run, slices, rewrite="rewrite" in detail)
        if "missing" not in manifest and "replaced" not in manifest:
            on_exported(day, detail)
        return manifest
    index = int(detail["slice"])
    try:
        part = export_slice(day, run, index, slices)
    except Exception:
        # Lambda retries the invocation; the alarm tells the operators this day may end without a manifest.
        metrics.add_metric(name=EXPORT_SLICE_FAILED, unit="Count", value=1)
        logger.exception("export slice failed", extra={"date": day.isoformat(), "run": run, "slice": index})
        raise
    if _complete_slice(day, run, index) == slices:
        combine_event = fanout_event(COMBINE_DETAIL_TYPE, {k: v for k, v in detail.items() if k != "slice"})
        if not dispatch(combine_event):
            return run_step(combine_event, dispatch, on_exported)
    return part


def _complete_slice(day: date, run: str, index: int) -> int:
    """Add the slice to its run's record (a set: a retried slice adds nothing) and return how many slices of
    the run are done; a slice of a run that a newer run replaced counts for nothing (0)."""
    try:
        response = aws.client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(_record_key(day)),
            UpdateExpression="ADD #done :slice",
            ConditionExpression="#run = :run",
            ExpressionAttributeNames={"#done": "done", "#run": "run"},
            ExpressionAttributeValues={":slice": {"NS": [str(index)]}, ":run": {"S": run}},
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.warning("export slice of a replaced run", extra={"day": day.isoformat(), "slice": index})
        return 0
    return len(response["Attributes"]["done"]["NS"])


def failed_slices(day: date) -> list[int]:
    """The slices of the day's latest fan-out run that Lambda gave up (record_given_up_step)."""
    record = dynamo.get_item(settings().table_name, _record_key(day), consistent=True)
    return sorted(int(n) for n in (record or {}).get("failed", set()))


def missing_slices(day: date) -> list[int]:
    """The slices of the day's latest fan-out run not done yet (what the alarm's operator looks at)."""
    record = dynamo.get_item(settings().table_name, _record_key(day), consistent=True)
    if record is None:
        return []
    return sorted(set(range(int(record["slices"]))) - {int(n) for n in record.get("done", set())})


class SliceParts(S3Day):
    """The parts one slice writes: exports/_parts/dt=<day>/run=<run>/slice=<n>/<the file's own key>."""

    def __init__(self, day: date, run: str, index: int) -> None:
        super().__init__(settings().bucket_name, slice_prefix(day, run, index), PART_SIZE)

    def key(self, filename: str, key_prefix: str) -> str:
        return f"{self.partition}{key_prefix}{filename}"


def slice_prefix(day: date, run: str, index: int) -> str:
    return f"{PARTS_ROOT}dt={day.isoformat()}/run={run}/slice={index:03d}/"


def export_slice(day: date, run: str, index: int, slices: int) -> dict[str, Any]:
    """Write slice `index`'s part of every file, then its part.json (counts and sizes). Returns part.json."""
    first = index == 0
    with SliceParts(day, run, index) as target:
        names, customers = ThemeNames(), TouchedCustomers()
        writers = [
            CsvWriter(target, header=first),
            JsonLinesWriter(target, names, compressed=False),
            ParquetWriter(target, names=names, rows=ArrowStreamRows),
            FeedbackThemesWriter(target, names=names, rows=ArrowStreamRows),
            ActivitiesWriter(target, customers, header=first),
        ]
        count = 0
        for stored in feedback_store.list_day(day, slice_bounds(day, index, slices)):
            feedback = for_export(stored)
            for writer in writers:
                writer.write(feedback)
            count += 1
        files = {}
        for writer in writers:
            written = writer.close()
            files[writer.filename] = {"key": written.location, "rows": writer.rows, "bytes": written.bytes}
        ids = target.open(CUSTOMERS_PART, "", "text/plain; charset=utf-8")
        ids.write("".join(f"{customer_id}\n" for customer_id in sorted(customers.ids)).encode())
        ids.close()
    part = {"slice": index, "feedback": count, "files": files, "customers": target.key(CUSTOMERS_PART, "")}
    aws.client("s3").put_object(
        Bucket=settings().bucket_name,
        Key=slice_prefix(day, run, index) + PART_MANIFEST,
        Body=json.dumps(part).encode(),
        ContentType="application/json",
    )
    return part


def _read_parts(day: date, run: str, slices: list[int]) -> list[dict[str, Any]]:
    """The part.json of each of `slices` that is there (a slice's last write: there means done)."""
    s3, bucket, parts = aws.client("s3"), settings().bucket_name, []
    for n in slices:
        try:
            body = s3.get_object(Bucket=bucket, Key=slice_prefix(day, run, n) + PART_MANIFEST)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchKey":
                raise
            continue
        parts.append(json.loads(body))
    return parts


def _body(key: str) -> Any:
    return aws.client("s3").get_object(Bucket=settings().bucket_name, Key=key)["Body"]


def _chunks(key: str) -> Iterator[bytes]:
    yield from _body(key).iter_chunks(COPY_READ_SIZE)


# The day's files in the order the one-invocation export lists them (day.WRITER_FACTORIES; a test holds them
# equal), each made from the slices' parts as its format allows.
DAY_FILES: tuple[type, ...] = (
    CsvWriter,
    JsonLinesWriter,
    ParquetWriter,
    FeedbackThemesWriter,
    ContactsWriter,
    ActivitiesWriter,
)


class CombinedFile:
    """One file of the day made from the slices' parts, as the manifest lists it (see day.file_entry)."""

    def __init__(self, writer_class: type, rows: int) -> None:
        self.filename, self.key_prefix = writer_class.filename, writer_class.key_prefix
        self.content_type = writer_class.content_type
        self.manifest_count = getattr(writer_class, "manifest_count", None)
        self.rows = rows


def combine(day: date, run: str, slices: int, rewrite: bool = False) -> dict[str, Any]:
    """Make the day's files from the slices' parts and write the manifest, last; then mark the run combined
    and delete its parts. Returns the manifest. Writes nothing, and says so, for a run already combined (a
    retry), replaced by a newer run of the day, or missing a slice (not done, or its part gone: counted as
    EXPORT_SLICE_FAILED)."""
    said = {"date": day.isoformat(), "run": run}
    record = dynamo.get_item(settings().table_name, _record_key(day), consistent=True)
    if record is None or record.get("run") != run:
        logger.warning("combining step of a replaced export run: the newer run writes the day", extra=said)
        return {**said, "replaced": True}
    if record.get("combined_at"):
        logger.info("fanned-out day already combined", extra=said)
        return {**said, "combined_at": record["combined_at"]}
    done = {int(n) for n in record.get("done", set())}
    parts = _read_parts(day, run, [n for n in range(slices) if n in done])
    missing = sorted(set(range(slices)) - {part["slice"] for part in parts})
    if missing:
        metrics.add_metric(name=EXPORT_SLICE_FAILED, unit="Count", value=len(missing))
        logger.error("export slices missing: no manifest written", extra={**said, "missing": missing})
        return {**said, "missing": missing}
    counts = {"feedback": sum(part["feedback"] for part in parts)}
    files = []
    with S3Day(settings().bucket_name, partition_prefix(day, root=""), PART_SIZE) as target:
        for writer_class in DAY_FILES:
            output = target.open(writer_class.filename, writer_class.key_prefix, writer_class.content_type)
            rows, written = _combine_file(writer_class, output, parts)
            files.append(file_entry(CombinedFile(writer_class, rows), written, day, counts))  # type: ignore[arg-type]
    # The run began reading the day when it was recorded (a record from before started_at was kept: now).
    started_at = datetime.fromisoformat(record["started_at"]) if record.get("started_at") else utc_now()
    manifest = finish_day(day, counts, files, rewrite=rewrite, started_at=started_at)
    _mark_combined(day, run)
    _delete_parts(day, run, parts)
    logger.info("fanned-out day combined", extra={"date": day.isoformat(), "run": run, "slices": slices})
    return manifest


def _mark_combined(day: date, run: str) -> None:
    try:
        aws.client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(_record_key(day)),
            UpdateExpression="SET #combined = :now",
            ConditionExpression="#run = :run",
            ExpressionAttributeNames={"#combined": "combined_at", "#run": "run"},
            ExpressionAttributeValues={":now": {"S": utc_now().isoformat()}, ":run": {"S": run}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.warning("a newer export run of the day started meanwhile", extra={"date": day.isoformat()})


def _delete_parts(day: date, run: str, parts: list[dict[str, Any]]) -> None:
    """The parts hold the day's items: gone once the day's files are whole (an erasure must not find them
    later; the lifecycle rule on exports/_parts/ deletes those of a run that never completed)."""
    keys = [file["key"] for part in parts for file in part["files"].values()]
    keys += [part["customers"] for part in parts]
    keys += [slice_prefix(day, run, part["slice"]) + PART_MANIFEST for part in parts]
    s3 = aws.client("s3")
    for start in range(0, len(keys), S3_DELETE_BATCH):
        batch = keys[start : start + S3_DELETE_BATCH]
        answer = s3.delete_objects(
            Bucket=settings().bucket_name, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
        )
        if answer.get("Errors"):
            # DeleteObjects answers 200 with what it kept. The day's files are whole, so the export stands;
            # the lifecycle rule on exports/_parts/ deletes the kept parts within two days.
            codes = sorted({error.get("Code", "?") for error in answer["Errors"]})
            logger.warning(
                "export parts not deleted",
                extra={"day": day.isoformat(), "parts_kept": len(answer["Errors"]), "codes": codes},
            )


def _combine_file(
    writer_class: type, output: OutputFile, parts: list[dict[str, Any]]
) -> tuple[int, WrittenFile]:
    if writer_class is ContactsWriter:
        customers = TouchedCustomers()
        for part in parts:
            for line in b"".join(_chunks(part["customers"])).decode().splitlines():
                customers.add(line)
        contacts = ContactsWriter(_Opened(output), customers)
        written = contacts.close()
        return contacts.rows, written
    own = [part["files"][writer_class.filename] for part in parts]
    if writer_class is JsonLinesWriter:
        compressed = gzip_stream(output)
        for file in own:
            for chunk in _chunks(file["key"]):
                compressed.write(chunk)
        # The one-invocation writer's text layer flushes the gzip stream (a sync flush) before closing it.
        compressed.flush()
        compressed.close()
        output.close()
    elif writer_class in (ParquetWriter, FeedbackThemesWriter):
        schema = parquet_schema() if writer_class is ParquetWriter else themes_schema()
        row_groups = ParquetRows(output, schema)
        row_groups.write_batches(chain.from_iterable(read_arrow_stream(_body(file["key"])) for file in own))
        row_groups.close()
    else:  # the CSV files: S3 copies the parts
        assert isinstance(output, S3File)
        for file in own:
            output.append_object(file["key"], file["bytes"])
        output.close()
    assert output.written is not None
    return sum(file["rows"] for file in own), output.written


class _Opened:
    """A FileTarget handing out one file already opened."""

    def __init__(self, output: OutputFile) -> None:
        self._output = output

    def open(self, filename: str, key_prefix: str, content_type: str) -> OutputFile:
        return self._output

    def abort_all(self) -> None:
        self._output.abort()
