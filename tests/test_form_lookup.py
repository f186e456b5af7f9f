"""Every route that takes a form id answers inside its error wrapper (the JSON error shape, or the HTML error
page): an id that cannot be a form's is unknown before any AWS call (real DynamoDB refuses keys over 1,024
bytes, which moto does not check), is never echoed back, and a failing lookup is a clean 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.forms import records as form_store

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HOSTED_POST = {"content-type": "application/x-www-form-urlencoded", "accept": BROWSER_ACCEPT}
JSON_POST = {"content-type": "application/json", "origin": "https://shop.example.com"}
PREFLIGHT = {"origin": "https://shop.example.com", "access-control-request-method": "POST"}


def routes(form_id: str) -> list[tuple[str, str, str, dict[str, str], bytes]]:
    """(label, method, path, headers, body) of every route that looks a form up."""
    hosted_body = urlencode({"_hosted": "1", "rating": "9"}).encode()
    return [
        ("public config", "GET", f"/forms/{form_id}", {"origin": "https://shop.example.com"}, b""),
        ("preflight", "OPTIONS", f"/forms/{form_id}/responses", PREFLIGHT, b""),
        ("JSON response", "POST", f"/forms/{form_id}/responses", JSON_POST, b'{"rating": 9}'),
        ("hosted-page post", "POST", f"/forms/{form_id}/responses", HOSTED_POST, hosted_body),
        ("hosted page", "GET", f"/f/{form_id}", {"accept": BROWSER_ACCEPT}, b""),
        ("thank-you page", "GET", f"/f/{form_id}/thanks", {"accept": BROWSER_ACCEPT}, b""),
    ]


HTML_ROUTES = {"hosted-page post", "hosted page", "thank-you page"}


@pytest.fixture
def aws_calls(stack) -> Iterator[list[str]]:
    """The AWS operations made while the test runs; each one also fails, like an unreachable table."""
    calls: list[str] = []

    def refuse(event_name: str, **kwargs) -> None:
        calls.append(event_name.split(".", 1)[1])
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "key too large"}}, "GetItem")

    form_store.clear_cache()
    clients = [aws.client(service) for service in ("dynamodb", "sqs")]
    for client in clients:
        client.meta.events.register("before-call", refuse)
    yield calls
    for client in clients:
        client.meta.events.unregister("before-call", refuse)


def assert_answered_in_its_wrapper(label: str, response, status: int) -> None:
    assert response.status_code == status, label
    if label in HTML_ROUTES:
        assert response.headers["Content-Type"].startswith("text/html"), label
        assert "<h1>Sorry</h1>" in response.body.decode()
    else:
        assert response.headers["Content-Type"].startswith("application/json"), label
        error = json.loads(response.body)["error"]
        assert error["code"] == ("unknown_form" if status == 404 else "internal_error"), label


@pytest.mark.parametrize(
    "form_id",
    ["a" * 2000, "ü" * 700, "x" * 65, "ab", "demo.", "<script>"],
    ids=["2000 chars", "1400 bytes", "65 chars", "too short", "a dot", "markup"],
)
def test_an_id_that_cannot_be_a_form_is_unknown_without_an_aws_call(client, aws_calls, form_id):
    for label, method, path, headers, body in routes(quote(form_id, safe="")):
        response = client.http.request(method, path, headers=headers, body=body)

        assert_answered_in_its_wrapper(label, response, 404)
        if len(form_id) > 8:  # never echoed (a short one could match the page's own text)
            assert form_id[:20] not in response.body.decode(), label
            assert quote(form_id)[:20] not in response.body.decode(), label
    assert aws_calls == []


def test_a_failing_lookup_is_a_clean_500_in_each_routes_shape(client, aws_calls):
    for label, method, path, headers, body in routes("frm_not_cached"):
        response = client.http.request(method, path, headers=headers, body=body)

        assert_answered_in_its_wrapper(label, response, 500)
        assert "key too large" not in response.body.decode(), label
    assert set(aws_calls) == {"dynamodb.GetItem"}


def test_json_errors_of_a_failing_lookup_still_carry_cors_headers(client, aws_calls):
    """So the widget can read the 500 rather than see an opaque network error."""
    public = client.http.get("/forms/frm_not_cached", headers={"origin": "https://shop.example.com"})
    posted = client.http.post("/forms/frm_not_cached/responses", headers=JSON_POST, body=b'{"rating": 9}')

    assert public.headers["Access-Control-Allow-Origin"] == "*"
    assert posted.headers["Access-Control-Allow-Origin"] == "*"
