"""Erasure: the customer's identifiers are found nowhere afterwards, in the table or any export file."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime

import pyarrow.parquet as pq

from chalicelib import aws, privacy
from chalicelib.config import settings
from chalicelib.export.day import export_day
from chalicelib.models import Channel, RatingScale
from chalicelib.store import customers
from tests.test_customers import customer_of, event, process

EMAIL, USER, NAME = "erin.secret@example.com", "u-erin-77", "Erin Example"
SECRET_TEXT = "my order 5512 arrived broken"


def everything_stored() -> str:
    """Every table item and every export file's content (decompressed / decoded) as one string."""
    items = aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
    parts = [json.dumps(items)]
    s3 = aws.client("s3")
    for obj in s3.list_objects_v2(Bucket=settings().bucket_name).get("Contents", []):
        body = s3.get_object(Bucket=settings().bucket_name, Key=obj["Key"])["Body"].read()
        if obj["Key"].endswith(".gz"):
            body = gzip.decompress(body)
        if obj["Key"].endswith(".parquet"):
            body = json.dumps(pq.read_table(io.BytesIO(body)).to_pylist(), default=str).encode()
        parts.append(body.decode("utf-8"))
    return "\n".join(parts)


def seed_customer_and_others():
    erin = [
        event("e1", email=EMAIL, name=NAME, rating=2, scale=RatingScale.NPS, text=SECRET_TEXT),
        event(
            "e2",
            email=EMAIL,
            user=USER,
            source="src_chat",
            channel=Channel.WEBHOOK,
            text="Still waiting",
            minutes=1,
        ),
    ]
    other = event("o1", email="olga@example.com", text="All good")
    process(*erin, other)
    day = datetime.now(UTC).date()
    export_day(day)
    return customer_of(erin[0]), customer_of(other), day


def test_erasure_leaves_no_identifier_in_the_table_or_any_export(stack):
    customer_id, other_id, day = seed_customer_and_others()
    before = everything_stored()
    identifiers = [EMAIL, USER, NAME, SECRET_TEXT, customer_id]
    assert all(identifier in before for identifier in identifiers)

    report = privacy.erase_customer(customer_id)

    after = everything_stored()
    assert [identifier for identifier in identifiers if identifier in after] == []
    # Everyone else is untouched, in the table and in the rewritten export.
    assert "olga@example.com" in after
    assert customers.get_profile(other_id)["feedback_count"] == 1
    assert (report.feedback_deleted, report.identities_deleted, report.profiles_deleted) == (2, 2, 1)
    assert report.exports_rewritten == [day.isoformat()]
    manifest = json.loads(
        aws.client("s3")
        .get_object(Bucket=settings().bucket_name, Key=f"exports/dt={day}/manifest.json")["Body"]
        .read()
    )
    assert manifest["counts"]["feedback"] == 1


def test_the_erasure_log_records_the_request_not_the_data(stack):
    customer_id, _, _ = seed_customer_and_others()

    privacy.erase_customer(customer_id)

    [entry] = privacy.erasure_log()
    assert entry["customer_hash"] == privacy.customer_hash(customer_id)
    assert entry["feedback_deleted"] == 2
    assert customer_id not in json.dumps(entry)
    assert EMAIL not in json.dumps(entry)


def test_erasing_a_merged_customer_removes_the_absorbed_tombstone(stack):
    a, b = event("a", email="ma@example.com"), event("b", email="mb@example.com")
    process(a, b)
    keep, absorb = customer_of(a), customer_of(b)
    customers.merge(keep, absorb)

    privacy.erase_customer(keep)

    assert customers.get_profile(absorb) is None
    assert customers.get_profile(keep) is None
    assert "mb@example.com" not in everything_stored()


def test_erasing_an_unknown_customer_changes_nothing(stack):
    assert privacy.erase_customer("cus_nobody") is None
    assert privacy.erasure_log() == []


def test_an_api_erasure_leaves_the_export_rewrite_to_the_nightly_run(stack, client, monkeypatch):
    from chalicelib import auth
    from chalicelib.export import day as export

    customer_id, _, day = seed_customer_and_others()
    token, _ = auth.create_token("privacy", ["erase"])

    response = client.http.delete(f"/customers/{customer_id}", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert json.loads(response.body)["exports_scheduled_for_rewrite"] == [day.isoformat()]
    # The table is clean at once; the export still holds the customer until the export function runs.
    assert EMAIL in everything_stored()
    monkeypatch.setattr(export, "utc_now", lambda: datetime.now(UTC))
    client.lambda_.invoke(
        "nightly_export", client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    )

    after = everything_stored()
    assert [i for i in (EMAIL, USER, NAME, SECRET_TEXT, customer_id) if i in after] == []
    assert privacy.rewrite_scheduled_exports() == []  # the queue was emptied
