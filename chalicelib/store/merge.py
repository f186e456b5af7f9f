"""Merging two customers found to be one person: aggregates added once, identities and feedback moved, and
a tombstone pointing at the survivor (README, Customer 360).

The absorbed customer's first identity is its profile (identities.py), so the tombstone moves it; its other
identities' redirects, and identity items of tables written before, are rewritten to the survivor. Identities
of customers it had absorbed itself follow their tombstones through it (a lookup follows the chain)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import utc_now
from chalicelib.observability import logger
from chalicelib.store import customers, dynamo, identities, profiles
from chalicelib.store import feedback as feedback_store
from chalicelib.store.identities import IDENTITY, REDIRECT
from chalicelib.store.schema import CUSTOMER_PK, CUSTOMER_SK, RECORD_TYPE, customer_partition


@dataclass
class MergeReport:
    """What one merge did: the pair, what moved, and whether this run added the aggregates."""

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
    absorb_profile = customers.get_profile(absorb)
    if absorb_profile and not absorb_profile.get("merged_into"):
        report.aggregates_added = _move_aggregates(keep, absorb_profile)
    moved = []
    indexed = customers.customer_items(absorb)
    feedback = [item for item in indexed if item.get(RECORD_TYPE) == feedback_store.ITEM_TYPE]
    for item in feedback:
        item["customer_id"] = keep
        item[CUSTOMER_PK] = customer_partition(keep)
        moved.append(dynamo.put_request(item))
    report.feedback_moved = len(feedback)
    for item in _absorbed_identities(absorb, indexed, feedback):
        if item.get(RECORD_TYPE) == REDIRECT:
            moved.append(dynamo.put_request(identities.redirect_item(item, keep)))
        else:
            item["customer_id"] = keep
            if CUSTOMER_PK in item:  # an identity written before identities left the index keeps its entry
                item[CUSTOMER_PK] = customer_partition(keep)
                item[CUSTOMER_SK] = f"{IDENTITY}#{item['identity']}"
            moved.append(dynamo.put_request(item))
        report.identities_moved += 1
    # The absorbed customer's first identity moved with its profile, tombstoned by this run.
    report.identities_moved += int(report.aggregates_added)
    dynamo.batch_write(settings().table_name, moved)
    # Counts only: a customer id is derived from an email, so it would identify the person in the log.
    logger.info(
        "customers merged",
        extra={"feedback_moved": report.feedback_moved, "identities_moved": report.identities_moved},
    )
    return report


def _absorbed_identities(
    absorb: str, indexed: list[dict[str, Any]], feedback: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every redirect and identity item still mapping to `absorb`: those its profile (tombstoned now, so no
    longer changing: a write for it is refused and goes to the survivor) and its feedback's authors name, and
    those of a table written before that the customer index still lists. The survivor's profile names them
    too: the merge added the absorbed profile's sets to it."""
    profile = customers.get_profile(absorb) or {}
    authors = [feedback_store.from_item(item) for item in feedback]
    listed = [item for item in indexed if item.get(RECORD_TYPE) == IDENTITY]
    return identities.owned(identities.candidates([profile], authors, listed), [absorb])


def _move_aggregates(keep: str, absorb_profile: dict[str, Any]) -> bool:
    """Tombstone the absorbed profile and add its aggregates to `keep`'s in one transaction; False when
    another merge of the pair did it first.

    Both actions are conditional on what was read: the tombstone on the absorbed profile's revision (a write
    in between would leave its counts behind), keep's update on its ordered attributes (see profiles.py).
    A refusal returns the profile as stored, and the merge is tried again with it."""
    keep_profile: dict[str, Any] = customers.get_profile(keep) or {}
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
            current = profiles.stored_profile(absorbed_reason) or customers.get_profile(
                absorb_profile["customer_id"]
            )
            if current is None or current.get("merged_into"):
                return False  # merged by another run of the same merge (or erased meanwhile)
            absorb_profile, refused = current, True
        if kept_reason.get("Code") == "ConditionalCheckFailed":
            keep_profile, refused = (
                profiles.stored_profile(kept_reason) or customers.get_profile(keep) or {},
                True,
            )
        if not refused:
            dynamo.backoff(attempt)  # contention or throttling: the same transaction again
    raise RuntimeError("merging two customers: write retries exhausted")
