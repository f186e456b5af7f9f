"""The read API's behaviour (its auth is covered route by route in test_exports_api.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.auth import tokens
from chalicelib.models import Channel, RatingScale
from chalicelib.store.merge import merge
from tests.test_customers import customer_of, event, process
from tests.test_export import save, stored


@pytest.fixture
def read(stack):
    tokens.clear_cache()
    token, _ = tokens.create_token("reader", ["read"])
    return {"Authorization": f"Bearer {token}"}


def get(client, path: str, headers: dict[str, str]):
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@pytest.fixture
def seeded(stack):
    events = [
        event("a", email="ann@example.com", text="Love it", rating=10, scale=RatingScale.NPS),
        event("b", email="ann@example.com", text="Awful, broken", minutes=1),
        event("c", user="u-1", source="src_chat", channel=Channel.WEBHOOK, text="Great help", minutes=2),
        event("d", email="bob@example.com", text="Terrible and slow", minutes=3),
        event("e", text="Nice", minutes=4),
    ]
    process(*events)
    return events


def test_pages_follow_next_until_every_item_was_read_once(client, read, seeded):
    seen, token, pages = [], None, 0
    while True:
        path = f"/feedback?date={today()}&limit=2" + (f"&next={token}" if token else "")
        status, body = get(client, path, read)
        assert status == 200
        assert len(body["items"]) <= 2
        seen += [item["external_id"] for item in body["items"]]
        pages += 1
        token = body["next"]
        if token is None:
            break

    assert sorted(seen) == ["a", "b", "c", "d", "e"]
    assert pages >= 3


def test_filters_by_channel_sentiment_and_customer(client, read, seeded):
    _, webhooks = get(client, f"/feedback?date={today()}&channel=webhook", read)
    _, negative = get(client, f"/feedback?date={today()}&sentiment=NEGATIVE", read)
    ann = customer_of(seeded[0])
    _, by_customer = get(client, f"/feedback?customer_id={ann}", read)

    assert [i["external_id"] for i in webhooks["items"]] == ["c"]
    assert sorted(i["external_id"] for i in negative["items"]) == ["b", "d"]
    assert [i["external_id"] for i in by_customer["items"]] == ["b", "a"]  # newest first


def test_from_to_spans_stored_days(client, read, stack):
    base = datetime(2026, 11, 18, 12, tzinfo=UTC)
    save([stored(f"day{n}", base + timedelta(days=n)) for n in range(4)])

    _, body = get(client, "/feedback?from=2026-11-19&to=2026-11-20", read)

    assert sorted(i["external_id"] for i in body["items"]) == ["day1", "day2"]


@pytest.mark.parametrize(
    "query",
    [
        "date=yesterday",
        "limit=0",
        "limit=501",
        "limit=ten",
        "channel=fax",
        "sentiment=happy",
        "next=%%%",
        "next=bm90LWpzb24",
        "from=2026-11-20&to=2026-11-01",
        "from=2026-01-01&to=2026-12-31",
        "date=2026-11-21&from=2026-11-20",
    ],
)
def test_bad_parameters_are_400(client, read, stack, query):
    status, body = get(client, f"/feedback?{query}", read)

    assert status == 400
    assert body["error"]["code"].startswith("invalid_")


def test_customer_profile_identities_and_recent_feedback(client, read, seeded):
    ann = customer_of(seeded[0])

    status, body = get(client, f"/customers/{ann}", read)

    assert status == 200
    assert body["customer_id"] == ann
    assert body["feedback_count"] == 2
    assert body["latest_nps"]["rating"] == 10
    assert body["identities"] == [{"kind": "email", "value": "ann@example.com"}]
    assert [f["external_id"] for f in body["recent_feedback"]] == ["b", "a"]


def test_a_merged_customer_answers_with_the_survivor(client, read, seeded):
    ann, bob = customer_of(seeded[0]), customer_of(seeded[3])
    merge(ann, bob)

    _, body = get(client, f"/customers/{bob}", read)

    assert (body["customer_id"], body["merged_from"], body["feedback_count"]) == (ann, bob, 3)


def test_a_merged_customers_old_id_lists_the_survivors_feedback(client, read, seeded):
    ann, bob = customer_of(seeded[0]), customer_of(seeded[3])
    merge(ann, bob)

    # Before: the old id (as yesterday's contacts.csv holds it) listed nothing, silently.
    pages, token = [], None
    while True:
        path = f"/feedback?customer_id={bob}&limit=1" + (f"&next={token}" if token else "")
        status, body = get(client, path, read)
        assert status == 200, body
        pages.append(body)
        token = body["next"]
        if token is None:
            break
    csv = client.http.get(f"/feedback.csv?customer_id={bob}", headers=read)
    csv_rows = csv.body.decode().splitlines()[1:]

    assert [item["external_id"] for page in pages for item in page["items"]] == ["d", "b", "a"]
    assert {item["customer_id"] for page in pages for item in page["items"]} == {ann}
    assert len(csv_rows) == 3
    # The survivor's own listing is unchanged; its cursors are not the old id's.
    _, own = get(client, f"/feedback?customer_id={ann}&limit=1", read)
    assert get(client, f"/feedback?customer_id={bob}&limit=1&next={own['next']}", read)[0] == 400


def test_an_id_merged_twice_over_answers_and_lists_as_the_customer_it_ended_in(client, read, seeded):
    ann, bob, cid = (customer_of(seeded[i]) for i in (0, 3, 2))
    assert len({ann, bob, cid}) == 3
    merge(bob, ann)  # ann's tombstone names bob …
    merge(cid, bob)  # … and bob's names cid

    status, body = get(client, f"/customers/{ann}", read)
    _, listed = get(client, f"/feedback?customer_id={ann}", read)
    _, own = get(client, f"/feedback?customer_id={cid}", read)

    assert (status, body["customer_id"], body["merged_from"]) == (200, cid, ann)
    assert {item["customer_id"] for item in listed["items"]} == {cid}
    assert [item["feedback_id"] for item in listed["items"]] == [item["feedback_id"] for item in own["items"]]


def test_find_by_email(client, read, seeded):
    status, body = get(client, "/customers?email=ANN@example.com", read)
    missing, error = get(client, "/customers?email=nobody@example.com", read)
    no_param, _ = get(client, "/customers", read)

    assert (status, body["customer_id"]) == (200, customer_of(seeded[0]))
    assert (missing, error["error"]["code"]) == (404, "unknown_customer")
    assert no_param == 400


def search(client, headers: dict[str, str], body: bytes | str, content_type: str = "application/json"):
    response = client.http.post(
        "/customers/search", headers={**headers, "Content-Type": content_type}, body=body
    )
    return response.status_code, json.loads(response.body)


def test_search_by_email_in_the_body_answers_as_the_query_does(client, read, seeded):
    by_query = get(client, "/customers?email=ANN@example.com", read)
    by_body = search(client, read, json.dumps({"email": "ANN@example.com"}))
    missing = search(client, read, json.dumps({"email": "nobody@example.com"}))

    assert by_body == by_query
    assert (by_body[0], by_body[1]["customer_id"]) == (200, customer_of(seeded[0]))
    assert (missing[0], missing[1]["error"]["code"]) == (404, "unknown_customer")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ('{"email": "ann@example.com"', "application/json", 400, "malformed_json"),
        ('["ann@example.com"]', "application/json", 400, "malformed_json"),
        ("email=ann@example.com", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("ann@example.com", "text/plain", 415, "unsupported_media_type"),
        ("{}", "application/json", 422, "validation_failed"),
        ('{"email": ""}', "application/json", 422, "validation_failed"),
        ('{"email": 5}', "application/json", 422, "validation_failed"),
        ('{"email": ["ann@example.com"]}', "application/json", 422, "validation_failed"),
        ('{"email": "ann@example.com", "name": "Ann"}', "application/json", 422, "validation_failed"),
        (json.dumps({"email": "a" * 5000 + "@example.com"}), "application/json", 413, "payload_too_large"),
    ],
)
def test_search_refuses_bad_bodies_in_the_error_shape(client, read, seeded, body, content_type, status, code):
    answer, error = search(client, read, body, content_type)

    assert (answer, error["error"]["code"]) == (status, code)
    if status == 422:
        assert set(error["error"]["fields"]) <= {"email", "name"}
        assert set(error["error"]["field_codes"]) == set(error["error"]["fields"])
        assert set(error["error"]["field_codes"].values()) <= {"required", "not_text", "not_allowed"}
        assert "ann@example.com" not in json.dumps(error)


def test_unknown_customer_is_404(client, read, stack):
    assert get(client, "/customers/cus_nobody", read)[0] == 404


def test_delete_erases_the_customer(client, read, seeded):
    token, _ = tokens.create_token("privacy", ["erase"])
    ann = customer_of(seeded[0])

    response = client.http.delete(f"/customers/{ann}", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert json.loads(response.body)["feedback_deleted"] == 2
    assert get(client, f"/customers/{ann}", read)[0] == 404
    again = client.http.delete(f"/customers/{ann}", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 404


def test_cli_customers_show_link_erase(seeded, capsys):
    from chalicelib import cli

    ann, bob = customer_of(seeded[0]), customer_of(seeded[3])
    assert cli.main(["customers", "show", "--email", "ann@example.com"]) == 0
    assert json.loads(capsys.readouterr().out)["customer_id"] == ann

    assert cli.main(["customers", "link", ann, bob]) == 0
    assert "1 feedback" in capsys.readouterr().out
    assert cli.main(["customers", "link", ann, "cus_nobody"]) == 1

    assert cli.main(["customers", "erase", ann]) == 2  # needs --yes
    assert cli.main(["customers", "erase", ann, "--yes"]) == 0
    assert "erased: 3 feedback" in capsys.readouterr().out
    assert cli.main(["customers", "erasures"]) == 0
    log = capsys.readouterr().out
    assert ann not in log and "ann@example.com" not in log
    assert cli.main(["customers", "show", ann]) == 1


def test_a_review_its_platform_deleted_is_listed_with_platform_deleted_at(client, read, seeded):
    from chalicelib.models import PlatformDeletion, feedback_id_for
    from chalicelib.store import platform_deletions

    deleted_at = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    target = next(e for e in seeded if e.external_id == "b")
    mark = PlatformDeletion(feedback_id=target.feedback_id, source_id=target.source_id, deleted_at=deleted_at)
    assert platform_deletions.mark_deleted([mark]).marked == [target.feedback_id]
    later = mark.model_copy(update={"deleted_at": deleted_at + timedelta(days=1)})
    absent = mark.model_copy(update={"feedback_id": feedback_id_for(target.source_id, "never-stored")})
    assert platform_deletions.mark_deleted([later, absent]).marked == []  # marked once; nothing created
    status, body = get(client, f"/feedback?date={today()}&limit=50", read)
    marks = {item["external_id"]: item.get("platform_deleted_at") for item in body["items"]}
    assert status == 200 and marks["b"] == "2026-12-04T09:30:00Z" and len(marks) == len(seeded)
    assert all(value is None for key, value in marks.items() if key != "b")


def test_sentiment_none_lists_what_stats_counts_as_not_analysed(client, read, stack):
    """/stats counts a `NONE` sentiment (empty text, a language no analyzer scores): an analyst drilling into
    it asks the listing for the same items, in JSON and as CSV, and /stats for its figures alone."""
    process(
        event("scored", text="Love it"),
        event("scored2", email="ann@example.com", text="Love it", minutes=1),
        event("empty", email="ann@example.com", text="", rating=9, scale=RatingScale.NPS, minutes=2),
        event("empty2", text="", rating=2, scale=RatingScale.NPS, minutes=3),
    )

    status, body = get(client, f"/feedback?date={today()}&sentiment=NONE&limit=1", read)
    assert status == 200, body
    listed = [item["external_id"] for item in body["items"]]
    status, rest = get(client, f"/feedback?date={today()}&sentiment=NONE&next={body['next']}", read)
    assert status == 200, rest
    listed += [item["external_id"] for item in rest["items"]]
    _, stats = get(client, f"/stats?from={today()}&to={today()}", read)
    csv_rows = client.http.get(f"/feedback.csv?date={today()}&sentiment=NONE", headers=read).body
    _, newest = get(client, f"/feedback?date={today()}&sentiment=NONE&order=newest", read)
    _, ann = get(client, f"/feedback?customer_id={customer_of(event('empty'))}&sentiment=NONE", read)
    status, cut = get(client, f"/stats?from={today()}&to={today()}&sentiment=NONE", read)

    assert sorted(listed) == ["empty", "empty2"]
    assert stats["sentiment"]["NONE"] == len(listed)
    # And /stats is cut by it, as by any bucket of its mix.
    assert status == 200, cut
    assert cut["filter"] == {"sentiment": "NONE"} and cut["total"] == len(listed)
    assert csv_rows.decode().count("empty_text") == 2
    assert sorted(item["external_id"] for item in newest["items"]) == ["empty", "empty2"]
    assert [item["external_id"] for item in ann["items"]] == ["empty"]
