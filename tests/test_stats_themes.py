"""GET /stats's themes block: volume and sentiment mix per theme (a parent counting its children's items
once), per day, and the change against the period of the same length just before; its counts are what the
`GET /feedback?theme=&theme_sentiment=` filters list."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.models import Sentiment, StoredFeedback, ThemeTag
from chalicelib.read import stats, theme_stats
from chalicelib.read.theme_stats import ThemeStats
from chalicelib.store import config_records
from chalicelib.store.schema import NEGATIVE_INDEX
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tests.fuzz.harness import load_schema
from tests.test_export import save, stored

TAXONOMY = Taxonomy(
    themes=[
        Theme(id="delivery", name="Delivery"),
        Theme(id="delivery-speed", name="Delivery time", parent="delivery"),
        Theme(id="delivery-damage", name="Damaged item", parent="delivery"),
        Theme(id="price", name="Price"),
        Theme(id="staff", name="Staff"),
    ]
)
FROM, TO = date(2026, 11, 18), date(2026, 11, 20)
NEG, POS, NEU = "NEGATIVE", "POSITIVE", "NEUTRAL"
# (external id, stored day, tags or None for an item no tagger saw)
ITEMS: list[tuple[str, date, list[tuple[str, str]] | None]] = [
    ("a", date(2026, 11, 18), [("delivery-speed", NEG)]),
    ("b", date(2026, 11, 18), [("delivery-damage", NEG), ("price", POS)]),
    ("c", date(2026, 11, 20), [("price", NEG)]),
    ("d", date(2026, 11, 20), [("delivery-speed", POS), ("delivery-damage", NEG)]),
    ("e", date(2026, 11, 20), []),
    ("f", date(2026, 11, 20), None),
    ("gone", date(2026, 11, 19), [("fax", NEU)]),  # a theme a later import removed
    # The period before: 2026-11-15 .. 2026-11-17.
    ("g", date(2026, 11, 15), [("price", POS)]),
    ("h", date(2026, 11, 17), [("price", POS)]),
    ("i", date(2026, 11, 17), [("delivery", NEU)]),
    # Outside both periods.
    ("j", date(2026, 11, 14), [("price", NEG), ("staff", NEG)]),
    ("k", date(2026, 11, 21), [("staff", NEG)]),
]


def item(external_id: str, day: date, tags: list[tuple[str, str]] | None, minute: int) -> StoredFeedback:
    at = datetime(day.year, day.month, day.day, 10, minute, tzinfo=UTC)
    themes = None if tags is None else [ThemeTag(id=i, sentiment=Sentiment(s), evidence=i) for i, s in tags]
    return stored(external_id, at).model_copy(update={"themes": themes})


@pytest.fixture
def headers(stack) -> dict[str, str]:
    tokens.clear_cache()
    token, _ = tokens.create_token("dashboard", ["read"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def seeded(stack) -> None:
    taxonomy_records.replace(TAXONOMY)
    save([item(external_id, day, tags, n) for n, (external_id, day, tags) in enumerate(ITEMS)])


def get(client, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body)


def themes_block(client, headers) -> dict:
    status, body = get(client, f"/stats?from={FROM}&to={TO}", headers)
    assert status == 200, body
    return body["themes"]


def mix(**counts: int) -> dict[str, int]:
    return {s: counts.get(s, 0) for s in ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")}


def test_volume_sentiment_and_change_per_theme(client, headers, seeded):
    block = themes_block(client, headers)
    by_id = {theme["id"]: theme for theme in block["by_theme"]}

    assert block["previous"] == {"from": "2026-11-15", "to": "2026-11-17"}
    assert (block["tagged"], block["previous_tagged"]) == (5, 3)
    assert block["taxonomy_version"] >= 1
    # Most talked about first; ties by the period before, then by id.
    assert [t["id"] for t in block["by_theme"]] == [
        "delivery",
        "price",
        "delivery-damage",
        "delivery-speed",
        "fax",
    ]
    delivery = by_id["delivery"]
    assert (delivery["name"], delivery["parent"], delivery["total"]) == ("Delivery", None, 3)
    # "d" says good things about the speed and bad things about the damage: it counts under both.
    assert delivery["sentiment"] == mix(NEGATIVE=3, POSITIVE=1)
    assert delivery["negative_share"] == 1.0
    assert (delivery["previous_total"], delivery["change"], delivery["change_percent"]) == (1, 2, 200.0)
    assert delivery["days"] == [
        {"date": "2026-11-18", "total": 2, "sentiment": mix(NEGATIVE=2)},
        {"date": "2026-11-20", "total": 1, "sentiment": mix(NEGATIVE=1, POSITIVE=1)},
    ]
    speed = by_id["delivery-speed"]
    assert (speed["parent"], speed["total"], speed["negative_share"]) == ("delivery", 2, 0.5)
    assert (speed["previous_total"], speed["change"], speed["change_percent"]) == (0, 2, None)
    price = by_id["price"]
    assert (price["total"], price["sentiment"], price["negative_share"]) == (
        2,
        mix(POSITIVE=1, NEGATIVE=1),
        0.5,
    )
    assert (price["previous_total"], price["change"], price["change_percent"]) == (2, 0, 0.0)
    assert (by_id["fax"]["name"], by_id["fax"]["parent"], by_id["fax"]["total"]) == ("fax", None, 1)
    assert "staff" not in by_id  # talked about only outside both periods


def test_a_theme_talked_about_only_before_shows_its_fall(client, headers, seeded):
    status, body = get(client, "/stats?from=2026-11-21&to=2026-11-21", headers)
    by_id = {theme["id"]: theme for theme in body["themes"]["by_theme"]}

    assert status == 200
    assert body["themes"]["previous"] == {"from": "2026-11-20", "to": "2026-11-20"}
    assert by_id["staff"]["total"] == 1
    price = by_id["price"]
    assert (price["total"], price["previous_total"], price["change"], price["change_percent"]) == (
        0,
        1,
        -1,
        -100.0,
    )
    assert price["negative_share"] is None
    assert price["days"] == []


def test_the_counts_are_what_the_theme_filters_list(client, headers, seeded):
    block = themes_block(client, headers)

    for theme in block["by_theme"]:
        if theme["id"] == "fax":
            continue  # not in the taxonomy any more: the filter refuses it
        query = f"/feedback?from={FROM}&to={TO}&theme={theme['id']}&limit=500"
        _, listed = get(client, query, headers)
        assert len(listed["items"]) == theme["total"], theme["id"]
        for sentiment, count in theme["sentiment"].items():
            _, listed = get(client, f"{query}&theme_sentiment={sentiment}", headers)
            assert len(listed["items"]) == count, (theme["id"], sentiment)


def test_without_themes_the_block_is_empty(client, headers, stack):
    save([item("plain", FROM, None, 0)])

    block = themes_block(client, headers)

    assert (block["tagged"], block["by_theme"], block["taxonomy_version"]) == (0, [], 0)


def test_the_period_before_is_read_from_its_counter_items_never_the_day_index(client, headers, seeded):
    calls: list[tuple[str, dict]] = []
    dynamodb = aws.client("dynamodb")

    def record(params, event_name, **kwargs):
        calls.append((event_name.rsplit(".", 1)[1], params))

    dynamodb.meta.events.register("provide-client-params.dynamodb", record)
    try:
        get(client, f"/stats?from={FROM}&to={TO}", headers)
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb", record)

    read_keys = {
        key["pk"]["S"]
        for operation, params in calls
        if operation == "BatchGetItem"
        for request in params["RequestItems"].values()
        for key in request["Keys"]
    }
    assert {f"COUNTER#{FROM - timedelta(days=n)}" for n in (1, 2, 3)} <= read_keys
    # Only the latest negatives are queried, from their sparse index; and the forms' and sources' config
    # records for their names (a table Query of each of those partitions, when the config cache is cold).
    queries = [params for operation, params in calls if operation == "Query"]
    assert {params.get("IndexName") for params in queries} <= {NEGATIVE_INDEX, None}
    config_kinds = {config_records.SOURCES.kind, config_records.FORMS.kind}
    assert all(
        params["ExpressionAttributeValues"][":kind"]["S"] in config_kinds
        for params in queries
        if params.get("IndexName") is None
    )


def test_previous_period_has_the_same_length_just_before():
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(5)]

    assert stats.previous_period(days) == [date(2026, 2, 24) + timedelta(days=n) for n in range(5)]
    assert stats.previous_period([date(2026, 1, 1)]) == [date(2025, 12, 31)]


@pytest.mark.parametrize(
    ("tags", "counted"),
    [
        (None, []),
        ("battery", []),
        ([None, 3, "x"], []),
        ([{"id": 5}], []),
        ([{"sentiment": "NEGATIVE"}], []),
        ([{"id": "price", "sentiment": 3}], [("price", 1, 0)]),  # about price, with no sentiment to count
    ],
)
def test_themes_of_unexpected_shapes_are_counted_only_as_far_as_they_make_sense(tags, counted):
    tally = ThemeStats(TAXONOMY)

    tally.add(FROM, tags)
    block = tally.as_json(FROM, TO)

    assert [(t["id"], t["total"], sum(t["sentiment"].values())) for t in block["by_theme"]] == counted
    assert block["tagged"] == len(counted)


def test_only_the_most_talked_about_themes_are_listed_and_the_rest_counted(monkeypatch):
    monkeypatch.setattr(theme_stats, "MAX_THEMES_LISTED", 2)
    tally = ThemeStats(TAXONOMY)
    for tags in ([("price", NEG)], [("price", POS)], [("staff", NEG)], [("staff", NEG)], [("staff", POS)]):
        tally.add(FROM, [{"id": theme_id, "sentiment": sentiment} for theme_id, sentiment in tags])
    tally.add(FROM, [{"id": "delivery-speed", "sentiment": NEG}])  # and its parent: four themes in all

    block = tally.as_json(FROM, TO)

    assert [theme["id"] for theme in block["by_theme"]] == ["staff", "price"]
    assert block["left_off"] == 2
    assert block["tagged"] == 6


def test_themed_answers_validate_against_the_spec(seeded):
    from werkzeug.test import Client as WsgiClient

    from app import app
    from tests.fuzz.gateway import ChaliceWsgi
    from tests.test_openapi import validated

    tokens.clear_cache()
    token, _ = tokens.create_token("reader", ["read"])
    api, schema = WsgiClient(ChaliceWsgi(app)), load_schema()
    headers = {"Authorization": f"Bearer {token}"}

    answers = [
        (api.get(f"/stats?from={FROM}&to={TO}", headers=headers), "/stats", 200),
        (
            api.get(f"/feedback?date={FROM}&theme=delivery&theme_sentiment=NEGATIVE", headers=headers),
            "/feedback",
            200,
        ),
        (api.get(f"/feedback?date={FROM}&theme=shipping", headers=headers), "/feedback", 400),
    ]
    for response, path, status in answers:
        body = validated(schema, path, "GET", response)
        assert response.status_code == status, body
    assert json.loads(answers[0][0].get_data())["themes"]["by_theme"]
