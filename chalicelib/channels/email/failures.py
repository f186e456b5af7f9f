"""The mail failures queue: SES events whose invocation failed every retry, and sending them through the
handler again once the cause is fixed.

Lambda's on-failure destination (infra/mail_receiving.py) puts each such invocation on the queue as an
invocation record: `requestContext` (condition, attempts), `requestPayload` (SES's event, as the function got
it) and `responsePayload` (the error). The raw mails are still in S3 (the bucket's lifecycle keeps them), so a
replay runs `receiving.handle_ses_event` on the payload again; the feedback id comes from `Message-ID`, so a
mail that was queued before the failure is stored once. A record is deleted only after its replay succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib import aws
from chalicelib.config import settings

# The queue's name (infra/mail_receiving.py) when MAIL_FAILURES_QUEUE_URL does not give its URL.
QUEUE_NAME = "feedback-mail-failures-{stage}"
# Each pass holds what it received for this long, so a record is seen once per pass.
HOLD_SECONDS = 120


def queue_url() -> str:
    return aws.queue_url("MAIL_FAILURES_QUEUE_URL", QUEUE_NAME.format(stage=settings().stage))


@dataclass(frozen=True)
class FailedMail:
    """One invocation record: what an operator needs to decide (ids and counts; no address, no text)."""

    record_id: str
    receipt_handle: str
    failed_at: str
    condition: str  # RetriesExhausted, EventAgeExceeded …
    attempts: int
    error: str  # the error type the function raised
    ses_message_ids: tuple[str, ...]
    payload: Mapping[str, Any] | None  # SES's event; None when the record cannot be read

    @classmethod
    def from_sqs(cls, message: Mapping[str, Any]) -> FailedMail:
        try:
            record = json.loads(message["Body"])
            context = record.get("requestContext") or {}
            payload = record["requestPayload"]
            response = record.get("responsePayload") or {}
            ids = tuple(str(r["ses"]["mail"]["messageId"]) for r in payload.get("Records") or [])
        except (ValueError, KeyError, TypeError, AttributeError):
            record, context, payload, response, ids = {}, {}, None, {}, ()
        return cls(
            record_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            failed_at=str(record.get("timestamp", "")),
            condition=str(context.get("condition", "unreadable")),
            attempts=int(context.get("approximateInvokeCount") or 0),
            error=str(response.get("errorType", "")) if isinstance(response, dict) else "",
            ses_message_ids=ids,
            payload=payload,
        )


def _received(limit: int) -> Iterator[FailedMail]:
    # One pass over the queue: what is received is held (the caller releases what it keeps only after the
    # pass), so it does not come round again; a record seen twice ends the pass all the same.
    sqs, url, seen = aws.client("sqs"), queue_url(), set[str]()
    while len(seen) < limit:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(10, limit - len(seen)), VisibilityTimeout=HOLD_SECONDS
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            yield FailedMail.from_sqs(message)


def _release(kept: list[FailedMail]) -> None:
    sqs, url = aws.client("sqs"), queue_url()
    for failed in kept:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=failed.receipt_handle, VisibilityTimeout=0)


def list_failures(limit: int = 100) -> list[FailedMail]:
    """The records in the queue (each received and made visible again)."""
    found = list(_received(limit))
    _release(found)
    return found


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)  # SES message ids handled again
    failed: dict[str, str] = field(default_factory=dict)  # record id → the error type; the record stays
    unreadable: list[str] = field(default_factory=list)  # record ids without an SES event; they stay


def replay_failures(
    limit: int = 1_000, handle: Callable[[Mapping[str, Any]], Any] | None = None
) -> ReplayReport:
    """Run each record's SES event through the mail handler again; delete the records that succeed."""
    if handle is None:
        from chalicelib.channels.email.receiving import handle_ses_event as handle
    report, kept = ReplayReport(), []
    for failed in _received(limit):
        if failed.payload is None:
            report.unreadable.append(failed.record_id)
            kept.append(failed)
            continue
        try:
            handle(failed.payload)
        except Exception as error:  # any failure keeps the record for the next replay
            report.failed[failed.record_id] = type(error).__name__
            kept.append(failed)
            continue
        aws.client("sqs").delete_message(QueueUrl=queue_url(), ReceiptHandle=failed.receipt_handle)
        report.replayed.extend(failed.ses_message_ids)
    _release(kept)
    return report
