"""The day export streamed to S3: byte for byte the export written before streaming, parts of the part size
(the last excepted), one PutObject for a small file, and no partial object after a failure."""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import moto.s3.models
import pyarrow
import pytest

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import day as export
from chalicelib.export.streams import S3Day, S3File
from chalicelib.models import StoredFeedback, ThemeTag
from chalicelib.store import feedback as feedback_store
from tools.bench.stack import write_items
from tools.bench.synthetic import profile_item, synthetic_customer, synthetic_stored

DAY = date(2026, 11, 21)
THEME_IDS = ("delivery", "battery", "support", "pricing")


def seed_day(day: date, count: int, seed: int) -> None:
    """`count` synthetic items on `day` (60% by known customers, with their profiles; every third item
    tagged with a theme), written straight into moto."""
    rng = random.Random(seed)
    customers = [synthetic_customer(n) for n in range(max(1, count // 6))]
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    stored = []
    for index in range(count):
        at = midnight + timedelta(microseconds=rng.randrange(86_400 * 10**6))
        customer = rng.choice(customers) if rng.random() < 0.6 else None
        item = synthetic_stored(rng, f"golden-{index:04d}", at, customer)
        if index % 3 == 0:
            tag = ThemeTag(
                id=rng.choice(THEME_IDS), sentiment=item.sentiment or "NEUTRAL", evidence=item.text[:20]
            )
            item = item.model_copy(update={"themes": [tag], "taxonomy_version": 1})
        stored.append(item)
    by_customer: defaultdict[str, list[StoredFeedback]] = defaultdict(list)
    for item in stored:
        if item.customer_id is not None:
            by_customer[item.customer_id].append(item)
    known = {customer.customer_id: customer for customer in customers}
    rows = [feedback_store.to_item(item) for item in stored]
    rows += [
        profile_item(known[cid], found, midnight + timedelta(days=1)) for cid, found in by_customer.items()
    ]
    write_items(rows, direct=True)


# sha256 and bytes of each file of seed_day(DAY, 900, seed=29), written by the export as it was before
# streaming (every file built in /tmp, then uploaded whole), with the `platform_deleted_at` column added
# since (feedback.csv: 920 bytes more, a comma a row and the header's name; feedback.parquet: the column).
BEFORE_STREAMING = {
    "exports/dt=2026-11-21/feedback.csv": (
        "3ffd2288421d6e511f335fd3a0ee07b6ecd0552d1b1effc4c77c27dcd445968c",
        458725,
    ),
    "exports/dt=2026-11-21/feedback.jsonl.gz": (
        "bd6a9c789432f8afb2c5a99d544cd803dd1e8e21cbcbc4995dacb1a1f9ede1cf",
        86368,
    ),
    "exports/dt=2026-11-21/contacts.csv": (
        "3947229abc9c910fa2bc81293e734aacaf908407ebb2d2628b25034f65ac1c78",
        18969,
    ),
    "exports/dt=2026-11-21/activities.csv": (
        "b17f85e2bdde0f53b1963019c68ccb655ba62a38ee6183f5477c33f9b447f3eb",
        225449,
    ),
}
# The Parquet files' bytes name the pyarrow version that wrote them (their footer's created_by).
PARQUET_BEFORE_STREAMING = {
    "26.0.1": {
        "exports/parquet/dt=2026-11-21/feedback.parquet": (
            "27a7fcdea20ff8b17dc7da28ca0712d354f530a612a61e4811d40b31f2cc2d88",
            115060,
        ),
        "exports/feedback_themes/dt=2026-11-21/feedback_themes.parquet": (
            "e0323f79a654503126ab8e70c63bcd6e6fd9bb3dedfc3786ae6a9737f54f8105",
            16427,
        ),
    }
}
SMALL_PART = 16 * 1024


@pytest.fixture
def small_parts(monkeypatch):
    """moto accepts parts of SMALL_PART bytes (S3 wants 5 MiB): a 900-item day is uploaded in many parts."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", SMALL_PART)


def s3_calls() -> Counter[str]:
    calls: Counter[str] = Counter()
    aws.client("s3").meta.events.register(
        "before-call.s3", lambda event_name, **_: calls.update([event_name])
    )
    return calls


def s3_bytes(key: str) -> bytes:
    return aws.client("s3").get_object(Bucket=settings().bucket_name, Key=key)["Body"].read()


def test_the_streamed_day_is_byte_for_byte_the_export_before_streaming(stack, small_parts):
    seed_day(DAY, 900, seed=29)
    calls = s3_calls()

    manifest = export.export_day(DAY, part_size=SMALL_PART)

    expected = {**BEFORE_STREAMING, **PARQUET_BEFORE_STREAMING.get(pyarrow.__version__, {})}
    assert len(expected) >= len(BEFORE_STREAMING)
    listed = {file["key"]: (file["sha256"], file["bytes"]) for file in manifest["files"]}
    for key, (sha256, size) in expected.items():
        body = s3_bytes(key)
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha256, size), key
        assert listed[key] == (sha256, size)
    assert manifest["counts"] == {"feedback": 900, "feedback_themes": 300, "contacts": 146, "activities": 540}
    # The files above SMALL_PART went as multipart uploads, the smaller ones as one PutObject each.
    big = [file for file in manifest["files"] if file["bytes"] > SMALL_PART]
    assert calls["before-call.s3.CompleteMultipartUpload"] == len(big) >= 4
    assert calls["before-call.s3.UploadPart"] >= sum(file["bytes"] // SMALL_PART for file in big)
    assert calls["before-call.s3.PutObject"] == len(manifest["files"]) - len(big) + 1  # and the manifest


def test_every_part_but_the_last_is_the_part_size(stack, small_parts):
    sizes: list[int] = []
    aws.client("s3").meta.events.register(
        "provide-client-params.s3.UploadPart", lambda params, **_: sizes.append(len(params["Body"]))
    )
    data = random.Random(5).randbytes(3 * SMALL_PART + 123)
    with S3Day(settings().bucket_name, "dt=2026-11-21/", SMALL_PART) as target:
        out = target.open("blob.bin", "exports/", "application/octet-stream")
        for start in range(0, len(data), 1000):
            out.write(data[start : start + 1000])
        out.close()

    assert sizes == [SMALL_PART, SMALL_PART, SMALL_PART, 123]
    assert s3_bytes("exports/dt=2026-11-21/blob.bin") == data
    assert out.written is not None and out.written.sha256 == hashlib.sha256(data).hexdigest()


def test_a_file_smaller_than_a_part_is_one_put(stack):
    calls = s3_calls()
    with S3Day(settings().bucket_name, "dt=2026-11-21/") as target:
        out = target.open("small.csv", "exports/", "text/csv")
        out.write(b"a,b\r\n")
        out.close()

    assert [name.rsplit(".", 1)[1] for name in calls.elements()] == ["PutObject"]
    assert s3_bytes("exports/dt=2026-11-21/small.csv") == b"a,b\r\n"


def test_a_failed_export_leaves_no_partial_object_and_keeps_the_previous_files(
    stack, small_parts, monkeypatch
):
    seed_day(DAY, 300, seed=3)
    before = export.export_day(DAY, part_size=SMALL_PART)
    seed_day(DAY, 900, seed=29)  # more items, so the re-run differs and is uploaded in parts
    real_write = export.JsonLinesWriter.write
    written = 0

    def fail_late(self, feedback: StoredFeedback) -> None:
        nonlocal written
        written += 1
        if written == 800:
            raise RuntimeError("the function ran out of time")
        real_write(self, feedback)

    monkeypatch.setattr(export.JsonLinesWriter, "write", fail_late)
    calls = s3_calls()
    with pytest.raises(RuntimeError, match="out of time"):
        export.export_day(DAY, part_size=SMALL_PART)

    assert calls["before-call.s3.UploadPart"] > 0  # parts had been sent before the failure
    bucket = settings().bucket_name
    assert "Uploads" not in aws.client("s3").list_multipart_uploads(Bucket=bucket)
    for file in before["files"]:
        assert hashlib.sha256(s3_bytes(file["key"])).hexdigest() == file["sha256"], file["key"]
    assert calls["before-call.s3.AbortMultipartUpload"] >= 1


def test_an_aborted_file_drops_late_writes_and_a_closed_one_refuses_them(stack):
    with S3Day(settings().bucket_name, "dt=2026-11-21/") as target:
        out = target.open("x.csv", "exports/", "text/csv")
        assert isinstance(out, S3File)
        out.write(b"row\r\n")
        out.abort()
        out.write(b"a finalizer's flush")
        out.close()
        assert out.written is None
        done = target.open("y.csv", "exports/", "text/csv")
        done.close()
        with pytest.raises(ValueError, match="closed export file"):
            done.write(b"more")
    listed = aws.client("s3").list_objects_v2(Bucket=settings().bucket_name, Prefix="exports/")
    assert [o["Key"] for o in listed["Contents"]] == ["exports/dt=2026-11-21/y.csv"]
