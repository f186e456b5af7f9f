"""openapi.yaml is the app's contract: the same routes both ways, the same auth and scopes, a valid document,
and real answers (an ack, a 422, a 401, a 415, a 503 …) that validate against the schemas it gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from schemathesis.core.failures import FailureGroup
from werkzeug.test import Client as WsgiClient

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.local.gateway import deployed_gateway_responses
from tests.fuzz.gateway import ChaliceWsgi
from tests.fuzz.harness import SPEC_PATH, load_schema

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SPEC = load_schema().raw_schema


def app_routes() -> dict[tuple[str, str], Any]:
    """(path, METHOD) → RouteEntry for every route the Chalice app serves."""
    from app import app

    return {
        (path, method): entry for path, methods in app.routes.items() for method, entry in methods.items()
    }


def spec_operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method.upper()): operation
        for path, item in SPEC["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_every_app_route_is_in_the_spec_and_every_spec_operation_is_a_route() -> None:
    in_app, in_spec = set(app_routes()), set(spec_operations())

    assert in_app - in_spec == set(), "routes the spec does not describe"
    assert in_spec - in_app == set(), "operations the app does not serve"


def test_bearer_routes_and_only_those_declare_security_with_their_scope() -> None:
    operations = spec_operations()
    for key, entry in app_routes().items():
        operation = operations[key]
        if entry.authorizer is not None:
            assert operation.get("security") == [{"bearer": []}], key
            assert operation.get("x-required-scope") == entry.view_function.required_scope.value, key
            assert "401" in operation["responses"] and "403" in operation["responses"], key
        else:
            assert "security" not in operation, key
            assert "x-required-scope" not in operation, key
    assert set(SPEC["components"]["securitySchemes"]) == {"bearer"}
    assert "security" not in SPEC  # no global default: the public routes are public


def test_the_document_is_valid_openapi() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    import yaml

    validator.validate(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))


def test_the_fuzz_gateway_answers_as_the_deployment_does() -> None:
    responses = deployed_gateway_responses()

    assert responses["UNAUTHORIZED"][:2] == ("401", "unauthorized")
    assert responses["MISSING_AUTHENTICATION_TOKEN"][:2] == ("404", "not_found")


# --- real answers against the spec's schemas ------------------------------------------------------------


@pytest.fixture
def api(stack):
    from app import app

    return WsgiClient(ChaliceWsgi(app))


@pytest.fixture
def schema():
    return load_schema()


def validated(schema, path: str, method: str, response) -> Any:
    """Validate a response against the operation's documented responses (status, body); its JSON body."""
    assert str(response.status_code) in SPEC["paths"][path][method.lower()]["responses"], response.status_code
    schema[path][method].validate_response(response)
    return json.loads(response.get_data()) if response.mimetype == "application/json" else None


def error_validates(body: Any) -> None:
    import jsonschema

    jsonschema.validate(body, SPEC["components"]["schemas"]["Error"])


def test_a_form_ack_validates(api, schema) -> None:
    response = api.post("/forms/demo/responses", json={"rating": 9, "comment": "Great"})

    body = validated(schema, "/forms/{form_id}/responses", "POST", response)
    assert response.status_code == 202
    assert body["status"] == "queued" and body["feedback_id"].startswith("fb_")


def test_a_422_with_fields_validates_as_the_error_schema(api, schema) -> None:
    response = api.post("/forms/demo/responses", json={"comment": "x" * 10_001, "email": "not-an-email"})

    body = validated(schema, "/forms/{form_id}/responses", "POST", response)
    assert response.status_code == 422
    assert set(body["error"]["fields"]) == {"comment", "email"}
    error_validates(body)


def test_a_415_validates(api, schema) -> None:
    response = api.post("/forms/demo/responses", data="rating=9", content_type="text/plain")

    body = validated(schema, "/forms/{form_id}/responses", "POST", response)
    assert response.status_code == 415
    assert body["error"]["code"] == "unsupported_media_type"


def test_401s_validate_with_and_without_a_header(api, schema) -> None:
    missing = api.get("/feedback")
    wrong = api.get("/feedback", headers={"Authorization": "Bearer fbk_nope"})

    for response in (missing, wrong):
        body = validated(schema, "/feedback", "GET", response)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        error_validates(body)
    assert json.loads(wrong.get_data())["error"]["code"] == "unauthorized"


