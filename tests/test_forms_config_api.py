"""PUT / PATCH /forms/{id} and GET /forms/{id}/config (scope admin): the same validator as the `forms` CLI,
every bad value a 400 naming the option with nothing stored, versioned writes (ETag / If-Match) that lose no
concurrent change; every answer validates against openapi.yaml."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import Client as WsgiClient

from chalicelib import cli
from chalicelib.auth import tokens
from chalicelib.forms import admin
from chalicelib.forms import records as form_store
from chalicelib.store.config_records import FORMS
from tests.fuzz.gateway import ChaliceWsgi
from tests.fuzz.harness import load_schema

SCHEMA = load_schema()
CHECKOUT = {
    "name": "Checkout CSAT",
    "rating_scale": "csat",
    "csat_style": "faces",
    "allowed_origins": ["https://shop.example.com"],
    "branding": {"accent_color": "#E4572E", "logo_url": "https://cdn.example.com/logo.png"},
    "follow_up": {"negative": "What should we improve?"},
    "display": {"delay_seconds": 5},
}


@pytest.fixture
def api(stack):
    from app import app

    return WsgiClient(ChaliceWsgi(app))


@pytest.fixture
def admin_headers(stack) -> dict[str, str]:
    tokens.clear_cache()
    token, _ = tokens.create_token("form editor", ["admin"])
    return {"Authorization": f"Bearer {token}"}


def call(api, method: str, path: str, headers: dict[str, str], body: Any = None, **kwargs: Any):
    """The answer as (status, JSON body, headers), checked against the spec's operation."""
    if body is not None and "data" not in kwargs:
        kwargs["data"] = json.dumps(body)
        kwargs.setdefault("content_type", "application/json")
    response = api.open(path, method=method, headers=headers, **kwargs)
    spec_path = "/forms/{form_id}/config" if path.endswith("/config") else "/forms/{form_id}"
    SCHEMA[spec_path][method].validate_response(response)
    return response.status_code, json.loads(response.get_data()), response.headers


def stored(form_id: str) -> dict[str, Any]:
    """The record as DynamoDB holds it now (version included), {} if none."""
    return FORMS.get_fresh(form_id)


# --- create, read, replace ---------------------------------------------------------------------------------


def test_put_creates_the_form_and_its_config_reads_back_with_the_version_as_etag(api, admin_headers):
    status, body, headers = call(api, "PUT", "/forms/checkout", admin_headers, CHECKOUT)

    assert status == 201
    assert headers["ETag"] == '"1"'
    assert body["version"] == 1 and body["form_id"] == "checkout"
    assert body["branding"]["accent_color"] == "#e4572e"  # the validator's normal form, as the CLI stores it
    status, read, headers = call(api, "GET", "/forms/checkout/config", admin_headers)
    assert (status, read, headers["ETag"]) == (200, body, '"1"')
    public = json.loads(api.get("/forms/checkout").get_data())
    assert public["follow_up"] == {"negative": "What should we improve?"} and public["csat_style"] == "faces"


def test_replacing_needs_the_current_etag(api, admin_headers):
    call(api, "PUT", "/forms/checkout", admin_headers, CHECKOUT)
    renamed = {**CHECKOUT, "name": "Checkout survey"}

    missing = call(api, "PUT", "/forms/checkout", admin_headers, renamed)
    replaced = call(api, "PUT", "/forms/checkout", {**admin_headers, "If-Match": '"1"'}, renamed)
    stale = call(
        api, "PUT", "/forms/checkout", {**admin_headers, "If-Match": '"1"'}, {**CHECKOUT, "name": "X"}
    )
    create_only = call(api, "PUT", "/forms/checkout", {**admin_headers, "If-None-Match": "*"}, CHECKOUT)

    assert (missing[0], missing[1]["error"]["code"]) == (428, "precondition_required")
    assert (replaced[0], replaced[1]["version"], replaced[2]["ETag"]) == (200, 2, '"2"')
    assert (stale[0], stale[1]["error"]["code"]) == (412, "precondition_failed")
    assert create_only[0] == 412
    # It said "changed since that version", to a writer that named no version.
    assert create_only[1]["error"]["message"].startswith("The form checkout already exists: PATCH")
    assert stored("checkout")["name"] == "Checkout survey" and stored("checkout")["version"] == 2


def test_a_body_sent_back_as_read_replaces_with_if_match(api, admin_headers):
    _, body, headers = call(api, "PUT", "/forms/checkout", admin_headers, CHECKOUT)
    body["display"]["snooze_days"] = 30

    status, replaced, _ = call(
        api, "PUT", "/forms/checkout", {**admin_headers, "If-Match": headers["ETag"]}, body
    )

    assert (status, replaced["version"], replaced["display"]["snooze_days"]) == (200, 2, 30)


