"""Writing a new analysis onto stored feedback (backfill), moving the customer's profile counts and the day
counters (counters.py) with it; and writing new themes onto stored feedback (`backfill --themes`,
`save_themes`), moving the day's theme counts with them.

Each item's Update is conditional on the version it was read at (its analyzer, sentiment and customer), and
goes in the same TransactWriteItems as the profile delta of its customer. So the counts move exactly when
the item changes: a retry of a transaction that already committed finds the item at the new analyzer, its
condition fails, and nothing is moved twice; an item changed meanwhile (a merge moved it to another
customer) is read again and retried at its new version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.aws import chunked
from chalicelib.config import settings
from chalicelib.models import Analysis, StoredFeedback, utc_now
from chalicelib.store import counters, dynamo, feedback_layout, profiles
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import NEGATIVE_PARTITION, NEGATIVE_PK, PK

# Attributes an analysis writes onto an item; every other attribute is left as stored.
ANALYSIS_FIELDS = ("sentiment", "sentiment_scores", "analyzer", "analyzed_at", "skipped_reason")
# Item updates per customer in one transaction: with its profile delta and at most two counter actions an item
# (its day's and its hour's counter updates), they fit the 100 actions of a transaction.
CHANGES_PER_UNIT = 33
# Attributes a re-tag writes onto an item; nothing else (its sentiment, text and customer stay as stored).
THEME_FIELDS = ("themes", "taxonomy_version")


@dataclass
class ReanalysisOutcome:
    """Feedback ids updated, skipped (already at the target analyzer, or gone), or failed with a reason."""

    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def reanalyzed(item: StoredFeedback, analysis: Analysis) -> StoredFeedback:
    """The item as the new analysis leaves it (the channel's own language still wins, as on first store)."""
    return item.model_copy(
        update={
            "sentiment": analysis.sentiment,
            "sentiment_scores": analysis.scores,
            "analyzer": analysis.analyzer,
            "analyzed_at": analysis.analyzed_at,
            "skipped_reason": analysis.skipped_reason,
            "language": item.language or analysis.language,
        }
    )


def _item_update(old: StoredFeedback, new: StoredFeedback) -> dict[str, Any]:
    dumped = feedback_layout.stored_fields(new)
    names: dict[str, str] = {"#pk": PK}
    values: dict[str, Any] = {}
    set_parts, remove_parts = [], []
    for index, name in enumerate((*ANALYSIS_FIELDS, "language")):
        names[f"#f{index}"] = name
        if name in dumped:
            values[f":f{index}"] = dumped[name]
            set_parts.append(f"#f{index} = :f{index}")
        elif name != "language":
            remove_parts.append(f"#f{index}")
    # The item enters or leaves the sparse index of negatives with its sentiment.
    names["#negative"] = NEGATIVE_PK
    if feedback_store.is_negative(new):
        values[":negative"] = NEGATIVE_PARTITION
        set_parts.append("#negative = :negative")
    else:
        remove_parts.append("#negative")
    # The version read: a retry after a commit, or a concurrent change, fails here and moves no counts.
    read = (
        ("old_a", "analyzer", old.analyzer),
        ("old_s", "sentiment", old.sentiment),
        ("old_c", "customer_id", old.customer_id),
    )
    conditions = ["attribute_exists(#pk)", *dynamo.unchanged_conditions(read, names, values)]
    expression = f"SET {', '.join(set_parts)}" + (
        f" REMOVE {', '.join(remove_parts)}" if remove_parts else ""
    )
    return {
        "Update": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(feedback_store.feedback_key(old.feedback_id)),
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.serialize(values),
        }
    }


def profile_deltas(changes: Sequence[tuple[StoredFeedback, StoredFeedback]]) -> dict[str, int | Decimal]:
    """What the profile counters gain (or lose) when items change from old to new analysis."""
    deltas: dict[str, int | Decimal] = defaultdict(int)
    for old, new in changes:
        if old.sentiment is not None:
            deltas[f"sentiment_{old.sentiment}"] -= 1
        if new.sentiment is not None:
            deltas[f"sentiment_{new.sentiment}"] += 1
        old_score, new_score = profiles.decimal_score(old), profiles.decimal_score(new)
        deltas["sentiment_scored"] += (new_score is not None) - (old_score is not None)
        deltas["sentiment_score_sum"] += (new_score or Decimal(0)) - (old_score or Decimal(0))
    return {name: amount for name, amount in deltas.items() if amount != 0}


