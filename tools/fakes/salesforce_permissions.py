"""The fake org's field-level security objects, with the shapes and rules Salesforce's Object Reference
documents: PermissionSet (Name: a unique API name; Label), FieldPermissions (ParentId: the PermissionSet,
SobjectType, Field `SobjectType.FieldName`, PermissionsRead, PermissionsEdit; Edit requires Read; one per
permission set and field) and PermissionSetAssignment (AssigneeId: a user, PermissionSetId; one per user and
permission set). Written through sObject Collections like any record (tools/fakes/salesforce.py)."""

from __future__ import annotations

from typing import Any

# name → type, as the fake's describe lists them (the fields the sync reads and writes).
PERMISSION_FIELDS: dict[str, dict[str, str]] = {
    "PermissionSet": {"Id": "id", "Name": "string", "Label": "string"},
    "FieldPermissions": {
        "Id": "id",
        "ParentId": "reference",
        "SobjectType": "picklist",
        "Field": "picklist",
        "PermissionsRead": "boolean",
        "PermissionsEdit": "boolean",
    },
    "PermissionSetAssignment": {"Id": "id", "AssigneeId": "reference", "PermissionSetId": "reference"},
}
PERMISSION_KEY_PREFIX = {"PermissionSet": "0PS", "FieldPermissions": "01k", "PermissionSetAssignment": "0Pa"}
REQUIRED = {
    "PermissionSet": ("Name", "Label"),
    "FieldPermissions": ("ParentId", "SobjectType", "Field"),
    "PermissionSetAssignment": ("AssigneeId", "PermissionSetId"),
}
# What makes two records the same (DUPLICATE_VALUE).
UNIQUE = {
    "PermissionSet": ("Name",),
    "FieldPermissions": ("ParentId", "Field"),
    "PermissionSetAssignment": ("AssigneeId", "PermissionSetId"),
}


def _error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


def permission_problem(
    sobject: str,
    values: dict[str, Any],
    record_id: str | None,
    records: dict[str, dict[str, dict[str, Any]]],
    field_exists: Any,
) -> dict[str, Any] | None:
    """Why these values cannot be saved on a permission record (None: they can). `field_exists(sobject,
    name)` says whether the org has the field a FieldPermissions names."""
    current = {**records[sobject].get(record_id or "", {}), **values}
    missing = [name for name in REQUIRED[sobject] if current.get(name) in (None, "")]
    if missing:
        message = f"Required fields are missing: [{', '.join(missing)}]"
        return _error("REQUIRED_FIELD_MISSING", message, missing)
    key = tuple(current.get(name) for name in UNIQUE[sobject])
    for other_id, other in records[sobject].items():
        if other_id != record_id and tuple(other.get(name) for name in UNIQUE[sobject]) == key:
            return _error("DUPLICATE_VALUE", f"duplicate value found: {sobject} duplicates record {other_id}")
    parent = current.get("ParentId") or current.get("PermissionSetId")
    if sobject != "PermissionSet" and parent not in records["PermissionSet"]:
        return _error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["ParentId"])
    if sobject == "FieldPermissions":
        owner, _, name = str(current["Field"]).partition(".")
        if owner != current["SobjectType"] or not field_exists(owner, name):
            return _error("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f"Field: bad value: {current['Field']}")
        if current.get("PermissionsEdit") and not current.get("PermissionsRead"):
            return _error("FIELD_INTEGRITY_EXCEPTION", "Edit Field requires Read Field", ["PermissionsEdit"])
    return None


def field_access(records: dict[str, dict[str, dict[str, Any]]], user_id: str) -> dict[str, str]:
    """`SobjectType.Field` → "edit" or "read", for every field a permission set assigned to the user opens."""
    assignments = records["PermissionSetAssignment"].values()
    assigned = {a["PermissionSetId"] for a in assignments if a["AssigneeId"] == user_id}
    access: dict[str, str] = {}
    for permission in records["FieldPermissions"].values():
        if permission["ParentId"] in assigned and permission.get("PermissionsRead"):
            granted = "edit" if permission.get("PermissionsEdit") else "read"
            if access.get(permission["Field"]) != "edit":
                access[permission["Field"]] = granted
    return access