def test_if_match_star_replaces_any_version_but_never_creates(api, admin_headers):
    absent = call(api, "PUT", "/forms/checkout", {**admin_headers, "If-Match": "*"}, CHECKOUT)
    call(api, "PUT", "/forms/checkout", admin_headers, CHECKOUT)
    replaced = call(
        api, "PUT", "/forms/checkout", {**admin_headers, "If-Match": "*"}, {**CHECKOUT, "name": "Y"}
    )

    assert absent[0] == 412
    assert (replaced[0], replaced[1]["name"], replaced[1]["version"]) == (200, "Y", 2)


def test_a_form_stored_before_versions_is_version_1(api, admin_headers):
    FORMS.save("legacy", {"form_id": "legacy", "name": "Old form", "rating_scale": "nps"})

    _, read, headers = call(api, "GET", "/forms/legacy/config", admin_headers)
    stale = call(api, "PUT", "/forms/legacy", {**admin_headers, "If-Match": '"2"'}, {"name": "New"})
    replaced = call(
        api, "PUT", "/forms/legacy", {**admin_headers, "If-Match": headers["ETag"]}, {"name": "New"}
    )

    assert (read["version"], headers["ETag"]) == (1, '"1"')
    assert stale[0] == 412
    assert (replaced[0], replaced[1]["version"]) == (200, 2)


# --- bad values: 400 naming the option, nothing stored ----------------------------------------------------

BAD_VALUES = [
    ({"branding": {"accent_color": "red"}}, "branding.accent_color"),
    ({"branding": {"logo_url": "http://cdn.example.com/logo.png"}}, "branding.logo_url"),
    ({"branding": {"position": "top"}}, "branding.position"),
    ({"display": {"sample_percent": 150}}, "display.sample_percent"),
    ({"display": {"include_urls": ["https://shop.example.com/a b"]}}, "display.include_urls"),
    ({"follow_up": {"detractor": "Why?"}}, "follow_up"),  # an NPS band on a CSAT form
    ({"strings": {"fr": {"no_such_key": "x"}}}, "strings"),
    ({"csat_style": "emoji"}, "csat_style"),
    ({"rating_scale": "ten"}, "rating_scale"),
    ({"allowed_origins": ["shop.example.com"]}, "allowed_origins"),
    ({"name": ""}, "name"),
    ({"colour": "#fff"}, "colour"),
]


@pytest.mark.parametrize(("change", "option"), BAD_VALUES)
def test_put_refuses_a_bad_value_naming_the_option_and_stores_nothing(api, admin_headers, change, option):
    status, body, _ = call(api, "PUT", "/forms/checkout", admin_headers, {**CHECKOUT, **change})

    assert status == 400
    assert body["error"]["code"] == "invalid_config"
    assert list(body["error"]["fields"]) == [option]
    assert option in body["error"]["message"]
    assert stored("checkout") == {}


@pytest.mark.parametrize(("change", "option"), BAD_VALUES)
def test_patch_refuses_a_bad_value_naming_the_option_and_changes_nothing(api, admin_headers, change, option):
    call(api, "PUT", "/forms/checkout", admin_headers, CHECKOUT)
    before = stored("checkout")

    status, body, _ = call(api, "PATCH", "/forms/checkout", admin_headers, change)

    assert (status, body["error"]["code"], list(body["error"]["fields"])) == (400, "invalid_config", [option])
    assert stored("checkout") == before


def test_malformed_bodies_and_a_second_id_are_400s_and_other_media_415(api, admin_headers):
    not_json = call(api, "PUT", "/forms/checkout", admin_headers, data="{", content_type="application/json")
    a_list = call(api, "PUT", "/forms/checkout", admin_headers, data="[]", content_type="application/json")
    other_id = call(api, "PUT", "/forms/checkout", admin_headers, {**CHECKOUT, "form_id": "elsewhere"})
    bad_id = call(api, "PUT", "/forms/no%20spaces", admin_headers, CHECKOUT)
    form_post = call(api, "PUT", "/forms/checkout", admin_headers, data="name=x", content_type="text/plain")

    assert [r[0] for r in (not_json, a_list, other_id, bad_id)] == [400, 400, 400, 400]
    assert list(other_id[1]["error"]["fields"]) == ["form_id"]
    assert list(bad_id[1]["error"]["fields"]) == ["form_id"]
    assert form_post[0] == 415
    assert stored("checkout") == {}


def test_the_cli_and_the_api_refuse_with_the_same_validator(api, admin_headers, capsys):
    _, body, _ = call(
        api, "PUT", "/forms/checkout", admin_headers, {**CHECKOUT, "branding": {"accent_color": "x"}}
    )
    code = cli.main(["forms", "create", "--name", "Checkout", "--id", "checkout", "--accent-color", "x"])

    assert code == 2
    message = body["error"]["fields"]["branding.accent_color"]
    assert f"error: --accent-color: {message}" in capsys.readouterr().err
    assert stored("checkout") == {}


# --- PATCH ------------------------------------------------------------------------------------------------


