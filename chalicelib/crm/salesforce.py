"""The Salesforce target: custom fields on Contact (the customer id as an External ID) and on Task (the
feedback id as an External ID), contacts matched by email or upserted by the customer id, one Task per item
on its contact, kept by its Salesforce id; erasure deletes the Tasks and the contacts the sync created.

Every write goes through sObject Collections (up to 200 records a request) inside Composite requests (up to
5 collections in one request, one call against the org's allocation), and reads through SOQL. Requests per
batch of up to 200 items: for customers never synced before, one query for those with an email (an existing
contact with that email is updated, not duplicated) and one write creating the rest; then one write with
the changed contacts synced before and every new or changed Task. A batch of known customers is one
request; unchanged contacts and Tasks (same hash as last written) cost nothing, so a re-sync costs none.

Salesforce requires a Last Name on a Contact. The sync never invents one: it is the customer's name (the
words after the first; a one-word name whole), else their first handle, else the part of their email before
"@", else their customer id, the same value the Feedback Customer ID field holds. Names are only written
when the sync creates the contact: a contact that existed keeps its names, and later edits are the team's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from chalicelib.crm.base import (
    CrmTarget,
    ErasureReport,
    MergeReport,
    SyncReport,
    activity_of,
)
from chalicelib.crm.common import chunked, contact_fields, digest, sync_scope, theme_counts
from chalicelib.crm.connections import CrmConnection
from chalicelib.crm.exceptions import CrmError
from chalicelib.crm.salesforce_api import DATA_PATH, Credentials, SalesforceApi
from chalicelib.crm.salesforce_setup import CONTACT_FIELDS, TASK_KEY, SalesforceSetup
from chalicelib.export.crm import (
    ACTIVITY_STATUS,
    NOTE_BODY_MAX_CHARS,
    activity_subject,
    split_name,
)
from chalicelib.models import StoredFeedback
from chalicelib.store import crm_links

BATCH = 200  # sObject Collections take up to 200 records
COLLECTIONS_PER_COMPOSITE = 5  # a Composite request runs up to 5 sObject Collections subrequests
EMAILS_PER_QUERY = 100  # keeps the SOQL well inside the URL length Salesforce accepts
SUBJECT_MAX_CHARS = 255
# A contact gone from Salesforce (deleted there): found again or created by its key, then its Tasks resent.
GONE = {"REQUIRED_FIELD_MISSING", "INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED"}


def _field_name(name: str) -> str:
    """A field_map override as a custom field's API name (Salesforce's custom fields end in __c)."""
    return name if name.endswith("__c") else f"{name}__c"


def last_name_of(profile: dict[str, Any]) -> str:
    """The Contact's required Last Name from what the customer gave (contacts.csv's rule)."""
    return split_name(profile)[1][:80]


def first_name_of(profile: dict[str, Any]) -> str | None:
    return split_name(profile)[0][:40] or None


def _soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Write:
    """One sObject Collections subrequest and what each of its records stands for."""

    method: str
    url: str
    records: list[dict[str, Any]]
    keys: list[str]  # customer id (contacts) or feedback id (Tasks), in the records' order
    results: list[dict[str, Any]] = field(default_factory=list)


def _failure(result: dict[str, Any]) -> tuple[str, str]:
    """(statusCode, "code: message") of a failed record's first error."""
    first = (result.get("errors") or [{}])[0]
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN")
    return code, f"{code}: {first.get('message', '')}"[:300]


