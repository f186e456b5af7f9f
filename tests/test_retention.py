"""Retention: feedback items carry a TTL attribute RETENTION_DAYS after they were stored, only when a
retention is configured; the table has TTL enabled on that attribute (locally as in infra/)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib import aws
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.config import settings
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.models import Author, Channel, FeedbackEvent, Kind
from chalicelib.store import dynamo, schema
from chalicelib.store import feedback as feedback_store

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _store(external_id: str, text: str = "Great service") -> dict:
    event = FeedbackEvent.create(
        source_id="demo",
        external_id=external_id,
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text=text,
        author=Author(email=f"{external_id}@example.com"),
        occurred_at=T0,
        received_at=T0,
    )
    report = processing.analyze_and_store(encode_events([event]), LexiconAnalyzer())
    assert report.errors == [None]
    item = dynamo.get_item(settings().table_name, feedback_store.feedback_key(event.feedback_id))
    assert item is not None
    return item


def test_items_have_no_expiry_without_a_retention(stack):
    item = _store("kept")

    assert settings().retention_days == 0
    assert schema.TTL_ATTRIBUTE not in item


def test_items_expire_retention_days_after_they_were_stored(stack, monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "400")
    settings.cache_clear()

    item = _store("expiring")

    stored_at = feedback_store.from_item(item).stored_at
    assert item[schema.TTL_ATTRIBUTE] == int(stored_at.timestamp()) + 400 * 86_400
    # Read back as the model it was stored from: the expiry is the table's, not the item's.
    assert feedback_store.from_item(item).external_id == "expiring"
    # Profiles and identities stay: the customer's aggregates outlive the items they count.
    profile_and_identities = dynamo.batch_get(
        settings().table_name,
        [{schema.PK: f"CUSTOMER#{item['customer_id']}", schema.SK: "PROFILE"}],
    )
    assert [schema.TTL_ATTRIBUTE in p for p in profile_and_identities] == [False]


def test_the_local_table_has_ttl_enabled_on_the_attribute(stack):
    description = aws.client("dynamodb").describe_time_to_live(TableName=settings().table_name)

    assert description["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": schema.TTL_ATTRIBUTE,
    }


def test_an_erasure_finds_the_export_days_of_items_that_already_expired(stack, monkeypatch):

    from chalicelib.export import rewrite
    from chalicelib.export.day import MANIFEST_NAME, partition_prefix
    from chalicelib.privacy import erasure

    monkeypatch.setenv("RETENTION_DAYS", "30")
    settings.cache_clear()
    item = _store("expired")
    day = feedback_store.from_item(item).stored_at.date()
    aws.client("s3").put_object(
        Bucket=settings().bucket_name, Key=partition_prefix(day) + MANIFEST_NAME, Body=b"{}"
    )
    # DynamoDB's TTL deleted the item; the day's export files still hold it.
    aws.client("dynamodb").delete_item(
        TableName=settings().table_name,
        Key=dynamo.serialize(feedback_store.feedback_key(feedback_store.id_of(item))),
    )
    monkeypatch.setattr(rewrite, "request_rewrite", lambda exported, upcoming: "invoked")

    report = erasure.erase_customer(item["customer_id"])

    assert report is not None and report.feedback_deleted == 0
    assert report.exports_scheduled == [day.isoformat()]


def test_a_negative_item_leaves_the_latest_negatives_when_it_expires(stack, monkeypatch):
    from chalicelib.store import counters

    monkeypatch.setenv("RETENTION_DAYS", "30")
    settings.cache_clear()

    item = _store("sour", "Terrible service, awful and rude")

    feedback = feedback_store.from_item(item)
    assert feedback.sentiment == "NEGATIVE"
    # Its entry in the sparse index is the item's own, so it goes when TTL deletes the item: no pointer item
    # of its own outlives it.
    assert item[schema.NEGATIVE_PK] == schema.NEGATIVE_PARTITION and schema.TTL_ATTRIBUTE in item
    assert dynamo.get_item(settings().table_name, counters.negative_key(feedback)) is None
    day = feedback.stored_at.date()
    newest = counters.newest_negative_ids(day, day, 10)
    assert newest == [(feedback.stored_at.isoformat(), feedback.feedback_id)]
