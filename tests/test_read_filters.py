"""The dashboard's filters on the read API: GET /feedback combines source, rating band, language and free
text with the other filters (every page followed, compared with the items filtered here), refuses bad values
with a JSON 400, and GET /stats answers one slice (channel, source or sentiment) from the counters and
refuses what only the listing answers; GET /feedback.csv holds the same listing, escaped as the export, in
capped parts; every answer validates against openapi.yaml."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from werkzeug.test import Client as WsgiClient

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.config import settings
from chalicelib.export import listing_csv
from chalicelib.export.base import FEEDBACK_COLUMNS
from chalicelib.export.csv_writer import escape_cell
from chalicelib.models import StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from tests.fuzz.gateway import ChaliceWsgi
from tests.fuzz.harness import load_schema
from tests.test_export import save, stored
from tests.test_openapi import validated
from tests.test_stats_counters import START, seed

DAYS = [START + timedelta(days=n) for n in range(6)]
WORDS = ("Broken again", "Fine", "x" * 600)


@pytest.fixture
def bare(stack) -> tuple[WsgiClient, dict[str, str], Any]:
    from app import app

    tokens.clear_cache()
    token, _ = tokens.create_token("reader", ["read"])
    return WsgiClient(ChaliceWsgi(app)), {"Authorization": f"Bearer {token}"}, load_schema()


@pytest.fixture
def api(bare) -> tuple[WsgiClient, dict[str, str], Any]:
    seed(120, 6, 21)
    _vary_languages()
    return bare


def _vary_languages() -> None:
    """The seeded items in English, Spanish or Portuguese (stored again, with their counters untouched)."""
    rng = random.Random(4)
    for item in _all_items():
        language = rng.choice(["en", "es", "pt"])
        aws.client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(feedback_store.feedback_key(item.feedback_id)),
            UpdateExpression="SET #l = :l",
            ExpressionAttributeNames={"#l": "language"},
            ExpressionAttributeValues={":l": {"S": language}},
        )


def _all_items() -> list[StoredFeedback]:
    return [item for day in DAYS for item in feedback_store.list_day(day)]


def _every_page(client, headers, schema, query: dict[str, str]) -> list[str]:
    ids, token = [], None
    while True:
        path = "/feedback?" + urlencode({**query, **({"next": token} if token else {}), "limit": "40"})
        response = client.get(path, headers=headers)
        body = validated(schema, "/feedback", "GET", response)
        assert response.status_code == 200, body
        ids += [item["feedback_id"] for item in body["items"]]
        token = body["next"]
        if token is None:
            return ids


CASES: list[tuple[dict[str, str], Any]] = [
    ({"source": "checkout-csat"}, lambda i: i.source_id == "checkout-csat"),
    ({"rating": "nps:detractor"}, lambda i: i.rating_scale == "nps" and i.rating <= 6),
    ({"rating": "nps:promoter"}, lambda i: i.rating_scale == "nps" and i.rating >= 9),
    ({"rating": "csat:satisfied"}, lambda i: i.rating_scale == "csat" and i.rating >= 4),
    ({"rating": "stars:2"}, lambda i: i.rating_scale == "stars" and i.rating == 2),
    ({"rating": "stars"}, lambda i: i.rating_scale == "stars"),
    ({"language": "pt"}, lambda i: i.language == "pt"),
    ({"q": "broken"}, lambda i: "broken" in (i.text or "").lower()),
    (
        {"q": "AGAIN", "language": "es", "channel": "slack"},
        lambda i: "again" in (i.text or "").lower() and i.language == "es" and i.channel == "slack",
    ),
    (
        {"source": "demo", "rating": "nps", "theme": "delivery"},
        lambda i: (
            i.source_id == "demo"
            and i.rating_scale == "nps"
            and any(t.id.startswith("delivery") for t in i.themes or ())
        ),
    ),
]


def test_feedback_filters_combine_and_list_exactly_the_matching_items(api):
    client, headers, schema = api
    items = _all_items()
    span = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
    for query, keeps in CASES:
        expected = sorted(item.feedback_id for item in items if keeps(item))

        listed = _every_page(client, headers, schema, {**span, **query})

        assert expected, f"the seed has no match for {query}: the case tests nothing"
        assert sorted(listed) == expected, query


def test_a_cursor_belongs_to_its_filters(api):
    client, headers, schema = api
    query = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat(), "q": "fine", "limit": "2"}
    first = json.loads(client.get("/feedback?" + urlencode(query), headers=headers).get_data())
    assert first["next"]

    response = client.get(
        "/feedback?" + urlencode({**query, "q": "broken", "next": first["next"]}), headers=headers
    )

    body = validated(schema, "/feedback", "GET", response)
    assert response.status_code == 400 and body["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/feedback?rating=nps:11", "invalid_filter"),
        ("/feedback?rating=csat:0", "invalid_filter"),
        ("/feedback?rating=nps:happy", "invalid_filter"),
        ("/feedback?rating=likert", "invalid_filter"),
        ("/feedback?rating=nps:%C2%B2", "invalid_filter"),
        ("/feedback?language=english", "invalid_filter"),
        ("/feedback?language=EN", "invalid_filter"),
        ("/feedback?source=a%20b", "invalid_filter"),
        ("/feedback?source=" + "s" * 65, "invalid_filter"),
        ("/feedback?q=" + "x" * 101, "invalid_filter"),
        ("/feedback?q=a%00b", "invalid_filter"),
        ("/stats?channel=fax", "invalid_filter"),
        ("/stats?source=a/b", "invalid_filter"),
        ("/stats?channel=slack&sentiment=NEGATIVE", "unsupported_filter"),
        ("/stats?source=demo&channel=form", "unsupported_filter"),
        ("/stats?q=broken", "unsupported_filter"),
        ("/stats?theme=delivery&channel=form", "unsupported_filter"),
        ("/stats?theme=no-such-theme", "unknown_theme"),
        ("/stats?theme=Delivery", "invalid_filter"),
        ("/stats?theme=delivery&theme_sentiment=NEGATIVE", "unsupported_filter"),
        ("/stats?rating=nps", "unsupported_filter"),
    ],
)
def test_bad_filters_are_a_json_400_naming_the_parameter(bare, path, code):
    client, headers, schema = bare

    response = client.get(path, headers=headers)

    body = validated(schema, path.split("?")[0], "GET", response)
    assert response.status_code == 400
    assert body["error"]["code"] == code
    assert "x" * 101 not in body["error"]["message"] and "english" not in body["error"]["message"]


def test_a_stats_slice_validates_and_counts_what_the_listing_of_the_same_filter_lists(api):
    client, headers, schema = api
    span = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
    slices = ({"channel": "slack"}, {"source": "checkout-csat"}, {"sentiment": "NEGATIVE"})
    slices += ({"theme": "delivery"},)
    for query in (*slices, {}):
        response = client.get("/stats?" + urlencode({**span, **query}), headers=headers)

        body = validated(schema, "/stats", "GET", response)
        assert response.status_code == 200
        listed = _every_page(client, headers, schema, {**span, **query})
        assert body["total"] == len(listed) > 0, query
        assert body["filter"] == query


# --- the filtered CSV -----------------------------------------------------------------------------------


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def test_the_csv_holds_the_filtered_listing_escaped_as_the_export(api):
    client, headers, schema = api
    span = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
    query = {**span, "source": "checkout-csat", "rating": "nps"}
    listed = _every_page(client, headers, schema, query)

    response = client.get("/feedback.csv?" + urlencode(query), headers=headers)

    validated(schema, "/feedback.csv", "GET", response)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.splitlines()[0].decode() == ",".join(FEEDBACK_COLUMNS) and b"\r\n" in body
    rows = _csv_rows(body)
    assert sorted(row["feedback_id"] for row in rows) == sorted(listed) and listed
    assert all(row["source_id"] == "checkout-csat" and row["rating_scale"] == "nps" for row in rows)
    assert "X-Next" not in response.headers


def test_a_csv_cell_a_spreadsheet_would_run_is_escaped_as_the_nightly_export_escapes_it(bare):
    client, headers, _ = bare
    at = datetime(2027, 3, 2, 9, tzinfo=UTC)
    hostile = ['=HYPERLINK("http://evil")', "+1 cmd", "@SUM(A1)", "\t=1", 'Comma, "quotes"\nand newline']
    save([stored(f"csv-{n}", at + timedelta(minutes=n), text) for n, text in enumerate(hostile)])

    response = client.get("/feedback.csv?date=2027-03-02", headers=headers)

    texts = sorted(row["text"] for row in _csv_rows(response.get_data()))
    assert texts == sorted(escape_cell(text) for text in hostile)
    assert texts.count('Comma, "quotes"\nand newline') == 1
    assert all(text.startswith("'") for text in texts if "quotes" not in text)


def test_a_long_csv_comes_in_parts_that_join_into_one_file(bare, monkeypatch):
    client, headers, _ = bare
    at = datetime(2027, 3, 3, 9, tzinfo=UTC)
    save([stored(f"part-{n}", at + timedelta(seconds=n), f"row {n}") for n in range(23)])
    monkeypatch.setattr(listing_csv, "PAGE_ROWS", 4)
    monkeypatch.setattr(listing_csv, "MAX_CSV_PAGES", 2)

    parts, token = [], None
    while True:
        path = "/feedback.csv?date=2027-03-03" + (f"&next={quote(token)}" if token else "")
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_data()
        parts.append(response.get_data())
        token = response.headers.get("X-Next")
        if not token:
            break

    assert len(parts) >= 3
    assert all(not part.startswith(b"feedback_id,") for part in parts[1:])
    rows = _csv_rows(b"".join(parts))
    assert sorted(row["text"] for row in rows) == sorted(f"row {n}" for n in range(23))
    bad = client.get("/feedback.csv?date=2027-03-04&next=" + "x" * 40, headers=headers)
    assert bad.status_code == 400 and json.loads(bad.get_data())["error"]["code"] == "invalid_cursor"


def test_a_csv_part_is_capped_in_bytes_as_sent_not_in_characters(bare, monkeypatch):
    client, headers, _ = bare
    at = datetime(2027, 3, 5, 9, tzinfo=UTC)
    save([stored(f"wide-{n}", at + timedelta(seconds=n), "é" * 600 + str(n)) for n in range(9)])
    monkeypatch.setattr(listing_csv, "MAX_CSV_BYTES", 8_000)
    monkeypatch.setattr(listing_csv, "ROW_BYTES_BOUND", 2_000)

    parts, token = [], None
    while True:
        path = "/feedback.csv?date=2027-03-05" + (f"&next={quote(token)}" if token else "")
        response = client.get(path, headers=headers)
        parts.append(response.get_data())
        token = response.headers.get("X-Next")
        if not token:
            break

    # The rows hold about 12 KB as sent (600 two-byte characters each): more than one 8,000-byte part.
    assert len(parts) >= 2 and sum(map(len, parts)) > 8_000
    assert all(len(part) <= 8_000 for part in parts), [len(part) for part in parts]
    assert len(_csv_rows(b"".join(parts))) == 9


def test_stats_names_each_form_and_source_as_configured(bare):
    from chalicelib.channels import sources
    from chalicelib.forms import records as form_records
    from chalicelib.forms.config import FormConfig

    client, headers, schema = bare
    seed(30, 2, 8)
    form_records.save(FormConfig(form_id="demo", name="Checkout survey"))
    sources.save(sources.SourceConfig(source_id="checkout-csat", type="webhook", name="Support desk"), {})
    span = {"from": DAYS[0].isoformat(), "to": DAYS[1].isoformat()}

    response = client.get("/stats?" + urlencode(span), headers=headers)

    body = validated(schema, "/stats", "GET", response)
    names = {row["source_id"]: row["name"] for row in body["sources"]}
    # The third was never configured (or was removed): its items keep its id, without a name.
    assert names == {"demo": "Checkout survey", "checkout-csat": "Support desk", "src_typeform|odd": None}
