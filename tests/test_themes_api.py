"""GET /themes: the taxonomy in force for a `read` token (every route's token cases also run in
test_exports_api.py), answers that validate against openapi.yaml."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client as WsgiClient

from chalicelib.auth import tokens
from chalicelib.themes import records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tests.fuzz.gateway import ChaliceWsgi
from tests.fuzz.harness import load_schema


@pytest.fixture
def headers(stack):
    tokens.clear_cache()
    reader, _ = tokens.create_token("reader", ["read"])
    return {"Authorization": f"Bearer {reader}"}


@pytest.fixture
def api(stack):
    from app import app

    return WsgiClient(ChaliceWsgi(app))


def get(api, headers: dict[str, str] | None = None, **kwargs):
    response = api.get("/themes", headers=headers or {}, **kwargs)
    load_schema()["/themes"]["GET"].validate_response(response)
    return response.status_code, json.loads(response.get_data())


def test_no_taxonomy_is_version_0_and_no_themes(api, headers):
    assert get(api, headers) == (200, {"version": 0, "themes": []})


def test_every_theme_with_every_field_and_the_version(api, headers):
    records.replace(
        Taxonomy(
            themes=[
                Theme(id="delivery", name="Delivery", keywords={"en": ["courier"], "pt": ["entrega"]}),
                Theme(id="late", name="Late", parent="delivery", examples=["two weeks late"]),
            ]
        )
    )
    records.retire("late")

    status, body = get(api, headers)

    assert status == 200
    assert body == {
        "version": 2,
        "themes": [
            {
                "id": "delivery",
                "name": "Delivery",
                "description": "",
                "parent": None,
                "keywords": {"en": ["courier"], "pt": ["entrega"]},
                "examples": [],
                "retired": False,
            },
            {
                "id": "late",
                "name": "Late",
                "description": "",
                "parent": "delivery",
                "keywords": {},
                "examples": ["two weeks late"],
                "retired": True,
            },
        ],
    }


def test_a_change_in_this_process_shows_at_once(api, headers):
    records.replace(Taxonomy(themes=[Theme(id="price", name="Price")]))
    assert get(api, headers)[1]["version"] == 1

    records.add(Theme(id="staff", name="Staff"))

    assert [theme["id"] for theme in get(api, headers)[1]["themes"]] == ["price", "staff"]


def test_no_token_is_401(api):
    status, body = get(api)

    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_a_token_without_read_is_403(api, stack):
    tokens.clear_cache()
    exporter, _ = tokens.create_token("exports", ["export", "erase"])

    status, body = get(api, {"Authorization": f"Bearer {exporter}"})

    assert status == 403
    assert body["error"]["code"] == "insufficient_scope"


def test_a_stray_content_type_and_body_are_ignored(api, headers):
    status, body = get(api, headers, data=b"x", content_type="text/plain")

    assert (status, body) == (200, {"version": 0, "themes": []})


@pytest.mark.parametrize("query", ["version=3", "theme=delivery", "x="])
def test_a_query_parameter_is_refused_rather_than_ignored(api, headers, query):
    records.replace(Taxonomy(themes=[Theme(id="price", name="Price")]))

    status, body = get(api, headers, query_string=query)

    assert (status, body["error"]) == (
        400,
        {
            "code": "invalid_filter",
            "message": "GET /themes takes no query parameters: a parameter given is not one of them "
            "(check its spelling).",
        },
    )