def _profile_update(customer_id: str, deltas: dict[str, int | Decimal]) -> dict[str, Any]:
    names = {"#pk": PK, "#revision": profiles.REVISION}
    values: dict[str, Any] = {":now": utc_now().isoformat(), ":one": 1}
    # A new revision: a merge that read this profile before now must read it again (see profiles.py).
    adds = ["#revision :one", *dynamo.add_clauses(deltas, names, values, "d")]
    return {
        "Update": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(profiles.profile_key(customer_id)),
            "UpdateExpression": f"SET updated_at = :now ADD {', '.join(adds)}",
            # Never create a half profile, and never count into a customer merged away meanwhile: the
            # items are read again (a merge moves them) and retried.
            "ConditionExpression": "attribute_exists(#pk) AND attribute_not_exists(merged_into)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.serialize(values),
        }
    }


def _transactions(
    changes: Sequence[tuple[StoredFeedback, StoredFeedback]],
) -> list[tuple[list[dict[str, Any]], list[tuple[str, str]]]]:
    """Pack item updates into transactions of ≤ 100 actions, one profile delta per customer in each."""
    by_customer: dict[str | None, list[tuple[StoredFeedback, StoredFeedback]]] = defaultdict(list)
    for old, new in changes:
        by_customer[old.customer_id].append((old, new))
    units = []
    for customer_id, group in by_customer.items():
        for chunk in chunked(group, CHANGES_PER_UNIT):
            unit = [(_item_update(old, new), ("feedback", old.feedback_id)) for old, new in chunk]
            deltas = profile_deltas(chunk) if customer_id else {}
            if customer_id and deltas:
                unit.append((_profile_update(customer_id, deltas), ("profile", customer_id)))
            units.append((unit, list(chunk)))
    transactions: list[tuple[list[dict[str, Any]], list[tuple[str, str]]]] = []
    changed: list[list[tuple[StoredFeedback, StoredFeedback]]] = []
    for unit, chunk in units:
        counted = _counter_actions([*(changed[-1] if changed else []), *chunk])
        if (
            not transactions
            or len(transactions[-1][0]) + len(unit) + len(counted) > dynamo.MAX_TRANSACTION_ITEMS
        ):
            transactions.append(([], []))
            changed.append([])
        for action, role in unit:
            transactions[-1][0].append(action)
            transactions[-1][1].append(role)
        changed[-1] += chunk
    # The day counters move with the items, in the same transaction.
    for (actions, roles), pairs in zip(transactions, changed, strict=True):
        for action in _counter_actions(pairs):
            actions.append(action)
            roles.append(("counter", ""))
    return transactions


def _counter_actions(pairs: Sequence[tuple[StoredFeedback, StoredFeedback]]) -> list[dict[str, Any]]:
    # Themes do not change here: their counts cancel out, whatever their parents.
    return counters.counter_actions([new for _, new in pairs], [old for old, _ in pairs], {})


def save_analyses(items: Sequence[StoredFeedback], analyses: dict[str, Analysis]) -> ReanalysisOutcome:
    """Write each item's new analysis and move its customer's profile counts, atomically and at most once.

    Items already at the analysis' analyzer are skipped; an item whose condition failed is read again
    (strongly consistent) and retried at its new version, or skipped when it is gone or now analyzed.
    """
    outcome = ReanalysisOutcome()
    pending: dict[str, StoredFeedback] = {}
    for item in items:
        if item.feedback_id not in analyses:
            continue
        if item.analyzer == analyses[item.feedback_id].analyzer:
            outcome.skipped.append(item.feedback_id)
        else:
            pending[item.feedback_id] = item
    for attempt in range(dynamo.MAX_ATTEMPTS):
        if not pending:
            break
        changes = [(item, reanalyzed(item, analyses[item.feedback_id])) for item in pending.values()]
        stale, retry = _commit(changes, outcome)
        fresh = {item.feedback_id: item for item in _read(stale)}
        next_pending = {i: pending[i] for i in retry}
        for feedback_id in stale:
            item = fresh.get(feedback_id)
            if item is None or item.analyzer == analyses[feedback_id].analyzer:
                outcome.skipped.append(feedback_id)  # erased, or analyzed by an earlier attempt
            else:
                next_pending[feedback_id] = item
        pending = next_pending
        if pending:
            dynamo.backoff(attempt)
    outcome.failed.update({feedback_id: "write retries exhausted" for feedback_id in pending})
    return outcome


