"""What the CRM sync remembers per connection, so a redelivery or a re-sync updates instead of duplicating:

- a contact link per customer (`CRMLINK#<connection>#CUSTOMER#<customer id>`, sk `CONTACT`): the CRM's
  contact id, whether the sync created that contact (only those get a GDPR delete on erasure), a hash of the
  fields last written (an unchanged contact costs no request), the customer's theme counts over the items
  synced (the contact's top themes) and the feedback ids synced for them (what an erasure removes);
- an activity link per item (`CRMLINK#<connection>#ITEM#<feedback id>`, sk `ACTIVITY`): the CRM's activity id
  (a HubSpot note, a Salesforce Task) and a hash of what it says.

Read with BatchGetItem (100 keys a request) and written with BatchWriteItem, never a Scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.config import settings
from chalicelib.store import dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK

CONTACT_LINK = "CRM_CONTACT_LINK"
ACTIVITY_LINK = "CRM_ACTIVITY_LINK"


def contact_key(connection_id: str, customer_id: str) -> dict[str, str]:
    return {PK: f"CRMLINK#{connection_id}#CUSTOMER#{customer_id}", SK: "CONTACT"}


def activity_key(connection_id: str, feedback_id: str) -> dict[str, str]:
    return {PK: f"CRMLINK#{connection_id}#ITEM#{feedback_id}", SK: "ACTIVITY"}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in {PK, SK, RECORD_TYPE}}


def contact_links(connection_id: str, customer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """customer id → its contact link, for those that have one (strongly consistent: a retry sees the
    link the failed attempt wrote)."""
    keys = [contact_key(connection_id, c) for c in set(customer_ids)]
    found = dynamo.batch_get(settings().table_name, keys, consistent=True) if keys else []
    return {item["customer_id"]: _plain(item) for item in found}


def activity_links(connection_id: str, feedback_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """feedback id → its activity link, for those that have one."""
    keys = [activity_key(connection_id, f) for f in set(feedback_ids)]
    found = dynamo.batch_get(settings().table_name, keys, consistent=True) if keys else []
    return {item["feedback_id"]: _plain(item) for item in found}


def save(
    connection_id: str, contacts: Iterable[dict[str, Any]], activities: Iterable[dict[str, Any]]
) -> None:
    """Write contact links (each with `customer_id`) and activity links (each with `feedback_id`)."""
    requests = [
        dynamo.put_request({**contact_key(connection_id, c["customer_id"]), RECORD_TYPE: CONTACT_LINK, **c})
        for c in contacts
    ] + [
        dynamo.put_request({**activity_key(connection_id, a["feedback_id"]), RECORD_TYPE: ACTIVITY_LINK, **a})
        for a in activities
    ]
    if requests:
        dynamo.batch_write(settings().table_name, requests)


def forget(connection_id: str, customer_id: str, feedback_ids: Iterable[str]) -> None:
    """Delete a customer's contact link and the activity links of their items (after an erasure)."""
    keys = [contact_key(connection_id, customer_id)] + [activity_key(connection_id, f) for f in feedback_ids]
    dynamo.batch_write(
        settings().table_name, [{"DeleteRequest": {"Key": dynamo.serialize(key)}} for key in keys]
    )


def save_pending(connection_id: str, activities: Iterable[dict[str, Any]]) -> None:
    """Mark activities about to be created (`pending`, no activity id yet), before the create request: a
    process that dies between the CRM's answer and `save` leaves the mark, and the retry looks the activity
    up in the CRM instead of creating a second one."""
    save(connection_id, [], [{**a, "pending": True} for a in activities])


def merge_links(connection_id: str, keep: str, absorbed: str, contact_id: str | None) -> int:
    """Fold the absorbed customer's contact link into `keep`'s; returns the activity links now `keep`'s.

    `contact_id`: the contact the CRM merged both into (the two links become one, on that contact, and every
    activity link points at it). None: the CRM merged nothing, so the absorbed link becomes `keep`'s when
    `keep` has none, and otherwise stays as it is (its contact is still the absorbed customer's; an erasure
    deletes the absorbed profile too, which reaches it)."""
    links = contact_links(connection_id, [keep, absorbed])
    gone = links.get(absorbed)
    if gone is None:
        return 0
    kept = links.get(keep)
    if kept is not None and contact_id is None:
        return 0
    absorbed_ids = list(gone.get("feedback_ids") or [])
    if kept is None:
        survivor = {**gone, "customer_id": keep}
        if contact_id is not None:
            survivor["contact_id"] = contact_id
    else:
        themes: dict[str, int] = {k: int(v) for k, v in (kept.get("theme_counts") or {}).items()}
        # A retry after a crash before the delete below finds the absorbed link folded in already.
        folded = absorbed in (kept.get("absorbed_customers") or [])
        for name, count in ({} if folded else gone.get("theme_counts") or {}).items():
            themes[name] = themes.get(name, 0) + int(count)
        survivor = {
            **kept,
            "contact_id": contact_id,
            # Only a contact the sync created on both sides gets a GDPR delete on erasure.
            "created": bool(kept.get("created")) and bool(gone.get("created")),
            "fields_hash": "",  # the merged contact's fields are written again by the next sync
            "theme_counts": themes,
            "feedback_ids": sorted(set(kept.get("feedback_ids") or []) | set(absorbed_ids)),
            "absorbed_customers": sorted({*(kept.get("absorbed_customers") or []), absorbed}),
        }
    moved = absorbed_ids
    activities = []
    if contact_id is not None:
        every = list(survivor.get("feedback_ids") or [])
        activities = [
            {**link, "feedback_id": feedback_id, "contact_id": contact_id}
            for feedback_id, link in activity_links(connection_id, every).items()
        ]
    # The survivor first: a crash before the delete leaves both, and the retry finds the work done.
    save(connection_id, [survivor], activities)
    dynamo.batch_write(
        settings().table_name,
        [{"DeleteRequest": {"Key": dynamo.serialize(contact_key(connection_id, absorbed))}}],
    )
    return len(moved)
