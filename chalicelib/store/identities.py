"""Identities: who wrote a feedback item, resolved to the customer they belong to (README, Customer 360).

An identity is `email#<address>` (global: a shared email links channels automatically) or
`<source_id>#<channel user id>` (scoped by source, because page-scoped ids such as Messenger PSIDs or a Slack
workspace's user ids mean nothing elsewhere). A new identity's customer id is derived from the identity
itself (`customer_id_for`), so two concurrent first events from the same person make the same customer.

Where an identity is stored:
- a customer's *first* identity (the one its id was derived from) is its profile: the profile at
  `CUSTOMER#customer_id_for(identity)` says who it is, so it costs no item of its own; when the customer is
  merged away its profile becomes a tombstone (`merged_into`) and the identity follows it;
- any other identity (a channel id that came with an email, an identity linked later) is a *redirect*: an
  item at its own derived profile key holding only `merged_into = <customer>` (record type REDIRECT). It is
  written on `attribute_not_exists(pk) OR merged_into = <customer>`, and a profile update is refused where
  `merged_into` exists, so two concurrent first events can never give one identity to two customers: the
  second to land is refused and resolved again (feedback_write.py);
- tables written before keep their identity items `IDENTITY#<identity>` (`identity_key`): a lookup reads
  them too, and they win where present.

So a lookup reads two keys per identity in one BatchGetItem (`lookup_keys`): the identity item and the
derived profile; a live profile is the customer, a tombstone or redirect is followed to its survivor (up to
MAX_MERGE_HOPS), neither means the identity is new.

A customer's identities are found from what is written anyway (`candidates`): its profile's `emails` and
`user_ids` sets (profiles.py), its feedback items' authors and, for tables written before, the identity items
that still carry customer index keys. Each candidate is then read by key and kept if it maps to the customer
(`owned`), as a profile may briefly list an identity of a customer it is about to absorb.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.config import settings
from chalicelib.models import FeedbackEvent
from chalicelib.store import dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK, customer_partition

IDENTITY = "IDENTITY"
# A customer's profile item: its sort key and record type (profiles.py writes it; its key is here because a
# customer's first identity is its profile's key).
PROFILE = "PROFILE"
# An identity that is not its customer's first, stored at its derived profile key (module docstring).
REDIRECT = "REDIRECT"
# Merges can chain (A into B, B into C): a lookup and a write follow tombstones this far.
MAX_MERGE_HOPS = 5
# What a lookup needs of the items it reads: less to send and parse (the read units are the whole item's).
LOOKUP_ATTRIBUTES = (PK, RECORD_TYPE, "identity", "customer_id", "merged_into")

# The one shape customer_id_for gives; the lookups answer "unknown" for anything else without an AWS call
# (a key over DynamoDB's size limit would otherwise fail there, and a probe would cost a read).
_CUSTOMER_ID = re.compile(r"cus_[0-9a-f]{24}")


def identities_of(event: FeedbackEvent) -> list[str]:
    """The event author's identities, strongest first (an email outranks a channel id)."""
    found = []
    if event.author.email:
        found.append(f"email#{event.author.email.strip().lower()}")
    channel = channel_identity(event)
    if channel:
        found.append(channel)
    return found


def identity_key(identity: str) -> dict[str, str]:
    """Primary key of an identity item."""
    return {PK: f"{IDENTITY}#{identity}", SK: IDENTITY}


def profile_key(customer_id: str) -> dict[str, str]:
    """Primary key of a customer's profile (or of the tombstone or redirect at that id)."""
    return {PK: customer_partition(customer_id), SK: PROFILE}


def derived_key(identity: str) -> dict[str, str]:
    """The profile key an identity's derived customer id gives: its customer's profile if it was the first
    identity, else its redirect."""
    return profile_key(customer_id_for(identity))


def lookup_keys(identities: Iterable[str]) -> list[dict[str, str]]:
    """The keys a lookup of `identities` reads: each one's identity item (tables written before) and
    derived profile key."""
    return [key for identity in identities for key in (identity_key(identity), derived_key(identity))]


def customer_id_for(identity: str) -> str:
    """The customer id a first-seen identity creates: derived, so concurrent first events agree."""
    return "cus_" + hashlib.sha256(identity.encode()).hexdigest()[:24]


