"""The analyze path's write: new feedback with its identities and profile aggregates, each item once.

Feedback, identities, profile updates and the day counters (counters.py) go in one TransactWriteItems: the
feedback Put is conditional, so a redelivery cancels the transaction and neither the profile nor the counters
are counted twice; the retry drops what already exists. A customer's first identity is its profile, so it
costs no action; any other new identity is a redirect (identities.py).
How a profile's ordered attributes are guessed and corrected is in profiles.py; README, Customer 360.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import FeedbackEvent, StoredFeedback, utc_now
from chalicelib.store import counters, dynamo, profiles
from chalicelib.store import feedback as feedback_store
from chalicelib.store.identities import (
    LOOKUP_ATTRIBUTES,
    MAX_MERGE_HOPS,
    Resolution,
    identities_of,
    is_first,
    lookup_keys,
    owners,
    redirect_update,
    resolve,
)
from chalicelib.store.schema import PK, RECORD_TYPE


def prefetch(events: Iterable[FeedbackEvent]) -> tuple[set[str], dict[str, str]]:
    """In one BatchGetItem per 100 keys: which events are stored already (a redelivery or replay, which
    then costs no analysis) and the customers of the authors' known identities (identities.lookup_keys: two
    keys each; one more request when a tombstone's or redirect's survivor was not read with them)."""
    events = list(events)
    feedback_keys = [feedback_store.feedback_key(e.feedback_id) for e in events]
    wanted = list(dict.fromkeys(i for e in events for i in identities_of(e)))
    # Only what is needed here: a redelivered batch would otherwise read back every stored item in full.
    items = dynamo.batch_get(
        settings().table_name, feedback_keys + lookup_keys(wanted), attributes=LOOKUP_ATTRIBUTES
    )
    stored = {
        feedback_store.id_of(item) for item in items if item.get(RECORD_TYPE) == feedback_store.ITEM_TYPE
    }
    return stored, owners(wanted, items, consistent=False)


def _feedback_put(item: StoredFeedback) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": settings().table_name,
            "Item": dynamo.serialize(feedback_store.to_item(item)),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
        }
    }


# This module's records are plain slotted classes, not dataclasses: chalicelib/records.py says why.
class _Transaction:
    __slots__ = ("actions", "items", "roles")

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []
        # What each action is for: ("feedback", id) | ("identity", identity) | ("profile", customer id)
        # | ("counter", "") for the day and hour counters, which never refuse.
        self.roles: list[tuple[str, str]] = []
        self.items: list[StoredFeedback] = []

    def add(self, action: dict[str, Any], role: tuple[str, str]) -> None:
        self.actions.append(action)
        self.roles.append(role)

    def size_with(self, unit: _Unit) -> int:
        """Actions this transaction would hold with `unit` and the counter actions of both."""
        return len(self.actions) + len(unit.actions) + counters.action_count([*self.items, *unit.items])

    def close(self, parents: counters.ThemeParents) -> None:
        """Add the day and hour counter Updates of the transaction's items."""
        for action in counters.counter_actions(self.items, [], parents):
            self.add(action, ("counter", ""))


class _Unit:
    """What goes in one transaction: a customer's feedback puts, its profile update, its new identities."""

    __slots__ = ("actions", "items")

    def __init__(
        self, actions: list[tuple[dict[str, Any], tuple[str, str]]], items: list[StoredFeedback]
    ) -> None:
        self.actions = actions
        self.items = items


def _pack(
    items: Sequence[StoredFeedback],
    new_identities: dict[str, str],
    now: datetime,
    stored_profiles: dict[str, dict[str, Any]],
    parents: counters.ThemeParents,
) -> list[_Transaction]:
    """Group items into transactions of ≤ 100 actions, one profile update per customer per transaction and
    one counter update per day touched."""
    by_customer: dict[str | None, list[StoredFeedback]] = defaultdict(list)
    for item in items:
        by_customer[item.customer_id].append(item)
    identities_by_customer: dict[str, list[str]] = defaultdict(list)
    for identity, customer in new_identities.items():
        if not is_first(identity, customer):
            identities_by_customer[customer].append(identity)

    units: list[_Unit] = []
    for customer, group in by_customer.items():
        identities = identities_by_customer.get(customer, []) if customer else []
        # Room for the profile update and the new identities' redirects in the group's first unit.
        room = dynamo.MAX_TRANSACTION_ITEMS - 1 - len(identities)
        for position, chunk in enumerate(counters.transaction_chunks(group, room, parents, counters.just)):
            unit = _Unit([(_feedback_put(item), ("feedback", item.feedback_id)) for item in chunk], chunk)
            if customer is not None:
                update = profiles.profile_update(customer, chunk, now, stored_profiles.get(customer))
                unit.actions.append((update, ("profile", customer)))
                if position == 0:  # the first identity is the profile just updated: the others redirect
                    unit.actions += [(redirect_update(i, customer), ("identity", i)) for i in identities]
            units.append(unit)

    transactions = [_Transaction()]
    for unit in units:
        current = transactions[-1]
        too_many = current.size_with(unit) > dynamo.MAX_TRANSACTION_ITEMS or (
            counters.attribute_count([*current.items, *unit.items], parents) > counters.MAX_COUNTER_ATTRIBUTES
        )
        if current.actions and too_many:
            transactions.append(_Transaction())
        for action, role in unit.actions:
            transactions[-1].add(action, role)
        transactions[-1].items += unit.items
    for transaction in transactions:
        transaction.close(parents)
    return [t for t in transactions if t.actions]


