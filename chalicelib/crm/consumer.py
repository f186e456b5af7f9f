"""The CRM queue's consumer (the `sync_crm` function): one decision per message of a batch, so the SQS event
source's partial batch response retries only what failed (app.py hands this to the ingest step's
whole-batch Powertools processor).

Per batch: merges first (so items moved to the survivor find its contact), then the syncs (the items read
again by id: what is stored now; an item erased meanwhile is gone and syncs nothing), then erasures (last,
so an erasure wins over a late item of the same batch). Each connection is tried on its own:

- a connection whose credentials are refused is paused (and alerted on, sync.py), and its messages fail;
- a paused connection's messages fail without a request, so they reach the DLQ after MAX_RECEIVES receives
  and wait there until `crm test` re-activates it and `crm replay` sends them again;
- a CRM that is down (5xx, timeouts, 429 after every backoff) fails the messages it was sent.

A retried message is synced again to the connections that already took it: that costs their links' reads
and nothing in the CRM (unchanged hashes), since the sync is idempotent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import ValidationError

from chalicelib.config import settings
from chalicelib.crm import connections, sync
from chalicelib.crm.base import selected
from chalicelib.crm.connections import PAUSED_BY_OPERATOR, CrmConnection, Status
from chalicelib.crm.exceptions import CredentialsRejected, CrmError, without_values
from chalicelib.crm.queue import CrmMessage, Operation
from chalicelib.models import StoredFeedback
from chalicelib.observability import logger
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store

# The CRM clients' sleep between retries; the tests put a fake clock's here.
SLEEP: Callable[[float], None] | None = None


class Record(Protocol):
    """What the consumer reads of an SQS record (Powertools' SQSRecord)."""

    @property
    def body(self) -> str: ...


def _paused(connection: CrmConnection, error: CredentialsRejected) -> None:
    connections.set_status(connection.connection_id, Status.PAUSED, error.reason)
    logger.error(
        "crm connection paused", extra={"connection_id": connection.connection_id, "reason": error.reason}
    )


def read_items(feedback_ids: Sequence[str]) -> dict[str, StoredFeedback]:
    """The items as stored now, by id (BatchGetItem; erased or expired ones are absent)."""
    keys = [feedback_store.feedback_key(f) for f in dict.fromkeys(feedback_ids)]
    found = dynamo.batch_get(settings().table_name, keys, consistent=True) if keys else []
    items = [feedback_store.from_item(item) for item in found]
    return {item.feedback_id: item for item in items}


def _run_per_connection(
    chosen: list[tuple[int, CrmMessage]],
    everyone: list[CrmConnection],
    errors: list[str | None],
    action: Callable[[CrmConnection, CrmMessage], Any],
    despite_operator_pause: bool = False,
) -> None:
    """Apply `action` to each message on each connection; a failure fails the message (retried). An
    erasure goes `despite_operator_pause`: the credentials work, and the DLQ keeps it only 14 days."""
    for connection in everyone:
        operator_paused = connection.paused_reason == PAUSED_BY_OPERATOR
        paused = connection.status is not Status.ACTIVE and not (despite_operator_pause and operator_paused)
        for index, message in chosen:
            if message.connection_id and message.connection_id != connection.connection_id:
                continue
            if paused:
                errors[index] = errors[index] or f"connection {connection.connection_id} is paused"
                continue
            try:
                action(connection, message)
            except CredentialsRejected as error:
                _paused(connection, error)
                paused = True
                errors[index] = str(error)
            except CrmError as error:
                errors[index] = errors[index] or f"{connection.connection_id}: {str(error)[:300]}"


def _sync(
    chosen: list[tuple[int, CrmMessage]], everyone: list[CrmConnection], errors: list[str | None]
) -> None:
    items = read_items([str(m.feedback_id) for _, m in chosen])
    indexes: dict[str, list[int]] = defaultdict(list)
    for index, message in chosen:
        indexes[str(message.feedback_id)].append(index)

    def fail(feedback_ids: Sequence[str], why: str) -> None:
        for feedback_id in feedback_ids:
            for index in indexes[feedback_id]:
                errors[index] = errors[index] or why

    for connection in everyone:
        wanted = {
            str(m.feedback_id)
            for _, m in chosen
            if str(m.feedback_id) in items and m.connection_id in (None, connection.connection_id)
        }
        batch = [items[f] for f in sorted(wanted) if selected(connection, items[f])]
        if not batch:
            continue
        ids = [item.feedback_id for item in batch]
        if connection.status is not Status.ACTIVE:
            fail(ids, f"connection {connection.connection_id} is paused")
            continue
        try:
            report = sync.sync_connection(connection, batch, sleep=SLEEP)
        except CredentialsRejected as error:  # sync_connection paused it
            fail(ids, str(error))
            continue
        except CrmError as error:
            fail(ids, f"{connection.connection_id}: {str(error)[:300]}")
            continue
        for feedback_id, why in report.failed.items():
            fail([feedback_id], f"{connection.connection_id}: {why}")


def decide_batch(records: Sequence[Record]) -> list[str | None]:
    """One error (None: done) per record, in order; the batch processor reports the failed ones."""
    errors: list[str | None] = [None] * len(records)
    by_operation: dict[Operation, list[tuple[int, CrmMessage]]] = defaultdict(list)
    for index, record in enumerate(records):
        try:
            message = CrmMessage.model_validate_json(record.body)
        except ValidationError:
            errors[index] = "not a CRM message"
            continue
        by_operation[message.op].append((index, message))
    everyone = connections.list_all() if by_operation else []
    if not everyone:
        return errors  # no connection: nothing is owed to any CRM

    def merge(connection: CrmConnection, message: CrmMessage) -> None:
        target = sync.target_for(connection, SLEEP)
        target.merge(str(message.customer_id), str(message.absorbed_customer_id))

    def erase(connection: CrmConnection, message: CrmMessage) -> None:
        sync.target_for(connection, SLEEP).erase([str(message.customer_id)])

    _run_per_connection(by_operation[Operation.MERGE], everyone, errors, merge)
    if by_operation[Operation.SYNC]:
        _sync(by_operation[Operation.SYNC], everyone, errors)
    _run_per_connection(by_operation[Operation.ERASE], everyone, errors, erase, despite_operator_pause=True)
    errors = [without_values(error) if error else None for error in errors]
    reasons = Counter(error for error in errors if error)
    if reasons:
        # Why, not only how many: `crm dlq` shows a message, and SQS keeps no reason with it.
        logger.warning(
            "crm messages failed",
            extra={
                "failed": reasons.total(),
                "batch": len(records),
                "reasons": dict(reasons.most_common(10)),
            },
        )
    return errors
