"""The day export: files, manifest, idempotent re-runs, and reads through the per-day index only."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import day as export
from chalicelib.export.base import FEEDBACK_COLUMNS
from chalicelib.models import (
    StoredFeedback,
)
from chalicelib.store import customers
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
    return customers.save_feedback(items, customers.Resolution())


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
    assert manifest["counts"] == {"feedback": 3, "contacts": 0, "activities": 0}
    for file in manifest["files"]:
        assert file["sha256"] == hashlib.sha256(s3_object(file["key"])).hexdigest()
        assert file["rows"] == (3 if "/feedback." in file["key"] else 0)


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
        "exports/parquet/dt=2026-11-21/feedback.parquet",
    ]
    assert [f["sha256"] for f in first["files"]] == [f["sha256"] for f in second["files"]]


def test_export_reads_only_the_day_through_the_index(day_items):
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

    assert set(operations) == {"Query"}
    assert operations["Query"] == settings().day_shards
    assert sum(items_read) == manifest["counts"]["feedback"] == 3


def test_an_empty_day_still_writes_headers_and_a_manifest(stack):
    manifest = export.export_day(date(2020, 1, 1))

    assert manifest["counts"] == {"feedback": 0, "contacts": 0, "activities": 0}
    assert s3_object("exports/dt=2020-01-01/feedback.csv").decode().startswith("feedback_id,source_id")


def test_nightly_schedule_exports_the_previous_utc_day(client, day_items, monkeypatch):
    monkeypatch.setattr(export, "utc_now", lambda: datetime(2026, 11, 22, 2, 15, tzinfo=UTC))

    response = client.lambda_.invoke(
        "nightly_export", client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    )

    assert response.payload["date"] == "2026-11-21"
    assert response.payload["counts"] == {"feedback": 3, "contacts": 0, "activities": 0}
