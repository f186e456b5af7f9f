"""POST /forms/{form_id}/responses: the ack path, its validation and its single AWS call."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from chalicelib.ingest.queue import decode_events
from chalicelib.models import feedback_id_for

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
    assert event.language == "fr"  # "fr-FR" before: GET /feedback?language=fr and the dashboard missed it
    assert event.permalink == "https://shop.example.com/a"
    assert event.metadata["form_name"] == "Demo NPS survey"


@pytest.mark.parametrize(
    ("sent", "stored", "hint"),
    [
        ("de-DE", "de", None),
        ("PT_br", "pt", None),
        ("zh-Hant-TW", "zh-TW", None),
        ("zh-CN", "zh", None),
        ("en", "en", None),
        ("fil-PH", None, "fr"),  # no ISO 639-1 code: the text decides, helped by the browser's header
    ],
)
def test_the_browser_language_is_stored_as_its_iso_639_1_code(client, stack, sent, stored, hint):
    post_json(client, "demo", {"comment": "ok", "language": sent}, headers={"Accept-Language": "fr-CA"})

    [event] = decode_events(stack.queued_bodies()[0])
    assert (event.language, event.language_hint) == (stored, hint)


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
            "body over 160 KiB",
            "demo",
            JSON,
            b'{"comment": "' + b"x" * (160 * 1024) + b'"}',
            413,
            "payload_too_large",
        ),
        # A page in another charset: stored as U+FFFD replacement characters without a word, before.
        ("percent-encoded latin-1", "demo", URLENCODED, b"comment=Caf%E9+cr%E8me", 400, "malformed_form"),
        ("percent-encoded invalid bytes", "demo", URLENCODED, b"rating=9&name=%FF%FE", 400, "malformed_form"),
        ("raw bytes that are not UTF-8", "demo", URLENCODED, b"comment=Caf\xe9", 400, "malformed_form"),
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


def test_a_comment_at_its_bound_fits_the_body_in_either_encoding(client, stack):
    # 10,000 emoji are 120,000 bytes \u-escaped (Python's json.dumps by default): 413 under the old 64 KiB.
    comment, name = "🙂" * 10_000, "Zoë " * 50
    body = json.dumps({"rating": 3, "comment": comment, "name": name}).encode()
    assert len(body) > 120_000

    response = client.http.post("/forms/demo/responses", headers=JSON, body=body)

    assert response.status_code == 202
    [event] = decode_events(stack.queued_bodies()[0])
    assert (event.text, event.author.name) == (comment, name.strip())


def test_validation_error_names_the_field_with_a_message_and_a_code(client, stack):
    response = post_json(client, "demo", {"rating": 42})

    error = error_of(response)
    assert error["fields"] == {"rating": "Choose a rating from 0 to 10."}
    assert error["field_codes"] == {"rating": "out_of_range"}


# Every field and every way it can fail: (label, form, content type, body, field, code, message).
RATING_TYPE = "The rating must be a whole number from 0 to 10."
BAD_EMAIL = "This is not a valid email address (like name@example.com)."
BAD_URL = "The page address must be a web address starting with http:// or https://."
BAD_ID = "The response id must be 8 to 100 characters: letters, digits, _ . : or -."
FIELD_FAILURES = [
    ("no rating, no comment", "demo", JSON, {"email": "a@example.com"}, "rating", "required",
     "Choose a rating or write a comment."),
    ("blank rating and comment", "demo", URLENCODED, {"rating": "", "comment": " "}, "rating", "required",
     "Choose a rating or write a comment."),
    ("rating above the scale", "demo", JSON, {"rating": 11}, "rating", "out_of_range",
     "Choose a rating from 0 to 10."),
    ("rating below the scale", "demo", JSON, {"rating": -1}, "rating", "out_of_range",
     "Choose a rating from 0 to 10."),
    ("rating below a csat scale", "csat-shop", JSON, {"rating": 0, "email": "a@example.com"}, "rating",
     "out_of_range", "Choose a rating from 1 to 5."),
    ("a huge JSON rating", "demo", JSON, {"rating": 10**40}, "rating", "out_of_range",
     "Choose a rating from 0 to 10."),
    ("rating as a word", "demo", JSON, {"rating": "great"}, "rating", "not_a_whole_number", RATING_TYPE),
    ("rating as a JSON string", "demo", JSON, {"rating": "5"}, "rating", "not_a_whole_number", RATING_TYPE),
    ("rating true", "demo", JSON, {"rating": True}, "rating", "not_a_whole_number", RATING_TYPE),
    ("rating false", "demo", JSON, {"rating": False}, "rating", "not_a_whole_number", RATING_TYPE),
    ("rating 5.0", "demo", JSON, {"rating": 5.0}, "rating", "not_a_whole_number", RATING_TYPE),
    ("rating 4.5", "demo", JSON, {"rating": 4.5}, "rating", "not_a_whole_number", RATING_TYPE),
    ("rating a list", "demo", JSON, {"rating": [5]}, "rating", "not_a_whole_number", RATING_TYPE),
    ("form rating 5.0", "demo", URLENCODED, {"rating": "5.0"}, "rating", "not_a_whole_number", RATING_TYPE),
    ("form rating +5", "demo", URLENCODED, {"rating": "+5"}, "rating", "not_a_whole_number", RATING_TYPE),
    ("form rating five", "demo", URLENCODED, {"rating": "five"}, "rating", "not_a_whole_number", RATING_TYPE),
    ("form rating in other digits", "demo", URLENCODED, {"rating": "\u0665"}, "rating", "not_a_whole_number",
     RATING_TYPE),
    ("form rating 11", "demo", URLENCODED, {"rating": "11"}, "rating", "out_of_range",
     "Choose a rating from 0 to 10."),
    ("form rating -1", "demo", URLENCODED, {"rating": "-1"}, "rating", "out_of_range",
     "Choose a rating from 0 to 10."),
    ("form rating of 5,000 digits", "demo", URLENCODED, {"rating": "9" * 5000}, "rating", "out_of_range",
     "Choose a rating from 0 to 10."),
    ("comment too long", "demo", JSON, {"comment": "y" * 10_001}, "comment", "too_long",
     "Your comment can be at most 10,000 characters."),
    ("comment not text", "demo", JSON, {"rating": 5, "comment": 42}, "comment", "not_text",
     "Your comment must be text."),
    ("email without @", "demo", JSON, {"rating": 5, "email": "not-an-email"}, "email", "invalid_email",
     BAD_EMAIL),
    ("email without a domain", "demo", URLENCODED, {"rating": "5", "email": "a@"}, "email", "invalid_email",
     BAD_EMAIL),
    ("email not text", "demo", JSON, {"rating": 5, "email": 7}, "email", "not_text", BAD_EMAIL),
    ("email required", "csat-shop", JSON, {"rating": 4}, "email", "required",
     "Enter your email address: this form needs it."),
    ("name too long", "demo", JSON, {"rating": 5, "name": "n" * 201}, "name", "too_long",
     "Your name can be at most 200 characters."),
    ("name not text", "demo", JSON, {"rating": 5, "name": ["Ann"]}, "name", "not_text",
     "Your name must be text."),
    ("response id with spaces", "demo", JSON, {"rating": 5, "response_id": "no spaces"}, "response_id",
     "invalid_response_id", BAD_ID),
    ("response id too short", "demo", JSON, {"rating": 5, "response_id": "r-1"}, "response_id",
     "invalid_response_id", BAD_ID),
    ("response id too long", "demo", JSON, {"rating": 5, "response_id": "r" * 101}, "response_id",
     "invalid_response_id", BAD_ID),
    ("response id not text", "demo", JSON, {"rating": 5, "response_id": 12345678}, "response_id",
     "not_text", "The response id must be text."),
    ("language not a tag", "demo", JSON, {"rating": 5, "language": "english (UK)"}, "language",
     "invalid_language", "The language must be a language tag such as en or fr-FR."),
    # Found by the fuzz run: tag-shaped but longer than any language an item keeps (was a 500).
    ("language tag too long", "demo", JSON, {"rating": 5, "language": "en-" + "-".join(["abcdefgh"] * 4)},
     "language", "invalid_language", "The language must be a language tag such as en or fr-FR."),
    ("javascript: page", "demo", JSON, {"rating": 5, "page_url": "javascript:alert(1)"}, "page_url",
     "invalid_url", BAD_URL),
    ("JavaScript: page, any case", "demo", URLENCODED, {"rating": "5", "page_url": " JavaScript:alert(1)"},
     "page_url", "invalid_url", BAD_URL),
    ("data: page", "demo", JSON, {"rating": 5, "page_url": "data:text/html,<script>alert(1)</script>"},
     "page_url", "invalid_url", BAD_URL),
    ("vbscript: page", "demo", JSON, {"rating": 5, "page_url": "vbscript:msgbox(1)"}, "page_url",
     "invalid_url", BAD_URL),
    ("relative page", "demo", JSON, {"rating": 5, "page_url": "/checkout"}, "page_url", "invalid_url",
     BAD_URL),
    ("schemeless page", "demo", JSON, {"rating": 5, "page_url": "//shop.example.com/a"}, "page_url",
     "invalid_url", BAD_URL),
    ("bare host page", "demo", JSON, {"rating": 5, "page_url": "shop.example.com"}, "page_url",
     "invalid_url", BAD_URL),
    ("ftp page", "demo", JSON, {"rating": 5, "page_url": "ftp://files.example.com/a"}, "page_url",
     "invalid_url", BAD_URL),
    ("page not text", "demo", JSON, {"rating": 5, "page_url": 3}, "page_url", "invalid_url", BAD_URL),
    ("page too long", "demo", JSON, {"rating": 5, "page_url": "https://a.example/" + "p" * 2048},
     "page_url", "too_long", "The page address can be at most 2,048 characters."),
    ("page too long once encoded", "demo", JSON, {"rating": 5, "page_url": "https://a.example/" + "é" * 500},
     "page_url", "too_long", "The page address can be at most 2,048 characters."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "form_id", "headers", "body", "field", "code", "message"),
    FIELD_FAILURES,
    ids=[case[0] for case in FIELD_FAILURES],
)
def test_every_field_failure_has_a_plain_message_and_a_code(
    client, stack, csat_form, label, form_id, headers, body, field, code, message
):
    encoded = json.dumps(body) if headers is JSON else urlencode(body)
    response = client.http.post(f"/forms/{form_id}/responses", headers=headers, body=encoded.encode())

    assert response.status_code == 422, label
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert error["fields"][field] == message
    assert error["field_codes"][field] == code
    assert set(error["field_codes"]) == set(error["fields"])
    assert stack.queue_depth() == 0


def test_every_offending_field_is_named_at_once(client, stack, csat_form):
    response = post_json(
        client, csat_form.form_id, {"rating": "9", "comment": 1, "page_url": "javascript:alert(1)"}
    )

    assert error_of(response)["field_codes"] == {
        "rating": "not_a_whole_number",
        "comment": "not_text",
        "page_url": "invalid_url",
        "email": "required",
    }


@pytest.mark.parametrize(
    ("headers", "rating", "stored"),
    [
        (JSON, 0, 0),
        (JSON, 10, 10),
        (URLENCODED, "7", 7),
        (URLENCODED, " 8 ", 8),
        (URLENCODED, "007", 7),
    ],
)
def test_ratings_accepted_as_documented(client, stack, headers, rating, stored):
    body = {"rating": rating}
    encoded = json.dumps(body) if headers is JSON else urlencode(body)
    response = client.http.post("/forms/demo/responses", headers=headers, body=encoded.encode())

    assert response.status_code == 202
    [event] = decode_events(stack.queued_bodies()[0])
    assert event.rating == stored


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("HTTP://Shop.Example.com/checkout?step=2", "http://shop.example.com/checkout?step=2"),
        # Kept whole before: a password in the address, and a sign-in's token in its fragment, were stored,
        # exported and sent to CRMs as the item's permalink.
        ("https://alice:s3cret@shop.example.com:8443/a?step=2", "https://shop.example.com:8443/a?step=2"),
        ("https://shop.example.com/cb#access_token=eyJhbGci", "https://shop.example.com/cb"),
        ("https://@shop.example.com/#", "https://shop.example.com/"),
    ],
)
def test_web_page_addresses_are_kept_without_credentials_or_fragment(client, stack, sent, stored):
    post_json(client, "demo", {"rating": 9, "page_url": sent})

    [event] = decode_events(stack.queued_bodies()[0])
    assert event.permalink == stored
    assert event.metadata["page_url"] == event.permalink


@pytest.mark.parametrize(
    ("declared", "status"),
    [("²", 202), ("١٢", 202), ("abc", 202), (" 13 ", 202), ("9" * 5000, 413), ("99999999999999999999", 413)],
)
def test_a_malformed_or_huge_content_length_is_never_a_500(client, stack, declared, status):
    response = client.http.post(
        "/forms/demo/responses", headers={**JSON, "content-length": declared}, body=b'{"rating": 5}'
    )

    assert response.status_code == status


def test_a_bad_idempotency_key_is_named_as_the_response_id(client, stack):
    response = post_json(client, "demo", {"rating": 7}, headers={"Idempotency-Key": "short"})

    assert error_of(response)["field_codes"] == {"response_id": "invalid_response_id"}


def test_form_rules_apply(client, stack, csat_form):
    origin = {"Origin": "https://shop.example.com"}
    above_csat = post_json(client, csat_form.form_id, {"rating": 6, "email": "b@example.com"}, origin)
    without_email = post_json(client, csat_form.form_id, {"rating": 4}, origin)
    other_site = post_json(
        client, csat_form.form_id, {"rating": 4, "email": "b@example.com"}, {"Origin": "https://evil.example"}
    )

    assert above_csat.status_code == 422
    assert without_email.status_code == 422
    assert error_of(without_email)["fields"] == {"email": "Enter your email address: this form needs it."}
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


def test_a_form_aws_cannot_read_now_is_a_503_the_browser_may_retry(client, stack):
    """A cold cache's GetItem throttled: 503 with Retry-After (the widget retries it), not a 500."""
    from botocore.exceptions import ClientError

    from chalicelib import aws
    from chalicelib.forms import records

    def refuse(**kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetItem")

    records.clear_cache()
    dynamodb = aws.client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb.GetItem", refuse)
    try:
        response = post_json(client, "demo", {"rating": 8})
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.GetItem", refuse)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert error_of(response)["code"] == "unavailable"
    assert stack.queue_depth() == 0
    assert post_json(client, "demo", {"rating": 8}).status_code == 202
