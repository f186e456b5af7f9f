"""Erasure of a customer (GDPR art. 17 / CCPA deletion): the profile (with it the customer's first
identity, store/identities.py), the profiles it absorbed (their tombstones), the redirects and identity items
of its other identities, and its feedback go from the table, every past export partition that held them is
written again without them within minutes (by the export function, invoked asynchronously:
chalicelib/export/rewrite.py), the raw e-mails they sent (every version of the S3 object their items name
in `raw_mail_key`) are deleted, and an erasure log entry records that it happened — never what was erased.

The feedback's counts leave the day counters in the transactions that delete it (store/feedback_delete.py).
The CRMs are reached without an import: the profile's delete is a REMOVE record on the table's stream, which
the stream function turns into a CRM `erase` message (chalicelib/crm/queue.py), so the connected CRMs lose
the customer's contact and notes within minutes, and a CRM that is down gets the erasure when it is back.
What stays, on purpose: the erasure log (a hash of the customer id, the time and counts), and tombstones
of nothing (profiles this customer absorbed are deleted with it). Messages still in the ingest queue or
its DLQ (14 days' retention) could bring feedback back: erase after replaying or purging the DLQ.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import StoredFeedback, utc_now
from chalicelib.observability import logger
from chalicelib.store import customers, dynamo, feedback_delete
from chalicelib.store import feedback as feedback_store
from chalicelib.store import identities as identity_store
from chalicelib.store.identities import IDENTITY
from chalicelib.store.profiles import profile_key
from chalicelib.store.schema import PK, RECORD_TYPE, SK
from chalicelib.themes import records as taxonomy_records

ERASURE = "ERASURE"
# ErasureReport.export_rewrite when the customer's days are not exported yet (the nightly run writes them).
UPCOMING = "upcoming"


@dataclass
class ErasureReport:
    """What an erasure removed (counts only), which export days it left to rewrite and how the rewrite
    was started (rewrite.Dispatch)."""

    customer_hash: str
    requested_at: str
    feedback_deleted: int = 0
    identities_deleted: int = 0
    profiles_deleted: int = 0
    raw_mails_deleted: int = 0
    exports_scheduled: list[str] = field(default_factory=list)
    # rewrite.Dispatch (named without importing the export package), or UPCOMING: nothing exported yet
    export_rewrite: str = "none"
    merged_into: str | None = None  # the customer erased when the id asked was one a merge absorbed
    # Who asked, for the audit trail: "token:<token id>" (DELETE /customers/{id}) or "cli" (an operator).
    requested_by: str | None = None


def customer_hash(customer_id: str) -> str:
    """How the erasure log names a customer: a one-way hash, so the log itself holds no identifier."""
    return hashlib.sha256(f"erasure:{customer_id}".encode()).hexdigest()


def day_exported(day: date) -> bool:
    """Whether the day has an export (its manifest): its files would hold what the table held that day."""
    from chalicelib.export.day import MANIFEST_NAME, partition_prefix

    try:
        aws.client("s3").head_object(Bucket=settings().bucket_name, Key=partition_prefix(day) + MANIFEST_NAME)
    except ClientError as error:
        if error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def erase_customer(customer_id: str, requested_by: str | None = None) -> ErasureReport | None:
    """Erase a customer everywhere; None when there is no such customer (nothing is logged then).

    The table is clean when this returns; the export days that held the customer are marked pending (GET
    /exports refuses them) and handed to the export function, which rewrites them within minutes."""
    # The export package (its writers) loads on an erasure, not on every API cold start.
    from chalicelib.export import rewrite
    from chalicelib.export.day import previous_utc_day

    # A merge proved an old id and its survivor one person (GET /customers/{id} answers with the survivor):
    # erasing only the old id's tombstone would leave all of their data.
    held = customers.held_data(customer_id)
    if held is None:
        return None
    current, profile, items = held
    survivor, customer_id = (current if current != customer_id else None), current
    report = ErasureReport(
        customer_hash=customer_hash(customer_id),
        requested_at=utc_now().isoformat(),
        merged_into=survivor,
        requested_by=requested_by,
    )
    deletes: list[dict[str, Any]] = []
    days: set[date] = set()
    feedback: list[StoredFeedback] = []
    for item in items:
        if item.get(RECORD_TYPE) == feedback_store.ITEM_TYPE:
            feedback.append(feedback_store.from_item(item))
        elif item.get(RECORD_TYPE) != IDENTITY:  # identities: below, with those not in the index
            deletes.append({"DeleteRequest": {"Key": dynamo.serialize({PK: item[PK], SK: item[SK]})}})
    report.feedback_deleted = len(feedback)
    days.update(item.stored_at.date() for item in feedback)
    feedback_ids = [item.feedback_id for item in feedback]
    profiles = {customer_id, *((profile or {}).get("absorbed", []))}
    found = _identities(profiles, profile, items, feedback)
    for identity in found.stored:
        deletes.append({"DeleteRequest": {"Key": dynamo.serialize({PK: identity[PK], SK: identity[SK]})}})
    # Those stored as a redirect or identity item, and the first identities of the profiles deleted below.
    report.identities_deleted = len(found.stored) + len(found.first)
    # With a retention, items may have expired from the table while their export days remain: the profile
    # lists every day its items were stored on (merges carry the absorbed profiles' days over).
    days.update(date.fromisoformat(day) for day in (profile or {}).get("stored_days", []))
    # The raw mails the customer sent (as received: unredacted body, signature, attachments), before the
    # items naming their keys go: an S3 failure leaves the customer whole, for the erasure to be asked again.
    raw_mails = {item.raw_mail_key for item in feedback if item.raw_mail_key}
    report.raw_mails_deleted = _delete_raw_mails(raw_mails)
    # Feedback goes in transactions with its day and hour counts (its negative index entry with it), so
    # /stats forgets it too.
    feedback_delete.delete_feedback(feedback_ids, taxonomy_records.current().parents())
    for profile_id in sorted(profiles):
        deletes.append({"DeleteRequest": {"Key": dynamo.serialize(profile_key(profile_id))}})
    report.profiles_deleted = len(profiles) if profile else 0
    # Deleting keys twice (a profile both listed and indexed) is harmless; BatchWriteItem refuses duplicates.
    unique = list({str(d["DeleteRequest"]["Key"]): d for d in deletes}.values())
    dynamo.batch_write(settings().table_name, unique)

    exported = [day for day in sorted(days) if day_exported(day)]
    # Not exported yet, but yesterday's export may be running right now and today's will: the nightly run
    # rewrites them right after exporting them.
    upcoming = [day for day in sorted(days) if day not in exported and day >= previous_utc_day()]
    report.exports_scheduled = [day.isoformat() for day in sorted([*exported, *upcoming])]
    report.export_rewrite = rewrite.request_rewrite(exported, upcoming)
    if upcoming and not exported:
        # No file holds the customer yet: nothing is rewritten now, whatever could be invoked.
        report.export_rewrite = UPCOMING
    dynamo.batch_write(
        settings().table_name,
        [
            dynamo.put_request(
                {
                    PK: ERASURE,
                    SK: f"{report.requested_at}#{report.customer_hash}",
                    RECORD_TYPE: ERASURE,
                    # The log names the customer by its hash only: never the survivor's id either.
                    **{
                        name: value
                        for name, value in asdict(report).items()
                        if name != "merged_into" and value is not None
                    },
                }
            )
        ],
    )
    logger.info("customer erased", extra={"customer_hash": report.customer_hash, **_counts(report)})
    return report


def _delete_raw_mails(keys: set[str]) -> int:
    """Delete every version of each raw mail object (the bucket is versioned on AWS: a plain delete would
    leave the mail as a noncurrent version); the number of mails that existed."""
    s3, bucket = aws.client("s3"), settings().inbound_mail_bucket
    deleted = 0
    for key in sorted(keys):
        listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
        versions = [
            {"Key": version["Key"], "VersionId": version["VersionId"]}
            for version in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
            if version["Key"] == key  # the prefix also lists longer keys
        ]
        if not versions:  # already expired by the bucket's lifecycle rule, or a second erasure
            continue
        # A raw mail has a version or two (a replay never rewrites it): one request holds them all.
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
        if answer.get("Errors"):
            # DeleteObjects answers 200 with the versions it could not delete: raised before the items go,
            # so the erasure is not reported done with the mail kept, and asking again finds it.
            codes = sorted({error.get("Code", "?") for error in answer["Errors"]})
            raise RuntimeError(f"S3 kept {len(answer['Errors'])} raw mail version(s): {', '.join(codes)}")
        deleted += 1
    return deleted


@dataclass
class _Identities:
    """A customer's identities as erasure finds them: the items storing them apart from the profiles
    (redirects; identity items of tables written before), and those that are a deleted profile's key."""

    stored: list[dict[str, Any]]
    first: set[str]