class _Writes:
    """What one save learns from its cancelled transactions: items already stored, identities claimed by
    another customer, profiles as stored (the next guess at their ordered attributes) and customers merged
    away meanwhile (each with the customer that absorbed it)."""

    __slots__ = (
        "conflicted",
        "contended",
        "links",
        "new_identities",
        "outcome",
        "stored_profiles",
        "survivors",
    )

    def __init__(self, new_identities: dict[str, str], links: set[tuple[str, str]]) -> None:
        self.new_identities = new_identities
        self.links = links
        self.outcome = dynamo.PutOutcome()
        self.stored_profiles: dict[str, dict[str, Any]] = {}
        self.survivors: dict[str, str] = {}
        self.conflicted = False
        self.contended = False

    def cancelled(self, error: ClientError, transaction: _Transaction) -> None:
        """Note why a transaction was refused (re-raising what is not a cancellation or contention)."""
        code = error.response["Error"]["Code"]
        if code != "TransactionCanceledException" and code not in dynamo.RETRYABLE_ERRORS:
            raise error
        reasons = error.response.get("CancellationReasons") or [{}] * len(transaction.roles)
        self.contended |= code != "TransactionCanceledException" or any(
            reason.get("Code") in dynamo.RETRYABLE_CANCELLATIONS for reason in reasons
        )
        for (role, ref), reason in zip(transaction.roles, reasons, strict=True):
            if reason.get("Code") != "ConditionalCheckFailed":
                continue
            if role == "feedback":
                self.outcome.already_present.append(ref)
            elif role == "identity":
                self.conflicted = True
                self.new_identities.pop(ref, None)
            elif role == "profile":
                self._profile_refused(ref, reason)

    def _profile_refused(self, customer_id: str, reason: dict[str, Any]) -> None:
        stored = profiles.stored_profile(reason)
        if stored is None:  # DynamoDB returns the item it refused; read it if a reason comes without it
            from chalicelib.store import customers  # a rare refusal: not at the analyze cold start

            stored = customers.get_profile(customer_id) or {}
        if stored.get("merged_into"):
            self.survivors[customer_id] = stored["merged_into"]
        else:
            self.stored_profiles[customer_id] = stored

    def _survivor(self, customer_id: str | None) -> str | None:
        for _ in range(MAX_MERGE_HOPS):
            if customer_id not in self.survivors:
                break
            customer_id = self.survivors[customer_id]
        return customer_id

    def reassigned(self, retry: list[StoredFeedback]) -> list[StoredFeedback]:
        """The items to retry, with their customers resolved again where an identity or a merge moved them."""
        if self.conflicted and retry:
            fresh = resolve(retry, consistent=True)
            self.new_identities = fresh.new_identities
            self.links |= fresh.links
            retry = [
                item.model_copy(update={"customer_id": fresh.customers.get(item.feedback_id)})
                for item in retry
            ]
        if self.survivors:
            # The absorbed customer's identities may not have moved yet: write to its survivor directly.
            self.new_identities = {i: self._survivor(c) or c for i, c in self.new_identities.items()}
            retry = [
                item.model_copy(update={"customer_id": self._survivor(item.customer_id)}) for item in retry
            ]
        return retry


def save_feedback(
    items: Sequence[StoredFeedback],
    resolution: Resolution,
    parents: counters.ThemeParents,
) -> dynamo.PutOutcome:
    """Store new feedback with its identities, profile aggregates and day counters, each item exactly once
    (`parents`: each theme's parent in the taxonomy in force, for the per-theme counters; required,
    so a caller cannot leave the parents' counts out by forgetting it).

    A cancelled transaction names its culprits: a feedback item that exists already (a redelivery) is
    reported and dropped; an identity that meanwhile maps to another customer sends the items back through
    resolution with consistent reads; a profile whose ordered attributes were guessed wrong (a late item) is
    retried with the profile the cancellation returned, and one merged away meanwhile has its items go to
    the customer that absorbed it; contention is retried with backoff. Then customers found to be one
    person are merged.
    """
    pending = list({item.feedback_id: item for item in items}.values())
    writes = _Writes(dict(resolution.new_identities), set(resolution.links))
    dynamodb = aws.client("dynamodb")
    for attempt in range(dynamo.MAX_ATTEMPTS):
        if not pending:
            break
        retry: list[StoredFeedback] = []
        writes.conflicted = writes.contended = False
        by_id = {item.feedback_id: item for item in pending}
        for transaction in _pack(pending, writes.new_identities, utc_now(), writes.stored_profiles, parents):
            feedback_ids = [ref for role, ref in transaction.roles if role == "feedback"]
            try:
                dynamodb.transact_write_items(TransactItems=transaction.actions)
            except ClientError as error:
                writes.cancelled(error, transaction)
                present = set(writes.outcome.already_present)
                retry += [by_id[f] for f in feedback_ids if f not in present]
                continue
            writes.outcome.created.extend(feedback_ids)
        pending = writes.reassigned(retry)
        # A wrong guess or a duplicate is known now and retried at once; contention waits a little.
        if pending and (writes.contended or writes.conflicted):
            dynamo.backoff(attempt)
    writes.outcome.failed.update({item.feedback_id: "write retries exhausted" for item in pending})
    for keep, absorb in sorted(writes.links):
        from chalicelib.store import merge  # two customers found to be one: rare, imported then

        merge.merge(keep, absorb)
    return writes.outcome
