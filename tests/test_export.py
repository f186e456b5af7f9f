"""The day export: files, manifest, idempotent re-runs, and reads through the per-day index only."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import crm, csv_writer
from chalicelib.export import day as export
from chalicelib.export.base import FEEDBACK_COLUMNS
from chalicelib.export.streams import LocalFile
from chalicelib.local import lambda_runtime
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import Author, StoredFeedback, utc_now
from chalicelib.store import counters, feedback_write
from chalicelib.store import feedback as feedback_store
from chalicelib.store.identities import Resolution
from chalicelib.themes import records as taxonomy_records
from tests.factories import form_event, stored_positive

DAY = date(2026, 11, 21)


def stored(
    external_id: str, when: datetime, text: str = "Great", rating: int = 9, **fields
) -> StoredFeedback:
    """A stored NPS response (language unknown, as from a form that does not send one)."""
    event = form_event(external_id, text, None, at=when, rating=rating, rating_scale="nps", **fields)
    return stored_positive(event)


def save(items: list[StoredFeedback]):
    """Store items directly (no analysis), as the analyze path does after its analysis."""
    return feedback_write.save_feedback(items, Resolution(), taxonomy_records.current().parents())


def s3_object(key: str) -> bytes:
    return aws.client("s3").get_object(Bucket=settings().bucket_name, Key=key)["Body"].read()


@pytest.fixture
def day_items(stack):
    at = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    items = [
        stored("a", at, 'Comma, "quotes" and\nnewline', name="Ann"),
        stored("b", at + timedelta(hours=1), '=HYPERLINK("http://evil")', name="+Bob"),
        stored("c", at + timedelta(hours=2), "Plain"),
    ]
    others = [stored("old", at - timedelta(days=1)), stored("new", at + timedelta(days=1))]
    outcome = save(items + others)
    assert len(outcome.created) == 5
    return items


def test_export_writes_csv_jsonl_and_manifest_for_that_day_only(day_items):
    manifest = export.export_day(DAY)

    prefix = "exports/dt=2026-11-21/"
    raw_csv = s3_object(prefix + "feedback.csv")
    assert raw_csv.count(b"\r\n") >= 4  # RFC 4180 line endings (one more inside a quoted cell)
    rows = list(csv.DictReader(io.StringIO(raw_csv.decode("utf-8"), newline="")))
    assert tuple(rows[0].keys()) == FEEDBACK_COLUMNS
    assert [r["external_id"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["text"] == 'Comma, "quotes" and\nnewline'
    assert (rows[0]["sentiment"], rows[0]["rating"], rows[0]["author_email"]) == (
        "POSITIVE",
        "9",
        "a@example.com",
    )
    # Formula-looking customer text is neutralised for spreadsheet tools.
    assert rows[1]["text"] == '\'=HYPERLINK("http://evil")'
    assert rows[1]["author_name"] == "'+Bob"

    lines = gzip.decompress(s3_object(prefix + "feedback.jsonl.gz")).decode().splitlines()
    assert [json.loads(line)["external_id"] for line in lines] == ["a", "b", "c"]
    assert json.loads(lines[0])["sentiment_scores"]["positive"] == 0.9

    assert json.loads(s3_object(prefix + "manifest.json")) == manifest
    assert manifest["date"] == "2026-11-21"
    # These items were stored without customers, so the CRM files (tests/test_crm_export.py) have no rows.
    assert manifest["counts"] == {"feedback": 3, "contacts": 0, "activities": 0, "feedback_themes": 0}
    for file in manifest["files"]:
        assert file["sha256"] == hashlib.sha256(s3_object(file["key"])).hexdigest()
        assert file["rows"] == (3 if "/feedback." in file["key"] else 0)


def test_each_file_is_labelled_as_what_its_bytes_are(day_items):
    manifest = export.export_day(DAY)

    labels = {file["key"].rsplit("/", 1)[1]: file["content_type"] for file in manifest["files"]}
    stored_as = {
        key: aws.client("s3").head_object(Bucket=settings().bucket_name, Key=file["key"])["ContentType"]
        for file in manifest["files"]
        for key in [file["key"].rsplit("/", 1)[1]]
    }
    # Before: feedback.jsonl.gz said application/x-ndjson, so a BI tool fetching its link was told the gzip
    # bytes were JSON lines.
    assert labels["feedback.jsonl.gz"] == stored_as["feedback.jsonl.gz"] == "application/gzip"
    assert labels["feedback.csv"] == stored_as["feedback.csv"] == "text/csv; charset=utf-8"


def test_rerunning_a_day_overwrites_the_same_keys_with_the_same_bytes(day_items):
    first = export.export_day(DAY)
    second = export.export_day(DAY)

    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=settings().bucket_name)["Contents"]]
    assert sorted(keys) == [
        "exports/dt=2026-11-21/activities.csv",
        "exports/dt=2026-11-21/contacts.csv",
        "exports/dt=2026-11-21/feedback.csv",
        "exports/dt=2026-11-21/feedback.jsonl.gz",
        "exports/dt=2026-11-21/manifest.json",
        "exports/feedback_themes/dt=2026-11-21/feedback_themes.parquet",
        "exports/parquet/dt=2026-11-21/feedback.parquet",
    ]
    assert [f["sha256"] for f in first["files"]] == [f["sha256"] for f in second["files"]]


def test_export_reads_only_the_day_through_the_index(day_items):
    counters.mark_complete_if_unset(counters.EVERY_DAY)  # as the local stack marks a table it creates
    operations: Counter[str] = Counter()
    items_read = []

    def count(event_name: str, **kwargs) -> None:
        operations[event_name.rsplit(".", 1)[1]] += 1

    def read(parsed: dict, **kwargs) -> None:
        items_read.append(parsed["ScannedCount"])

    dynamodb = aws.client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb", count)
    dynamodb.meta.events.register("after-call.dynamodb.Query", read)

    manifest = export.export_day(DAY)

    # The day's counters (one BatchGetItem) say it holds one channel, all in the channel layout: one Query
    # per shard of that channel's partition, none of the old layout's shards (store/day_layout.py).
    assert operations == {"BatchGetItem": 1, "Query": settings().channel_shards}
    assert sum(items_read) == manifest["counts"]["feedback"] == 3


def test_an_empty_day_still_writes_headers_and_a_manifest(stack):
    manifest = export.export_day(date(2020, 1, 1))

    assert manifest["counts"] == {"feedback": 0, "contacts": 0, "activities": 0, "feedback_themes": 0}
    assert s3_object("exports/dt=2020-01-01/feedback.csv").decode().startswith("feedback_id,source_id")


def test_a_manifest_says_whether_its_day_was_over_when_the_export_began(day_items, monkeypatch):
    """`cli export --partial` exports today so far: its manifest must not look like the whole day's to a
    loader that takes each manifest once (the nightly run's replaces it)."""
    monkeypatch.setattr(export, "utc_now", lambda: datetime(2026, 11, 21, 18, 0, tzinfo=UTC))
    partial = export.export_day(DAY)
    assert partial["complete"] is False
    assert json.loads(s3_object("exports/dt=2026-11-21/manifest.json"))["complete"] is False

    monkeypatch.setattr(export, "utc_now", lambda: datetime(2026, 11, 22, 0, 0, tzinfo=UTC))
    whole = export.export_day(DAY)
    assert whole["complete"] is True
    assert json.loads(s3_object("exports/dt=2026-11-21/manifest.json")) == whole


def test_nightly_schedule_exports_the_previous_utc_day(client, day_items, monkeypatch):
    monkeypatch.setattr(export, "utc_now", lambda: datetime(2026, 11, 22, 2, 15, tzinfo=UTC))

    response = client.lambda_.invoke(
        "nightly_export", client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    )

    assert response.payload["date"] == "2026-11-21"
    assert response.payload["counts"] == {"feedback": 3, "contacts": 0, "activities": 0, "feedback_themes": 0}


# --- CSV injection: every cell of every CSV goes through csv_writer.escape_cell ----------------------------

# OWASP's formula starts (and ASVS's NUL), alone and after leading whitespace of several kinds.
FORMULA_CELLS = [
    "=cmd|'/Ccalc'!A0@example.org",
    '=HYPERLINK("http://evil","x")',
    "+1 555 0100",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "\0=1+1",
    "\tplain after a tab",
    "  =1+1",
    "\n@SUM(1)",
    "\u00a0-1",
    "\u3000+1",
]
SAFE_CELLS = ["Great service", "a=b", "e-mail me", "ana@example.com", "'already text", "", "https://x.com/a"]

# How each feedback.csv column is filled; a new column fails the classification test until it is listed.
TEXT_COLUMNS = (
    "feedback_id",
    "source_id",
    "external_id",
    "thread_id",
    "text",
    "language",
    "author_channel_user_id",
    "author_handle",
    "author_name",
    "author_email",
    "permalink",
    "analyzer",
    "skipped_reason",
    "customer_id",
)
ENUM_COLUMNS = ("channel", "kind", "rating_scale", "sentiment")
TIME_COLUMNS = ("occurred_at", "received_at", "stored_at", "analyzed_at", "platform_deleted_at")
NUMBER_COLUMNS = (
    "rating",
    "sentiment_positive",
    "sentiment_negative",
    "sentiment_neutral",
    "sentiment_mixed",
    "pii_redacted",
)
# Written from the stored list: `id:SENTIMENT;…` (tests/test_theme_export.py checks it and its escaping).
LIST_COLUMNS = ("themes",)


def with_cell(item: StoredFeedback, column: str, value: str) -> StoredFeedback:
    """`item` with `value` in the field that fills `column`."""
    if column.startswith("author_"):
        author = Author(**{**item.author.model_dump(), column.removeprefix("author_"): value})
        return item.model_copy(update={"author": author})
    return item.model_copy(update={column: value})


def written_rows(writer_class, tmp_path, *items: StoredFeedback) -> tuple[bytes, list[dict[str, str]]]:
    writer = writer_class(tmp_path)
    for item in items:
        writer.write(item)
    raw = writer.close().path.read_bytes()
    return raw, list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def test_every_feedback_csv_column_is_classified():
    classified = TEXT_COLUMNS + ENUM_COLUMNS + TIME_COLUMNS + NUMBER_COLUMNS + LIST_COLUMNS
    assert sorted(classified) == sorted(FEEDBACK_COLUMNS)


@pytest.mark.parametrize("column", TEXT_COLUMNS)
@pytest.mark.parametrize("value", FORMULA_CELLS, ids=repr)
def test_a_formula_in_any_text_column_of_feedback_csv_is_neutralised(tmp_path, column, value):
    item = with_cell(stored("a", datetime(2026, 11, 21, 10, tzinfo=UTC)), column, value)

    _, [row] = written_rows(csv_writer.CsvWriter, tmp_path, item)

    assert row[column] == "'" + value


@pytest.mark.parametrize("value", SAFE_CELLS)
def test_text_that_is_no_formula_is_written_as_it_is(tmp_path, value):
    item = with_cell(stored("a", datetime(2026, 11, 21, 10, tzinfo=UTC)), "author_name", value)

    _, [row] = written_rows(csv_writer.CsvWriter, tmp_path, item)

    assert row["author_name"] == value


def test_numbers_the_product_computes_stay_numbers(tmp_path):
    item = stored("a", datetime(2026, 11, 21, 10, tzinfo=UTC), rating=0)

    raw, [row] = written_rows(csv_writer.CsvWriter, tmp_path, item)

    assert [row[c] for c in NUMBER_COLUMNS] == ["0", "0.9", "0.05", "0.05", "0.0", "False"]
    assert [row[c] for c in TIME_COLUMNS[:2]] == ["2026-11-21T10:00:00.000000Z"] * 2
    assert b"'" not in raw  # nothing of this item needed neutralising
    # The one cell writer escapes numbers of either sign never.
    assert [csv_writer.escape_cell(n) for n in (-0.25, -3, 0, True, None)] == [-0.25, -3, 0, True, None]


def test_an_id_that_is_a_negative_number_is_written_as_the_other_files_hold_it(tmp_path):
    """A Telegram group's chat id is negative (-100…): it is a number to a spreadsheet, not a formula, and an
    analyst joins feedback.csv's thread_id to the Parquet's and the API's. Anything more after the sign is
    still text a spreadsheet could run."""
    group = "-1001234567890"
    item = with_cell(stored("a", datetime(2026, 11, 21, 10, tzinfo=UTC)), "thread_id", group)
    item = with_cell(item, "author_channel_user_id", "-42.5")

    _, [row] = written_rows(csv_writer.CsvWriter, tmp_path, item)

    assert (row["thread_id"], row["author_channel_user_id"]) == (group, "-42.5")
    for formula in (f"{group}:7", "-1+1", "-1e3", "- 1", "-1,5", "-", "-\u0661\u0662"):
        assert csv_writer.escape_cell(formula) == "'" + formula


@pytest.mark.parametrize(
    "columns",
    [crm.CONTACT_COLUMNS, crm.ACTIVITY_COLUMNS, FEEDBACK_COLUMNS],
    ids=["contacts", "activities", "feedback"],
)
def test_every_column_of_every_csv_layout_is_neutralised(tmp_path, columns):
    """The layouts share CsvFile: a formula in any cell of any of them is written as text."""
    out = csv_writer.CsvFile(LocalFile(tmp_path / "file.csv"), columns)
    for value in FORMULA_CELLS:
        out.write(dict.fromkeys(columns, value))
    rows = list(csv.DictReader(io.StringIO(out.close().path.read_bytes().decode("utf-8"), newline="")))

    assert [[row[c] for c in columns] for row in rows] == [["'" + v] * len(columns) for v in FORMULA_CELLS]


def test_a_formula_email_from_a_form_is_text_in_every_csv_of_its_day(client, stack):
    """The issue's case end to end: a real form response, stored by the analyze path, exported."""
    from app import analyze

    email = "=cmd|'/Ccalc'!A0@example.org"
    response = client.http.post(
        "/forms/demo/responses",
        headers={"content-type": "application/json"},
        body=json.dumps({"rating": 9, "comment": "Fine", "email": email, "name": "@Mallory"}).encode(),
    )
    assert response.status_code == 202, response.body
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    [item] = feedback_store.list_day(utc_now().date())
    stored_email = item.author.email
    assert stored_email.lower() == email.lower()  # accepted and stored as a valid address

    export.export_day(utc_now().date())

    prefix = f"exports/dt={utc_now().date().isoformat()}/"
    rows = {
        name: list(csv.DictReader(io.StringIO(s3_object(prefix + name).decode("utf-8"), newline="")))
        for name in ("feedback.csv", "contacts.csv", "activities.csv")
    }
    assert rows["feedback.csv"][0]["author_email"] == "'" + stored_email
    assert rows["feedback.csv"][0]["author_name"] == "'@Mallory"
    assert rows["contacts.csv"][0]["Email"] == "'" + stored_email
    assert rows["activities.csv"][0]["Email"] == "'" + stored_email
    for name, file_rows in rows.items():
        for row in file_rows:
            for column, cell in row.items():
                assert not csv_writer.FORMULA_START.match(cell), (name, column, cell)


# --- links: only http(s) permalinks reach the export files -----------------------------------------------

# ("https:no-host" is not among them: the event model reads it as browsers do, https://no-host/, a web link.)
NOT_WEB_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/path",
    '=HYPERLINK("http://evil")',
]


