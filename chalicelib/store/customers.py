"""Customer 360: identities resolved to customers, profile aggregates, and feedback written with them.

Items (one table, see schema.py):
- identity  `IDENTITY#<identity>` → its customer. An identity is `email#<address>` (global: a shared
  email links channels automatically) or `<source_id>#<channel user id>` (scoped by source, because
  page-scoped ids such as Messenger PSIDs or a Slack workspace's user ids mean nothing elsewhere).
- profile   `CUSTOMER#<id>` / `PROFILE`: aggregates (counts per channel and sentiment, score sum, latest NPS
  and CSAT, first and last seen, display name, channels, emails) kept current by the analyze path; how
  they are written so that any order of arrival gives the same profile is in profiles.py.
- All three (identity, profile, feedback) carry `gsi2pk = CUSTOMER#<id>`, so one Query on the customer
  index returns a customer's profile, identities and newest feedback.

A new identity's customer id is derived from the identity itself, so two concurrent first events from the
same person make the same customer. Feedback, identities and profile updates go in one TransactWriteItems:
the feedback Put is conditional, so a redelivery cancels the transaction and the profile is never counted
twice; the retry drops what already exists.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.analysis.base import chunked
from chalicelib.config import settings
from chalicelib.models import FeedbackEvent, StoredFeedback, utc_now
from chalicelib.observability import logger
from chalicelib.store import dynamo, profiles
from chalicelib.store import feedback as feedback_store
from chalicelib.store.profiles import PROFILE, profile_key
from chalicelib.store.schema import (
    CUSTOMER_INDEX,
    CUSTOMER_PK,
    CUSTOMER_SK,
    INDEX_KEYS,
    PK,
    RECORD_TYPE,
    SK,
    customer_partition,
)

__all__ = ["PROFILE", "profile_key"]  # re-exported: callers find the profile's key here

IDENTITY = "IDENTITY"
# Merges can chain (A into B, B into C); a write follows tombstones this far.
MAX_MERGE_HOPS = 5


# --- identities -------------------------------------------------------------------------------------------


def identities_of(event: FeedbackEvent) -> list[str]:
    """The event author's identities, strongest first (an email outranks a channel id)."""
    found = []
    if event.author.email:
        found.append(f"email#{event.author.email.strip().lower()}")
    if event.author.channel_user_id:
        found.append(f"{event.source_id}#{event.author.channel_user_id}")
    return found


def identity_key(identity: str) -> dict[str, str]:
    """Primary key of an identity item."""
    return {PK: f"{IDENTITY}#{identity}", SK: IDENTITY}


def customer_id_for(identity: str) -> str:
    """The customer id a first-seen identity creates: derived, so concurrent first events agree."""
    return "cus_" + hashlib.sha256(identity.encode()).hexdigest()[:24]


# The one shape customer_id_for gives; the lookups answer "unknown" for anything else without an AWS call
# (a key over DynamoDB's size limit would otherwise fail there, and a probe would cost a read).
_CUSTOMER_ID = re.compile(r"cus_[0-9a-f]{24}")
# RFC 5321's limits: 64 characters before the @, 255 after it.
MAX_EMAIL_LENGTH = 320


def is_customer_id(value: object) -> bool:
    """Whether `value` has the shape of a customer id (anything else cannot be one of ours)."""
    return isinstance(value, str) and _CUSTOMER_ID.fullmatch(value) is not None


def lookup_identities(identities: Iterable[str], consistent: bool = False) -> dict[str, str]:
    """identity → customer id for those that exist."""
    items = dynamo.batch_get(settings().table_name, [identity_key(i) for i in identities], consistent)
    return {item["identity"]: item["customer_id"] for item in items}


def prefetch(events: Iterable[FeedbackEvent]) -> tuple[set[str], dict[str, str]]:
    """In one BatchGetItem per 100 keys: which events are stored already (a redelivery or replay, which
    then costs no analysis) and the customers of the authors' known identities."""
    events = list(events)
    feedback_keys = [feedback_store.feedback_key(e.feedback_id) for e in events]
    identity_keys = [identity_key(i) for e in events for i in identities_of(e)]
    # Only what is needed here: a redelivered batch would otherwise read back every stored item in full.
    items = dynamo.batch_get(
        settings().table_name,
        feedback_keys + identity_keys,
        attributes=(RECORD_TYPE, "feedback_id", "identity", "customer_id"),
    )
    stored = {item["feedback_id"] for item in items if item.get(RECORD_TYPE) == feedback_store.ITEM_TYPE}
    known = {item["identity"]: item["customer_id"] for item in items if item.get(RECORD_TYPE) == IDENTITY}
    return stored, known


