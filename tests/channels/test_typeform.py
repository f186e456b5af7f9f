"""Typeform channel (`typeform`): Typeform-Signature, form_response answers → text, rating, author.

Specs followed (checked through the `search` tool):
- https://www.typeform.com/developers/webhooks/secure-your-webhooks/ — `Typeform-Signature: sha256=` +
  base64(HMAC-SHA256(secret, raw body)). Typeform publishes no signature test vector, so the channel's
  `sign` implements that sentence and the cases check every way it can go wrong.
- https://www.typeform.com/developers/webhooks/example-payload/ — tests/fixtures/typeform/form_response.json
  is that example payload verbatim; the other fixtures keep its shape (event_id, event_type,
  form_response{form_id, token, submitted_at, landed_at, hidden, definition{fields[]}, answers[]}) for nps,
  opinion_scale (with `properties.steps`/`start_at_one`, as the Create API defines them) and choice-only
  forms.
Typeform delivers one response per request, so there is no batched delivery to test: each case checks
that one response is one event (and one SQS send, which the harness asserts). The generic authentication
cases (missing or wrong signature, tampered body, rotation) come from the harness (test_generic_cases.py).
"""

from __future__ import annotations

import json

import pytest

from chalicelib.channels.signatures import hex_digest
from chalicelib.channels.typeform import TypeformChannel
from tests.channels.harness import NOW, ChannelTable, WebhookCase, payload_invalid

SECRET = "d41c9c5e0b7a4f3e8a1b2c3d4e5f60718293a4b5"


def signature(body: bytes) -> str:
    """The Typeform-Signature Typeform sends with `body`."""
    return TypeformChannel().sign(body, {"secret": SECRET}, NOW).headers["Typeform-Signature"]


def response(answers: list[dict], fields: list[dict], response_id: str = "tok-1", **extra) -> bytes:
    """A form_response delivery in the documented shape."""
    return json.dumps(
        {
            "event_id": "01HQEVENT",
            "event_type": "form_response",
            "form_response": {
                "form_id": "F0rm1d",
                "token": response_id,
                "submitted_at": "2026-11-21T11:00:00Z",
                "landed_at": "2026-11-21T10:59:00Z",
                "definition": {"id": "F0rm1d", "title": "Inline form", "fields": fields},
                "answers": answers,
                **extra,
            },
        }
    ).encode()


def field(field_id: str, field_type: str, title: str, **properties) -> dict:
    return {
        "id": field_id,
        "ref": f"ref_{field_id}",
        "type": field_type,
        "title": title,
        "properties": properties,
    }


def number(field_id: str, field_type: str, value: float) -> dict:
    return {"type": "number", "number": value, "field": {"id": field_id, "type": field_type}}


def text(field_id: str, field_type: str, value: str) -> dict:
    return {"type": "text", "text": value, "field": {"id": field_id, "type": field_type}}


COMMENT_FIELD = field("c1", "long_text", "Tell us more")
COMMENT = text("c1", "long_text", "Checkout kept timing out.")
VALID = response([COMMENT], [COMMENT_FIELD])

OFFICIAL_TEXT = (
    "Thanks! What's it like where you live? Tell us in a few sentences.\n"
    "It's cold right now! I live in an older medium-sized city with a university. Geographically, the area "
    "is hilly.\n\n"
    "What is your first name?\n"
    "Laura"
)

