"""POST /forms/{form_id}/responses: the ack path, its validation and its single AWS call."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from chalicelib.models import feedback_id_for
from chalicelib.queue import decode_events

JSON = {"content-type": "application/json"}
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def post_json(client, form_id: str, body: object, headers: dict[str, str] | None = None):
    return client.http.post(
        f"/forms/{form_id}/responses", headers={**JSON, **(headers or {})}, body=json.dumps(body).encode()
    )


def error_of(response) -> dict:
    body = json.loads(response.body)
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    assert response.headers["Content-Type"].startswith("application/json")
    return body["error"]


def test_json_response_is_queued_and_answered_202(client, stack):
    response = post_json(
        client, "demo", {"rating": 9, "comment": "Love the new app!", "email": "A@Example.com"}
    )

    assert response.status_code == 202
    payload = json.loads(response.body)
    [body] = stack.queued_bodies()
    [event] = decode_events(body)
    assert payload == {"feedback_id": event.feedback_id, "status": "queued"}
    assert event.channel == "form" and event.kind == "form_response"
    assert event.source_id == "demo"
    assert event.text == "Love the new app!"
    assert (event.rating, event.rating_scale) == (9, "nps")
    assert event.author.email == "a@example.com"
    assert event.feedback_id == feedback_id_for("demo", event.external_id)


def test_urlencoded_html_form_post_is_accepted(client, stack):
    body = urlencode({"rating": "3", "comment": "Delivery was late", "email": "", "submit": "Send"})
    response = client.http.post("/forms/demo/responses", headers=URLENCODED, body=body.encode())

    assert response.status_code == 202
    [event] = decode_events(stack.queued_bodies()[0])
    assert (event.rating, event.text, event.author.email) == (3, "Delivery was late", None)


def test_client_id_makes_the_resend_the_same_feedback(client, stack):
    first = post_json(client, "demo", {"rating": 7, "response_id": "r-12345678"})
    second = post_json(client, "demo", {"rating": 7}, headers={"Idempotency-Key": "r-12345678"})

    assert json.loads(first.body)["feedback_id"] == json.loads(second.body)["feedback_id"]
    assert json.loads(first.body)["feedback_id"] == feedback_id_for("demo", "r-12345678")


def test_browser_language_and_page_are_kept(client, stack):
    post_json(client, "demo", {"rating": 10, "language": "fr-FR", "page_url": "https://shop.example.com/a"})

    [event] = decode_events(stack.queued_bodies()[0])
    assert event.language == "fr-FR"
    assert event.permalink == "https://shop.example.com/a"
    assert event.metadata["form_name"] == "Demo NPS survey"


def test_allowed_origin_is_accepted(client, stack, csat_form):
    response = post_json(
        client,
        csat_form.form_id,
        {"rating": 5, "email": "b@example.com"},
        headers={"Origin": "https://shop.example.com"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("label", "form_id", "headers", "body", "status", "code"),
    [
        ("unknown form", "no-such-form", JSON, b'{"rating": 5}', 404, "unknown_form"),
        ("malformed json", "demo", JSON, b'{"rating": 5', 400, "malformed_json"),
        ("json that is not an object", "demo", JSON, b"[1, 2]", 400, "malformed_json"),
        (
            "wrong content type",
            "demo",
            {"content-type": "text/plain"},
            b"rating=5",
            415,
            "unsupported_media_type",
        ),
        ("no content type", "demo", {}, b'{"rating": 5}', 415, "unsupported_media_type"),
        (
            "body over 64 KiB",
            "demo",
            JSON,
            b'{"comment": "' + b"x" * (64 * 1024) + b'"}',
            413,
            "payload_too_large",
        ),
        ("rating above the scale", "demo", JSON, b'{"rating": 11}', 422, "validation_failed"),
        ("rating below the scale", "demo", JSON, b'{"rating": -1}', 422, "validation_failed"),
        ("rating not a number", "demo", JSON, b'{"rating": "great"}', 422, "validation_failed"),
        ("neither rating nor comment", "demo", JSON, b'{"email": "a@example.com"}', 422, "validation_failed"),
        (
            "comment too long",
            "demo",
            JSON,
            b'{"comment": "' + b"y" * 10_001 + b'"}',
            422,
            "validation_failed",
        ),
        ("invalid email", "demo", JSON, b'{"rating": 5, "email": "not-an-email"}', 422, "validation_failed"),
        (
            "bad client id",
            "demo",
            JSON,
            b'{"rating": 5, "response_id": "no spaces"}',
            422,
            "validation_failed",
        ),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_queued(
    client, stack, label, form_id, headers, body, status, code
):
    response = client.http.post(f"/forms/{form_id}/responses", headers=headers, body=body)

    assert response.status_code == status, label
    assert error_of(response)["code"] == code
    assert stack.queue_depth() == 0


def test_validation_error_names_the_field(client, stack):
    response = post_json(client, "demo", {"rating": 42})

    assert error_of(response)["fields"] == {"rating": "must be between 0 and 10 on this form's nps scale"}


def test_form_rules_apply(client, stack, csat_form):
    origin = {"Origin": "https://shop.example.com"}
    above_csat = post_json(client, csat_form.form_id, {"rating": 6, "email": "b@example.com"}, origin)
    without_email = post_json(client, csat_form.form_id, {"rating": 4}, origin)
    other_site = post_json(
        client, csat_form.form_id, {"rating": 4, "email": "b@example.com"}, {"Origin": "https://evil.example"}
    )

    assert above_csat.status_code == 422
    assert without_email.status_code == 422
    assert error_of(without_email)["fields"] == {"email": "is required by this form"}
    assert other_site.status_code == 403
    assert error_of(other_site)["code"] == "origin_not_allowed"
    assert stack.queue_depth() == 0


def test_filled_honeypot_looks_accepted_but_queues_nothing(client, stack):
    response = post_json(client, "demo", {"rating": 10, "_hp": "http://spam.example"})

    assert response.status_code == 202
    assert "feedback_id" not in json.loads(response.body)
    assert stack.queue_depth() == 0


def test_sqs_failure_answers_503_with_retry_after(client, stack, monkeypatch):
    from chalicelib import aws

    sqs = aws.client("sqs")
    monkeypatch.setattr(sqs, "send_message", _raise_client_error)
    response = post_json(client, "demo", {"rating": 8})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert error_of(response)["code"] == "unavailable"


def _raise_client_error(**kwargs):
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")


def test_unexpected_failure_is_a_json_500_without_details(client, stack, monkeypatch):
    from chalicelib.forms import routes

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes, "validate_response", explode)
    response = post_json(client, "demo", {"rating": 8})

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "secret internals" not in response.body.decode()