@dataclass
class Resolution:
    """Who wrote what: feedback id → customer, identities to create, and customers found to be one."""

    customers: dict[str, str] = field(default_factory=dict)
    new_identities: dict[str, str] = field(default_factory=dict)
    links: set[tuple[str, str]] = field(default_factory=set)


def resolve(
    events: Sequence[FeedbackEvent], consistent: bool = False, known: dict[str, str] | None = None
) -> Resolution:
    """Resolve every event's author to a customer, reusing known identities and creating the rest.

    `known` (from `prefetch`) saves the lookup; without it the identities are read now."""
    if known is None:
        known = lookup_identities((i for e in events for i in identities_of(e)), consistent=consistent)
    known = dict(known)
    resolution = Resolution()
    for event in events:
        identities = identities_of(event)
        if not identities:
            continue  # anonymous feedback stays unattached
        owners = [known[i] for i in identities if i in known]
        customer = owners[0] if owners else customer_id_for(identities[0])
        # The email's customer wins; any other customer the same person turned out to be is linked to it.
        resolution.links.update((customer, other) for other in owners[1:] if other != customer)
        for identity in identities:
            if identity not in known:
                known[identity] = customer
                resolution.new_identities[identity] = customer
        resolution.customers[event.feedback_id] = customer
    return resolution


def identity_item(identity: str, customer_id: str) -> dict[str, Any]:
    """The identity item mapping `identity` to `customer_id`."""
    kind, _, value = identity.partition("#")
    return {
        **identity_key(identity),
        RECORD_TYPE: IDENTITY,
        "identity": identity,
        "kind": "email" if kind == "email" else "channel",
        "value": value,
        "customer_id": customer_id,
        CUSTOMER_PK: customer_partition(customer_id),
        CUSTOMER_SK: f"{IDENTITY}#{identity}",
    }


# --- writing feedback with its customers ------------------------------------------------------------------


@dataclass
class _Transaction:
    actions: list[dict[str, Any]] = field(default_factory=list)
    roles: list[tuple[str, str]] = field(
        default_factory=list
    )  # ("feedback", id) | ("identity", identity) | …

    def add(self, action: dict[str, Any], role: tuple[str, str]) -> None:
        self.actions.append(action)
        self.roles.append(role)


def _feedback_put(item: StoredFeedback) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": settings().table_name,
            "Item": dynamo.serialize(feedback_store.to_item(item)),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
        }
    }


def _identity_put(identity: str, customer_id: str) -> dict[str, Any]:
    # Idempotent for the same customer (a retry, or two transactions of one batch); refused for another.
    return {
        "Put": {
            "TableName": settings().table_name,
            "Item": dynamo.serialize(identity_item(identity, customer_id)),
            "ConditionExpression": "attribute_not_exists(#pk) OR customer_id = :cid",
            "ExpressionAttributeNames": {"#pk": PK},
            "ExpressionAttributeValues": dynamo.serialize({":cid": customer_id}),
        }
    }


def _pack(
    items: Sequence[StoredFeedback],
    new_identities: dict[str, str],
    now: datetime,
    stored_profiles: dict[str, dict[str, Any]],
) -> list[_Transaction]:
    """Group items into transactions of ≤ 100 actions, one profile update per customer per transaction."""
    by_customer: dict[str | None, list[StoredFeedback]] = defaultdict(list)
    for item in items:
        by_customer[item.customer_id].append(item)
    identities_by_customer: dict[str, list[str]] = defaultdict(list)
    for identity, customer in new_identities.items():
        identities_by_customer[customer].append(identity)

    units: list[list[tuple[dict[str, Any], tuple[str, str]]]] = []
    for customer, group in by_customer.items():
        identities = identities_by_customer.get(customer, []) if customer else []
        # Room for the profile update and the new identities in the group's first unit.
        size = dynamo.MAX_TRANSACTION_ITEMS - 1 - len(identities)
        for position, chunk in enumerate(chunked(group, size)):
            unit = [(_feedback_put(item), ("feedback", item.feedback_id)) for item in chunk]
            if customer is not None:
                update = profiles.profile_update(customer, chunk, now, stored_profiles.get(customer))
                unit.append((update, ("profile", customer)))
                if position == 0:
                    unit += [(_identity_put(i, customer), ("identity", i)) for i in identities]
            units.append(unit)

    transactions = [_Transaction()]
    for unit in units:
        if len(transactions[-1].actions) + len(unit) > dynamo.MAX_TRANSACTION_ITEMS:
            transactions.append(_Transaction())
        for action, role in unit:
            transactions[-1].add(action, role)
    return [t for t in transactions if t.actions]


