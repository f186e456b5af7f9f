"""The read routes refuse bad parameters, ids and cursors with a 400/404 in the JSON error shape, before any
AWS call, never echoing what was sent; only cursors the API issued for the same listing are accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.config import settings
from chalicelib.read import cursors
from chalicelib.store import dynamo, signing_keys
from chalicelib.store.schema import PK, SK
from tests.test_customers import customer_of, event, process

LONG = "x" * 3000


@pytest.fixture
def headers(stack) -> dict[str, str]:
    tokens.clear_cache()
    signing_keys.clear_cache()
    token, _ = tokens.create_token("everything", ["read", "export", "erase"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def aws_calls(client, headers) -> Iterator[Counter[str]]:
    """AWS operations made from here on (the token is read and cached first)."""
    assert client.http.get("/stats?from=2026-11-20&to=2026-11-20", headers=headers).status_code == 200
    calls: Counter[str] = Counter()

    def count(event_name: str, **kwargs) -> None:
        calls.update([event_name.split(".", 1)[1]])

    for service in ("dynamodb", "s3", "sqs"):
        aws.client(service).meta.events.register("before-call", count)
    yield calls
    for service in ("dynamodb", "s3", "sqs"):
        aws.client(service).meta.events.unregister("before-call", count)


@pytest.fixture
def seeded(stack):
    events = [
        event("a", email="ann@example.com", text="Love it"),
        event("b", email="ann@example.com", text="Awful, broken", minutes=1),
        event("c", email="ann@example.com", text="Fine", minutes=2),
        event("d", email="bob@example.com", text="Terrible and slow", minutes=3),
        event("e", text="Nice", minutes=4),
    ]
    process(*events)
    return events


def get(client, path: str, headers: dict[str, str]):
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- parameters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=%C2%B2", "invalid_limit"),  # "²": str.isdigit() says yes, int() says no
        ("limit=%D9%A3", "invalid_limit"),  # Arabic-Indic three
        ("limit=" + "1" * 5000, "invalid_limit"),  # more digits than int() converts
        ("limit=-1", "invalid_limit"),
        ("limit=1e2", "invalid_limit"),
        ("date=20261120", "invalid_date"),  # date.fromisoformat's basic format
        ("date=2026-W47-5", "invalid_date"),  # an ISO week date
        ("date=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11-20", "invalid_date"),  # full-width digits
        ("date=0001-01-01", "invalid_date"),
        ("from=9999-12-31", "invalid_date"),
        ("to=0001-01-01", "invalid_date"),
        ("date=" + LONG, "invalid_date"),
        ("channel=" + LONG, "invalid_filter"),
        ("sentiment=n%C3%A9gatif", "invalid_filter"),
        ("customer_id=" + LONG, "invalid_filter"),
        ("customer_id=cus_%C3%A9", "invalid_filter"),
        ("customer_id=CUS_0123456789ABCDEF01234567", "invalid_filter"),
    ],
)
def test_bad_feedback_parameters_are_400_without_an_aws_call(client, headers, aws_calls, query, code):
    status, body = get(client, f"/feedback?{query}", headers)

    assert (status, body["error"]["code"]) == (400, code)
    assert LONG not in body["error"]["message"]
    assert aws_calls == Counter()


@pytest.mark.parametrize(
    "query",
    ["from=9999-12-31", "to=0001-01-01", "from=0001-01-01", "to=9999-12-31", "from=%C2%B2", "to=" + LONG],
)
def test_bad_stats_dates_are_400_without_an_aws_call(client, headers, aws_calls, query):
    status, body = get(client, f"/stats?{query}", headers)

    assert (status, body["error"]["code"]) == (400, "invalid_date")
    assert aws_calls == Counter()


def test_dates_at_the_ends_of_the_range_are_answered(client, headers):
    assert get(client, "/stats?from=2000-01-01&to=2000-01-31", headers)[0] == 200
    assert get(client, "/stats?to=2099-12-31", headers)[0] == 200
    assert get(client, "/feedback?date=2099-12-31", headers)[0] == 200


@pytest.mark.parametrize(
    "day", [LONG, "2" * 3000, "%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11-20", "20261120", "9999-12-31"]
)
def test_bad_export_dates_are_400_without_echo_or_aws_call(client, headers, aws_calls, day):
    status, body = get(client, f"/exports/{day}", headers)

    assert (status, body["error"]["code"]) == (400, "invalid_date")
    assert day not in body["error"]["message"]
    assert aws_calls == Counter()


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        # Before: the last value won, so channel=form&channel=x listed x alone, silently.
        ("/feedback", "channel=form&channel=x", "invalid_filter"),
        ("/feedback", "date=2026-11-20&date=2026-11-21", "invalid_date"),
        ("/feedback", "limit=5&limit=6", "invalid_limit"),
        ("/feedback.csv", "sentiment=NEGATIVE&sentiment=POSITIVE", "invalid_filter"),
        ("/stats", "from=2026-11-01&from=2026-11-02", "invalid_date"),
        ("/stats", "source=demo&source=other", "invalid_filter"),
        ("/customers", "email=ann@example.com&email=bob@example.com", "invalid_filter"),
    ],
)
def test_a_parameter_given_twice_is_400_not_its_last_value(client, headers, aws_calls, path, query, code):
    status, body = get(client, f"{path}?{query}", headers)

    assert (status, body["error"]["code"]) == (400, code)
    assert "more than once" in body["error"]["message"]
    assert aws_calls == Counter()


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        # Before: a misspelt or misplaced parameter was ignored, so the answer was the unfiltered one.
        ("/feedback", "chanel=form", "invalid_filter"),
        ("/feedback", "secret_x9=ann@example.com", "invalid_filter"),
        ("/feedback.csv", "limit=5", "invalid_filter"),
        ("/stats", "date=2026-11-20", "unsupported_filter"),
        ("/stats", "limit=10", "unsupported_filter"),
        ("/stats", "form=demo", "invalid_filter"),
    ],
)
def test_a_parameter_a_route_does_not_take_is_400_not_ignored(client, headers, aws_calls, path, query, code):
    status, body = get(client, f"{path}?{query}", headers)

    assert (status, body["error"]["code"]) == (400, code)
    assert "secret_x9" not in body["error"]["message"]
    assert "ann@example.com" not in body["error"]["message"]
    assert aws_calls == Counter()


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        # Before: each ignored it. `?dry_run=1` erased the customer, `?version=3` answered today's taxonomy.
        ("GET", "/customers/cus_0123456789abcdef01234567?include=feedback", "read"),
        ("DELETE", "/customers/cus_0123456789abcdef01234567?dry_run=1", "erase"),
        ("GET", "/exports/2026-11-20?format=csv", "export"),
        ("GET", "/themes?version=3", "read"),
        ("GET", "/forms/demo/config?version=2", "admin"),
        ("GET", "/subscriptions/sub_x/deliveries?status=failed", "admin"),
        ("GET", "/subscriptions/sub_x/deliveries?limit=5&limit=6", "admin"),
    ],
)
def test_every_authenticated_route_refuses_a_parameter_it_does_not_take_before_anything(
    client, aws_calls, method, path, scope
):
    token, _ = tokens.create_token("one scope", [scope])
    headers = {"Authorization": f"Bearer {token}"}
    client.http.get("/themes", headers=headers)  # the token is read and cached first
    aws_calls.clear()

    response = getattr(client.http, method.lower())(path, headers=headers)

    body = json.loads(response.body)
    assert response.status_code == 400
    assert body["error"]["code"] in {"invalid_filter", "invalid_limit"}
    assert aws_calls == Counter()


# A value of each path parameter the authenticated routes have, for the guard below.
SAMPLE_PATH_VALUES = {
    "customer_id": "cus_0123456789abcdef01234567",
    "date": "2026-11-20",
    "form_id": "demo",
    "subscription_id": "sub_x",
}


def test_no_authenticated_route_ignores_a_parameter_it_does_not_take(client, aws_calls):
    """Every route behind a token, present and future, refuses an unknown parameter (http.check_query)."""
    from app import app

    token, _ = tokens.create_token("all scopes", ["read", "export", "erase", "admin"])
    headers = {"Authorization": f"Bearer {token}"}
    client.http.get("/themes", headers=headers)  # the token is read and cached first
    aws_calls.clear()
    ignored = []
    for route, views in app.routes.items():
        for method, view in views.items():
            if view.authorizer is None or method not in {"GET", "DELETE"}:
                continue
            path = route.format(**SAMPLE_PATH_VALUES) + "?zz_unknown=1"
            response = getattr(client.http, method.lower())(path, headers=headers)
            if response.status_code != 400 or json.loads(response.body)["error"]["code"] != "invalid_filter":
                ignored.append(f"{method} {route}: {response.status_code}")
    assert ignored == []
    assert aws_calls == Counter()


@pytest.mark.parametrize("path", ["/feedback", "/stats"])
def test_a_future_from_alone_says_to_defaults_to_today(client, headers, path):
    status, body = get(client, f"{path}?from=2099-01-01", headers)

    # Before: "from must not be after to." to a request that gave no `to`.
    assert (status, body["error"]["code"]) == (400, "invalid_date")
    assert "to is today, UTC, when not given" in body["error"]["message"]


def test_stats_from_alone_runs_to_today_as_documented(client, headers):
    start = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()

    status, body = get(client, f"/stats?from={start}", headers)

    # Before: from + 29 days, into the future, whereas README and openapi.yaml say `to` defaults to today.
    assert (status, body["from"], body["to"]) == (200, start, today())
    assert len(body["days"]) == 7


# --- ids ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "customer_id",
    [LONG, "cus_" + "a" * 2000, "cus_%C3%A9t%C3%A9", "cus_0123", "CUS_0123456789ABCDEF01234567"],
)
def test_ids_that_cannot_be_customers_are_404_without_an_aws_call(client, headers, aws_calls, customer_id):
    for method in ("GET", "DELETE"):
        response = client.http.request(method, f"/customers/{customer_id}", headers=headers)
        body = json.loads(response.body)

        assert (response.status_code, body["error"]["code"]) == (404, "unknown_customer")
        assert customer_id not in body["error"]["message"]
    assert aws_calls == Counter()


def test_a_well_formed_unknown_customer_is_404_after_a_lookup(client, headers, aws_calls):
    status, body = get(client, "/customers/cus_0123456789abcdef01234567", headers)

    assert (status, body["error"]["code"]) == (404, "unknown_customer")
    assert aws_calls  # the id could be ours: it was looked up


@pytest.mark.parametrize("email", ["a" * 400 + "@example.com", "not-an-email", "caf%C3%A9"])
def test_emails_that_cannot_be_ours_are_404_without_an_aws_call(client, headers, aws_calls, email):
    by_query, query_body = get(client, f"/customers?email={email}", headers)
    search = client.http.post(
        "/customers/search",
        headers={**headers, "Content-Type": "application/json"},
        body=json.dumps({"email": email}),
    )

    assert (by_query, query_body["error"]["code"]) == (404, "unknown_customer")
    assert (search.status_code, json.loads(search.body)["error"]["code"]) == (404, "unknown_customer")
    assert aws_calls == Counter()


# --- cursors -----------------------------------------------------------------------------------------------


def _pages(client, headers, path: str) -> list[dict]:
    pages, token = [], None
    while True:
        status, body = get(client, path + (f"&next={token}" if token else ""), headers)
        assert status == 200, body
        pages.append(body)
        token = body["next"]
        if token is None:
            return pages


def test_day_and_customer_listings_page_to_the_end_with_signed_cursors(client, headers, seeded):
    by_day = _pages(client, headers, f"/feedback?date={today()}&limit=2")
    ann = customer_of(seeded[0])
    by_customer = _pages(client, headers, f"/feedback?customer_id={ann}&limit=1")

    assert sorted(i["external_id"] for page in by_day for i in page["items"]) == ["a", "b", "c", "d", "e"]
    assert [i["external_id"] for page in by_customer for i in page["items"]] == ["c", "b", "a"]
    assert all("." in page["next"] for page in by_day[:-1])


def _first_cursor(client, headers, path: str) -> str:
    status, body = get(client, path, headers)
    assert status == 200 and body["next"], body
    return body["next"]


def _forged(payload: dict, key: bytes) -> str:
    encoded = b64(payload)
    digest = hmac.new(key, b"feedback-read-api-cursor-v1." + encoded.encode(), hashlib.sha256).digest()
    return f"{encoded}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


@pytest.mark.parametrize(
    "cursor",
    [
        {"day": 0, "shard": 0, "key": {"pk": "x"}},
        {"day": 0, "shard": 0, "key": {"pk": {"N": "1"}, "sk": {"S": "FEEDBACK"}}},
        {"day": 0, "shard": 0, "key": {"pk": {"S": "FEEDBACK#fb_1"}}},
        {"day": 5, "shard": 0, "key": None},
        {"day": -1, "shard": 0, "key": None},
        {"key": {"pk": {"S": "CUSTOMER#x"}}},
        [1, 2],
    ],
)
def test_unsigned_cursors_are_400_without_a_query(client, headers, seeded, aws_calls, cursor):
    """The crafted cursors that used to reach DynamoDB (500s, or silently wrong pages)."""
    status, body = get(client, f"/feedback?date={today()}&next={b64(cursor)}", headers)

    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    assert "Query" not in aws_calls


def test_a_cursor_with_a_changed_payload_or_another_key_is_refused(client, headers, seeded):
    issued = _first_cursor(client, headers, f"/feedback?date={today()}&limit=1")
    payload, mac = issued.split(".")
    position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    altered = b64({**position, "shard": (position["shard"] + 1) % settings().day_shards}) + "." + mac

    for token in (altered, _forged(position, b"k" * 32), issued[:-2], issued + "A", LONG):
        status, body = get(client, f"/feedback?date={today()}&limit=1&next={token}", headers)
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), token[:40]
    assert get(client, f"/feedback?date={today()}&limit=1&next={issued}", headers)[0] == 200


def test_a_cursor_is_valid_for_its_own_listing_only(client, headers, seeded):
    issued = _first_cursor(client, headers, f"/feedback?date={today()}&limit=1")
    ann = customer_of(seeded[0])
    by_customer = _first_cursor(client, headers, f"/feedback?customer_id={ann}&limit=1")

    for path in (
        f"/feedback?date={today()}&channel=form&limit=1&next={issued}",
        f"/feedback?date=2026-01-01&limit=1&next={issued}",
        f"/feedback?customer_id={ann}&limit=1&next={issued}",
        f"/feedback?date={today()}&limit=1&next={by_customer}",
        f"/feedback?customer_id={customer_of(seeded[3])}&limit=1&next={by_customer}",
    ):
        status, body = get(client, path, headers)
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), path


@pytest.mark.parametrize(
    "position",
    [
        {"day": 1, "shard": 0, "key": None},
        {"day": 0, "shard": 99, "key": None},
        {"day": True, "shard": 0, "key": None},
        {"day": 0, "shard": 0, "key": None, "extra": 1},
        {"day": 0, "shard": 0, "key": {"pk": {"S": "FEEDBACK#fb_1"}}},
        {
            "day": 0,
            "shard": 0,
            "key": {
                "pk": {"S": "TOKEN"},
                "sk": {"S": "0123456789ab"},
                "gsi1pk": {"S": "DAY#2026-01-01#0"},
                "gsi1sk": {"S": "x"},
            },
        },
        {
            "day": 0,
            "shard": 0,
            "key": {
                "pk": {"S": "FEEDBACK#fb_1"},
                "sk": {"S": "FEEDBACK"},
                "gsi1pk": {"S": "DAY#2026-01-01#0"},  # another day's partition
                "gsi1sk": {"S": "x"},
            },
        },
        {"key": None},
    ],
)
def test_a_signed_cursor_of_the_wrong_shape_is_refused_too(client, headers, seeded, position):
    """Second line of defence: a correctly MACed payload is still checked against the listing."""
    listing = cursors.fingerprint(days=[today(), today()], channel=None, sentiment=None, customer_id=None)
    token = cursors.issue(position, listing)
    # The same listing's own position is accepted, so the refusal is about the shape alone.
    assert (
        get(
            client,
            f"/feedback?date={today()}&next={cursors.issue({'day': 0, 'shard': 0, 'key': None}, listing)}",
            headers,
        )[0]
        == 200
    )

    status, body = get(client, f"/feedback?date={today()}&next={token}", headers)

    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


def _key_items() -> list[dict]:
    return [
        item
        for item in aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
        if item[PK]["S"] == signing_keys.KEY_PARTITION
    ]


def test_the_key_is_created_once_and_checking_a_cursor_creates_none(client, headers, seeded):
    refused, _ = get(client, f"/feedback?date={today()}&next={b64({'a': 1})}.{'A' * 43}", headers)
    assert refused == 400
    assert _key_items() == []  # a refused request changes nothing

    _first_cursor(client, headers, f"/feedback?date={today()}&limit=1")
    signing_keys.clear_cache()
    _first_cursor(client, headers, f"/feedback?date={today()}&limit=1")

    assert len(_key_items()) == 1


def test_concurrent_first_cursors_agree_on_one_key(stack, monkeypatch):
    """Two cold processes both find no key; the second one's conditional put loses and it uses the first's."""
    signing_keys.clear_cache()
    first = signing_keys.cursor_key(create=True)
    signing_keys.clear_cache()
    reads = iter([None])
    real_stored_key = signing_keys._stored_key
    monkeypatch.setattr(signing_keys, "_stored_key", lambda: next(reads, real_stored_key()))

    second = signing_keys.cursor_key(create=True)

    assert second == first
    assert len(_key_items()) == 1
    stored = dynamo.get_item(settings().table_name, {PK: signing_keys.KEY_PARTITION, SK: signing_keys.KEY_ID})
    assert base64.b64decode(stored["secret"]) == first


def test_deleting_the_key_rotates_it_and_old_cursors_are_refused(client, headers, seeded):
    issued = _first_cursor(client, headers, f"/feedback?date={today()}&limit=1")
    aws.client("dynamodb").delete_item(
        TableName=settings().table_name,
        Key=dynamo.serialize({PK: signing_keys.KEY_PARTITION, SK: signing_keys.KEY_ID}),
    )
    signing_keys.clear_cache()

    status, body = get(client, f"/feedback?date={today()}&limit=1&next={quote(issued)}", headers)
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    assert _first_cursor(client, headers, f"/feedback?date={today()}&limit=1") != issued
