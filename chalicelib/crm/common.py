"""What both CRM targets compute the same way: which items a sync writes and what it remembers of them, a
profile as the contact's neutral fields, the theme counts kept per contact, the hash of what was last
written, batches. Apart from base.py so that what the consumer
imports (sync.py, the contract) stays free of the profile and export modules until a target is built.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from chalicelib.crm.base import LIST_SEPARATOR, ContactFields, SyncReport, top_themes
from chalicelib.export.crm import TouchedCustomers, primary_email
from chalicelib.models import StoredFeedback
from chalicelib.store import crm_links
from chalicelib.store import customers as customer_store

T = TypeVar("T")


def chunked(values: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def digest(values: dict[str, Any]) -> str:
    """A short hash of what was last written (an unchanged contact or activity costs no request)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:32]


def utc_iso(timestamp: str | None) -> str | None:
    if not timestamp:
        return None
    moment = datetime.fromisoformat(timestamp).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contact_fields(profile: dict[str, Any], theme_counts: dict[str, int]) -> ContactFields:
    """A profile as the contact's fields: names only when the customer gave one."""
    summary = customer_store.summarize(profile)
    name = " ".join((profile.get("display_name") or "").split())
    first, _, last = name.partition(" ")
    return ContactFields(
        customer_id=summary["customer_id"],
        email=primary_email(profile) or None,
        first_name=first or None,
        last_name=last or None,
        profile={
            "customer_id": summary["customer_id"],
            "latest_nps": (summary["latest_nps"] or {}).get("rating"),
            "latest_csat": (summary["latest_csat"] or {}).get("rating"),
            "mean_sentiment": summary["mean_sentiment_score"],
            "last_feedback_at": utc_iso(summary["last_seen"]),
            "channels": LIST_SEPARATOR.join(summary["channels"]),
            "top_themes": LIST_SEPARATOR.join(top_themes(theme_counts)),
            "feedback_count": summary["feedback_count"],
        },
    )


def theme_counts(
    links: dict[str, dict[str, Any]], new_items: Sequence[StoredFeedback], owner: dict[str, str]
) -> dict[str, Counter[str]]:
    """customer id → theme counts: those kept in the contact links plus the new items' themes (an item
    synced before adds nothing, so each item counts once however often it is synced)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for customer_id, link in links.items():
        counts[customer_id].update(link.get("theme_counts") or {})
    for item in new_items:
        counts[owner[item.feedback_id]].update(tag.id for tag in item.themes or [])
    return counts


@dataclass
class SyncScope:
    """The items a sync writes, their customers (merges followed) and the links the sync kept for them."""

    live: list[StoredFeedback]  # each item once, its customer's profile still there
    owner: dict[str, str]  # feedback id → the surviving customer id
    survivors: dict[str, dict[str, Any]]  # surviving customer id → profile
    contact_links: dict[str, dict[str, Any]]
    activity_links: dict[str, dict[str, Any]]


def sync_scope(connection_id: str, items: Sequence[StoredFeedback], report: SyncReport) -> SyncScope | None:
    """The scope of a sync of these items; those whose customer is gone (erased) are reported skipped.
    None: nothing left to write."""
    unique = list({item.feedback_id: item for item in items}.values())
    touched = TouchedCustomers()
    for item in unique:
        touched.add(str(item.customer_id))
    profiles = touched.profiles()  # item's customer id → the surviving profile (merges followed)
    live = [i for i in unique if str(i.customer_id) in profiles]
    report.skipped += [i.feedback_id for i in unique if str(i.customer_id) not in profiles]
    if not live:
        return None
    owner = {i.feedback_id: profiles[str(i.customer_id)]["customer_id"] for i in live}
    return SyncScope(
        live=live,
        owner=owner,
        survivors={p["customer_id"]: p for p in profiles.values()},
        contact_links=crm_links.contact_links(connection_id, set(owner.values())),
        activity_links=crm_links.activity_links(connection_id, owner),
    )
