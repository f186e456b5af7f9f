"""Erasure reaches the raw e-mail SES stored: the mail's S3 key (SES's message id, which the mail itself does
not carry) is kept on the stored item, internally, and the erasure deletes every version of that object. The
key never leaves the table: no export file, API answer or outbound event shows it."""

from __future__ import annotations

import gzip
import json
from typing import Any
from unittest import mock

import pytest

from chalicelib import aws
from chalicelib.channels.email import receiving
from chalicelib.config import settings
from chalicelib.export.day import export_day
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import Channel, feedback_id_for
from chalicelib.privacy import erasure
from chalicelib.store import customers
from chalicelib.store import feedback as feedback_store
from tests.channels.test_email_receiving import email_source, ses_event, store_raw
from tests.test_customers import event, process
from tests.test_privacy import everything_stored, export_function

__all__ = ["export_function"]  # the fixture, shared with tests/test_privacy.py

# The stored item of gmail_reply_en.eml received by the source src_mail_1 (its Message-ID).
JANES_MAIL = feedback_id_for("src_mail_1", "CAF=abc123XYZ@mail.gmail.example")


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
    jane = feedback_store.get(JANES_MAIL)
    assert jane is not None and jane.customer_id
    assert jane.raw_mail_key == receiving.inbound_prefix() + "ses-jane"

    report = erasure.erase_customer(jane.customer_id)

    assert report is not None and report.raw_mails_deleted == 1
    assert raw_versions("ses-jane") == []  # no version, no delete marker left behind
    assert len(raw_versions("ses-other")) == 1


def test_the_raw_mail_key_stays_internal(stack: Any):
    email_source("src_mail_1", "feedback@acme.example")
    receive_and_store(stack, "ses-jane", "gmail_reply_en.eml")
    stored = feedback_store.get(JANES_MAIL)
    assert stored is not None and stored.raw_mail_key
    # What exports, the read API and outbound events render is the model's dump.
    assert "ses-jane" not in json.dumps(stored.model_dump(mode="json"))
    assert "raw_mail_key" not in stored.model_dump()
    export_day(stored.stored_at.date())
    exported = exported_files()
    assert "The parcel arrived two days late" in exported and "ses-jane" not in exported


def test_a_customer_who_wrote_a_form_a_mail_and_a_webhook_is_found_nowhere_after_erasure(
    stack: Any, client: Any, export_function: Any
):
    """What `make run` showed by hand (README, Privacy): the table, every export file and the raw mail."""
    email_source("src_mail_1", "feedback@acme.example")
    receive_and_store(stack, "ses-jane", "gmail_reply_en.eml")
    jane, name = "jane.doe@gmail.example", "Jane Doe"
    process(
        event("form-1", email=jane, name=name, text="Blender lid cracked"),
        event("hook-1", email=jane, source="src_chat", channel=Channel.WEBHOOK, text="Blender refund?"),
        event("other-1", email="olga@example.com", text="All good"),
    )
    day = feedback_store.get(
        feedback_id_for("src_mail_1", "CAF=abc123XYZ@mail.gmail.example")
    ).stored_at.date()
    export_day(day)
    words = [jane, name, "Blender", "parcel arrived two days late", "555 0100"]
    assert all(word in everything_stored() for word in words)
    customer_id = customers.find_by_email(jane)
    assert customer_id
    export_function.accepts(1)

    report = erasure.erase_customer(customer_id)

    assert export_function.run_invocations(client) == [{"rewritten": [day.isoformat()]}]
    assert (report.feedback_deleted, report.raw_mails_deleted) == (3, 1)
    after = everything_stored()
    assert [word for word in words if word in after] == []
    assert "olga@example.com" in after


def test_the_cli_and_the_api_say_how_many_raw_mails_the_erasure_deleted(client: Any, stack: Any, capsys: Any):
    # Before: the count was in the erasure log only; a DPO closing a request saw feedback and identities.
    from chalicelib import cli as admin_cli
    from tests.test_privacy import erase_token

    email_source("src_mail_1", "feedback@acme.example")
    receive_and_store(stack, "ses-jane", "gmail_reply_en.eml")
    receive_and_store(stack, "ses-other", "apple_mail_fr.eml")
    jane = feedback_store.get(JANES_MAIL)
    assert jane is not None and jane.customer_id
    [other] = [
        item.customer_id
        for item in feedback_store.list_day(jane.stored_at.date(), every_partition=True)
        if item.customer_id != jane.customer_id
    ]

    assert admin_cli.main(["customers", "erase", jane.customer_id, "--yes"]) == 0
    assert "1 raw mail(s)" in capsys.readouterr().out

    response = client.http.delete(f"/customers/{other}", headers=erase_token())
    assert (response.status_code, json.loads(response.body)["raw_mails_deleted"]) == (200, 1)


def test_a_raw_mail_s3_keeps_fails_the_erasure_before_anything_is_deleted(stack: Any):
    # DeleteObjects answers 200 listing what it could not delete: that was counted as deleted, and the
    # items went, so no later erasure could find the mail again.
    email_source("src_mail_1", "feedback@acme.example")
    receive_and_store(stack, "ses-jane", "gmail_reply_en.eml")
    jane = feedback_store.get(JANES_MAIL)
    assert jane is not None and jane.customer_id
    s3 = aws.client("s3")

    def refused(**request: Any) -> dict[str, Any]:
        [version] = request["Delete"]["Objects"]
        return {"Errors": [{"Key": version["Key"], "Code": "AccessDenied", "Message": "Access Denied"}]}

    with mock.patch.object(s3, "delete_objects", refused), pytest.raises(RuntimeError, match="AccessDenied"):
        erasure.erase_customer(jane.customer_id)

    assert feedback_store.get(JANES_MAIL) is not None  # still there: the erasure can be asked again
    report = erasure.erase_customer(jane.customer_id)
    assert report is not None and report.raw_mails_deleted == 1
    assert feedback_store.get(JANES_MAIL) is None
