"""`crm setup` for Salesforce: the custom fields the sync writes, and the field-level security that lets the
integration user read and edit them.

A custom field created through the Tooling API is visible to no one until a profile or permission set grants
it, so setup keeps a permission set of its own, `Feedback_Collector`, with a FieldPermissions record (read
and edit) for each field, and assigns it to the user the connected app acts as (PermissionSetAssignment).
What exists is read in one Composite request (both describes and three queries); a second run finds
everything in place and writes nothing. Field permissions live on a permission set, never on a profile
(Salesforce's Object Reference: FieldPermissions "are only supported in PermissionSet").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chalicelib.crm.exceptions import CrmError
from chalicelib.crm.salesforce_api import DATA_PATH, SalesforceApi

TASK_KEY = "Feedback_ID__c"
PERMISSION_SET = "Feedback_Collector"
PERMISSION_SET_LABEL = "Feedback Collector"
# Neutral field → (default Contact field, label, Tooling API CustomField metadata).
CONTACT_FIELDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "customer_id": (
        "Feedback_Customer_ID__c",
        "Feedback Customer ID",
        {"type": "Text", "length": 64, "externalId": True, "unique": True, "caseSensitive": True},
    ),
    "latest_nps": (
        "Feedback_Latest_NPS__c",
        "Feedback Latest NPS",
        {"type": "Number", "precision": 2, "scale": 0},
    ),
    "latest_csat": (
        "Feedback_Latest_CSAT__c",
        "Feedback Latest CSAT",
        {"type": "Number", "precision": 1, "scale": 0},
    ),
    "mean_sentiment": (
        "Feedback_Mean_Sentiment__c",
        "Feedback Mean Sentiment",
        {"type": "Number", "precision": 5, "scale": 4},
    ),
    "last_feedback_at": ("Feedback_Last_Feedback_At__c", "Feedback Last Feedback At", {"type": "DateTime"}),
    "channels": ("Feedback_Channels__c", "Feedback Channels", {"type": "Text", "length": 255}),
    "top_themes": ("Feedback_Top_Themes__c", "Feedback Top Themes", {"type": "Text", "length": 255}),
    "feedback_count": (
        "Feedback_Count__c",
        "Feedback Count",
        {"type": "Number", "precision": 18, "scale": 0},
    ),
}
TASK_FIELD = (
    TASK_KEY,
    "Feedback ID",
    {"type": "Text", "length": 64, "externalId": True, "unique": True, "caseSensitive": True},
)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _select(columns: str, sobject: str, where: str, values: list[str]) -> str:
    """A query resource: the constant columns of the records whose `where` field is one of the values."""
    values_in = ", ".join(_quoted(value) for value in values)
    soql = f"SELECT {columns} FROM {sobject} WHERE {where} IN ({values_in})"  # noqa: S608 - SOQL; quoted values
    return f"/query?q={quote(soql)}"


def _body(answer: dict[str, Any], what: str) -> Any:
    """A Composite subrequest's body; a refused one raises with Salesforce's message."""
    body = answer.get("body")
    if answer.get("httpStatusCode", 500) >= 300:
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
        raise CrmError(f"Salesforce refused {what}: {first.get('errorCode', '')} {first.get('message', '')}")
    return body or {}


def _records(api: SalesforceApi, answer: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """A query's records, following nextRecordsUrl (many permission sets can name the same field)."""
    body = _body(answer, what)
    records = list(body.get("records") or [])
    while not body.get("done", True) and body.get("nextRecordsUrl"):
        body = api.call("GET", str(body["nextRecordsUrl"]).removeprefix(DATA_PATH)).body or {}
        records += body.get("records") or []
    return records


