"""Deleting stored feedback (erasure) with its day and hour counts, each item at most once.

Each item's Delete is conditional on the item existing at the version it was read at (its sentiment and
taxonomy version: what its counts depend on) and goes in the same TransactWriteItems as the counter Updates
of the items beside it (counters.py); its entry in the sparse index of negatives goes with it. So an item
already gone moves nothing, a retry of a transaction that committed finds its items gone, and an item
re-analysed or re-tagged meanwhile is read again and removed as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import StoredFeedback
from chalicelib.store import counters, dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import PK


class DeleteIncomplete(RuntimeError):
    """Some items could not be deleted after every retry (contention): the caller must not report success."""


@dataclass
class DeleteOutcome:
    """Feedback ids deleted by this call, and skipped (gone already: another erasure, or a retry)."""

    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _item_delete(item: StoredFeedback) -> dict[str, Any]:
    names = {"#pk": PK}
    values: dict[str, Any] = {}
    read = (("s", "sentiment", item.sentiment), ("v", "taxonomy_version", item.taxonomy_version))
    conditions = ["attribute_exists(#pk)", *dynamo.unchanged_conditions(read, names, values)]
    return {
        "Delete": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(feedback_store.feedback_key(item.feedback_id)),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            **({"ExpressionAttributeValues": dynamo.serialize(values)} if values else {}),
        }
    }


def _read(feedback_ids: Sequence[str]) -> dict[str, StoredFeedback]:
    keys = [feedback_store.feedback_key(feedback_id) for feedback_id in feedback_ids]
    found = dynamo.batch_get(settings().table_name, keys, consistent=True)
    return {feedback_store.id_of(item): feedback_store.from_item(item) for item in found}


def delete_feedback(feedback_ids: Sequence[str], parents: counters.ThemeParents) -> DeleteOutcome:
    """Delete these feedback items, taking their counts off their days' and hours' counters in the same
    transactions (`parents`: the taxonomy's, as the counts were made).

    The items are read first (strongly consistent): ids already gone are skipped. Raises DeleteIncomplete
    when contention outlasts the retries."""
    outcome = DeleteOutcome()
    pending = _read(list(dict.fromkeys(feedback_ids)))
    outcome.skipped += [f for f in dict.fromkeys(feedback_ids) if f not in pending]
    dynamodb = aws.client("dynamodb")
    for attempt in range(dynamo.MAX_ATTEMPTS):
        if not pending:
            break
        stale: list[str] = []
        retry: dict[str, StoredFeedback] = {}
        for chunk in counters.transaction_chunks(
            list(pending.values()), dynamo.MAX_TRANSACTION_ITEMS, parents, counters.just
        ):
            actions = [_item_delete(item) for item in chunk]
            actions += counters.counter_actions([], chunk, parents)
            try:
                dynamodb.transact_write_items(TransactItems=actions)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code != "TransactionCanceledException" and code not in dynamo.RETRYABLE_ERRORS:
                    raise
                reasons = error.response.get("CancellationReasons") or [{}] * len(actions)
                for item, reason in zip(chunk, reasons, strict=False):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        stale.append(item.feedback_id)
                    else:
                        retry[item.feedback_id] = item
                continue
            outcome.deleted += [item.feedback_id for item in chunk]
        # Refused items are gone (skipped) or changed meanwhile: retried as they are now.
        fresh = _read(stale) if stale else {}
        outcome.skipped += [f for f in stale if f not in fresh]
        pending = {**retry, **fresh}
        if retry:
            dynamo.backoff(attempt)
    if pending:
        raise DeleteIncomplete(f"{len(pending)} feedback items not deleted after retries")
    return outcome