@dataclass
class _Writes:
    """What one save learns from its cancelled transactions: items already stored, identities claimed by
    another customer, profiles as stored (the next guess at their ordered attributes) and customers merged
    away meanwhile (each with the customer that absorbed it)."""

    new_identities: dict[str, str]
    links: set[tuple[str, str]]
    outcome: dynamo.PutOutcome = field(default_factory=dynamo.PutOutcome)
    stored_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    survivors: dict[str, str] = field(default_factory=dict)
    conflicted: bool = False
    contended: bool = False

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
            stored = get_profile(customer_id) or {}
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


def save_feedback(items: Sequence[StoredFeedback], resolution: Resolution) -> dynamo.PutOutcome:
    """Store new feedback with its identities and profile aggregates, each item exactly once.

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
        for transaction in _pack(pending, writes.new_identities, utc_now(), writes.stored_profiles):
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
        merge(keep, absorb)
    return writes.outcome


# --- reading -----------------------------------------------------------------------------------------------


@dataclass
class CustomerView:
    """A customer's profile, identities and most recent feedback, from one Query."""

    customer_id: str
    profile: dict[str, Any]
    identities: list[dict[str, Any]]
    recent_feedback: list[StoredFeedback]


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in INDEX_KEYS}


def summarize(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile as the API shows it: counts grouped, the mean sentiment score computed."""
    scored = profile.get("sentiment_scored", 0)
    return {
        "customer_id": profile["customer_id"],
        "display_name": profile.get("display_name"),
        "emails": sorted(profile.get("emails", [])),
        "handles": sorted(profile.get("handles", [])),
        "channels": sorted(profile.get("channels", [])),
        "feedback_count": profile.get("feedback_count", 0),
        "feedback_by_channel": {
            k.removeprefix("channel_"): v for k, v in profile.items() if k.startswith("channel_")
        },
        "sentiment_counts": {
            k.removeprefix("sentiment_"): v
            for k, v in profile.items()
            if k.startswith("sentiment_") and k not in {"sentiment_scored", "sentiment_score_sum"}
        },
        "mean_sentiment_score": round(profile.get("sentiment_score_sum", 0) / scored, 4) if scored else None,
        "latest_nps": profile.get("latest_nps"),
        "latest_csat": profile.get("latest_csat"),
        "first_seen": profile.get("first_seen"),
        "last_seen": profile.get("last_seen"),
    }


def view(customer_id: str, recent: int = 20) -> CustomerView | None:
    """Profile, identities and the `recent` newest feedback in one Query (newest first); None if unknown."""
    if not is_customer_id(customer_id):
        return None
    items = list(
        dynamo.query_pages(
            TableName=settings().table_name,
            IndexName=CUSTOMER_INDEX,
            KeyConditionExpression="#pk = :customer",
            ExpressionAttributeNames={"#pk": CUSTOMER_PK},
            ExpressionAttributeValues={":customer": {"S": customer_partition(customer_id)}},
            ScanIndexForward=False,
            Limit=recent + 50,
            max_pages=1,
        )
    )
    profile = next((i for i in items if i.get(RECORD_TYPE) == PROFILE), None)
    if profile is None:
        return None
    return CustomerView(
        customer_id=customer_id,
        profile=_plain(profile),
        identities=[_plain(i) for i in items if i.get(RECORD_TYPE) == IDENTITY],
        recent_feedback=[feedback_store.from_item(i) for i in items if i.get(RECORD_TYPE) == "FEEDBACK"][
            :recent
        ],
    )


def get_profile(customer_id: str) -> dict[str, Any] | None:
    """The raw profile item (strongly consistent), or None."""
    if not is_customer_id(customer_id):
        return None
    item = dynamo.get_item(settings().table_name, profile_key(customer_id), consistent=True)
    return _plain(item) if item else None


def get_profiles(customer_ids: Iterable[str], consistent: bool = False) -> dict[str, dict[str, Any]]:
    """customer id → raw profile item, for those that exist (BatchGetItem, 100 keys a request, unprocessed
    keys retried with backoff). Reads exactly these profiles, never a Scan: what the day export pays per
    customer. Merge tombstones come back as stored (with `merged_into`); following them is the caller's."""
    keys = [profile_key(customer_id) for customer_id in customer_ids]
    items = dynamo.batch_get(settings().table_name, keys, consistent)
    return {item[PK].removeprefix("CUSTOMER#"): _plain(item) for item in items}


def find_by_email(email: str) -> str | None:
    """The customer an email address belongs to, or None (without a read for what cannot be an email)."""
    if "@" not in email or len(email.strip()) > MAX_EMAIL_LENGTH:
        return None
    identity = f"email#{email.strip().lower()}"
    return lookup_identities([identity]).get(identity)


def customer_items(customer_id: str) -> list[dict[str, Any]]:
    """Every item in a customer's index partition (profile, identities, feedback), paginated."""
    if not is_customer_id(customer_id):
        return []
    return list(
        dynamo.query_pages(
            TableName=settings().table_name,
            IndexName=CUSTOMER_INDEX,
            KeyConditionExpression="#pk = :customer",
            ExpressionAttributeNames={"#pk": CUSTOMER_PK},
            ExpressionAttributeValues={":customer": {"S": customer_partition(customer_id)}},
        )
    )


# --- merging ------------------------------------------------------------------------------------------------


@dataclass
class MergeReport:
    kept: str
    absorbed: str
    feedback_moved: int = 0
    identities_moved: int = 0
    aggregates_added: bool = False


def merge(keep: str, absorb: str) -> MergeReport:
    """Make `absorb` part of `keep`: aggregates added once, identities and feedback moved, a tombstone left.

    Idempotent: the aggregates move in one transaction with the tombstone's `merged_into` condition, and
    moving items again rewrites them to the same values.
    """
    report = MergeReport(kept=keep, absorbed=absorb)
    if keep == absorb:
        return report
    absorb_profile = get_profile(absorb)
    if absorb_profile and not absorb_profile.get("merged_into"):
        report.aggregates_added = _move_aggregates(keep, absorb_profile)
    moved = []
    for item in customer_items(absorb):
        if item.get(RECORD_TYPE) == "FEEDBACK":
            item["customer_id"] = keep
            report.feedback_moved += 1
        elif item.get(RECORD_TYPE) == IDENTITY:
            item["customer_id"] = keep
            item[CUSTOMER_SK] = f"{IDENTITY}#{item['identity']}"
            report.identities_moved += 1
        else:
            continue
        item[CUSTOMER_PK] = customer_partition(keep)
        moved.append(dynamo.put_request(item))
    dynamo.batch_write(settings().table_name, moved)
    # Counts only: a customer id is derived from an email, so it would identify the person in the log.
    logger.info(
        "customers merged",
        extra={"feedback_moved": report.feedback_moved, "identities_moved": report.identities_moved},
    )
    return report


def _move_aggregates(keep: str, absorb_profile: dict[str, Any]) -> bool:
    """Tombstone the absorbed profile and add its aggregates to `keep`'s in one transaction; False when
    another merge of the pair did it first.

    Both actions are conditional on what was read: the tombstone on the absorbed profile's revision (a write
    in between would leave its counts behind), keep's update on its ordered attributes (see profiles.py).
    A refusal returns the profile as stored, and the merge is tried again with it."""
    keep_profile: dict[str, Any] = get_profile(keep) or {}
    dynamodb = aws.client("dynamodb")
    for attempt in range(dynamo.MAX_ATTEMPTS):
        actions = [
            profiles.tombstone(absorb_profile, keep),
            profiles.merged_aggregates(keep, absorb_profile, keep_profile, utc_now()),
        ]
        try:
            dynamodb.transact_write_items(TransactItems=actions)
            return True
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code != "TransactionCanceledException" and code not in dynamo.RETRYABLE_ERRORS:
                raise
            absorbed_reason, kept_reason = error.response.get("CancellationReasons") or [{}, {}]
        refused = False
        if absorbed_reason.get("Code") == "ConditionalCheckFailed":
            current = profiles.stored_profile(absorbed_reason) or get_profile(absorb_profile["customer_id"])
            if current is None or current.get("merged_into"):
                return False  # merged by another run of the same merge (or erased meanwhile)
            absorb_profile, refused = current, True
        if kept_reason.get("Code") == "ConditionalCheckFailed":
            keep_profile, refused = profiles.stored_profile(kept_reason) or get_profile(keep) or {}, True
        if not refused:
            dynamo.backoff(attempt)  # contention or throttling: the same transaction again
    raise RuntimeError("merging two customers: write retries exhausted")