def test_patch_merges_objects_clears_with_null_and_keeps_the_rest(api, admin_headers):
    call(api, "PUT", "/forms/checkout", admin_headers, CHECKOUT)
    patch = {"branding": {"accent_color": "#0a7d4f", "logo_url": None}, "display": {"scroll_percent": 40}}

    status, body, headers = call(
        api,
        "PATCH",
        "/forms/checkout",
        admin_headers,
        data=json.dumps(patch),
        content_type="application/merge-patch+json",
    )

    assert (status, headers["ETag"], body["version"]) == (200, '"2"', 2)
    assert body["branding"] == {"accent_color": "#0a7d4f", "position": "bottom-right"}
    assert body["display"]["scroll_percent"] == 40 and body["display"]["delay_seconds"] == 5
    assert body["follow_up"] == CHECKOUT["follow_up"] and body["name"] == CHECKOUT["name"]
    assert stored("checkout")["branding"] == body["branding"]


def test_patch_of_an_unknown_form_is_404_and_creates_nothing(api, admin_headers):
    unknown = call(api, "PATCH", "/forms/nobody", admin_headers, {"name": "X"})
    impossible = call(api, "PATCH", "/forms/a", admin_headers, {"name": "X"})
    config = call(api, "GET", "/forms/nobody/config", admin_headers)

    assert [r[0] for r in (unknown, impossible, config)] == [404, 404, 404]
    assert unknown[1]["error"]["code"] == "unknown_form"
    assert stored("nobody") == {}


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(api, admin_headers):
    call(api, "PUT", "/forms/checkout", admin_headers, CHECKOUT)
    call(api, "PATCH", "/forms/checkout", admin_headers, {"name": "First"})

    stale = call(api, "PATCH", "/forms/checkout", {**admin_headers, "If-Match": '"1"'}, {"name": "Second"})
    garbage = call(api, "PATCH", "/forms/checkout", {**admin_headers, "If-Match": "v2"}, {"name": "Second"})
    current = call(api, "PATCH", "/forms/checkout", {**admin_headers, "If-Match": '"2"'}, {"name": "Third"})

    assert (stale[0], garbage[0]) == (412, 412)
    assert (current[0], current[1]["name"], current[1]["version"]) == (200, "Third", 3)


def test_a_change_without_a_version_keeps_a_concurrent_one(stack):
    form_store.save(admin.validated(CHECKOUT | {"form_id": "checkout"}))
    interfered = []

    def rename_first(current: dict[str, Any]) -> dict[str, Any]:
        if not interfered:  # another writer stores its change between this read and this write
            interfered.append(admin.change("checkout", admin.patched({"display": {"snooze_days": 7}})))
        return admin.merge_patch(current, {"name": "Renamed"})

    result = admin.change("checkout", rename_first)

    assert result.version == 3
    assert (result.form.name, result.form.display.snooze_days) == ("Renamed", 7)


def test_merge_patch_follows_rfc_7396():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3], "new": {"x": None}}

    assert admin.merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "list": [3], "new": {}}
    assert admin.merge_patch(target, ["whole"]) == ["whole"]


# --- auth -------------------------------------------------------------------------------------------------


def test_writes_need_an_admin_token(api, stack):
    tokens.clear_cache()
    reader, _ = tokens.create_token("reader", ["read", "export", "erase"])

    anonymous = call(api, "PUT", "/forms/checkout", {}, CHECKOUT)
    not_admin = call(api, "PATCH", "/forms/demo", {"Authorization": f"Bearer {reader}"}, {"name": "X"})
    read = call(api, "GET", "/forms/demo/config", {"Authorization": f"Bearer {reader}"})

    assert anonymous[0] == 401
    assert (not_admin[0], not_admin[1]["error"]["code"], read[0]) == (403, "insufficient_scope", 403)
    assert stored("checkout") == {}


# --- generated requests -----------------------------------------------------------------------------------


def test_generated_writes_never_fail_on_the_server_and_a_refusal_stores_nothing(admin_headers):
    """schemathesis cases from openapi.yaml (valid and invalid bodies and headers) with an admin token, which
    the fuzz run (tests/fuzz) does not hold: every answer is in the contract, and a 4xx changes nothing."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    from app import app
    from tests.fuzz.test_fuzz import CHECKS

    form_store.save(admin.validated({"form_id": "fz-form", "name": "Fuzzed"}))
    schema = load_schema(ChaliceWsgi(app))
    target = {"headers": admin_headers, "path_parameters": {"form_id": "fz-form"}}
    strategy = st.one_of(
        schema["/forms/{form_id}"][method].as_strategy(mode, **target)
        for method in ("PUT", "PATCH")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    )
    statuses: list[int] = []

    @settings(
        max_examples=120,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        before = stored("fz-form")
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            assert stored("fz-form") == before

    run()
    assert max(statuses) < 500
    # Writes and refusals of both kinds were reached, not only the auth checks (the run is derandomized).
    assert {200, 400, 412} <= set(statuses)
