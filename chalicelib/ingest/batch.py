"""The analyze step's SQS batch processor: Powertools' partial batch response, the batch decided at once.

A module of its own so the analyze function imports it inside its handler: the batch utility's import
(asyncio, its data classes, a pydantic model per event source) is about 85 ms that a cold start need not
pay before the first batch arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Decides every record of a batch in one call: one error (None for success) per record, in record order.
BatchHandler = Callable[[list[SQSRecord]], list[str | None]]


class RecordFailed(Exception):
    """A record whose events could not all be analyzed and stored (its failure in the batch response); the
    queue delivers it again."""


class WholeBatchProcessor(BatchProcessor):
    """Powertools' SQS partial-batch processor, handing its handler the whole batch at once.

    Powertools calls a record handler once per record; analysis and storage are cheaper per batch, so
    `process` (the batch-level hook) calls the handler once with every record and records each returned
    error as that record's failure. The response (`batchItemFailures`, by message id) and the error when
    every record failed stay Powertools' own.
    """

    def __init__(self) -> None:
        super().__init__(EventType.SQS)

    def process(self) -> list[tuple]:
        records = [SQSRecord(record) for record in self.records]
        handle_batch: BatchHandler = self.handler
        errors = handle_batch(records)
        if len(errors) != len(records):
            raise ValueError(f"the batch handler decided {len(errors)} of {len(records)} records")
        return [
            self.success_handler(record, None)
            if error is None
            else self.failure_handler(record, (RecordFailed, RecordFailed(error), None))
            for record, error in zip(records, errors, strict=True)
        ]


def partial_batch_response(event: dict[str, Any], handle_batch: BatchHandler, context: Any = None) -> dict:
    """Lambda's partial batch response for an SQS event after one call of `handle_batch` with every record;
    Powertools raises BatchProcessingError when every record failed, so the queue redelivers the batch."""
    return process_partial_response(
        event=event, record_handler=handle_batch, processor=WholeBatchProcessor(), context=context
    )