def _commit(
    changes: Sequence[tuple[StoredFeedback, StoredFeedback]], outcome: ReanalysisOutcome
) -> tuple[set[str], set[str]]:
    """Run the transactions; records what committed and returns (ids to read again, ids to retry as read)."""
    customer_of = {old.feedback_id: old.customer_id for old, _ in changes}
    stale: set[str] = set()
    retry: set[str] = set()
    for actions, roles in _transactions(changes):
        ids = [ref for role, ref in roles if role == "feedback"]
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=actions)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code != "TransactionCanceledException" and code not in dynamo.RETRYABLE_ERRORS:
                raise
            reasons = error.response.get("CancellationReasons") or [{}] * len(roles)
            refused = {
                (role, ref)
                for (role, ref), reason in zip(roles, reasons, strict=True)
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            # Items of a refused profile are read again too: a merge may have moved them.
            stale.update(
                i for i in ids if ("feedback", i) in refused or ("profile", customer_of[i]) in refused
            )
            retry.update(i for i in ids if i not in stale)
            continue
        outcome.updated.extend(ids)
    return stale, retry


def _read(feedback_ids: set[str]) -> list[StoredFeedback]:
    if not feedback_ids:
        return []
    keys = [feedback_store.feedback_key(feedback_id) for feedback_id in feedback_ids]
    return [feedback_store.from_item(item) for item in dynamo.batch_get(settings().table_name, keys, True)]


# --- themes ------------------------------------------------------------------------------------------------


@dataclass
class ThemesOutcome:
    """Feedback ids updated, skipped (erased meanwhile) and failed (contention outlasted the retries), and the
    items that changed since they were read, as stored now (tag those again)."""

    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    changed: list[StoredFeedback] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _themes_update(old: StoredFeedback, new: StoredFeedback) -> dict[str, Any]:
    dumped = new.model_dump(mode="json", include=set(THEME_FIELDS))
    names = {"#pk": PK, "#themes": "themes", "#version": "taxonomy_version"}
    themes = feedback_layout.encode_themes(dumped["themes"] or [], new.text)
    values: dict[str, Any] = {":themes": themes, ":version": dumped["taxonomy_version"]}
    # The item must still exist: an UpdateItem on a key an erasure deleted would create it again, with the
    # evidence spans (customer text) in it. And it must be at the version it was read at (see save_themes).
    conditions = ["attribute_exists(#pk)"]
    if old.taxonomy_version is None:
        conditions.append("attribute_not_exists(#version)")
    else:
        values[":old_version"] = old.taxonomy_version
        conditions.append("#version = :old_version")
    return {
        "Update": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(feedback_store.feedback_key(old.feedback_id)),
            "UpdateExpression": "SET #themes = :themes, #version = :version",
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.serialize(values),
        }
    }


def _pair(change: tuple[StoredFeedback, StoredFeedback]) -> Sequence[StoredFeedback]:
    return change


def save_themes(
    changes: Sequence[tuple[StoredFeedback, StoredFeedback]], parents: counters.ThemeParents
) -> ThemesOutcome:
    """Write each item's new `themes` and `taxonomy_version` (old → new), moving its day's theme counts in the
    same transaction (`parents`: the taxonomy's the items are tagged against).

    Each Update is conditional on the taxonomy version the item was read at, and on its still existing: an
    item erased meanwhile is skipped, never written back; one another writer re-tagged meanwhile (or a retry
    of a write that landed) moves no count, is read again (strongly consistent) and returned in `changed`,
    for the caller to decide. Contention is retried with backoff.

    The counts an item leaves are taken under `parents` too: exact unless a theme it had moved to another
    parent since it was counted (`cli counters rebuild` recounts those days).
    """
    outcome = ThemesOutcome()
    pending = list(changes)
    dynamodb = aws.client("dynamodb")
    for attempt in range(dynamo.MAX_ATTEMPTS):
        if not pending:
            break
        retry: list[tuple[StoredFeedback, StoredFeedback]] = []
        for chunk in counters.transaction_chunks(pending, dynamo.MAX_TRANSACTION_ITEMS, parents, _pair):
            actions = [_themes_update(old, new) for old, new in chunk]
            actions += counters.counter_actions([new for _, new in chunk], [old for old, _ in chunk], parents)
            try:
                dynamodb.transact_write_items(TransactItems=actions)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code != "TransactionCanceledException" and code not in dynamo.RETRYABLE_ERRORS:
                    raise
                reasons = error.response.get("CancellationReasons") or [{}] * len(actions)
                for (old, new), reason in zip(chunk, reasons, strict=False):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        _refused(old, outcome)
                    else:
                        retry.append((old, new))
                continue
            outcome.updated += [old.feedback_id for old, _ in chunk]
        pending = retry
        if pending:
            dynamo.backoff(attempt)
    outcome.failed += [old.feedback_id for old, _ in pending]
    return outcome


def _refused(old: StoredFeedback, outcome: ThemesOutcome) -> None:
    """An item whose condition failed: erased (skipped) or changed meanwhile (returned as stored now)."""
    fresh = dynamo.get_item(settings().table_name, feedback_store.feedback_key(old.feedback_id), True)
    if fresh is None:
        outcome.skipped.append(old.feedback_id)
    else:
        outcome.changed.append(feedback_store.from_item(fresh))
