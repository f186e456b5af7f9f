"""Erasure reaches the raw e-mail SES stored: the mail's S3 key (SES's message id, which the mail itself does
not carry) is kept on the stored item, internally, and the erasure deletes every version of that object. The
key never leaves the table: no export file, API answer or outbound event shows it."""

from __future__ import annotations

import gzip
import json
from typing import Any

from chalicelib import aws
from chalicelib.channels.email import receiving
from chalicelib.config import settings
from chalicelib.export.day import export_day
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import feedback_id_for
from chalicelib.privacy import erasure
from chalicelib.store import feedback as feedback_store
from tests.channels.test_email_receiving import email_source, ses_event, store_raw


def raw_versions(message_id: str) -> list[dict[str, Any]]:
    """Every version and delete marker of a raw mail's object (the bucket is versioned on AWS)."""
    listed = aws.client("s3").list_object_versions(
        Bucket=receiving.inbound_bucket(), Prefix=receiving.inbound_prefix() + message_id
    )
    return [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]


def exported_files() -> str:
    """The export files' bytes (gzip ones decompressed), without the raw mail beside them in the bucket."""
    s3, bucket = aws.client("s3"), settings().bucket_name
    bodies = []
    for listed in s3.list_objects_v2(Bucket=bucket, Prefix="exports/").get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
        bodies.append(gzip.decompress(body) if listed["Key"].endswith(".gz") else body)
    return b"\n".join(bodies).decode("utf-8", "replace")


def receive_and_store(stack: Any, message_id: str, fixture: str) -> None:
    from app import analyze

    store_raw(message_id, fixture)
    receiving.handle_ses_event(ses_event(message_id, ["feedback@acme.example"]))
    SqsPoller(stack.queue_url, analyze).drain()


def test_erasing_a_customer_deletes_the_raw_mail_they_sent_and_no_other(stack: Any):
    aws.client("s3").put_bucket_versioning(
        Bucket=receiving.inbound_bucket(), VersioningConfiguration={"Status": "Enabled"}
    )
    email_source("src_mail_1", "feedback@acme.example")
    receive_and_store(stack, "ses-jane", "gmail_reply_en.eml")
    receive_and_store(stack, "ses-other", "apple_mail_fr.eml")
    jane = feedback_store.get(feedback_id_for("src_mail_1", "CAF=abc123XYZ@mail.gmail.example"))
    assert jane is not None and jane.customer_id
    assert jane.raw_mail_key == receiving.inbound_prefix() + "ses-jane"

    report = erasure.erase_customer(jane.customer_id)

    assert report is not None and report.raw_mails_deleted == 1
    assert raw_versions("ses-jane") == []  # no version, no delete marker left behind
    assert len(raw_versions("ses-other")) == 1


def test_the_raw_mail_key_stays_internal(stack: Any):
    email_source("src_mail_1", "feedback@acme.example")
    receive_and_store(stack, "ses-jane", "gmail_reply_en.eml")
    stored = feedback_store.get(feedback_id_for("src_mail_1", "CAF=abc123XYZ@mail.gmail.example"))
    assert stored is not None and stored.raw_mail_key
    # What exports, the read API and outbound events render is the model's dump.
    assert "ses-jane" not in json.dumps(stored.model_dump(mode="json"))
    assert "raw_mail_key" not in stored.model_dump()
    export_day(stored.stored_at.date())
    exported = exported_files()
    assert "The parcel arrived two days late" in exported and "ses-jane" not in exported
