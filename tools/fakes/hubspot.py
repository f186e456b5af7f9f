"""A local HubSpot: the CRM v3 endpoints the sync uses, with the documented request and response shapes.

- Auth: a private-app token as `Authorization: Bearer <token>`; a missing or unknown token gets 401 with
  category INVALID_AUTHENTICATION, an expired one EXPIRED_AUTHENTICATION (HubSpot's error body: status,
  message, correlationId, category, optional errors[]).
- Rate limit: a rolling 10-second window (default 100 requests: a private app on a Free/Starter account),
  X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds and -Daily/-Daily-Remaining on every answer, and
  429 with `Retry-After` and category RATE_LIMITS when the window is full; a used-up daily limit 429 with
  policyName DAILY and no Retry-After. Time comes from `clock`, so tests run a 429 storm without sleeping.
- Batches take at most 100 inputs (400 VALIDATION_ERROR otherwise); inputs that fail on their own (an
  invalid email, an unknown property, a unique value held by another contact, a missing note) make a 207
  Multi-Status with `errors` and `numErrors` beside the `results` that succeeded.
- Objects: contacts (batch upsert by idProperty, batch read, list with `after` paging, GDPR delete, merge),
  notes (batch create with associations, batch update, batch archive, list, search), contact properties and
  property groups (list, create; 409 CONFLICT when the name exists).

Written by hand on the standard library's http.server: there is no maintained HubSpot emulator.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.fakes.base import Answer, JsonServer

MAX_BATCH_INPUTS = 100
WINDOW_SECONDS = 10.0
# A private app on a Free or Starter account (HubSpot's usage guidelines): 100 requests per 10 seconds,
# 250,000 a day.
DEFAULT_PER_WINDOW = 100
DEFAULT_DAILY = 250_000
NOTE_TO_CONTACT = 202  # HUBSPOT_DEFINED association type: note → contact
PAGE_LIMIT_MAX = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Contact properties every account has (a subset of HubSpot's defaults).
DEFAULT_CONTACT_PROPERTIES = {
    name: {"name": name, "label": label, "type": "string", "fieldType": "text"}
    | {"groupName": "contactinformation", "hasUniqueValue": name == "email"}
    for name, label in (("email", "Email"), ("firstname", "First Name"), ("lastname", "Last Name"))
}
NOTE_PROPERTIES = {"hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_attachment_ids"}


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, category: str, message: str, **extra: Any) -> Answer:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return status, {}, {**body, **extra}


@dataclass
class Record:
    id: str
    properties: dict[str, str]
    created_at: float
    updated_at: float
    associations: set[str] = field(default_factory=set)  # contact ids (for notes)

    def public(self, *, new: bool | None = None, trace_id: str | None = None) -> dict[str, Any]:
        shown = {
            "id": self.id,
            "properties": {**self.properties, "hs_object_id": self.id},
            "createdAt": _iso(self.created_at),
            "updatedAt": _iso(self.updated_at),
            "archived": False,
        }
        if new is not None:
            shown["new"] = new
        if trace_id:
            shown["objectWriteTraceId"] = trace_id
        return shown


@dataclass
class Request:
    method: str
    path: str
    status: int


class FakeHubSpot:
    """One HubSpot account's state and its API as a function of (method, path, headers, body)."""

    def __init__(
        self,
        tokens: set[str] | None = None,
        clock: Callable[[], float] = time.time,
        per_window: int = DEFAULT_PER_WINDOW,
        daily: int = DEFAULT_DAILY,
    ) -> None:
        self.tokens = set(tokens or {"pat-na1-fake"})
        self.expired_tokens: set[str] = set()
        self.clock = clock
        self.per_window = per_window
        self.daily = daily
        self.contacts: dict[str, Record] = {}
        self.notes: dict[str, Record] = {}
        self.contact_properties: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in DEFAULT_CONTACT_PROPERTIES.items()
        }
        self.groups: dict[str, dict[str, Any]] = {
            "contactinformation": {
                "name": "contactinformation",
                "label": "Contact information",
                "displayOrder": 0,
            }
        }
        self.gdpr_deleted: list[str] = []
        self.merged_ids: dict[str, str] = {}  # a merged-away contact id → the merged contact's id
        self.on_note_created: Callable[[Record], None] | None = None  # `make run` prints each new note
        self.requests: list[Request] = []
        self.unavailable = False  # answer 503 to everything (the CRM is down)
        self._ids = itertools.count(1001)
        self._window: deque[float] = deque()
        self._day, self._daily_used = (
            -1,
            0,
        )  # the day's calls; reset at midnight (UTC; HubSpot: portal's zone)
        self._lock = threading.Lock()

    # --- bookkeeping ---------------------------------------------------------------------------------------

    def count(self, path_part: str = "") -> int:
        """Requests answered so far (all, or those whose path contains `path_part`)."""
        return sum(1 for r in self.requests if path_part in r.path)

    def state(self) -> dict[str, Any]:
        """Everything stored, to compare before and after (timestamps included)."""
        return {
            "contacts": {k: (v.properties, v.updated_at) for k, v in self.contacts.items()},
            "notes": {k: (v.properties, v.updated_at, sorted(v.associations)) for k, v in self.notes.items()},
            "properties": sorted(self.contact_properties),
            "groups": sorted(self.groups),
        }

    def notes_of(self, contact_id: str) -> list[Record]:
        return [n for n in self.notes.values() if contact_id in n.associations]

    def contact_by(self, prop: str, value: str) -> Record | None:
        wanted = value.lower() if prop == "email" else value
        for contact in self.contacts.values():
            stored = contact.properties.get(prop)
            if stored is not None and (stored.lower() if prop == "email" else stored) == wanted:
                return contact
        return None

    def _new_id(self) -> str:
        return str(next(self._ids))

    def _rate_headers(self, remaining: int) -> dict[str, str]:
        daily_used = self._daily_used
        return {
            "X-HubSpot-RateLimit-Max": str(self.per_window),
            "X-HubSpot-RateLimit-Remaining": str(max(remaining, 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_SECONDS * 1000)),
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(self.daily - daily_used, 0)),
        }

    # --- the API -------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            status, extra_headers, payload = self._handle(method, path, headers, body)
            self.requests.append(Request(method, path, status))
            return status, extra_headers, payload

    def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if self.unavailable:
            return _error(503, "SERVICE_UNAVAILABLE", "Service unavailable, try again later.")
        authorization = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
        if token in self.expired_tokens:
            return _error(401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired.")
        if token not in self.tokens:
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        now = self.clock()
        if (limited := self._limited(now)) is not None:
            return limited
        self._window.append(now)
        rate = self._rate_headers(self.per_window - len(self._window))
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            status, _, payload = _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1")
            return status, rate, payload
        status, extra, payload = self._route(method, path, data, now)
        return status, {**rate, **extra}, payload

    def _limited(self, now: float) -> Answer | None:
        """The 429 of a used-up daily limit (no Retry-After: it resets at midnight) or of a full 10-second
        window, or None (the call counts against both)."""
        if int(now // 86_400) != self._day:
            self._day, self._daily_used = int(now // 86_400), 0
        self._daily_used += 1
        while self._window and self._window[0] <= now - WINDOW_SECONDS:
            self._window.popleft()
        daily = self._daily_used > self.daily
        if not daily and len(self._window) < self.per_window:
            return None
        self._daily_used -= 1  # a refused call is not counted
        policy = "daily" if daily else "ten_secondly_rolling"
        status, _, payload = _error(
            429, "RATE_LIMITS", f"You have reached your {policy} limit.", errorType="RATE_LIMIT",
            policyName=policy.upper(),
        )  # fmt: skip
        if daily:
            return status, self._rate_headers(0), payload
        retry_after = max(1, math.ceil(self._window[0] + WINDOW_SECONDS - now))
        return status, {**self._rate_headers(0), "Retry-After": str(retry_after)}, payload

    def _route(self, method: str, path: str, data: Any, now: float) -> Answer:
        bare, _, query = path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        routes: dict[tuple[str, str], Callable[[], Answer]] = {
            ("POST", "/crm/v3/objects/contacts/batch/upsert"): lambda: self._upsert(data, now),
            ("POST", "/crm/v3/objects/contacts/batch/read"): lambda: self._read(data),
            ("GET", "/crm/v3/objects/contacts"): lambda: self._list(self.contacts, params),
            ("POST", "/crm/v3/objects/contacts/batch/update"): lambda: self._update_contacts(data, now),
            ("POST", "/crm/v3/objects/contacts/gdpr-delete"): lambda: self._gdpr_delete(data),
            ("POST", "/crm/v3/objects/contacts/merge"): lambda: self._merge_contacts(data, now),
            ("POST", "/crm/v3/objects/notes/search"): lambda: self._search_notes(data),
            ("GET", "/crm/v3/objects/notes"): lambda: self._list(self.notes, params),
            ("POST", "/crm/v3/objects/notes/batch/create"): lambda: self._create_notes(data, now),
            ("POST", "/crm/v3/objects/notes/batch/update"): lambda: self._update_notes(data, now),
            ("POST", "/crm/v3/objects/notes/batch/archive"): lambda: self._archive_notes(data),
            ("GET", "/crm/v3/properties/contacts"): lambda: (
                200,
                {},
                {"results": list(self.contact_properties.values())},
            ),
            ("POST", "/crm/v3/properties/contacts/batch/create"): lambda: self._create_properties(data),
            ("GET", "/crm/v3/properties/contacts/groups"): lambda: (
                200,
                {},
                {"results": list(self.groups.values())},
            ),
            ("POST", "/crm/v3/properties/contacts/groups"): lambda: self._create_group(data),
        }
        route = routes.get((method, bare))
        if route is None:
            return _error(404, "OBJECT_NOT_FOUND", f"No route for {method} {bare}")
        return route()

    @staticmethod
    def _inputs(data: Any) -> list[dict[str, Any]] | Answer:
        inputs = data.get("inputs") if isinstance(data, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            return _error(400, "VALIDATION_ERROR", "Invalid input JSON: `inputs` must be an array of objects")
        if len(inputs) > MAX_BATCH_INPUTS:
            return _error(400, "VALIDATION_ERROR", f"Batch input of {len(inputs)} exceeds {MAX_BATCH_INPUTS}")
        return inputs

    @staticmethod
    def _batch(results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int = 200) -> Answer:
        stamp = _iso(time.time())
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if errors:
            body.update(errors=errors, numErrors=len(errors))
            return 207, {}, body
        return ok_status, {}, body

    @staticmethod
    def _input_error(category: str, message: str, **context: list[str]) -> dict[str, Any]:
        return {"status": "error", "category": category, "message": message, "context": context, "errors": []}

    def _property_problem(self, properties: dict[str, Any], owner: Record | None) -> dict[str, Any] | None:
        for name, value in properties.items():
            spec = self.contact_properties.get(name)
            if spec is None:
                return self._input_error(
                    "VALIDATION_ERROR", f'Property "{name}" does not exist', propertyName=[name]
                )
            if name == "email" and value and not EMAIL.match(str(value)):
                return self._input_error(
                    "VALIDATION_ERROR", f"Email address {value} is invalid", propertyName=[name]
                )
            if spec.get("hasUniqueValue") and value:
                holder = self.contact_by(name, str(value))
                if holder is not None and holder is not owner:
                    return self._input_error(
                        "CONFLICT",
                        f'A contact with the property "{name}" = "{value}" already exists',
                        ids=[holder.id],
                    )
        return None

    def _upsert(self, data: Any, now: float) -> Answer:
        inputs = self._inputs(data)
        if not isinstance(inputs, list):
            return inputs
        results, errors = [], []
        for entry in inputs:
            id_property, key = entry.get("idProperty"), entry.get("id")
            properties = {k: "" if v is None else str(v) for k, v in (entry.get("properties") or {}).items()}
            spec = self.contact_properties.get(str(id_property))
            if not key or spec is None or not spec.get("hasUniqueValue"):
                errors.append(
                    self._input_error(
                        "VALIDATION_ERROR", f"{id_property} is not a unique-value property", ids=[str(key)]
                    )
                )
                continue
            existing = self.contact_by(id_property, str(key))
            properties[id_property] = str(key)
            if "email" in properties:
                properties["email"] = properties["email"].lower()  # HubSpot stores addresses in lower case
            problem = self._property_problem(properties, existing)
            if problem:
                problem["context"]["ids"] = [str(key)]
                errors.append(problem)
                continue
            if existing is None:
                existing = Record(self._new_id(), properties, now, now)
                self.contacts[existing.id] = existing
                new = True
            else:
                changed = {k: v for k, v in properties.items() if existing.properties.get(k) != v}
                if changed:
                    existing.properties.update(changed)
                    existing.updated_at = now
                new = False
            results.append(existing.public(new=new, trace_id=entry.get("objectWriteTraceId")))
        return self._batch(results, errors)

    def _update_contacts(self, data: Any, now: float) -> Answer:
        inputs = self._inputs(data)
        if not isinstance(inputs, list):
            return inputs
        results, errors = [], []
        for entry in inputs:
            contact = self.contacts.get(str(entry.get("id")))
            properties = {k: "" if v is None else str(v) for k, v in (entry.get("properties") or {}).items()}
            problem = (
                self._input_error(
                    "OBJECT_NOT_FOUND", "Could not get some CONTACT objects", ids=[str(entry.get("id"))]
                )
                if contact is None
                else self._property_problem(properties, contact)
            )
            if problem or contact is None:
                errors.append(problem)
                continue
            changed = {k: v for k, v in properties.items() if contact.properties.get(k) != v}
            if changed:
                contact.properties.update(changed)
                contact.updated_at = now
            results.append(contact.public())
        return self._batch(results, errors)

    def _read(self, data: Any) -> Answer:
        inputs = self._inputs(data)
        if not isinstance(inputs, list):
            return inputs
        id_property = data.get("idProperty")
        wanted = data.get("properties") or []
        results, errors = [], []
        for entry in inputs:
            key = str(entry.get("id"))
            found = self.contact_by(id_property, key) if id_property else self.contacts.get(key)
            if found is None:
                errors.append(
                    self._input_error("OBJECT_NOT_FOUND", "Could not get some CONTACT objects", ids=[key])
                )
                continue
            shown = found.public()
            if wanted:
                shown["properties"] = {k: found.properties.get(k) for k in wanted} | {
                    "hs_object_id": found.id
                }
            results.append(shown)
        return self._batch(results, errors)

    @staticmethod
    def _list(records: dict[str, Record], params: dict[str, str]) -> Answer:
        try:
            limit = min(max(int(params.get("limit", "10")), 1), PAGE_LIMIT_MAX)
            after = int(params.get("after", "0"))
        except ValueError:
            return _error(400, "VALIDATION_ERROR", "limit and after must be integers")
        ordered = sorted(records.values(), key=lambda r: int(r.id))
        page = [r for r in ordered if int(r.id) > after][:limit]
        body: dict[str, Any] = {"results": [r.public() for r in page]}
        if page and int(page[-1].id) < int(ordered[-1].id):
            body["paging"] = {"next": {"after": page[-1].id, "link": f"?after={page[-1].id}"}}
        return 200, {}, body

    def _gdpr_delete(self, data: Any) -> Answer:
        object_id, id_property = str(data.get("objectId", "")), data.get("idProperty")
        contact = self.contact_by(id_property, object_id) if id_property else self.contacts.get(object_id)
        if contact is None:
            return _error(404, "OBJECT_NOT_FOUND", "resource not found")
        del self.contacts[contact.id]
        for note in self.notes.values():
            note.associations.discard(contact.id)  # the contact and its associations go; notes stay
        self.gdpr_deleted.append(contact.id)
        return 204, {}, None

    def _merge_contacts(self, data: Any, now: float) -> Answer:
        """POST /crm/v3/objects/contacts/merge: the merged contact gets a new id (as a merged HubSpot record
        can; `hs_merged_object_ids` lists both old ones), the primary's values win, the other fills blanks,
        notes follow. Old ids resolve to the merged contact, so a repeated merge answers it again."""
        primary_id = self.merged_ids.get(str(data.get("primaryObjectId")), str(data.get("primaryObjectId")))
        other_id = self.merged_ids.get(str(data.get("objectIdToMerge")), str(data.get("objectIdToMerge")))
        primary, other = self.contacts.get(primary_id), self.contacts.get(other_id)
        if primary is None or other is None:
            return _error(404, "OBJECT_NOT_FOUND", "resource not found")
        if primary_id == other_id:
            return 200, {}, primary.public()
        properties = {**other.properties, **{k: v for k, v in primary.properties.items() if v != ""}}
        properties["hs_merged_object_ids"] = f"{primary_id};{other_id}"
        merged = Record(self._new_id(), properties, min(primary.created_at, other.created_at), now)
        for old in (primary_id, other_id):
            del self.contacts[old]
            self.merged_ids.update({k: merged.id for k, v in self.merged_ids.items() if v == old})
            self.merged_ids[old] = merged.id
            for note in self.notes.values():
                if old in note.associations:
                    note.associations = (note.associations - {old}) | {merged.id}
        self.contacts[merged.id] = merged
        return 200, {}, merged.public()

    def _search_notes(self, data: Any) -> Answer:
        """POST /crm/v3/objects/notes/search: filterGroups (OR of ANDed filters; EQ only here, on a property
        or on the `associations.contact` pseudo-property; datetimes as epoch milliseconds), limit ≤ 100."""
        groups = (data or {}).get("filterGroups") or [{"filters": []}]
        limit = int((data or {}).get("limit") or 10)
        if limit > PAGE_LIMIT_MAX or len(groups) > 5:
            return _error(400, "VALIDATION_ERROR", "limit is at most 100, filterGroups at most 5")

        def matches(note: Record, rule: dict[str, Any]) -> bool:
            name, value = str(rule.get("propertyName")), str(rule.get("value"))
            if rule.get("operator") != "EQ":
                return False
            if name == "associations.contact":
                return value in note.associations
            stored = note.properties.get(name)
            if name == "hs_timestamp" and stored and value.isdigit():
                moment = datetime.fromisoformat(stored.replace("Z", "+00:00"))
                return int(moment.timestamp() * 1000) == int(value)
            return stored == value

        found = [
            n
            for n in sorted(self.notes.values(), key=lambda n: int(n.id))
            if any(all(matches(n, rule) for rule in g.get("filters") or []) for g in groups)
        ]
        return 200, {}, {"total": len(found), "results": [n.public() for n in found[:limit]]}

    def _note_problem(self, properties: dict[str, Any]) -> dict[str, Any] | None:
        unknown = sorted(set(properties) - NOTE_PROPERTIES)
        if unknown:
            return self._input_error(
                "VALIDATION_ERROR", f'Property "{unknown[0]}" does not exist', propertyName=unknown
            )
        return None

    def _create_notes(self, data: Any, now: float) -> Answer:
        inputs = self._inputs(data)
        if not isinstance(inputs, list):
            return inputs
        results, errors = [], []
        for entry in inputs:
            properties = {k: str(v) for k, v in (entry.get("properties") or {}).items()}
            problem = self._note_problem(properties)
            if problem is None and not properties.get("hs_timestamp"):
                problem = self._input_error(
                    "VALIDATION_ERROR", "hs_timestamp is required", propertyName=["hs_timestamp"]
                )
            contacts = set()
            for association in entry.get("associations") or []:
                target = str((association.get("to") or {}).get("id"))
                types = association.get("types") or []
                if not any(t.get("associationTypeId") == NOTE_TO_CONTACT for t in types):
                    problem = problem or self._input_error("VALIDATION_ERROR", "unsupported association type")
                elif target not in self.contacts:
                    problem = problem or self._input_error(
                        "OBJECT_NOT_FOUND", f"Contact {target} does not exist", ids=[target]
                    )
                contacts.add(target)
            if problem:
                if entry.get("objectWriteTraceId"):
                    problem["context"]["objectWriteTraceId"] = [entry["objectWriteTraceId"]]
                errors.append(problem)
                continue
            note = Record(self._new_id(), properties, now, now, contacts)
            self.notes[note.id] = note
            if self.on_note_created:
                self.on_note_created(note)
            results.append(note.public(trace_id=entry.get("objectWriteTraceId")))
        return self._batch(results, errors, ok_status=201)

    def _update_notes(self, data: Any, now: float) -> Answer:
        inputs = self._inputs(data)
        if not isinstance(inputs, list):
            return inputs
        results, errors = [], []
        for entry in inputs:
            note = self.notes.get(str(entry.get("id")))
            properties = {k: str(v) for k, v in (entry.get("properties") or {}).items()}
            problem = self._note_problem(properties)
            if note is None:
                problem = self._input_error(
                    "OBJECT_NOT_FOUND", "Could not get some NOTE objects", ids=[str(entry.get("id"))]
                )
            if problem:
                errors.append(problem)
                continue
            changed = {k: v for k, v in properties.items() if note.properties.get(k) != v}
            if changed:
                note.properties.update(changed)
                note.updated_at = now
            results.append(note.public(trace_id=entry.get("objectWriteTraceId")))
        return self._batch(results, errors)

    def _archive_notes(self, data: Any) -> Answer:
        inputs = self._inputs(data)
        if not isinstance(inputs, list):
            return inputs
        for entry in inputs:
            self.notes.pop(str(entry.get("id")), None)  # archiving a missing id is not an error
        return 204, {}, None

    def _create_group(self, data: Any) -> Answer:
        name = data.get("name") if isinstance(data, dict) else None
        if not name or not data.get("label"):
            return _error(400, "VALIDATION_ERROR", "name and label are required")
        if name in self.groups:
            return _error(409, "CONFLICT", f"A property group named '{name}' already exists.")
        self.groups[name] = {
            "name": name,
            "label": data["label"],
            "displayOrder": data.get("displayOrder", -1),
        }
        return 201, {}, self.groups[name]

    def _create_properties(self, data: Any) -> Answer:
        inputs = self._inputs(data)
        if not isinstance(inputs, list):
            return inputs
        results, errors = [], []
        for entry in inputs:
            name = entry.get("name")
            missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not entry.get(k)]
            if missing:
                errors.append(
                    self._input_error("VALIDATION_ERROR", f"{missing[0]} is required", propertyName=missing)
                )
            elif name in self.contact_properties:
                errors.append(
                    self._input_error(
                        "CONFLICT", f"Property named '{name}' already exists", propertyName=[name]
                    )
                )
            elif entry["groupName"] not in self.groups:
                errors.append(
                    self._input_error(
                        "VALIDATION_ERROR", f"group {entry['groupName']} does not exist", propertyName=[name]
                    )
                )
            else:
                self.contact_properties[name] = {**entry, "hasUniqueValue": bool(entry.get("hasUniqueValue"))}
                results.append(self.contact_properties[name])
        return self._batch(results, errors, ok_status=201)


class HubSpotServer(JsonServer):
    """The fake served on 127.0.0.1 (port 0: any free one) in a daemon thread; a context manager."""

    content_type = "application/json;charset=utf-8"

    def __init__(self, fake: FakeHubSpot | None = None, port: int = 0) -> None:
        self.fake = fake or FakeHubSpot()
        super().__init__(self.fake, port)