def _identities(
    customer_ids: set[str],
    profile: dict[str, Any] | None,
    indexed: list[dict[str, Any]],
    feedback: list[StoredFeedback],
) -> _Identities:
    """Every identity mapping to the customer or to one it absorbed (a merge may not have moved them all
    yet): those its profile and its feedback's authors name (identities have no customer index entry), and
    those of a table written before that the index still lists. The profile names the identities of
    feedback that expired already (a retention), so they go too."""
    listed = [item for item in indexed if item.get(RECORD_TYPE) == IDENTITY]
    found = identity_store.candidates([profile] if profile else [], feedback, listed)
    stored = identity_store.owned(found, customer_ids)
    first = {
        identity
        for identity in found
        if identity_store.customer_id_for(identity) in customer_ids
        and not any(item.get("identity") == identity for item in stored)
    }
    return _Identities(stored, first if profile else set())


def _counts(report: ErasureReport) -> dict[str, int]:
    return {
        "feedback_deleted": report.feedback_deleted,
        "identities_deleted": report.identities_deleted,
        "raw_mails_deleted": report.raw_mails_deleted,
        "exports_scheduled": len(report.exports_scheduled),
    }


def erasure_log() -> list[dict[str, Any]]:
    """Every erasure recorded, oldest first."""
    return [
        {k: v for k, v in item.items() if k not in {PK, SK, RECORD_TYPE}}
        for item in dynamo.query_pages(
            TableName=settings().table_name,
            KeyConditionExpression="#pk = :erasure",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":erasure": {"S": ERASURE}},
        )
    ]