class SalesforceTarget(CrmTarget):
    type = "salesforce"

    def __init__(self, connection: CrmConnection, api: SalesforceApi) -> None:
        super().__init__(connection)
        self.api = api
        field_map = connection.settings.field_map
        self.names = {
            f: _field_name(field_map[f]) if f in field_map else s[0] for f, s in CONTACT_FIELDS.items()
        }
        self.key_field = self.names["customer_id"]

    # --- setup and check -----------------------------------------------------------------------------------

    def setup(self) -> list[str]:
        """The custom fields and the permission set granting them (chalicelib/crm/salesforce_setup.py)."""
        return SalesforceSetup(self.api, self.names).run()

    def check(self) -> str:
        response = self.api.call("GET", "/limits")
        daily = (response.body or {}).get("DailyApiRequests") or {}
        return (
            f"connected app accepted; {daily.get('Remaining', '?')} of {daily.get('Max', '?')} API requests "
            "left in the org's 24-hour allocation"
        )

    # --- sync ----------------------------------------------------------------------------------------------

    def sync(self, items: Sequence[StoredFeedback]) -> SyncReport:
        report = SyncReport()
        connection_id = self.connection.connection_id
        scope = sync_scope(connection_id, items, report)
        if scope is None:
            return report
        live, owner, survivors = scope.live, scope.owner, scope.survivors
        contact_links, activity_links = scope.contact_links, scope.activity_links
        first_time = [item for item in live if item.feedback_id not in activity_links]
        themes = theme_counts(contact_links, first_time, owner)

        values = {c: self._contact_values(p, themes[c]) for c, p in survivors.items()}
        contacts: dict[str, tuple[str, bool]] = {}  # customer id → (contact id, created by the sync)
        failed: dict[str, str] = {}
        new = [c for c in survivors if c not in contact_links]
        self._create_or_match(new, survivors, values, contacts=contacts, failed=failed, report=report)
        changed = []
        for customer_id, link in contact_links.items():
            contacts[customer_id] = (link["contact_id"], bool(link.get("created")))
            if link.get("fields_hash") != digest(values[customer_id]):
                changed.append(customer_id)
        tasks = self._task_writes(live, owner, contacts, failed, activity_links)
        writes = [*self._upserts("Contact", self.key_field, [values[c] for c in changed], changed), *tasks]
        self._send(writes)
        gone = self._contact_results(writes[: len(writes) - len(tasks)], contacts, failed, report)
        gone |= {
            owner[key]
            for write in tasks
            for key, result in zip(write.keys, write.results, strict=True)
            if not result.get("success") and _failure(result)[0] in GONE
        }
        if gone:  # deleted in Salesforce: found again or created by their key, then their Tasks sent again
            for customer_id in gone:
                contacts.pop(customer_id, None)
                failed.pop(customer_id, None)
            self._create_or_match(
                sorted(gone), survivors, values, contacts=contacts, failed=failed, report=report
            )
            again = [i for i in live if owner[i.feedback_id] in gone]
            retried = self._task_writes(again, owner, contacts, failed, {})
            self._send(retried)
            tasks = [*tasks, *retried]
        written = self._task_results(live, owner, tasks, links=activity_links, failed=failed, report=report)

        saved_themes = theme_counts(contact_links, [i for i in first_time if i.feedback_id in written], owner)
        records = self._contact_records(
            contacts,
            contact_links,
            written=written,
            owner=owner,
            saved_themes=saved_themes,
            values=values,
            failed=failed,
        )
        crm_links.save(connection_id, records, written.values())
        for feedback_id in written:  # its Task is written, its contact's fields are not: retried
            if owner[feedback_id] in failed:
                report.failed[feedback_id] = failed[owner[feedback_id]]
        report.synced = sorted(set(written) - set(report.failed))
        return report

    @staticmethod
    def _contact_records(
        contacts: dict[str, tuple[str, bool]],
        contact_links: dict[str, dict[str, Any]],
        *,
        written: dict[str, dict[str, Any]],
        owner: dict[str, str],
        saved_themes: dict[str, Counter[str]],
        values: dict[str, dict[str, Any]],
        failed: dict[str, str],
    ) -> list[dict[str, Any]]:
        """The contact links to save: contact id, who created it, the fields hash, theme counts, items."""
        synced_by_customer: dict[str, list[str]] = defaultdict(list)
        for feedback_id in written:
            synced_by_customer[owner[feedback_id]].append(feedback_id)
        records = []
        for customer_id, (contact_id, created) in contacts.items():
            previous = contact_links.get(customer_id, {})
            if customer_id in failed and not previous:
                continue  # no contact: nothing of theirs was written
            # A contact whose fields were refused keeps the hash last written, so the update is retried; its
            # Tasks written meanwhile are recorded all the same (an erasure must find them).
            fields_hash = (
                previous.get("fields_hash") if customer_id in failed else digest(values[customer_id])
            )
            records.append(
                {
                    "customer_id": customer_id,
                    "contact_id": contact_id,
                    "created": created,
                    "fields_hash": fields_hash,
                    "theme_counts": dict(saved_themes[customer_id]),
                    "feedback_ids": sorted(
                        set(previous.get("feedback_ids") or []) | set(synced_by_customer[customer_id])
                    ),
                }
            )
        return records

    def _contact_values(self, profile: dict[str, Any], themes: Counter[str]) -> dict[str, Any]:
        """The contact's fields the sync keeps (never names): Email when known, the profile fields."""
        fields = contact_fields(profile, dict(themes))
        values: dict[str, Any] = {"attributes": {"type": "Contact"}}
        for name, value in fields.profile.items():
            values[self.names[name]] = None if value in (None, "") else value
        if fields.email:
            values["Email"] = fields.email
        return values

    def _upserts(
        self, sobject: str, key_field: str, records: list[dict[str, Any]], keys: list[str]
    ) -> list[Write]:
        url = f"/composite/sobjects/{sobject}/{key_field}"
        return [
            Write("PATCH", url, batch, keys[start : start + BATCH])
            for start, batch in zip(range(0, len(records), BATCH), chunked(records, BATCH), strict=True)
        ]

    def _create_or_match(
        self,
        customer_ids: list[str],
        survivors: dict[str, dict[str, Any]],
        values: dict[str, dict[str, Any]],
        *,
        contacts: dict[str, tuple[str, bool]],
        failed: dict[str, str],
        report: SyncReport,
    ) -> None:
        """Customers without a contact yet: an existing contact with their email is updated (and keeps its
        names), the rest are upserted by the customer id with the names Salesforce requires."""
        if not customer_ids:
            return
        by_email = {values[c]["Email"].lower(): c for c in customer_ids if values[c].get("Email")}
        matched = self._contacts_with_emails(list(by_email))
        updates, update_keys, creates, create_keys = [], [], [], []
        for customer_id in customer_ids:
            email = (values[customer_id].get("Email") or "").lower()
            found = matched.get(email) if email else None
            if found and found.get(self.key_field) in (None, "", customer_id):
                updates.append(values[customer_id] | {"id": found["Id"]})
                update_keys.append(customer_id)
                contacts[customer_id] = (found["Id"], False)
            else:
                profile = survivors[customer_id]
                names = {
                    "LastName": last_name_of(profile),
                    "FirstName": first_name_of(profile),
                    "AccountId": self.connection.settings.account_id,  # else a private contact
                }
                creates.append(values[customer_id] | {k: v for k, v in names.items() if v})
                create_keys.append(customer_id)
        writes = [
            Write("PATCH", "/composite/sobjects", batch, update_keys[start : start + BATCH])
            for start, batch in zip(range(0, len(updates), BATCH), chunked(updates, BATCH), strict=True)
        ] + self._upserts("Contact", self.key_field, creates, create_keys)
        self._send(writes)
        for write in writes:
            for customer_id, result in zip(write.keys, write.results, strict=True):
                if result.get("success"):
                    created = bool(result.get("created")) or contacts.get(customer_id, ("", False))[1]
                    contacts[customer_id] = (str(result["id"]), created)
                    report.contacts_written += 1
                else:
                    contacts.pop(customer_id, None)
                    failed[customer_id] = _failure(result)[1]

    def _contacts_with_emails(self, emails: list[str]) -> dict[str, dict[str, Any]]:
        """lower-cased email → an existing contact with it (one holding no other customer's id first)."""
        found: dict[str, dict[str, Any]] = {}
        for batch in chunked(sorted(emails), EMAILS_PER_QUERY):
            # SOQL, not SQL: every value is escaped by _soql_quote, the field name is validated.
            emails_in = ", ".join(_soql_quote(e) for e in batch)
            soql = f"SELECT Id, Email, {self.key_field} FROM Contact WHERE Email IN ({emails_in})"  # noqa: S608
            path = f"/query?q={quote(soql)}"
            while path:
                body = self.api.call("GET", path).body or {}
                for record in body.get("records", []):
                    email = str(record.get("Email") or "").lower()
                    if email not in found or not found[email].get(self.key_field):
                        found[email] = record
                next_url = body.get("nextRecordsUrl")
                path = str(next_url).removeprefix(DATA_PATH) if next_url and not body.get("done") else ""
        return found

    def _send(self, writes: list[Write]) -> None:
        """Run the writes, 5 collections to a Composite request; each write gets one result per record (a
        refused subrequest: the same failure for each)."""
        for group in chunked(writes, COLLECTIONS_PER_COMPOSITE):
            answers = self.api.composite(
                [
                    {
                        "method": w.method,
                        "url": w.url,
                        "referenceId": f"w{index}",
                        "body": {"allOrNone": False, "records": w.records},
                    }
                    for index, w in enumerate(group)
                ]
            )
            by_reference = {str(a.get("referenceId")): a for a in answers}
            for index, write in enumerate(group):
                answer = by_reference.get(f"w{index}") or {}
                body = answer.get("body")
                if (
                    answer.get("httpStatusCode", 500) < 300
                    and isinstance(body, list)
                    and len(body) == len(write.records)
                ):
                    write.results = body
                else:
                    errors = body if isinstance(body, list) else []
                    first = errors[0] if errors and isinstance(errors[0], dict) else {}
                    error = {
                        "statusCode": first.get("errorCode", "REQUEST_FAILED"),
                        "message": first.get("message", ""),
                    }
                    write.results = [{"success": False, "errors": [error]} for _ in write.records]

    def _contact_results(
        self,
        writes: list[Write],
        contacts: dict[str, tuple[str, bool]],
        failed: dict[str, str],
        report: SyncReport,
    ) -> set[str]:
        """Record the known contacts' upserts; the customers whose contact is gone from Salesforce."""
        gone = set()
        for write in writes:
            for customer_id, result in zip(write.keys, write.results, strict=True):
                if result.get("success"):
                    report.contacts_written += 1
                    continue
                code, reason = _failure(result)
                if code in GONE:
                    gone.add(customer_id)
                else:
                    failed[customer_id] = reason
        return gone

    def _task_writes(
        self,
        items: Iterable[StoredFeedback],
        owner: dict[str, str],
        contacts: dict[str, tuple[str, bool]],
        failed: dict[str, str],
        links: dict[str, dict[str, Any]],
    ) -> list[Write]:
        """Task upserts (by the feedback id) for the items that are new or changed and whose contact is
        written; unchanged items send nothing."""
        records, keys = [], []
        for item in items:
            customer_id = owner[item.feedback_id]
            if customer_id in failed or customer_id not in contacts:
                continue
            record = self._task_record(item, contacts[customer_id][0])
            link = links.get(item.feedback_id)
            if link and link.get("hash") == digest(record):
                continue
            records.append(record)
            keys.append(item.feedback_id)
        return self._upserts("Task", TASK_KEY, records, keys)

    def _task_record(self, item: StoredFeedback, contact_id: str) -> dict[str, Any]:
        activity = activity_of(item, activity_subject(item))
        return {
            "attributes": {"type": "Task"},
            TASK_KEY: item.feedback_id,
            "WhoId": contact_id,
            "Subject": activity.subject[:SUBJECT_MAX_CHARS],
            "Description": activity.body[:NOTE_BODY_MAX_CHARS],
            "ActivityDate": activity.occurred_at[:10],  # the UTC day the customer said it
            "Status": ACTIVITY_STATUS,
        }

    def _task_results(
        self,
        items: list[StoredFeedback],
        owner: dict[str, str],
        writes: list[Write],
        *,
        links: dict[str, dict[str, Any]],
        failed: dict[str, str],
        report: SyncReport,
    ) -> dict[str, dict[str, Any]]:
        """feedback id → its activity link as now written (unchanged ones as they were)."""
        written: dict[str, dict[str, Any]] = {}
        for write in writes:
            for feedback_id, record, result in zip(write.keys, write.records, write.results, strict=True):
                if not result.get("success"):
                    report.failed[feedback_id] = _failure(result)[1]
                    continue
                report.failed.pop(feedback_id, None)  # a retry after the contact was found again
                written[feedback_id] = {
                    "feedback_id": feedback_id,
                    "contact_id": record["WhoId"],
                    "task_id": str(result["id"]),
                    "hash": digest(record),
                }
                if result.get("created") and feedback_id not in links:
                    report.activities_created += 1
                else:
                    report.activities_updated += 1
        for item in items:
            feedback_id = item.feedback_id
            if feedback_id in written or feedback_id in report.failed:
                continue
            customer_id = owner[feedback_id]
            if customer_id in failed or feedback_id not in links:
                report.failed[feedback_id] = failed.get(customer_id, "contact not written")
                continue
            written[feedback_id] = links[feedback_id] | {"feedback_id": feedback_id}  # unchanged
        return written

    # --- merge ---------------------------------------------------------------------------------------------

    def merge(self, keep: str, absorbed: str) -> MergeReport:
        """Both customers on contacts: the absorbed one's Tasks move to the survivor's contact (one sObject
        Collections update of their WhoId; Salesforce's contact merge is a SOAP API call only), then the
        absorbed contact is deleted if the sync created it, else loses the sync's fields. Only the absorbed
        customer on one: that contact becomes the survivor's (its key field re-set). Then the links are
        folded (store/crm_links.py). Every write is idempotent: a retried merge redoes them harmlessly."""
        connection_id = self.connection.connection_id
        links = crm_links.contact_links(connection_id, [keep, absorbed])
        gone = links.get(absorbed)
        if gone is None:
            return MergeReport()
        if keep not in links:
            record = {"attributes": {"type": "Contact"}, "id": gone["contact_id"], self.key_field: keep}
            self._require(self._updates([record]), "re-keying the absorbed contact")
            return MergeReport(activities_moved=crm_links.merge_links(connection_id, keep, absorbed, None))
        kept_id, gone_id = str(links[keep]["contact_id"]), str(gone["contact_id"])
        if kept_id != gone_id:
            tasks = crm_links.activity_links(connection_id, list(gone.get("feedback_ids") or []))
            moves = [
                {"attributes": {"type": "Task"}, "id": link["task_id"], "WhoId": kept_id}
                for link in tasks.values()
                if link.get("task_id")
            ]
            self._require(self._updates(moves), "moving the absorbed contact's Tasks")
            if gone.get("created"):  # its Tasks are on the survivor now: deleting it loses none
                deleted = self.api.call("DELETE", f"/composite/sobjects?ids={gone_id}&allOrNone=false").body
                self._require(deleted or [{}], "deleting the absorbed contact")
            else:
                cleared = {name: None for name in self.names.values()}
                record = {"attributes": {"type": "Contact"}, "id": gone_id, **cleared}
                self._require(self._updates([record]), "clearing the absorbed contact")
        moved = crm_links.merge_links(connection_id, keep, absorbed, kept_id)
        return MergeReport(contacts_merged=int(kept_id != gone_id), activities_moved=moved)

    def _updates(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Update records by id (sObject Collections, 5 to a Composite request); one result per record."""
        writes = [Write("PATCH", "/composite/sobjects", batch, []) for batch in chunked(records, BATCH)]
        self._send(writes)
        return [result for write in writes for result in write.results]

    @staticmethod
    def _require(results: list[dict[str, Any]], what: str) -> None:
        """Every record written, or already gone from Salesforce; else CrmError (the merge is retried)."""
        for result in results:
            code, reason = ("", "") if result.get("success") else _failure(result)
            if code and code != "ENTITY_IS_DELETED":
                raise CrmError(f"Salesforce refused {what} in a merge: {reason}")

    # --- erasure -------------------------------------------------------------------------------------------

    def _erasure_plan(
        self, links: dict[str, dict[str, Any]]
    ) -> tuple[list[tuple[str, str, str]], list[tuple[dict[str, Any], str]]]:
        """The records to delete, (id, "task" | "contact", customer id), and the contacts to clear."""
        deletions: list[tuple[str, str, str]] = []
        clears: list[tuple[dict[str, Any], str]] = []
        for customer_id, link in links.items():
            feedback_ids = list(link.get("feedback_ids") or [])
            tasks = crm_links.activity_links(self.connection.connection_id, feedback_ids).values()
            deletions += [(str(t["task_id"]), "task", customer_id) for t in tasks if t.get("task_id")]
            if link.get("created"):
                deletions.append((str(link["contact_id"]), "contact", customer_id))
            else:  # a contact the team had before: only what the sync wrote goes
                cleared = {name: None for name in self.names.values()}
                record = {"attributes": {"type": "Contact"}, "id": link["contact_id"], **cleared}
                clears.append((record, customer_id))
        return deletions, clears

    def erase(self, customer_ids: Sequence[str]) -> ErasureReport:
        """Delete the customers' Tasks and the contacts the sync created, clear the sync's fields on the
        others; a customer whose records were not all removed keeps their links, so a retry finishes."""
        report = ErasureReport()
        connection_id = self.connection.connection_id
        links = crm_links.contact_links(connection_id, customer_ids)
        deletions, clears = self._erasure_plan(links)
        unfinished: set[str] = set()
        for batch in chunked(deletions, BATCH):
            ids = ",".join(record_id for record_id, _, _ in batch)
            results = self.api.call("DELETE", f"/composite/sobjects?ids={ids}&allOrNone=false").body or []
            for index, (_, kind, customer_id) in enumerate(batch):
                result = results[index] if index < len(results) else {}
                if not (result.get("success") or _failure(result)[0] == "ENTITY_IS_DELETED"):
                    unfinished.add(customer_id)
                elif kind == "task":
                    report.activities_deleted += 1
                else:
                    report.contacts_deleted += 1
        for batch in chunked(clears, BATCH):
            body = {"allOrNone": False, "records": [record for record, _ in batch]}
            results = self.api.call("PATCH", "/composite/sobjects", body).body or []
            for index, (_, customer_id) in enumerate(batch):
                result = results[index] if index < len(results) else {}
                if result.get("success") or _failure(result)[0] == "ENTITY_IS_DELETED":
                    report.contacts_cleared += 1
                else:
                    unfinished.add(customer_id)
        for customer_id, link in links.items():
            if customer_id not in unfinished:
                crm_links.forget(connection_id, customer_id, list(link.get("feedback_ids") or []))
        return report


def target_for(
    connection: CrmConnection, credentials: Credentials, sleep: Callable[[float], None] | None = None
) -> SalesforceTarget:
    options = {"sleep": sleep} if sleep else {}
    api = SalesforceApi(credentials, connection.connection_id, connection.settings.api_url, **options)
    return SalesforceTarget(connection, api)