def is_customer_id(value: object) -> bool:
    """Whether `value` has the shape of a customer id (anything else cannot be one of ours)."""
    return isinstance(value, str) and _CUSTOMER_ID.fullmatch(value) is not None


def lookup_identities(identities: Iterable[str], consistent: bool = False) -> dict[str, str]:
    """identity → customer id for those that exist (one BatchGetItem per 50 identities, and one more per
    merge hop for a tombstone or redirect whose survivor was not among them)."""
    wanted = list(dict.fromkeys(identities))
    items = dynamo.batch_get(
        settings().table_name, lookup_keys(wanted), consistent, attributes=LOOKUP_ATTRIBUTES
    )
    return owners(wanted, items, consistent)


def owners(identities: Iterable[str], items: Iterable[Mapping[str, Any]], consistent: bool) -> dict[str, str]:
    """identity → customer id, from the items read at `lookup_keys(identities)` (others are ignored): an
    identity item wins; else a live derived profile is the customer, and a tombstone or redirect is followed
    to the customer it was merged into, reading the profiles not read yet (a chain ends at a live profile,
    at one that is gone, or after MAX_MERGE_HOPS)."""
    return _follow(identities, items, consistent)[0]


def unfinished_merges(events: Sequence[FeedbackEvent]) -> set[tuple[str, str]]:
    """(survivor, absorbed) for every tombstone the authors' identities lead through: the merges that may not
    have moved all of the absorbed customer's feedback and redirects yet. Asked for redelivered events only
    (the invocation that stored one may have died during a merge it started), so merging again, which is
    idempotent, finishes it; one lookup, none when `events` is empty."""
    wanted = list(dict.fromkeys(i for e in events for i in identities_of(e)))
    if not wanted:
        return set()
    items = dynamo.batch_get(settings().table_name, lookup_keys(wanted), True, attributes=LOOKUP_ATTRIBUTES)
    found, absorbed = _follow(wanted, items, consistent=True)
    return {(found[identity], tombstone) for identity, via in absorbed.items() for tombstone in via}


