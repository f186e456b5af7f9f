"""Customer 360 reads: a customer's profile, identities and newest feedback, and lookups by id or email.

A customer's feedback carries `gsi2pk = CUSTOMER#<id>`, so one Query on the customer index finds it (README,
Customer 360); the index holds keys and record types only (schema.CUSTOMER_INDEX_ATTRIBUTES), so the items
themselves are then read by key, in one BatchGetItem with the profile (whose key is the customer id's: it
needs no index entry). Identities have no entry either (identities.py): the view lists those its profile
names, with the identity items of tables written before, which kept theirs.
Written by identities.py (who is who), feedback_write.py (feedback with its identities and profile, once),
profiles.py (the aggregates) and merge.py (two customers become one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from chalicelib.config import settings
from chalicelib.models import StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.identities import (
    IDENTITY,
    MAX_MERGE_HOPS,
    candidates,
    identity_item,
    is_customer_id,
    lookup_identities,
)
from chalicelib.store.profiles import PROFILE, profile_key
from chalicelib.store.schema import (
    CUSTOMER_INDEX,
    CUSTOMER_PK,
    INDEX_KEYS,
    PK,
    RECORD_TYPE,
    SK,
    customer_partition,
)

# RFC 5321's limits: 64 characters before the @, 255 after it.
MAX_EMAIL_LENGTH = 320


# A NamedTuple (never changed once read), not a dataclass: chalicelib/records.py says
# why.
class CustomerView(NamedTuple):
    """A customer's profile, identities and most recent feedback, from one Query and one BatchGetItem."""

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
    """Profile, identities and the `recent` newest feedback (newest first); None if unknown. One Query finds
    their keys, one BatchGetItem (per 100 keys) reads them."""
    if not is_customer_id(customer_id):
        return None
    entries = _partition_entries(customer_id, ScanIndexForward=False, Limit=recent + 50, max_pages=1)
    feedback_entries = [e for e in entries if e.get(RECORD_TYPE) == feedback_store.ITEM_TYPE][:recent]
    # The profile is read by its key (a profile written before it left the index may still have an entry).
    wanted = [profile_key(customer_id), *(e for e in entries if e.get(RECORD_TYPE) == IDENTITY)]
    items = _fetch(wanted + feedback_entries)
    profile = next((i for i in items if i.get(RECORD_TYPE) == PROFILE), None)
    if profile is None:
        return None
    return CustomerView(
        customer_id=customer_id,
        profile=_plain(profile),
        identities=_listed_identities(
            customer_id, profile, [i for i in items if i.get(RECORD_TYPE) == IDENTITY]
        ),
        recent_feedback=[
            feedback_store.from_item(i) for i in items if i.get(RECORD_TYPE) == feedback_store.ITEM_TYPE
        ],
    )


def _listed_identities(
    customer_id: str, profile: dict[str, Any], indexed: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The identities a profile names and those found in the index, in the index's order (descending): from
    the profile without another read, since it names the identities its writes created and its merges
    brought in (one it names while a merge is still pending is the same person's)."""
    found = {str(item["identity"]): _plain(item) for item in indexed}
    for identity in candidates([profile]) - found.keys():
        found[identity] = _plain(identity_item(identity, customer_id))
    return [found[identity] for identity in sorted(found, reverse=True)]


def get_profile(customer_id: str) -> dict[str, Any] | None:
    """The raw profile item (strongly consistent), or None."""
    if not is_customer_id(customer_id):
        return None
    item = dynamo.get_item(settings().table_name, profile_key(customer_id), consistent=True)
    return _plain(item) if item else None


def current_customer(customer_id: str) -> tuple[str, dict[str, Any] | None]:
    """The customer `customer_id` is now, with its profile: a merge's tombstone followed to its survivor, as
    far as merges chained (A into B, then B into C: A is C), up to MAX_MERGE_HOPS; the id itself otherwise."""
    profile = get_profile(customer_id)
    for _ in range(MAX_MERGE_HOPS):
        survivor = (profile or {}).get("merged_into")
        if not survivor:
            break
        customer_id, profile = survivor, get_profile(survivor)
    return customer_id, profile


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
    """Every item in a customer's index partition (its feedback, and in a table written before, its
    identities and profile), whole: the Query's keys (paginated), then the items by key."""
    if not is_customer_id(customer_id):
        return []
    return _fetch(_partition_entries(customer_id))


# What is held on a customer, as an erasure removes it and an access request shows it: the customer the id
# asked about is now (a merge's survivor), its profile, and the items of its index partition and of those it
# absorbed. A plain tuple: a NamedTuple class costs the export cold start (test_cold_start_classes.py).
HeldData = tuple[str, dict[str, Any] | None, list[dict[str, Any]]]


def held_data(customer_id: str) -> HeldData | None:
    """Everything held on the person `customer_id` names, or None when nothing is. A merge proved an old id
    and its survivor one person, so the survivor's data is the answer; a merge killed before it moved the
    absorbed customers' feedback left it in their partitions, so those are read too."""
    current, profile = current_customer(customer_id)
    items = customer_items(current)
    if profile is None and not items:
        return None
    for absorbed in sorted((profile or {}).get("absorbed", [])):
        items += customer_items(absorbed)
    return current, profile, items


def _fetch(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The whole items of index `entries`, in the entries' order (an item deleted meanwhile is left out)."""
    found = dynamo.batch_get(settings().table_name, [{PK: e[PK], SK: e[SK]} for e in entries])
    by_key = {(item[PK], item[SK]): item for item in found}
    return [by_key[key] for key in ((e[PK], e[SK]) for e in entries) if key in by_key]


def _partition_entries(customer_id: str, **query_options: Any) -> list[dict[str, Any]]:
    """The index entries (keys and CUSTOMER_INDEX_ATTRIBUTES) of a customer's partition that a Query with
    `query_options` (order, limit, pages) returns."""
    return list(
        dynamo.query_pages(
            TableName=settings().table_name,
            IndexName=CUSTOMER_INDEX,
            KeyConditionExpression="#pk = :customer",
            ExpressionAttributeNames={"#pk": CUSTOMER_PK},
            ExpressionAttributeValues={":customer": {"S": customer_partition(customer_id)}},
            **query_options,
        )
    )
