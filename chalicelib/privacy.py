"""Erasure of a customer (GDPR art. 17 / CCPA deletion): the profile, identities and feedback go from the
table, every past export partition that held them is written again without them, and an erasure log entry
records that it happened — never what was erased.

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
from chalicelib.export.day import MANIFEST_NAME, export_day, partition_prefix
from chalicelib.models import utc_now
from chalicelib.observability import logger
from chalicelib.store import customers, dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK

ERASURE = "ERASURE"
# Export days an erasure left to rewrite (API erasures: the API function cannot write Parquet).
EXPORT_REWRITE = "EXPORT_REWRITE"


@dataclass
class ErasureReport:
    """What an erasure removed (counts only) and which export days it rewrote."""

    customer_hash: str
    requested_at: str
    feedback_deleted: int = 0
    identities_deleted: int = 0
    profiles_deleted: int = 0
    exports_rewritten: list[str] = field(default_factory=list)
    exports_scheduled: list[str] = field(default_factory=list)


def customer_hash(customer_id: str) -> str:
    """How the erasure log names a customer: a one-way hash, so the log itself holds no identifier."""
    return hashlib.sha256(f"erasure:{customer_id}".encode()).hexdigest()


def _exported(day: date) -> bool:
    try:
        aws.client("s3").head_object(Bucket=settings().bucket_name, Key=partition_prefix(day) + MANIFEST_NAME)
    except ClientError as error:
        if error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def erase_customer(customer_id: str, rewrite_now: bool = True) -> ErasureReport | None:
    """Erase a customer everywhere; None when there is no such customer (nothing is logged then).

    With `rewrite_now` the export days that held the customer are rewritten before returning (the CLI).
    The API function has no pyarrow (only the export functions get the layer), so it passes False: the
    days are queued for the export function, which rewrites them at its next run, before the night's
    export (within a day; GDPR allows a month)."""
    profile = customers.get_profile(customer_id)
    items = customers.customer_items(customer_id)
    if profile is None and not items:
        return None
    report = ErasureReport(customer_hash=customer_hash(customer_id), requested_at=utc_now().isoformat())
    deletes: list[dict[str, Any]] = []
    days: set[date] = set()
    for item in items:
        kind = item.get(RECORD_TYPE)
        if kind == "FEEDBACK":
            report.feedback_deleted += 1
            days.add(date.fromisoformat(item["stored_at"][:10]))
        elif kind == customers.IDENTITY:
            report.identities_deleted += 1
        deletes.append({"DeleteRequest": {"Key": dynamo.serialize({PK: item[PK], SK: item[SK]})}})
    profiles = {customer_id, *((profile or {}).get("absorbed", []))}
    for profile_id in sorted(profiles):
        deletes.append({"DeleteRequest": {"Key": dynamo.serialize(customers.profile_key(profile_id))}})
    report.profiles_deleted = len(profiles) if profile else 0
    # Deleting keys twice (a profile both listed and indexed) is harmless; BatchWriteItem refuses duplicates.
    unique = list({str(d["DeleteRequest"]["Key"]): d for d in deletes}.values())
    dynamo.batch_write(settings().table_name, unique)

    exported = [day for day in sorted(days) if _exported(day)]
    if rewrite_now:
        for day in exported:
            export_day(day)
            report.exports_rewritten.append(day.isoformat())
    else:
        schedule_rewrites(exported)
        report.exports_scheduled = [day.isoformat() for day in exported]
    dynamo.batch_write(
        settings().table_name,
        [
            dynamo.put_request(
                {
                    PK: ERASURE,
                    SK: f"{report.requested_at}#{report.customer_hash}",
                    RECORD_TYPE: ERASURE,
                    **asdict(report),
                }
            )
        ],
    )
    logger.info("customer erased", extra={"customer_hash": report.customer_hash, **_counts(report)})
    return report


def schedule_rewrites(days: list[date]) -> None:
    """Queue export days for rewriting by the export function (one item a day: idempotent)."""
    dynamo.batch_write(
        settings().table_name,
        [
            dynamo.put_request({PK: EXPORT_REWRITE, SK: day.isoformat(), RECORD_TYPE: EXPORT_REWRITE})
            for day in days
        ],
    )


def rewrite_scheduled_exports() -> list[str]:
    """Rewrite every queued export day, then clear the queue; returns the days (the export function)."""
    pending = list(
        dynamo.query_pages(
            TableName=settings().table_name,
            KeyConditionExpression="#pk = :rewrite",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":rewrite": {"S": EXPORT_REWRITE}},
        )
    )
    for item in pending:
        export_day(date.fromisoformat(item[SK]))
    dynamo.batch_write(
        settings().table_name,
        [{"DeleteRequest": {"Key": dynamo.serialize({PK: item[PK], SK: item[SK]})}} for item in pending],
    )
    if pending:
        logger.info("export days rewritten after erasures", extra={"days": [item[SK] for item in pending]})
    return [item[SK] for item in pending]


def _counts(report: ErasureReport) -> dict[str, int]:
    return {
        "feedback_deleted": report.feedback_deleted,
        "identities_deleted": report.identities_deleted,
        "exports_rewritten": len(report.exports_rewritten),
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