def test_a_403_for_the_wrong_scope_and_a_200_page_validate(api, schema, stack) -> None:
    tokens.clear_cache()
    export_only, _ = tokens.create_token("exports", ["export"])
    reader, _ = tokens.create_token("reader", ["read"])

    refused = api.get("/feedback", headers={"Authorization": f"Bearer {export_only}"})
    page = api.get("/feedback?limit=5", headers={"Authorization": f"Bearer {reader}"})

    assert validated(schema, "/feedback", "GET", refused)["error"]["code"] == "insufficient_scope"
    assert refused.status_code == 403
    assert validated(schema, "/feedback", "GET", page) == {"items": [], "next": None}


def test_a_503_on_a_queue_failure_carries_retry_after_and_validates(api, schema, monkeypatch) -> None:
    sqs = aws.client("sqs")

    def refuse(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    monkeypatch.setattr(sqs, "send_message", refuse)
    response = api.post("/forms/demo/responses", json={"rating": 9})

    body = validated(schema, "/forms/{form_id}/responses", "POST", response)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert body["error"]["code"] == "unavailable"


def test_a_response_the_spec_does_not_allow_fails_validation(api, schema) -> None:
    """The checks above can fail: a form's public configuration is not a page of feedback."""
    response = api.get("/forms/demo")
    assert response.status_code == 200

    with pytest.raises(FailureGroup) as failures:
        schema["/feedback"]["GET"].validate_response(response)
    assert any("violates schema" in str(failure) for failure in failures.value.exceptions)


@pytest.mark.parametrize(
    ("path", "method", "spec_path"),
    [
        ("/forms/demo", "GET", "/forms/{form_id}"),
        ("/forms/demo/responses", "OPTIONS", "/forms/{form_id}/responses"),
        ("/widget.js", "GET", "/widget.js"),
        ("/assets/dashboard.js", "GET", "/assets/{name}"),
        ("/f/demo", "GET", "/f/{form_id}"),
        ("/dashboard", "GET", "/dashboard"),
        ("/webhooks/nope", "GET", "/webhooks/{source_id}"),
        ("/feedback", "GET", "/feedback"),
        ("/stats", "GET", "/stats"),
        ("/customers?email=a@example.com", "GET", "/customers"),
        ("/customers/cus_nope", "GET", "/customers/{customer_id}"),
        ("/customers/cus_nope", "DELETE", "/customers/{customer_id}"),
        ("/exports/2026-11-20", "GET", "/exports/{date}"),
    ],
)
def test_a_content_type_on_a_bodyless_request_is_ignored(api, schema, path, method, spec_path) -> None:
    """Regression (found by the fuzzer's Content-Type variants): Chalice refused these with its own 415
    `{"Code", "Message"}` when a GET, DELETE or preflight carried a non-JSON Content-Type."""
    tokens.clear_cache()
    token, _ = tokens.create_token("all", ["read", "export", "erase"])
    headers = {"Authorization": f"Bearer {token}", "Origin": "https://site.example.com"}

    response = api.open(path, method=method, headers=headers, data=b"x", content_type="text/plain")

    assert response.status_code != 415
    validated(schema, spec_path, method, response)
    if response.status_code >= 400 and response.mimetype == "application/json":
        error_validates(json.loads(response.get_data()))


def test_the_customer_search_validates_and_the_query_lookup_is_deprecated(api, schema, stack) -> None:
    from tests.test_customers import event, process

    process(event("s1", email="ann@example.com"))
    tokens.clear_cache()
    reader, _ = tokens.create_token("reader", ["read"])
    headers = {"Authorization": f"Bearer {reader}"}
    cases = [
        ('{"email": "ann@example.com"}', "application/json", 200),
        ('{"email": "nobody@example.com"}', "application/json", 404),
        ('{"email": 5}', "application/json", 422),
        ("{", "application/json", 400),
        ("email=ann@example.com", "application/x-www-form-urlencoded", 415),
    ]
    for data, content_type, status in cases:
        response = api.post("/customers/search", data=data, content_type=content_type, headers=headers)

        body = validated(schema, "/customers/search", "POST", response)
        assert response.status_code == status, body
        if status >= 400:
            error_validates(body)
    assert SPEC["paths"]["/customers"]["get"]["deprecated"] is True
    assert "/customers/search" in SPEC["paths"]["/customers"]["get"]["description"]


def test_a_refused_cursor_validates(api, schema, stack) -> None:
    tokens.clear_cache()
    reader, _ = tokens.create_token("reader", ["read"])

    response = api.get("/feedback?next=eyJkYXkiOjB9.xyz", headers={"Authorization": f"Bearer {reader}"})

    assert validated(schema, "/feedback", "GET", response)["error"]["code"] == "invalid_cursor"
