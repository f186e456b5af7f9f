"""The local HubSpot's contact merge and note search, as HubSpot's reference documents them:
`POST /crm/v3/objects/contacts/merge` (primaryObjectId, objectIdToMerge → the merged contact) and
`POST /crm/v3/objects/notes/search` (filterGroups of EQ filters, the `associations.contact` pseudo-property,
datetimes in epoch milliseconds, `total` and `results`)."""

from __future__ import annotations

from tests.test_fake_hubspot import call, fake, upsert

__all__ = ["fake"]  # the fixture, shared with tests/test_fake_hubspot.py

NOTE_TO_CONTACT = 202


def _contact(fake, email: str) -> str:
    status, _, body = upsert(fake, {"idProperty": "email", "id": email, "properties": {"email": email}})
    assert status == 200
    return body["results"][0]["id"]


def _note(fake, contact_id: str, timestamp: str, text: str) -> str:
    association = {
        "to": {"id": contact_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT}],
    }
    entry = {"properties": {"hs_timestamp": timestamp, "hs_note_body": text}, "associations": [association]}
    status, _, body = call(fake, "POST", "/crm/v3/objects/notes/batch/create", {"inputs": [entry]})
    assert status == 201
    return body["results"][0]["id"]


def test_a_merge_answers_the_merged_contact_and_the_notes_follow_it(fake):
    primary, other = _contact(fake, "a@example.com"), _contact(fake, "b@example.com")
    notes = {
        _note(fake, primary, "2026-11-21T09:00:00Z", "one"),
        _note(fake, other, "2026-11-22T09:00:00Z", "two"),
    }
    merge = {"primaryObjectId": primary, "objectIdToMerge": other}
    status, _, merged = call(fake, "POST", "/crm/v3/objects/contacts/merge", merge)
    assert status == 200 and merged["archived"] is False
    assert merged["properties"]["email"] == "a@example.com"  # the primary's values win
    assert merged["properties"]["hs_merged_object_ids"] == f"{primary};{other}"
    assert set(fake.contacts) == {merged["id"]}
    assert {n.id for n in fake.notes_of(merged["id"])} == notes
    # Merging the same pair again answers the merged contact; an unknown id is 404.
    assert call(fake, "POST", "/crm/v3/objects/contacts/merge", merge)[2]["id"] == merged["id"]
    status, _, body = call(fake, "POST", "/crm/v3/objects/contacts/merge", {**merge, "objectIdToMerge": "9"})
    assert (status, body["category"]) == (404, "OBJECT_NOT_FOUND")


def test_note_search_filters_by_contact_and_time_in_epoch_milliseconds(fake):
    ana, bo = _contact(fake, "a@example.com"), _contact(fake, "b@example.com")
    wanted = _note(fake, ana, "2026-11-21T09:00:00Z", "one")
    _note(fake, ana, "2026-11-21T10:00:00Z", "later")
    _note(fake, bo, "2026-11-21T09:00:00Z", "someone else")
    filters = [
        {"propertyName": "associations.contact", "operator": "EQ", "value": ana},
        {"propertyName": "hs_timestamp", "operator": "EQ", "value": "1795251600000"},  # 2026-11-21T09:00Z
    ]
    status, _, body = call(
        fake, "POST", "/crm/v3/objects/notes/search", {"filterGroups": [{"filters": filters}]}
    )
    assert status == 200
    assert body["total"] == 1 and [r["id"] for r in body["results"]] == [wanted]
    status, _, body = call(fake, "POST", "/crm/v3/objects/notes/search", {"limit": 101})
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
