"""The local HubSpot behaves as HubSpot's API reference documents it: paths, bodies, status codes, error
bodies, rate-limit headers and the rolling 10-second limit, paging, the bearer token."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tools.fakes.base import FakeClock
from tools.fakes.hubspot import FakeHubSpot, HubSpotServer

TOKEN = "pat-na1-fake"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def call(fake: FakeHubSpot, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None):
    encoded = json.dumps(body).encode() if body is not None else b""
    return fake.handle(method, path, AUTH if headers is None else headers, encoded)


@pytest.fixture
def fake() -> FakeHubSpot:
    hub = FakeHubSpot(clock=FakeClock())
    call(hub, "POST", "/crm/v3/properties/contacts/groups", {"name": "g", "label": "G"})
    call(
        hub,
        "POST",
        "/crm/v3/properties/contacts/batch/create",
        {
            "inputs": [
                {
                    "name": "cid",
                    "label": "C",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "g",
                    "hasUniqueValue": True,
                }
            ]
        },
    )
    return hub


def upsert(fake: FakeHubSpot, *inputs: dict[str, Any]):
    return call(fake, "POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": list(inputs)})


def test_a_missing_or_unknown_token_gets_401_with_hubspots_error_body(fake):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        status, _, body = call(fake, "GET", "/crm/v3/objects/contacts", headers=headers)
        assert status == 401
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["correlationId"] and body["message"]
    fake.expired_tokens.add(TOKEN)
    status, _, body = call(fake, "GET", "/crm/v3/objects/contacts")
    assert (status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    assert not fake.contacts


def test_upsert_creates_then_updates_by_the_id_property_and_echoes_the_trace_id(fake):
    status, headers, body = upsert(
        fake,
        {
            "idProperty": "email",
            "id": "ana@example.com",
            "properties": {"firstname": "Ana"},
            "objectWriteTraceId": "t1",
        },
    )
    assert status == 200 and body["status"] == "COMPLETE"
    first = body["results"][0]
    assert first["new"] is True and first["objectWriteTraceId"] == "t1"
    assert first["properties"]["email"] == "ana@example.com"
    assert headers["X-HubSpot-RateLimit-Max"] == "100"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    _, _, again = upsert(
        fake, {"idProperty": "email", "id": "ANA@example.com", "properties": {"lastname": "L"}}
    )
    assert again["results"][0]["id"] == first["id"] and again["results"][0]["new"] is False
    assert fake.contacts[first["id"]].properties == {
        "email": "ana@example.com",
        "firstname": "Ana",
        "lastname": "L",
    }


def test_a_partial_batch_failure_is_207_with_errors_beside_the_results(fake):
    status, _, body = upsert(
        fake,
        {"idProperty": "email", "id": "ok@example.com", "properties": {}},
        {"idProperty": "email", "id": "not-an-email", "properties": {}},
        {"idProperty": "cid", "id": "c1", "properties": {"nope": "1"}},
        {"idProperty": "firstname", "id": "x", "properties": {}},
    )
    assert status == 207 and body["numErrors"] == 3 and len(body["results"]) == 1
    assert {e["category"] for e in body["errors"]} == {"VALIDATION_ERROR"}
    assert len(fake.contacts) == 1


def test_a_unique_value_held_by_another_contact_is_a_conflict(fake):
    upsert(fake, {"idProperty": "cid", "id": "c1", "properties": {}})
    status, _, body = upsert(
        fake, {"idProperty": "email", "id": "b@example.com", "properties": {"cid": "c1"}}
    )
    assert status == 207 and body["errors"][0]["category"] == "CONFLICT"


def test_more_than_100_inputs_is_a_400(fake):
    inputs = [{"idProperty": "email", "id": f"u{i}@example.com", "properties": {}} for i in range(101)]
    status, _, body = upsert(fake, *inputs)
    assert status == 400 and body["category"] == "VALIDATION_ERROR" and not fake.contacts


def test_the_rolling_ten_second_window_answers_429_with_retry_after():
    clock = FakeClock()
    fake = FakeHubSpot(clock=clock, per_window=3)
    for _ in range(3):
        clock.now += 2
        assert call(fake, "GET", "/crm/v3/objects/contacts")[0] == 200
    status, headers, body = call(fake, "GET", "/crm/v3/objects/contacts")
    assert (
        status == 429 and body["category"] == "RATE_LIMITS" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    )
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert headers["Retry-After"] == "6"  # the first request leaves the window 6 s from now
    clock.now += 6
    assert call(fake, "GET", "/crm/v3/objects/contacts")[0] == 200


def test_notes_are_created_with_their_association_updated_and_archived(fake):
    _, _, body = upsert(fake, {"idProperty": "email", "id": "a@example.com", "properties": {}})
    contact = body["results"][0]["id"]
    association = {
        "to": {"id": contact},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
    }
    status, _, created = call(
        fake,
        "POST",
        "/crm/v3/objects/notes/batch/create",
        {
            "inputs": [
                {
                    "properties": {"hs_timestamp": "2026-11-21T12:00:00Z", "hs_note_body": "hi"},
                    "associations": [association],
                    "objectWriteTraceId": "f1",
                },
                {"properties": {"hs_note_body": "no timestamp"}},
                {
                    "properties": {"hs_timestamp": "2026-11-21T12:00:00Z"},
                    "associations": [{**association, "to": {"id": "999999"}}],
                },
            ]
        },
    )
    assert status == 207 and created["numErrors"] == 2
    note = created["results"][0]
    assert note["objectWriteTraceId"] == "f1" and [n.id for n in fake.notes_of(contact)] == [note["id"]]
    status, _, updated = call(
        fake,
        "POST",
        "/crm/v3/objects/notes/batch/update",
        {
            "inputs": [
                {"id": note["id"], "properties": {"hs_note_body": "edited"}},
                {"id": "404404", "properties": {}},
            ]
        },
    )
    assert status == 207 and fake.notes[note["id"]].properties["hs_note_body"] == "edited"
    assert updated["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert (
        call(fake, "POST", "/crm/v3/objects/notes/batch/archive", {"inputs": [{"id": note["id"]}]})[0] == 204
    )
    assert not fake.notes


def test_gdpr_delete_removes_the_contact_and_answers_204_then_404(fake):
    _, _, body = upsert(fake, {"idProperty": "email", "id": "a@example.com", "properties": {}})
    contact = body["results"][0]["id"]
    assert call(fake, "POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": contact})[0] == 204
    assert not fake.contacts and fake.gdpr_deleted == [contact]
    status, _, error = call(fake, "POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": contact})
    assert status == 404 and error["category"] == "OBJECT_NOT_FOUND"


def test_property_groups_and_properties_conflict_when_they_exist(fake):
    status, _, body = call(fake, "POST", "/crm/v3/properties/contacts/groups", {"name": "g", "label": "G"})
    assert status == 409 and body["category"] == "CONFLICT"
    status, _, body = call(
        fake,
        "POST",
        "/crm/v3/properties/contacts/batch/create",
        {"inputs": [{"name": "cid", "label": "C", "type": "string", "fieldType": "text", "groupName": "g"}]},
    )
    assert status == 207 and body["errors"][0]["category"] == "CONFLICT"
    names = {p["name"] for p in call(fake, "GET", "/crm/v3/properties/contacts")[2]["results"]}
    assert {"email", "cid"} <= names


def test_contacts_are_listed_in_pages_with_an_after_cursor(fake):
    for i in range(5):
        upsert(fake, {"idProperty": "email", "id": f"u{i}@example.com", "properties": {}})
    seen, after = [], ""
    while True:
        _, _, page = call(fake, "GET", f"/crm/v3/objects/contacts?limit=2{after}")
        seen += [c["id"] for c in page["results"]]
        if "paging" not in page:
            break
        after = f"&after={page['paging']['next']['after']}"
    assert seen == sorted(fake.contacts, key=int) and len(seen) == 5


def test_batch_read_by_id_property_reports_the_missing(fake):
    upsert(fake, {"idProperty": "email", "id": "a@example.com", "properties": {"firstname": "A"}})
    status, _, body = call(
        fake,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        {
            "idProperty": "email",
            "properties": ["firstname"],
            "inputs": [{"id": "a@example.com"}, {"id": "b@x.io"}],
        },
    )
    assert status == 207 and body["results"][0]["properties"]["firstname"] == "A"
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"


def test_served_over_http_with_json_and_the_headers():
    with HubSpotServer() as server:
        request = urllib.request.Request(f"{server.url}/crm/v3/properties/contacts", headers=AUTH)
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            assert response.headers["X-HubSpot-RateLimit-Max"] == "100"
            assert "email" in {p["name"] for p in json.load(response)["results"]}
        assert server.fake.count("/crm/v3/properties") == 1


def test_the_daily_limit_answers_429_with_the_daily_policy_and_no_retry_after():
    """HubSpot's documented body for a used-up daily limit (API usage details): errorType RATE_LIMIT,
    policyName DAILY; it resets at midnight, so there is no Retry-After worth waiting for."""
    clock = FakeClock()
    fake = FakeHubSpot(clock=clock, daily=2)
    for _ in range(2):
        assert call(fake, "GET", "/crm/v3/objects/contacts")[0] == 200
    status, headers, body = call(fake, "GET", "/crm/v3/objects/contacts")
    assert status == 429 and body["errorType"] == "RATE_LIMIT" and body["policyName"] == "DAILY"
    assert body["message"] == "You have reached your daily limit."
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0" and "Retry-After" not in headers
    clock.now += 3600
    assert call(fake, "GET", "/crm/v3/objects/contacts")[0] == 429  # not before midnight
