"""A data subject's access request (GDPR Art. 15, CCPA's right to know): everything held on one customer, in
one JSON document: the profile, the identities, every feedback item as stored (masks included) and the export
days whose files hold them.

It finds the customer's data as an erasure does (`customers.held_data`): a merged id is followed to its
survivor, and the feedback a merge has not moved yet is read from the absorbed customers' partitions, so what
an access request shows is what an erasure would remove. The CRM contacts linked to the customer are added by
the CLI, which may read the CRM connections (this room may not: ARCHITECTURE.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.models import utc_now
from chalicelib.store import customers
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import RECORD_TYPE


def subject_access(customer_id: str) -> dict[str, Any] | None:
    """The access document of a customer (by any id it had), or None when no such customer is held."""
    from chalicelib.privacy.erasure import day_exported

    held = customers.held_data(customer_id)
    if held is None:
        return None
    current, profile, items = held
    feedback = sorted(
        (feedback_store.from_item(i) for i in items if i.get(RECORD_TYPE) == feedback_store.ITEM_TYPE),
        key=lambda item: (item.occurred_at, item.feedback_id),
    )
    view = customers.view(current, recent=0)
    days = {item.stored_at.date() for item in feedback}
    # With a retention, items may have expired from the table while their export days remain.
    days.update(date.fromisoformat(day) for day in (profile or {}).get("stored_days", []))
    return {
        "generated_at": utc_now().isoformat(),
        "customer_id": current,
        "requested_as": customer_id if customer_id != current else None,
        "profile": customers.summarize({**(profile or {}), "customer_id": current}),
        "identities": [{"kind": i["kind"], "value": i["value"]} for i in (view.identities if view else [])],
        "feedback": [item.model_dump(mode="json", exclude_none=True) for item in feedback],
        "export_days": [day.isoformat() for day in sorted(days) if day_exported(day)],
    }