def _follow(
    identities: Iterable[str], items: Iterable[Mapping[str, Any]], consistent: bool
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """owners(), and for each identity the tombstones (absorbed profiles) its chain went through."""
    items = list(items)
    legacy = {
        str(item["identity"]): str(item["customer_id"]) for item in items if item.get(RECORD_TYPE) == IDENTITY
    }
    read = {_customer_of(item): item for item in items if _customer_of(item)}
    found: dict[str, str] = {}
    through: dict[str, list[str]] = {}
    following: dict[str, str] = {}  # identity → the customer id whose profile says where it goes
    for identity in identities:
        if identity in legacy:
            found[identity] = legacy[identity]
        elif customer_id_for(identity) in read:
            following[identity] = customer_id_for(identity)
    for _ in range(MAX_MERGE_HOPS + 1):
        unread = sorted({customer for customer in following.values() if customer not in read})
        if unread:
            keys = [profile_key(customer) for customer in unread]
            more = dynamo.batch_get(settings().table_name, keys, consistent, attributes=LOOKUP_ATTRIBUTES)
            read.update({customer: {} for customer in unread})  # gone (erased): read once, ends the chain
            read.update({_customer_of(item): item for item in more})
        moved = {}
        for identity, customer in following.items():
            item = read.get(customer) or {}
            target = item.get("merged_into")
            if target and is_customer_id(target):
                moved[identity] = str(target)
                if item.get(RECORD_TYPE) == PROFILE:
                    through.setdefault(identity, []).append(customer)
            else:
                found[identity] = customer
        if not moved:
            break
        following = moved
    else:
        found.update(following)  # a chain longer than merges make: its last customer, as writes follow
    return found, through


def _customer_of(item: Mapping[str, Any]) -> str:
    """The customer id of an item at a profile key (profile, tombstone or redirect), else ''."""
    partition = str(item.get(PK, ""))
    return partition.removeprefix("CUSTOMER#") if partition.startswith("CUSTOMER#") else ""


# A plain slotted class, not a dataclass: chalicelib/records.py says why.
class Resolution:
    """Who wrote what: feedback id → customer, identities to create, and customers found to be one."""

    __slots__ = ("customers", "links", "new_identities")

    def __init__(
        self,
        customers: dict[str, str] | None = None,
        new_identities: dict[str, str] | None = None,
        links: set[tuple[str, str]] | None = None,
    ) -> None:
        self.customers = {} if customers is None else customers
        self.new_identities = {} if new_identities is None else new_identities
        self.links = set() if links is None else links


def resolve(
    events: Sequence[FeedbackEvent], consistent: bool = False, known: dict[str, str] | None = None
) -> Resolution:
    """Resolve every event's author to a customer, reusing known identities and creating the rest.

    `known` (from the write's prefetch) saves the lookup; without it the identities are read now."""
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
    """The identity item mapping `identity` to `customer_id`, as tables written before hold it (and as the
    customer view lists an identity)."""
    kind, _, value = identity.partition("#")
    return {
        **identity_key(identity),
        RECORD_TYPE: IDENTITY,
        "identity": identity,
        "kind": "email" if kind == "email" else "channel",
        "value": value,
        "customer_id": customer_id,
    }


def channel_identity(event: FeedbackEvent) -> str | None:
    """The author's channel identity (`<source_id>#<channel user id>`), as profiles list it, or None."""
    if not event.author.channel_user_id:
        return None
    return f"{event.source_id}#{event.author.channel_user_id}"


def candidates(
    profiles: Iterable[Mapping[str, Any]],
    feedback: Iterable[FeedbackEvent] = (),
    indexed: Iterable[Mapping[str, Any]] = (),
) -> set[str]:
    """Every identity the customer of these profiles, feedback and identity items (found in the customer
    index: a table written before identities left it) may own: a superset, to be checked by `owned`."""
    found = {str(item["identity"]) for item in indexed}
    for profile in profiles:
        found.update(f"email#{email.strip().lower()}" for email in profile.get("emails") or ())
        found.update(str(identity) for identity in profile.get("user_ids") or ())
    for event in feedback:
        found.update(identities_of(event))
    return found


def is_first(identity: str, customer_id: str) -> bool:
    """Whether `identity` is the one `customer_id` was derived from: then the profile is the identity."""
    return customer_id_for(identity) == customer_id


def owned(identities: Iterable[str], customer_ids: Iterable[str]) -> list[dict[str, Any]]:
    """What stores those of `identities` that map to one of `customer_ids` besides the profiles themselves:
    identity items of tables written before (`customer_id`) and redirects (`merged_into`), read strongly
    consistent (a merge moves them and an erasure deletes them: what another customer owns stays untouched;
    a tombstone is the absorbed profile, which the merge and the erasure handle as such)."""
    owners = set(customer_ids)
    keys = lookup_keys(sorted(set(identities)))
    items = dynamo.batch_get(settings().table_name, keys, True)
    return [
        item
        for item in items
        if (item.get(RECORD_TYPE) == IDENTITY and item.get("customer_id") in owners)
        or (item.get(RECORD_TYPE) == REDIRECT and item.get("merged_into") in owners)
    ]


def redirect_item(key: Mapping[str, Any], customer_id: str) -> dict[str, Any]:
    """The redirect at `key` (an identity's derived profile key) pointing at `customer_id`: only what a
    lookup follows (erasure and merges find it from the profile's sets, `candidates`)."""
    return {PK: key[PK], SK: key[SK], RECORD_TYPE: REDIRECT, "merged_into": customer_id}


def redirect_update(identity: str, customer_id: str) -> dict[str, Any]:
    """The transaction action writing `identity`'s redirect to `customer_id`: idempotent for the same
    customer (a retry, two transactions of one batch), refused where the key holds a profile or a redirect
    of another customer. An Update, not a Put, so that a tombstone already merged into `customer_id` (a
    retry after a merge) keeps its counts and record type."""
    return {
        "Update": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(derived_key(identity)),
            "UpdateExpression": "SET merged_into = :customer, #type = if_not_exists(#type, :redirect)",
            "ConditionExpression": "attribute_not_exists(#pk) OR merged_into = :customer",
            "ExpressionAttributeNames": {"#pk": PK, "#type": RECORD_TYPE},
            "ExpressionAttributeValues": dynamo.serialize({":customer": customer_id, ":redirect": REDIRECT}),
        }
    }