def test_a_stored_link_that_is_not_http_reaches_no_export_file(stack):
    """Items stored before ingest refused such links: feedback.csv, activities.csv, the JSON Lines and the
    Parquet file leave them out; a web link and the rest of the item are exported as they are."""
    from tests.test_customers import event, process

    web = "https://shop.example.com/checkout?step=2"
    urls = [*NOT_WEB_URLS, web]
    events = [
        event(f"link{n}", email=f"l{n}@example.com").model_copy(
            update={"permalink": url, "metadata": {"page_url": url, "form_name": "Checkout"}}
        )
        for n, url in enumerate(urls)
    ]
    process(*events)
    day = utc_now().date()
    prefix = f"exports/dt={day.isoformat()}/"
    # What every file should say per item: the web link kept, every other link left out.
    expected = {e.external_id: (url if url == web else None) for e, url in zip(events, urls, strict=True)}

    manifest = export.export_day(day)

    assert manifest["counts"]["feedback"] == manifest["counts"]["activities"] == len(urls)
    feedback_rows = csv.DictReader(io.StringIO(s3_object(prefix + "feedback.csv").decode(), newline=""))
    assert {r["external_id"]: r["permalink"] for r in feedback_rows} == {
        k: v or "" for k, v in expected.items()
    }
    activities = csv.DictReader(io.StringIO(s3_object(prefix + "activities.csv").decode(), newline=""))
    assert sorted(r["Feedback Permalink"] for r in activities) == [""] * len(NOT_WEB_URLS) + [web]
    lines = [
        json.loads(line) for line in gzip.decompress(s3_object(prefix + "feedback.jsonl.gz")).splitlines()
    ]
    assert {line["external_id"]: line.get("permalink") for line in lines} == expected
    assert {line["external_id"]: line["metadata"] for line in lines} == {
        k: {"form_name": "Checkout", **({"page_url": v} if v else {})} for k, v in expected.items()
    }
    table = pq.read_table(io.BytesIO(s3_object(f"exports/parquet/dt={day.isoformat()}/feedback.parquet")))
    parquet_links = zip(
        table.column("external_id").to_pylist(), table.column("permalink").to_pylist(), strict=True
    )
    assert dict(parquet_links) == expected