CASES = [
    WebhookCase(
        "Typeform's example payload: two text answers under their titles, rating field → stars",
        fixture="form_response.json",
        events=[
            {
                "channel": "typeform",
                "kind": "form_response",
                "external_id": "a3a12ec67a1365927098a606107fac15",
                "text": OFFICIAL_TEXT,
                # The opinion_scale answer (2) comes first but its definition has no steps: no scale.
                "rating": 3,
                "rating_scale": "stars",
                "author": {"channel_user_id": "abc123456", "email": "laura@example.com", "name": None},
                "occurred_at": "2018-01-18T18:17:02Z",
                "thread_id": None,
                "metadata": {"form_id": "lT4Z3j", "form_title": "Webhooks example", "event_id": "LtWXD3crgy"},
            }
        ],
        response={"status": "accepted", "events": 1},
    ),
    WebhookCase(
        "nps field → nps; one text answer stays bare; author from hidden fields",
        fixture="nps_survey.json",
        events=[
            {
                "external_id": "01hq8y3zk2m4n6p8r0s2t4v6x8token",
                "text": "Support answered within minutes and fixed my billing problem.",
                "rating": 9,
                "rating_scale": "nps",
                "author": {
                    "channel_user_id": "cus_4471",
                    "name": "Sam Rivera",
                    "email": "sam.rivera@example.com",
                },
                "occurred_at": "2026-11-21T11:58:41Z",
                "metadata": {"form_id": "Xq9pL2", "form_title": "Quarterly NPS"},
            }
        ],
    ),
    WebhookCase(
        "opinion_scale 1-5 from its properties → csat; email answer → author",
        fixture="opinion_scale_csat.json",
        events=[
            {
                "external_id": "9c2f61d7e4b84a0f8d5e3c1b2a7f6e5d",
                "text": "The parcel arrived a day late but the courier was friendly.",
                "rating": 4,
                "rating_scale": "csat",
                "author": {"email": "ola@example.org", "channel_user_id": None},
                "occurred_at": "2026-11-20T09:15:00Z",
            }
        ],
    ),
    WebhookCase(
        "opinion_scale 0-10 from its properties → nps",
        body=response(
            [number("o1", "opinion_scale", 0), COMMENT],
            [field("o1", "opinion_scale", "Recommend us?", steps=11, start_at_one=False), COMMENT_FIELD],
        ),
        events=[
            {"external_id": "tok-1", "rating": 0, "rating_scale": "nps", "text": "Checkout kept timing out."}
        ],
    ),
    WebhookCase(
        "opinion_scale 1-7 fits no scale: text kept, no rating",
        body=response(
            [number("o1", "opinion_scale", 6), COMMENT],
            [field("o1", "opinion_scale", "Rate us", steps=7, start_at_one=True), COMMENT_FIELD],
        ),
        events=[{"external_id": "tok-1", "rating": None, "rating_scale": None}],
    ),
    WebhookCase(
        "rating field with 10 steps is skipped; the nps after it is used",
        body=response(
            [number("r1", "rating", 8), number("n1", "nps", 7)],
            [field("r1", "rating", "Stars", steps=10, shape="star"), field("n1", "nps", "Recommend?")],
        ),
        events=[{"external_id": "tok-1", "text": "", "rating": 7, "rating_scale": "nps"}],
    ),
    WebhookCase(
        "rating field with 3 steps → stars, steps kept for rescaling",
        body=response([number("r1", "rating", 3)], [field("r1", "rating", "Stars", steps=3)]),
        events=[{"rating": 3, "rating_scale": "stars", "metadata": {"rating_steps": 3}}],
    ),
    WebhookCase(
        "a rating outside its field's steps is no rating",
        body=response([number("r1", "rating", 6), COMMENT], [field("r1", "rating", "Stars"), COMMENT_FIELD]),
        events=[{"rating": None, "text": "Checkout kept timing out."}],
    ),
    WebhookCase(
        "a whole number written 7.0 is a rating",
        body=response([number("n1", "nps", 7.0)], [field("n1", "nps", "Recommend?")]),
        events=[{"rating": 7, "rating_scale": "nps"}],
    ),
    # Issue 11, item 17: a number answer is a JSON number; a boolean (or a string) is never a rating.
    *(
        payload_invalid(
            f"a number answer of {value!r}",
            response(
                [number("n1", "nps", value), COMMENT], [field("n1", "nps", "Recommend?"), COMMENT_FIELD]
            ),
        )
        for value in (True, "9")
    ),
    WebhookCase(
        "a number answer of 4,000 digits is no rating (and no 500)",
        body=response([COMMENT], [COMMENT_FIELD]).replace(
            b'"answers": [',
            b'"answers": [{"type": "number", "number": '
            + b"9" * 4_000
            + b', "field": {"id": "n1", "type": "nps"}}, ',
        ),
        events=[{"rating": None, "text": "Checkout kept timing out."}],
    ),
    WebhookCase(
        "dropdown answers are typed text but are choices, not feedback text",
        body=response(
            [text("d1", "dropdown", "Germany"), COMMENT],
            [field("d1", "dropdown", "Country"), COMMENT_FIELD],
        ),
        events=[{"text": "Checkout kept timing out."}],
    ),
    WebhookCase("a response of choices only is not feedback", fixture="choices_only.json", events=[]),
    WebhookCase(
        "other event types are acknowledged and dropped",
        body=b'{"event_id": "x", "event_type": "form_response_partial", "form_response": {}}',
        events=[],
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "not_feedback_event"}]},
    ),
    WebhookCase(
        "signature without the sha256= prefix",
        body=VALID,
        sign=False,
        headers={"Typeform-Signature": signature(VALID).removeprefix("sha256=")},
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "hex digest instead of base64",
        body=VALID,
        sign=False,
        headers={"Typeform-Signature": "sha256=" + hex_digest(SECRET, VALID)},
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "malformed JSON after a valid signature",
        body=b'{"event_type": ',
        status=400,
        error_code="malformed_json",
    ),
    payload_invalid(
        "form_response of the wrong type", b'{"event_type": "form_response", "form_response": []}'
    ),
    payload_invalid("form_response without a token", VALID.replace(b'"token": "tok-1", ', b"")),
    payload_invalid("submitted_at that is not a date", VALID.replace(b"2026-11-21T11:00:00Z", b"yesterday")),
    # Found by test_normalizer_properties: such a time parses, then overflowed converting to UTC (500).
    payload_invalid(
        "submitted_at before the year 1 in UTC",
        VALID.replace(b"2026-11-21T11:00:00Z", b"0001-01-01T00:00:00+14:00"),
    ),
]


TABLE = ChannelTable(
    "typeform",
    {"secret": SECRET},
    accepted=CASES[0],
    settings={"opinion_scale": "nps", "text_fields": "readable_ref_long_text, other"},
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_typeform_cases(harness, case):
    harness.run(case)


def test_opinion_scale_setting_reads_scales_without_properties(channel_harness):
    """Typeform's example has no steps on its opinion_scale field; the source setting says how to read it."""
    harness = channel_harness("typeform", {"secret": SECRET}, settings={"opinion_scale": "nps"})
    harness.run(
        WebhookCase(
            "opinion_scale read as nps",
            fixture="form_response.json",
            events=[{"rating": 2, "rating_scale": "nps"}],
        )
    )


def test_text_fields_setting_picks_the_feedback_questions(channel_harness):
    harness = channel_harness(
        "typeform", {"secret": SECRET}, settings={"text_fields": "readable_ref_long_text, other"}
    )
    harness.run(
        WebhookCase(
            "only the long_text answer, without its title",
            fixture="form_response.json",
            events=[{"text": OFFICIAL_TEXT.split("\n")[1]}],
        )
    )


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(CASES[0])
