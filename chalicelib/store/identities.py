"""Identities: who wrote a feedback item, resolved to the customer they belong to (README, Customer 360).

An identity item `IDENTITY#<identity>` maps an identity to its customer. An identity is `email#<address>`
(global: a shared email links channels automatically) or `<source_id>#<channel user id>` (scoped by source,
because page-scoped ids such as Messenger PSIDs or a Slack workspace's user ids mean nothing elsewhere). A
new identity's customer id is derived from the identity itself, so two concurrent first events from the
same person make the same customer.

Identity items have no entry in the customer index (an entry would cost a write unit per new identity): a
customer's identities are found from what is written anyway (`candidates`): its profile's `emails` and
`user_ids` sets (profiles.py), its feedback items' authors and, for tables written before, the
identity items that still carry the index keys. Each candidate is then read by key and kept if it maps to
the customer (`owned`), as a profile may briefly list an identity of a customer it is about to absorb.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.config import settings
from chalicelib.models import FeedbackEvent
from chalicelib.store import dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK

IDENTITY = "IDENTITY"

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


def customer_id_for(identity: str) -> str:
    """The customer id a first-seen identity creates: derived, so concurrent first events agree."""
    return "cus_" + hashlib.sha256(identity.encode()).hexdigest()[:24]


def is_customer_id(value: object) -> bool:
    """Whether `value` has the shape of a customer id (anything else cannot be one of ours)."""
    return isinstance(value, str) and _CUSTOMER_ID.fullmatch(value) is not None


def lookup_identities(identities: Iterable[str], consistent: bool = False) -> dict[str, str]:
    """identity → customer id for those that exist."""
    items = dynamo.batch_get(settings().table_name, [identity_key(i) for i in identities], consistent)
    return {item["identity"]: item["customer_id"] for item in items}


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
    """The identity item mapping `identity` to `customer_id`."""
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


def owned(identities: Iterable[str], customer_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The identity items among `identities` that map to one of `customer_ids`, read strongly consistent
    (a merge moves them and an erasure deletes them: what another customer owns stays untouched)."""
    owners = set(customer_ids)
    items = dynamo.batch_get(settings().table_name, [identity_key(i) for i in sorted(identities)], True)
    return [item for item in items if item.get("customer_id") in owners]
