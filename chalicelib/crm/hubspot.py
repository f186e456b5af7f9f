"""The HubSpot target: contact properties in a group of their own, contacts upserted in batches, one note per
item associated with its contact, GDPR delete on erasure.

Requests per batch of up to 100 items (HubSpot's batch limit): one contact update for the customers synced
before (by their contact id, whatever their key), one contact upsert per key kind among new customers (email;
the customer id property for customers without one), one note create, one note update when items synced
before changed; unchanged contacts and notes (same hash as last written) cost nothing. So 1,000 items take
20 to 30 requests (tools/bench/crm.py), and a second sync of the same items none.

Notes are linked *pending* before they are created (store/crm_links.py save_pending): a process that dies
between HubSpot's answer and saving the note ids leaves those marks, and the retry searches the contact's
notes at the item's time instead of creating a second note. A merge of two synced customers is HubSpot's
contact merge; the notes follow the merged contact.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from chalicelib.crm.base import (
    Activity,
    ContactFields,
    CrmTarget,
    ErasureReport,
    MergeReport,
    SyncReport,
    activity_of,
)
from chalicelib.crm.common import chunked, contact_fields, digest, sync_scope, theme_counts
from chalicelib.crm.connections import CrmConnection
from chalicelib.crm.exceptions import RequestFailed
from chalicelib.crm.hubspot_api import HubSpotApi, Response
from chalicelib.export.crm import activity_subject, primary_email
from chalicelib.models import StoredFeedback
from chalicelib.store import crm_links

BATCH = 100  # HubSpot's batch endpoints take up to 100 inputs
NOTE_TO_CONTACT = 202  # HUBSPOT_DEFINED association type id: note → contact
GROUP = {"name": "customer_feedback", "label": "Customer feedback", "displayOrder": -1}
# Neutral field → (default HubSpot property name, label, type, fieldType).
PROPERTIES: dict[str, tuple[str, str, str, str]] = {
    "customer_id": ("feedback_customer_id", "Feedback Customer ID", "string", "text"),
    "latest_nps": ("feedback_latest_nps", "Feedback Latest NPS", "number", "number"),
    "latest_csat": ("feedback_latest_csat", "Feedback Latest CSAT", "number", "number"),
    "mean_sentiment": ("feedback_mean_sentiment", "Feedback Mean Sentiment", "number", "number"),
    "last_feedback_at": ("feedback_last_feedback_at", "Feedback Last Feedback At", "datetime", "date"),
    "channels": ("feedback_channels", "Feedback Channels", "string", "text"),
    "top_themes": ("feedback_top_themes", "Feedback Top Themes", "string", "text"),
    "feedback_count": ("feedback_count", "Feedback Count", "number", "number"),
}


def _by_trace(response: Response) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """A batch answer's results by objectWriteTraceId, and its error messages (207 Multi-Status)."""
    body = response.body if isinstance(response.body, dict) else {}
    results = {str(r.get("objectWriteTraceId") or f"id:{r.get('id')}"): r for r in body.get("results", [])}
    errors = [f"{e.get('category', '')}: {e.get('message', '')}"[:300] for e in body.get("errors", [])]
    return results, errors