class SalesforceSetup:
    """The fields (Contact's under their configured names, Task's key), the permission set granting them."""

    def __init__(self, api: SalesforceApi, contact_names: dict[str, str]) -> None:
        self.api = api
        self.wanted = [
            ("Contact", "Contact", contact_names[f], label, metadata)
            for f, (_, label, metadata) in CONTACT_FIELDS.items()
        ]
        self.wanted.append(("Task", "Activity", *TASK_FIELD))

    def run(self) -> list[str]:
        """Create what is missing; what was created, in words (empty: everything was in place)."""
        user_id = self.api.user_id
        full_names = [f"{sobject}.{name}" for sobject, _, name, _, _ in self.wanted]
        reads = [
            ("GET", "/sobjects/Contact/describe"),
            ("GET", "/sobjects/Task/describe"),
            ("GET", _select("Id", "PermissionSet", "Name", [PERMISSION_SET])),
            (
                "GET",
                _select(
                    "Id, ParentId, Field, PermissionsRead, PermissionsEdit",
                    "FieldPermissions",
                    "Field",
                    full_names,
                ),
            ),
            ("GET", _select("Id, PermissionSetId", "PermissionSetAssignment", "AssigneeId", [user_id])),
        ]
        answers = self.api.composite(
            [{"method": method, "url": url, "referenceId": f"r{i}"} for i, (method, url) in enumerate(reads)]
        )
        by_reference = {str(answer.get("referenceId")): answer for answer in answers}
        contact, task, permission_sets, permissions, assignments = (
            by_reference.get(f"r{i}", {}) for i in range(len(reads))
        )
        existing = {
            sobject: {
                str(f.get("name", "")).lower() for f in _body(answer, f"describe {sobject}").get("fields", [])
            }
            for sobject, answer in (("Contact", contact), ("Task", task))
        }
        created = self._create_fields(existing)
        found = _records(self.api, permission_sets, "the permission set query")
        permission_set_id = str(found[0]["Id"]) if found else self._create_permission_set()
        if not found:
            created.append(f"permission set {PERMISSION_SET}")
        ours = [
            p
            for p in _records(self.api, permissions, "the field permissions query")
            if p.get("ParentId") == permission_set_id
        ]
        assigned = any(
            a.get("PermissionSetId") == permission_set_id
            for a in _records(self.api, assignments, "the assignments query")
        )
        created += self._grant(permission_set_id, full_names, ours, None if assigned else user_id)
        return created

    def _create_fields(self, existing: dict[str, set[str]]) -> list[str]:
        created = []
        for sobject, owner, name, label, metadata in self.wanted:
            if name.lower() in existing[sobject]:
                continue
            self.api.call(
                "POST",
                "/tooling/sobjects/CustomField",
                {"FullName": f"{owner}.{name}", "Metadata": {"label": label, **metadata}},
            )
            created.append(f"{sobject} field {name}")
        return created

    def _create_permission_set(self) -> str:
        record = {
            "attributes": {"type": "PermissionSet"},
            "Name": PERMISSION_SET,
            "Label": PERMISSION_SET_LABEL,
        }
        (result,) = self._save("POST", [record], "the permission set")
        return str(result["id"])

    def _grant(
        self,
        permission_set_id: str,
        full_names: list[str],
        ours: list[dict[str, Any]],
        assign_to: str | None,
    ) -> list[str]:
        """Read and edit on every field for the permission set, and the set assigned to the user (None:
        assigned already); one Composite request of collections, or none when nothing is missing."""
        by_field = {str(p.get("Field")): p for p in ours}
        creates, updates, granted = [], [], []
        for full_name in full_names:
            permission = by_field.get(full_name)
            if permission is None:
                creates.append(
                    {
                        "attributes": {"type": "FieldPermissions"},
                        "ParentId": permission_set_id,
                        "SobjectType": full_name.partition(".")[0],
                        "Field": full_name,
                        "PermissionsRead": True,
                        "PermissionsEdit": True,
                    }
                )
            elif not (permission.get("PermissionsRead") and permission.get("PermissionsEdit")):
                updates.append(
                    {
                        "attributes": {"type": "FieldPermissions"},
                        "id": permission["Id"],
                        "PermissionsRead": True,
                        "PermissionsEdit": True,
                    }
                )
            else:
                continue
            granted.append(f"field permission {full_name} (read, edit) in {PERMISSION_SET}")
        writes = [("POST", creates), ("PATCH", updates)]
        if assign_to:
            assignment = {
                "attributes": {"type": "PermissionSetAssignment"},
                "AssigneeId": assign_to,
                "PermissionSetId": permission_set_id,
            }
            writes.append(("POST", [assignment]))
            who = f"the integration user {assign_to}"
            granted.append(f"permission set assignment of {PERMISSION_SET} to {who}")
        writes = [(method, records) for method, records in writes if records]
        if not writes:
            return []
        answers = self.api.composite(
            [
                {
                    "method": method,
                    "url": "/composite/sobjects",
                    "referenceId": f"w{i}",
                    "body": {"allOrNone": False, "records": records},
                }
                for i, (method, records) in enumerate(writes)
            ]
        )
        for answer in answers:
            self._check(_body(answer, "the field permissions"), "the field permissions")
        return granted

    def _save(self, method: str, records: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        body = self.api.call(method, "/composite/sobjects", {"allOrNone": False, "records": records}).body
        return self._check(body, what)

    @staticmethod
    def _check(results: Any, what: str) -> list[dict[str, Any]]:
        """sObject Collections results, every one a success, else CrmError naming the first failure."""
        for result in results if isinstance(results, list) else [{"success": False}]:
            if not result.get("success"):
                first = (result.get("errors") or [{}])[0]
                raise CrmError(
                    f"Salesforce refused {what}: {first.get('statusCode', '')} {first.get('message', '')}"
                )
        return results