def test_the_local_stack_schedule_runs_the_nightly_export(client, day_items, monkeypatch):
    """`make run` calls the same handler at 02:15 UTC with an event Chalice accepts (it used to miss the
    `version` field every EventBridge event has, and the run failed)."""
    from app import nightly_export

    monkeypatch.setattr(export, "utc_now", lambda: datetime(2026, 11, 22, 2, 15, tzinfo=UTC))
    monkeypatch.setattr(lambda_runtime, "next_run", lambda now, hour, minute: now)
    manifests = []

    def run_once(event, context):
        manifests.append(nightly_export(event, context))
        scheduler.stop()

    scheduler = lambda_runtime.DailyScheduler(run_once, "nightly_export", hour=2, minute=15)
    scheduler._run()  # in this thread: one run, then stop

    assert [m["counts"]["feedback"] for m in manifests] == [3]
    assert manifests[0]["date"] == "2026-11-21"


def test_the_readme_describes_every_column_of_feedback_csv_in_order():
    """An analyst maps feedback.csv and feedback.parquet from the README's table of their columns: it names
    each column the files have, in their order, and none they do not."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("**Columns of feedback.csv and feedback.parquet.**", 1)[1].split("\n\n", 2)[1]
    named = [re.findall(r"`(\w+)`", row.split("|")[1]) for row in table.splitlines()[2:]]
    assert [column for row in named for column in row] == list(FEEDBACK_COLUMNS)


def test_every_timestamp_of_a_csv_has_one_layout(tmp_path):
    """A platform's time in whole seconds and a form's with microseconds in one column: pandas'
    read_csv(parse_dates=…) takes its format from the first row and left the whole column as text. Every
    CSV time is written to the microsecond, in UTC with `Z`."""
    whole = stored("a", datetime(2026, 11, 21, 10, tzinfo=UTC))
    exact = stored("b", datetime(2026, 11, 21, 11, 0, 0, 123456, tzinfo=UTC))
    layout = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")

    _, rows = written_rows(csv_writer.CsvWriter, tmp_path, whole, exact)

    times = [row[column] for row in rows for column in TIME_COLUMNS if row[column]]
    times += [crm.activity_row(item)["Occurred At"] for item in (whole, exact)]
    assert times and all(layout.fullmatch(value) for value in times), times
    assert rows[0]["occurred_at"] == "2026-11-21T10:00:00.000000Z"
