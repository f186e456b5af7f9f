"""A local Salesforce org: the OAuth token endpoint and the REST API resources the sync uses, with the shapes
Salesforce's REST API Developer Guide and OAuth help document.

- OAuth: `POST /services/oauth2/token` (form-encoded) for the client credentials flow (`client_id`,
  `client_secret`) and the JWT bearer flow (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
  `assertion`: an RS256 JWT whose iss is the client id, sub the username, aud the login URL, exp in the
  future, checked against the connected app's certificate). Success: `access_token`, `instance_url`, `id`,
  `token_type` "Bearer", `issued_at`, `signature` (no refresh token in these flows). Failure: 400 with
  `{"error": "invalid_grant" | "invalid_client_id" | "invalid_client" | "unsupported_grant_type",
  "error_description": …}`.
- REST errors are a JSON array `[{"message", "errorCode"}]`: 401 INVALID_SESSION_ID for an expired or
  unknown token (`expire_tokens()` ends every session, as a session timeout does), 403
  REQUEST_LIMIT_EXCEEDED when the org's rolling 24-hour allocation is used up ("TotalRequests Limit
  exceeded.") or, for `busy_for(n)`, the next n requests ("ConcurrentRequests … Limit exceeded.").
  `Sforce-Limit-Info: api-usage=<used>/<allocation>` on every REST answer.
- sObject Collections (`/composite/sobjects`): create (POST), update by id (PATCH), upsert by an external id
  field (PATCH …/{sObject}/{field}), delete (DELETE ?ids=): at most 200 records, `allOrNone` (default false),
  answered 200 with one SaveResult/UpsertResult/DeleteResult per record in order (`id`, `success`, `errors`
  [{statusCode, message, fields}], `created` for upserts); a malformed request (unknown field, too many
  records) is a 400 for the whole request.
- Composite (`POST /composite`): up to 25 subrequests run in order, `compositeResponse` with each one's body,
  httpHeaders, httpStatusCode and referenceId; counted as one request against the allocation.
- Query (`GET /query?q=`): the little SOQL the sync sends (`SELECT f, … FROM Contact|Task WHERE f IN (…)`
  or `WHERE f = '…'`), `totalSize`, `done`, `records` with `attributes`, and `nextRecordsUrl` pages.
- Describe (`GET /sobjects/{Contact|Task}/describe`), Tooling API `POST /tooling/sobjects/CustomField`
  (FullName `Contact.X__c` or `Activity.X__c`, Metadata with label, type, length/precision/scale,
  externalId, unique; DUPLICATE_VALUE when the field exists), `GET /limits` (DailyApiRequests).
- Field-level security: PermissionSet, FieldPermissions and PermissionSetAssignment records through the same
  collections and queries (tools/fakes/salesforce_permissions.py).
- Contact requires LastName (REQUIRED_FIELD_MISSING), a unique field refuses a value another record holds
  (DUPLICATE_VALUE), Email must look like one (INVALID_EMAIL_ADDRESS), `validation_rules` the org's own
  rules refuse (FIELD_CUSTOM_VALIDATION_EXCEPTION); a Task's WhoId must name a Contact
  (INVALID_CROSS_REFERENCE_KEY), Status defaults to "Not Started"; deleting a Contact deletes its Tasks.

The token endpoint is tools/fakes/salesforce_oauth.py. Written by hand on the standard library's
http.server (tools/fakes/base.py, shared with tools/fakes/hubspot.py): there is no maintained
Salesforce emulator. Time comes from `clock`, so the 24-hour window and token expiry need no sleeping.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tools.fakes.base import Answer, JsonServer
from tools.fakes.salesforce_oauth import USER_ID, ConnectedApp, TokenEndpoint
from tools.fakes.salesforce_permissions import (
    PERMISSION_FIELDS,
    PERMISSION_KEY_PREFIX,
    field_access,
    permission_problem,
)
from tools.fakes.salesforce_soql import select

API_VERSION = "v62.0"
DATA = f"/services/data/{API_VERSION}"
MAX_COLLECTION_RECORDS = 200
MAX_COMPOSITE_SUBREQUESTS = 25
DEFAULT_QUERY_PAGE = 2000
DAY_SECONDS = 24 * 3600.0
# Enterprise Edition's documented allocation: 100,000 requests per 24 hours plus 1,000 per Salesforce
# license (here 10 licenses).
DEFAULT_DAILY_ALLOCATION = 110_000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KEY_PREFIX = {"Contact": "003", "Task": "00T", "CustomField": "00N", **PERMISSION_KEY_PREFIX}

# Standard fields of the objects the sync writes (a subset): name → (type, createable).
STANDARD_FIELDS: dict[str, dict[str, str]] = {
    "Contact": {
        "Id": "id",
        "FirstName": "string",
        "LastName": "string",
        "Email": "email",
        "AccountId": "reference",
        "CreatedDate": "datetime",
    },
    "Task": {
        "Id": "id",
        "WhoId": "reference",
        "Subject": "combobox",
        "Description": "textarea",
        "ActivityDate": "date",
        "Status": "picklist",
        "Priority": "picklist",
        "TaskSubtype": "picklist",
        "CreatedDate": "datetime",
    },
}
STANDARD_FIELDS.update(PERMISSION_FIELDS)  # field-level security (tools/fakes/salesforce_permissions.py)
READ_ONLY = {"Id", "CreatedDate"}
# Tooling API: where a custom field's FullName puts it (activity custom fields live on Activity: Task).
FIELD_OWNER = {"Contact": "Contact", "Activity": "Task"}
FIELD_TYPES = {"Text", "Number", "DateTime", "Date", "LongTextArea", "Checkbox"}


def _errors(status: int, code: str, message: str) -> Answer:
    return status, {}, [{"message": message, "errorCode": code}]


def _record_error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


@dataclass
class CustomField:
    name: str  # e.g. Feedback_Count__c
    label: str
    type: str
    external_id: bool = False
    unique: bool = False
    length: int | None = None


@dataclass
class Request:
    method: str
    path: str
    status: int
    counted: bool = True  # against the 24-hour allocation (the token endpoint is not)


class FakeSalesforce:
    """One org's state and its API as a function of (method, path, headers, body)."""

    def __init__(
        self,
        apps: list[ConnectedApp] | None = None,
        clock: Callable[[], float] = time.time,
        daily_allocation: int = DEFAULT_DAILY_ALLOCATION,
        query_page: int = DEFAULT_QUERY_PAGE,
        login_url: str = "https://login.salesforce.com",
    ) -> None:
        default = ConnectedApp("3MVG9fake.client", "fake-secret", usernames={"integration@example.com"})
        self.oauth = TokenEndpoint(apps or [default], clock)
        self.apps = self.oauth.apps  # client id → connected app (tests rotate secrets here)
        self.clock = clock
        self.daily_allocation = daily_allocation
        self.query_page = query_page
        self.login_url = login_url
        self.instance_url = "http://127.0.0.1"  # set to the server's URL when served
        self.records: dict[str, dict[str, dict[str, Any]]] = {sobject: {} for sobject in STANDARD_FIELDS}
        self.custom_fields: dict[str, dict[str, CustomField]] = {sobject: {} for sobject in STANDARD_FIELDS}
        self.tokens = self.oauth.tokens  # the sessions issued and not expired
        self.requests: list[Request] = []
        self.unavailable = False  # answer 503 to everything (the org is down)
        # The org's validation rules: (sObject, rule); a rule returns its error message for values it refuses.
        self.validation_rules: list[tuple[str, Callable[[dict[str, Any]], str | None]]] = []
        self._busy = 0
        self._window: deque[float] = deque()
        self._ids = itertools.count(1)
        self._locators: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.on_task_created: Callable[[dict[str, Any]], None] | None = None  # `make run` prints each one
        self._lock = threading.Lock()

    # --- bookkeeping ---------------------------------------------------------------------------------------

    def count(self, path_part: str = "", method: str | None = None) -> int:
        """REST requests answered so far (all, or those whose path contains `path_part`)."""
        return sum(
            1
            for r in self.requests
            if r.counted and path_part in r.path and (method is None or r.method == method)
        )

    def state(self) -> dict[str, Any]:
        """Everything stored, to compare before and after."""
        return {
            "records": json.loads(json.dumps(self.records, sort_keys=True)),
            "fields": {k: sorted(v) for k, v in self.custom_fields.items()},
        }

    def expire_tokens(self) -> None:
        """End every session (a session timeout): the next request with any token gets 401."""
        self.tokens.clear()

    def busy_for(self, requests: int) -> None:
        """Answer the next `requests` REST requests with 403 REQUEST_LIMIT_EXCEEDED (concurrent requests)."""
        self._busy = requests

    def contacts_by(self, field_name: str, value: str) -> list[dict[str, Any]]:
        return [c for c in self.records["Contact"].values() if c.get(field_name) == value]

    def tasks_of(self, contact_id: str) -> list[dict[str, Any]]:
        return [t for t in self.records["Task"].values() if t.get("WhoId") == contact_id]

    def field_access(self, user_id: str = USER_ID) -> dict[str, str]:
        """`Contact.X__c` → "edit" | "read": the fields the user's permission sets open (default: the user
        every token of this fake acts as, the integration user)."""
        return field_access(self.records, user_id)

    def add_contact(self, **values: Any) -> str:
        """A contact the team created in Salesforce before the sync (no request counted)."""
        record_id = self._new_id("Contact")
        self.records["Contact"][record_id] = {"Id": record_id, "CreatedDate": self._now_iso(), **values}
        return record_id

    def _new_id(self, sobject: str) -> str:
        return f"{KEY_PREFIX[sobject]}fk{next(self._ids):010d}AAA"[:18]

    def _now_iso(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(self.clock()))

    def _fields(self, sobject: str) -> dict[str, str]:
        custom = {name: spec.type for name, spec in self.custom_fields[sobject].items()}
        return {**STANDARD_FIELDS[sobject], **custom}

    # --- the API -------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            if path.startswith("/services/oauth2/token"):
                self.oauth.unavailable, self.oauth.login_url = self.unavailable, self.login_url
                self.oauth.instance_url = self.instance_url
                status, extra, payload = self.oauth.answer(method, body)
                self.requests.append(Request(method, path, status, counted=False))
                return status, extra, payload
            status, extra, payload = self._rest(method, path, headers, body)
            self.requests.append(Request(method, path, status))
            return status, extra, payload

    def _rest(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if self.unavailable:
            return _errors(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable")
        authorization = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not authorization.startswith("Bearer ") or authorization[7:].strip() not in self.tokens:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        now = self.clock()
        while self._window and self._window[0] <= now - DAY_SECONDS:
            self._window.popleft()
        if self._busy:
            self._busy -= 1
            status, _, payload = _errors(
                403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
            )
            return status, self._limit_header(), payload
        if len(self._window) >= self.daily_allocation:
            status, _, payload = _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            return status, self._limit_header(), payload
        self._window.append(now)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            status, _, payload = _errors(400, "JSON_PARSER_ERROR", "Unexpected character in request body")
            return status, self._limit_header(), payload
        status, extra, payload = self._route(method, path, data)
        return status, {**self._limit_header(), **extra}, payload

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={len(self._window)}/{self.daily_allocation}"}

    def _route(self, method: str, path: str, data: Any) -> Answer:
        parts = urlsplit(path)
        bare, params = parts.path.rstrip("/"), {k: v[0] for k, v in parse_qs(parts.query).items()}
        resource = bare.removeprefix(DATA) if bare.startswith(DATA) else None
        ids = [i for i in params.get("ids", "").split(",") if i]
        routes: list[tuple[str, str, Callable[[re.Match[str]], Answer]]] = [
            ("GET", r"/limits", lambda _: (200, {}, {"DailyApiRequests": self._daily()})),
            ("GET", r"/query", lambda _: self._query(params.get("q", ""))),
            ("GET", r"/query/([\w-]+)", lambda m: self._query_more(m.group(1))),
            ("GET", r"/sobjects/(\w+)/describe", lambda m: self._describe(m.group(1))),
            ("POST", r"/tooling/sobjects/CustomField", lambda _: self._create_field(data)),
            ("POST", r"/composite", lambda _: self._composite(data)),
            ("PATCH", r"/composite/sobjects/(\w+)/(\w+)", lambda m: self._upsert(m[1], m[2], data)),
            ("POST", r"/composite/sobjects", lambda _: self._save(data, create=True)),
            ("PATCH", r"/composite/sobjects", lambda _: self._save(data, create=False)),
            (
                "DELETE",
                r"/composite/sobjects",
                lambda _: self._delete(ids, params.get("allOrNone") == "true"),
            ),
        ]
        for route_method, pattern, answer in routes:
            match = re.fullmatch(pattern, resource or "") if route_method == method else None
            if match:
                return answer(match)
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def _daily(self) -> dict[str, int]:
        return {"Max": self.daily_allocation, "Remaining": self.daily_allocation - len(self._window)}

    # --- describe and the Tooling API ----------------------------------------------------------------------

    def _describe(self, sobject: str) -> Answer:
        if sobject not in STANDARD_FIELDS:
            return _errors(404, "NOT_FOUND", f"The requested resource does not exist: {sobject}")
        fields = [
            {"name": name, "type": kind, "custom": False, "externalId": False, "unique": False}
            for name, kind in STANDARD_FIELDS[sobject].items()
        ] + [
            {
                "name": spec.name,
                "label": spec.label,
                "type": spec.type,
                "custom": True,
                "externalId": spec.external_id,
                "unique": spec.unique,
                "length": spec.length or 0,
            }
            for spec in self.custom_fields[sobject].values()
        ]
        return 200, {}, {"name": sobject, "custom": False, "fields": fields}

    def _create_field(self, data: Any) -> Answer:
        full_name = str((data or {}).get("FullName") or "")
        metadata = (data or {}).get("Metadata") or {}
        owner, _, name = full_name.partition(".")
        if owner not in FIELD_OWNER or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*__c", name):
            return _errors(400, "INVALID_FIELD", f"Invalid FullName: {full_name}")
        if not metadata.get("label") or metadata.get("type") not in FIELD_TYPES:
            return _errors(400, "FIELD_INTEGRITY_EXCEPTION", "label and a supported type are required")
        if metadata["type"] == "Text" and not 1 <= int(metadata.get("length") or 0) <= 255:
            return _errors(400, "FIELD_INTEGRITY_EXCEPTION", "Text length must be between 1 and 255")
        sobject = FIELD_OWNER[owner]
        if name.lower() in {n.lower() for n in self.custom_fields[sobject]}:
            return _errors(400, "DUPLICATE_VALUE", f"duplicate value found: {full_name} already exists")
        self.custom_fields[sobject][name] = CustomField(
            name=name,
            label=metadata["label"],
            type=metadata["type"],
            external_id=bool(metadata.get("externalId")),
            unique=bool(metadata.get("unique")),
            length=metadata.get("length"),
        )
        return 201, {}, {"id": self._new_id("CustomField"), "success": True, "errors": []}

    # --- query ---------------------------------------------------------------------------------------------

    def _query(self, soql: str) -> Answer:
        selected = select(soql, STANDARD_FIELDS, self._fields, self.records)
        sobject, rows = selected
        if isinstance(rows, str):
            return _errors(400, sobject, rows)
        return self._page([{"attributes": self._attributes(sobject, i)} | row for i, row in rows], 0)

    def _page(self, records: list[dict[str, Any]], start: int) -> Answer:
        page = records[start : start + self.query_page]
        body: dict[str, Any] = {"totalSize": len(records), "done": start + len(page) >= len(records)}
        if not body["done"]:
            locator = f"01gfk{uuid.uuid4().hex[:10]}"
            self._locators[locator] = (records, start + len(page))
            body["nextRecordsUrl"] = f"{DATA}/query/{locator}-{start + len(page)}"
        body["records"] = page
        return 200, {}, body

    def _query_more(self, locator: str) -> Answer:
        key = locator.rsplit("-", 1)[0]
        if key not in self._locators:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, start = self._locators.pop(key)
        return self._page(records, start)

    def _attributes(self, sobject: str, record_id: str) -> dict[str, str]:
        return {"type": sobject, "url": f"{DATA}/sobjects/{sobject}/{record_id}"}

    # --- sObject Collections -------------------------------------------------------------------------------

    def _records_of(self, data: Any) -> list[dict[str, Any]] | Answer:
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return _errors(400, "JSON_PARSER_ERROR", "records must be an array of sObjects")
        if len(records) > MAX_COLLECTION_RECORDS:
            return _errors(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit exceeded: the collection holds {len(records)} records, at most "
                f"{MAX_COLLECTION_RECORDS} are allowed",
            )
        for record in records:
            sobject = (record.get("attributes") or {}).get("type")
            if sobject not in STANDARD_FIELDS:
                return _errors(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported")
            known = {name.lower() for name in self._fields(sobject)} | {"attributes", "id"}
            unknown = [name for name in record if name.lower() not in known]
            if unknown:
                return _errors(
                    400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}"
                )
        return records

    def _canonical(self, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
        names = {name.lower(): name for name in self._fields(sobject)}
        return {names[k.lower()]: v for k, v in record.items() if k.lower() in names and k.lower() != "id"}

    def _problem(self, sobject: str, values: dict[str, Any], record_id: str | None) -> dict[str, Any] | None:
        """Why these values cannot be saved on the record (None: they can)."""
        if sobject in PERMISSION_FIELDS:
            exists = lambda owner, name: name in self._fields(owner)  # noqa: E731
            return permission_problem(sobject, values, record_id, self.records, exists)
        return self._data_problem(sobject, values, record_id)

    def _data_problem(self, sobject: str, values: dict[str, Any], record_id: str | None) -> dict | None:
        for name in values:
            if name in READ_ONLY:
                return _record_error(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {name}", [name]
                )
        email = values.get("Email")
        if email and not EMAIL.match(str(email)):
            return _record_error("INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {email}", ["Email"])
        for spec in self.custom_fields[sobject].values():
            value = values.get(spec.name)
            if spec.unique and value not in (None, ""):
                holders = [r for r in self.records[sobject].values() if r.get(spec.name) == value]
                if any(r["Id"] != record_id for r in holders):
                    holder = next(r["Id"] for r in holders if r["Id"] != record_id)
                    return _record_error(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {spec.name} duplicates value on record with id: {holder}",
                        [spec.name],
                    )
        current = {**self.records[sobject].get(record_id or "", {}), **values}
        for rule_object, rule in self.validation_rules:
            message = rule(current) if rule_object == sobject else None
            if message:
                return _record_error("FIELD_CUSTOM_VALIDATION_EXCEPTION", message)
        who = values.get("WhoId")
        if sobject == "Task" and who is not None and who not in self.records["Contact"]:
            return _record_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["WhoId"])
        return None

    def _write(self, sobject: str, values: dict[str, Any], record_id: str | None) -> tuple[str, bool]:
        """Create (record_id None) or update a record; (its id, created)."""
        if record_id is None:
            record_id = self._new_id(sobject)
            defaults = {"Status": "Not Started", "Priority": "Normal"} if sobject == "Task" else {}
            self.records[sobject][record_id] = {"Id": record_id, "CreatedDate": self._now_iso(), **defaults}
            created = True
        else:
            created = False
        self.records[sobject][record_id].update(values)
        if created and sobject == "Task" and self.on_task_created:
            self.on_task_created(self.records[sobject][record_id])
        return record_id, created

    def _missing_required(self, sobject: str, values: dict[str, Any]) -> dict[str, Any] | None:
        if sobject == "Contact" and not values.get("LastName"):
            return _record_error(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"]
            )
        return None

    def _save(self, data: Any, create: bool) -> Answer:
        records = self._records_of(data)
        if not isinstance(records, list):
            return records
        snapshot = json.dumps(self.records)
        results = []
        for record in records:
            sobject = record["attributes"]["type"]
            values = self._canonical(sobject, record)
            record_id = None if create else record.get("id") or record.get("Id")
            if create and (record.get("id") or record.get("Id")):
                problem = _record_error("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            elif not create and record_id not in self.records[sobject]:
                problem = _record_error("ENTITY_IS_DELETED", "entity is deleted")
            else:
                problem = (self._missing_required(sobject, values) if create else None) or self._problem(
                    sobject, values, record_id
                )
            if problem:
                results.append({"success": False, "errors": [problem]})
                continue
            saved_id, _ = self._write(sobject, values, record_id)
            results.append({"id": saved_id, "success": True, "errors": []})
        return self._all_or_none(data, results, snapshot)

    def _all_or_none(self, data: Any, results: list[dict[str, Any]], snapshot: str) -> Answer:
        if data.get("allOrNone") and any(not r["success"] for r in results):
            self.records = json.loads(snapshot)
            rolled = _record_error(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was using "
                "AllOrNone header",
            )
            results = [
                {**r, "success": False, "errors": r["errors"] or [rolled]}
                | ({"id": None} if "id" in r else {})
                for r in results
            ]
        return 200, {}, results

    def _upsert(self, sobject: str, external_field: str, data: Any) -> Answer:
        if sobject not in STANDARD_FIELDS:
            return _errors(404, "NOT_FOUND", f"The requested resource does not exist: {sobject}")
        spec = next(
            (s for s in self.custom_fields[sobject].values() if s.name.lower() == external_field.lower()),
            None,
        )
        if spec is None or not spec.external_id:
            return _errors(
                400, "INVALID_FIELD", f"Field {external_field} is not an external id field on {sobject}"
            )
        records = self._records_of(data)
        if not isinstance(records, list):
            return records
        snapshot = json.dumps(self.records)
        results = []
        for record in records:
            values = self._canonical(sobject, record)
            key = values.get(spec.name)
            if record.get("id") or record.get("Id"):
                results.append(
                    {
                        "success": False,
                        "errors": [
                            _record_error(
                                "INVALID_FIELD", "Id not allowed in an upsert by external id", ["Id"]
                            )
                        ],
                        "created": False,
                    }
                )
                continue
            if key in (None, ""):
                results.append(
                    {
                        "success": False,
                        "errors": [
                            _record_error("MISSING_ARGUMENT", f"{spec.name} not specified", [spec.name])
                        ],
                        "created": False,
                    }
                )
                continue
            matches = [r["Id"] for r in self.records[sobject].values() if r.get(spec.name) == key]
            record_id = matches[0] if matches else None
            problem = (
                self._missing_required(sobject, values) if record_id is None else None
            ) or self._problem(sobject, values, record_id)
            if problem:
                results.append({"success": False, "errors": [problem], "created": False})
                continue
            saved_id, created = self._write(sobject, values, record_id)
            results.append({"id": saved_id, "success": True, "errors": [], "created": created})
        return self._all_or_none(data, results, snapshot)

    def _delete(self, ids: list[str], all_or_none: bool) -> Answer:
        if not ids:
            return _errors(400, "MISSING_ARGUMENT", "ids is required")
        if len(ids) > MAX_COLLECTION_RECORDS:
            return _errors(400, "EXCEEDED_ID_LIMIT", f"at most {MAX_COLLECTION_RECORDS} ids are allowed")
        snapshot = json.dumps(self.records)
        results = []
        for record_id in ids:
            sobject = next((s for s, rows in self.records.items() if record_id in rows), None)
            if sobject is None:
                error = _record_error("ENTITY_IS_DELETED", "entity is deleted")
                results.append({"id": record_id, "success": False, "errors": [error]})
                continue
            del self.records[sobject][record_id]
            if sobject == "Contact":  # its activities go with it
                for task_id in [t["Id"] for t in self.tasks_of(record_id)]:
                    del self.records["Task"][task_id]
            results.append({"id": record_id, "success": True, "errors": []})
        return self._all_or_none({"allOrNone": all_or_none}, results, snapshot)

    # --- composite -----------------------------------------------------------------------------------------

    def _composite(self, data: Any) -> Answer:
        subrequests = data.get("compositeRequest") if isinstance(data, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            return _errors(400, "JSON_PARSER_ERROR", "compositeRequest must be a non-empty array")
        if len(subrequests) > MAX_COMPOSITE_SUBREQUESTS:
            return _errors(400, "INVALID_BATCH_REQUEST", f"at most {MAX_COMPOSITE_SUBREQUESTS} subrequests")
        answers = []
        for sub in subrequests:
            url = str(sub.get("url") or "")
            status, headers, body = self._route(str(sub.get("method") or "GET"), url, sub.get("body"))
            answers.append(
                {
                    "body": body,
                    "httpHeaders": headers,
                    "httpStatusCode": status,
                    "referenceId": sub.get("referenceId"),
                }
            )
        return 200, {}, {"compositeResponse": answers}


class SalesforceServer(JsonServer):
    """The fake served on 127.0.0.1 (port 0: any free one) in a daemon thread; a context manager. The same
    server answers the login URL (token endpoint) and the instance URL (REST API)."""

    content_type = "application/json;charset=UTF-8"

    def __init__(self, fake: FakeSalesforce | None = None, port: int = 0) -> None:
        self.fake = fake or FakeSalesforce()
        super().__init__(self.fake, port)
        self.fake.instance_url = self.url
        self.fake.login_url = self.url