class HubSpotTarget(CrmTarget):
    type = "hubspot"

    def __init__(self, connection: CrmConnection, api: HubSpotApi) -> None:
        super().__init__(connection)
        self.api = api
        field_map = connection.settings.field_map
        self.names = {field: field_map.get(field, spec[0]) for field, spec in PROPERTIES.items()}

    # --- setup and check -----------------------------------------------------------------------------------

    def setup(self) -> list[str]:
        created = []
        groups = self.api.call("GET", "/crm/v3/properties/contacts/groups").body.get("results", [])
        if GROUP["name"] not in {g.get("name") for g in groups}:
            self.api.call("POST", "/crm/v3/properties/contacts/groups", GROUP)
            created.append(f"property group {GROUP['name']}")
        existing = {
            p.get("name") for p in self.api.call("GET", "/crm/v3/properties/contacts").body["results"]
        }
        wanted = [
            {
                "name": self.names[field],
                "label": label,
                "type": kind,
                "fieldType": field_type,
                "groupName": GROUP["name"],
                "hasUniqueValue": field == "customer_id",  # the contact's external id
                "formField": False,
            }
            for field, (_, label, kind, field_type) in PROPERTIES.items()
            if self.names[field] not in existing
        ]
        for batch in chunked(wanted, BATCH):
            self.api.call("POST", "/crm/v3/properties/contacts/batch/create", {"inputs": batch})
            created += [f"contact property {p['name']}" for p in batch]
        return created

    def check(self) -> str:
        response = self.api.call("GET", "/crm/v3/objects/contacts?limit=1")
        limit = response.headers.get("x-hubspot-ratelimit-max", "?")
        daily = response.headers.get("x-hubspot-ratelimit-daily-remaining", "?")
        return f"token accepted; {limit} requests per 10 s, {daily} left today"

    # --- sync ----------------------------------------------------------------------------------------------

    def sync(self, items: Sequence[StoredFeedback]) -> SyncReport:
        report = SyncReport()
        connection_id = self.connection.connection_id
        scope = sync_scope(connection_id, items, report)
        if scope is None:
            return report
        live, owner, survivors = scope.live, scope.owner, scope.survivors
        contact_links, activity_links = scope.contact_links, scope.activity_links

        # Theme counts grow with the items synced for the first time (a re-sync adds nothing).
        # (A pending link, a create that may not have happened, counts as not synced yet.)
        first_time = [item for item in live if not activity_links.get(item.feedback_id, {}).get("note_id")]
        themes = theme_counts(contact_links, first_time, owner)

        contact_ids, failed_customers = self._write_contacts(survivors, contact_links, themes, report)
        written = self._write_notes(
            live, owner, contact_ids, activity_links, report, failed_customers=failed_customers
        )

        synced_by_customer: dict[str, list[str]] = defaultdict(list)
        for feedback_id in written:
            synced_by_customer[owner[feedback_id]].append(feedback_id)
        saved_themes = theme_counts(contact_links, [i for i in first_time if i.feedback_id in written], owner)
        contact_records = []
        for customer_id, (contact_id, created, fields_hash) in contact_ids.items():
            previous = contact_links.get(customer_id, {})
            contact_records.append(
                {
                    "customer_id": customer_id,
                    "contact_id": contact_id,
                    "created": bool(previous.get("created")) or created,
                    "fields_hash": fields_hash,
                    "theme_counts": dict(saved_themes[customer_id]),
                    "feedback_ids": sorted(
                        set(previous.get("feedback_ids") or []) | set(synced_by_customer[customer_id])
                    ),
                    # The customers merged into this one (crm_links.merge_links), kept for its retries.
                    **{k: previous[k] for k in ("absorbed_customers",) if previous.get(k)},
                }
            )
        crm_links.save(connection_id, contact_records, written.values())
        report.synced = sorted(written)
        return report

    def _contact_key(self, profile: dict[str, Any]) -> tuple[str, str]:
        email = primary_email(profile)
        return ("email", email) if email else (self.names["customer_id"], profile["customer_id"])

    def _contact_input(self, fields: ContactFields, first_sync: bool) -> tuple[str, str, dict[str, Any]]:
        properties: dict[str, Any] = {
            self.names[name]: "" if value is None else str(value) for name, value in fields.profile.items()
        }
        if first_sync:  # names only on the first sync: later edits in HubSpot are the team's to keep
            properties |= {
                k: v for k, v in (("firstname", fields.first_name), ("lastname", fields.last_name)) if v
            }
        if fields.email:
            properties["email"] = fields.email
            return "email", fields.email, properties
        return self.names["customer_id"], fields.customer_id, properties

    def _write_contacts(
        self,
        survivors: dict[str, dict[str, Any]],
        links: dict[str, dict[str, Any]],
        themes: dict[str, Counter[str]],
        report: SyncReport,
    ) -> tuple[dict[str, tuple[str, bool, str]], dict[str, str]]:
        """Write the contacts whose fields changed: by contact id when synced before (one update request
        whatever their key), else upserted by email or customer id; customer id → (contact id, created now,
        fields hash), and the customers that failed with why."""
        known: dict[str, tuple[str, bool, str]] = {}
        upserts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        updates: list[dict[str, Any]] = []
        hashes: dict[str, str] = {}
        for customer_id, profile in survivors.items():
            link = links.get(customer_id)
            fields = contact_fields(profile, dict(themes[customer_id]))
            id_property, key, properties = self._contact_input(fields, first_sync=link is None)
            hashes[customer_id] = digest(properties)
            entry = {
                "idProperty": id_property,
                "id": key,
                "properties": properties,
                "objectWriteTraceId": customer_id,
            }
            if link and link.get("fields_hash") == hashes[customer_id]:
                known[customer_id] = (link["contact_id"], False, hashes[customer_id])
            elif link:
                updates.append(entry | {"id": link["contact_id"], "idProperty": None})
            else:
                upserts[id_property].append(entry)
        failed: dict[str, str] = {}
        for batch in chunked(updates, BATCH):
            response = self.api.call(
                "POST",
                "/crm/v3/objects/contacts/batch/update",
                {"inputs": [{"id": e["id"], "properties": e["properties"]} for e in batch]},
            )
            results = {str(r["id"]): r for r in (response.body or {}).get("results", [])}
            for entry in batch:
                customer_id = entry["objectWriteTraceId"]
                if entry["id"] in results:
                    known[customer_id] = (entry["id"], False, hashes[customer_id])
                    report.contacts_written += 1
                else:  # gone from HubSpot (deleted or merged there): found again, or created, by its key
                    id_property, key = self._contact_key(survivors[customer_id])
                    upserts[id_property].append(entry | {"idProperty": id_property, "id": key})
        for inputs in upserts.values():
            for batch in chunked(inputs, BATCH):
                results, errors = _by_trace(
                    self.api.call("POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": batch})
                )
                for entry in batch:
                    customer_id = entry["objectWriteTraceId"]
                    result = results.get(customer_id)
                    if result is None:
                        failed[customer_id] = (
                            "; ".join(errors) or "HubSpot returned no result for the contact"
                        )
                        continue
                    known[customer_id] = (str(result["id"]), bool(result.get("new")), hashes[customer_id])
                    report.contacts_written += 1
        return known, failed

    def _note_properties(self, activity: Activity) -> dict[str, str]:
        return {"hs_timestamp": activity.occurred_at, "hs_note_body": activity.body_html}

    def _write_notes(
        self,
        items: list[StoredFeedback],
        owner: dict[str, str],
        contacts: dict[str, tuple[str, bool, str]],
        links: dict[str, dict[str, Any]],
        report: SyncReport,
        *,
        failed_customers: dict[str, str],
    ) -> dict[str, dict[str, Any]]:
        """Create or update one note per item; feedback id → its activity link as now written."""
        written: dict[str, dict[str, Any]] = {}
        creates, updates = [], []
        for item in items:
            customer_id = owner[item.feedback_id]
            if customer_id not in contacts:
                report.failed[item.feedback_id] = failed_customers.get(customer_id, "contact not written")
                continue
            contact_id = contacts[customer_id][0]
            properties = self._note_properties(activity_of(item, activity_subject(item)))
            note_hash = digest(properties)
            link = links.get(item.feedback_id)
            record = {"feedback_id": item.feedback_id, "contact_id": contact_id, "hash": note_hash}
            if link and link.get("note_id") and link.get("hash") == note_hash:
                continue  # unchanged: nothing to send (it stays synced)
            note_id = self._known_note(link, contact_id, properties)
            if note_id:
                updates.append(
                    (
                        record | {"note_id": note_id},
                        {
                            "id": note_id,
                            "properties": properties,
                            "objectWriteTraceId": item.feedback_id,
                        },
                    )
                )
            else:
                association = {
                    "to": {"id": contact_id},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT}
                    ],
                }
                creates.append(
                    (
                        record,
                        {
                            "properties": properties,
                            "associations": [association],
                            "objectWriteTraceId": item.feedback_id,
                        },
                    )
                )
        if creates:
            crm_links.save_pending(
                self.connection.connection_id,
                [{"feedback_id": r["feedback_id"], "contact_id": r["contact_id"]} for r, _ in creates],
            )
        for path, pairs, counter in (
            ("/crm/v3/objects/notes/batch/create", creates, "activities_created"),
            ("/crm/v3/objects/notes/batch/update", updates, "activities_updated"),
        ):
            for batch in chunked(pairs, BATCH):
                results, errors = _by_trace(
                    self.api.call("POST", path, {"inputs": [entry for _, entry in batch]})
                )
                by_id = {str(r.get("id")): r for r in results.values()}
                for record, entry in batch:
                    # Created notes are known by the trace id only; an updated one by its id as well.
                    result = results.get(entry["objectWriteTraceId"]) or by_id.get(str(entry.get("id")))
                    if result is None:
                        report.failed[record["feedback_id"]] = "; ".join(errors) or "no result for the note"
                        continue
                    written[record["feedback_id"]] = record | {"note_id": str(result["id"])}
                    setattr(report, counter, getattr(report, counter) + 1)
        # Unchanged items count as synced too (their link stays as it is).
        for item in items:
            link = links.get(item.feedback_id)
            if item.feedback_id not in written and item.feedback_id not in report.failed and link:
                written[item.feedback_id] = link | {"feedback_id": item.feedback_id}
        return written

    def _known_note(
        self, link: dict[str, Any] | None, contact_id: str, properties: dict[str, str]
    ) -> str | None:
        """The item's note id: from its link, or for a pending link (the create may have happened before the
        process died, its id never saved) found in HubSpot; None: create it."""
        if not link:
            return None
        return link.get("note_id") or self._find_note(contact_id, properties)

    def _find_note(self, contact_id: str, properties: dict[str, str]) -> str | None:
        """The note a died attempt created for this item: on the contact, at the item's time (HubSpot's
        search filters datetimes in epoch milliseconds), the one with the same body if several."""
        moment = datetime.fromisoformat(properties["hs_timestamp"].replace("Z", "+00:00"))
        filters = [
            {"propertyName": "associations.contact", "operator": "EQ", "value": contact_id},
            {"propertyName": "hs_timestamp", "operator": "EQ", "value": str(int(moment.timestamp() * 1000))},
        ]
        found = self.api.call(
            "POST",
            "/crm/v3/objects/notes/search",
            {"filterGroups": [{"filters": filters}], "properties": ["hs_note_body"], "limit": BATCH},
        ).body
        notes = found.get("results", []) if isinstance(found, dict) else []
        body = properties["hs_note_body"]
        same = [n for n in notes if (n.get("properties") or {}).get("hs_note_body") == body]
        chosen = same or (notes if len(notes) == 1 else [])
        return str(chosen[0]["id"]) if chosen else None

    # --- merge ---------------------------------------------------------------------------------------------

    def merge(self, keep: str, absorbed: str) -> MergeReport:
        """Both customers on contacts: HubSpot's contact merge (the notes follow the merged contact; HubSpot
        may give it a new id, which the links take). Only the absorbed one: its contact becomes the
        survivor's. Then the sync's links are folded (store/crm_links.py)."""
        connection_id = self.connection.connection_id
        links = crm_links.contact_links(connection_id, [keep, absorbed])
        if absorbed not in links:
            return MergeReport()
        if keep not in links:
            return MergeReport(activities_moved=crm_links.merge_links(connection_id, keep, absorbed, None))
        kept, gone = links[keep]["contact_id"], links[absorbed]["contact_id"]
        merged_id = kept
        if kept != gone:
            answer = self.api.call(
                "POST", "/crm/v3/objects/contacts/merge", {"primaryObjectId": kept, "objectIdToMerge": gone}
            )
            merged_id = str((answer.body or {}).get("id") or kept)
        moved = crm_links.merge_links(connection_id, keep, absorbed, merged_id)
        return MergeReport(contacts_merged=int(kept != gone), activities_moved=moved)

    # --- erasure -------------------------------------------------------------------------------------------

    def erase(self, customer_ids: Sequence[str]) -> ErasureReport:
        report = ErasureReport()
        connection_id = self.connection.connection_id
        for customer_id, link in crm_links.contact_links(connection_id, customer_ids).items():
            feedback_ids = list(link.get("feedback_ids") or [])
            notes = [a["note_id"] for a in crm_links.activity_links(connection_id, feedback_ids).values()]
            for batch in chunked(notes, BATCH):
                self.api.call(
                    "POST", "/crm/v3/objects/notes/batch/archive", {"inputs": [{"id": n} for n in batch]}
                )
                report.activities_deleted += len(batch)
            if link.get("created"):
                self._gdpr_delete(link["contact_id"])
                report.contacts_deleted += 1
            else:  # a contact the team had before: only what the sync wrote goes
                cleared = {name: "" for name in self.names.values()}
                self.api.call(
                    "POST",
                    "/crm/v3/objects/contacts/batch/update",
                    {"inputs": [{"id": link["contact_id"], "properties": cleared}]},
                )
                report.contacts_cleared += 1
            crm_links.forget(connection_id, customer_id, feedback_ids)
        return report

    def _gdpr_delete(self, contact_id: str) -> None:
        try:
            self.api.call("POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": contact_id})
        except RequestFailed as error:
            if error.status != 404:  # already gone: the erasure is done
                raise


def target_for(
    connection: CrmConnection, token: str, sleep: Callable[[float], None] | None = None
) -> HubSpotTarget:
    options = {"sleep": sleep} if sleep else {}
    api = HubSpotApi(token, connection.connection_id, connection.settings.api_url, **options)
    return HubSpotTarget(connection, api)
