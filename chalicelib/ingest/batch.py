"""The partial batch response of the SQS functions that decide a whole batch at once (analyze, CRM sync).

Written by hand, not with Powertools' batch utility: that utility calls a handler once per record, and these
functions decide a batch in one call (analysis and storage are cheaper per batch), so all it contributed was
the response's dictionary, while its import (asyncio, every event source's data classes and, because pydantic
is loaded, a pydantic model per event source) cost about 47 ms of CPU on the first batch of every cold start.
The response is Lambda's documented one (`batchItemFailures` by message id, with ReportBatchItemFailures on
the event source mapping); when every record failed the invocation raises, so the queue redelivers the batch
and the function's error metric counts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class QueueRecord:
    """What a batch handler reads of an SQS record."""

    __slots__ = ("body", "message_id", "receive_count")

    def __init__(self, message_id: str, body: str, receive_count: int = 1) -> None:
        self.message_id = message_id
        self.body = body
        # SQS's ApproximateReceiveCount: 1 on the first delivery (the analyze step's deadline guard reads it).
        self.receive_count = receive_count


# Decides every record of a batch in one call: one error (None for success) per record, in record order.
BatchHandler = Callable[[list[QueueRecord]], list[str | None]]


class BatchFailed(Exception):
    """Every record of a batch failed: the invocation fails, and the queue delivers the batch again."""


def partial_batch_response(event: dict[str, Any], handle_batch: BatchHandler, context: Any = None) -> dict:
    """Lambda's partial batch response for an SQS event after one call of `handle_batch` with every record."""
    raw_records = event.get("Records") or []
    if not raw_records:
        raise ValueError("an SQS event without records")
    records = [
        QueueRecord(record["messageId"], record["body"], _receive_count(record)) for record in raw_records
    ]
    errors = handle_batch(records)
    if len(errors) != len(records):
        raise ValueError(f"the batch handler decided {len(errors)} of {len(records)} records")
    failed = [record for record, error in zip(records, errors, strict=True) if error is not None]
    if len(failed) == len(records):
        raise BatchFailed(f"all {len(records)} records failed: {sorted(set(filter(None, errors)))}")
    return {"batchItemFailures": [{"itemIdentifier": record.message_id} for record in failed]}


def _receive_count(record: dict[str, Any]) -> int:
    """The record's ApproximateReceiveCount (a string in Lambda's event); 1 when absent or unreadable."""
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1
