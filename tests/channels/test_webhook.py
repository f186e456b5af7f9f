"""Standard Webhooks channel (`webhook`): the spec's signature scheme, the documented body.

The generic authentication cases (missing or wrong signature, tampered body, replay window, key rotation)
come from the harness (test_generic_cases.py); this table keeps what is particular to the spec.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.channels.webhook import StandardWebhooksChannel
from tests.channels.harness import NOW, ChannelTable, WebhookCase, payload_invalid

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def signed_headers(body: bytes, extra_entries: str = "") -> dict[str, str]:
    """The headers a sender sends with `body` as message MESSAGE_ID at NOW, after other `v1,` entries."""
    headers = (
        StandardWebhooksChannel().sign(body, {"signing_secret": SECRET}, NOW, message_id=MESSAGE_ID).headers
    )
    signature = f"{extra_entries} {headers['webhook-signature']}".strip()
    return {"content-type": "application/json", **headers, "webhook-signature": signature}


VALID = b'{"id": "evt_9", "text": "Works"}'

CASES = [
    WebhookCase(
        "envelope with data object",
        fixture="feedback_created.json",
        events=[
            {
                "channel": "webhook",
                "kind": "review",
                "external_id": "evt_1001",
                "text": "The onboarding call was really helpful",
                "language": "en",
                "rating": 5,
                "rating_scale": "csat",
                "author": {"channel_user_id": "cust-42", "name": "Dana Scott", "email": "dana@example.com"},
                "occurred_at": "2026-11-21T11:57:30Z",
                "thread_id": "ticket-1001",
                "permalink": "https://crm.example.com/tickets/1001",
                "metadata": {"event_type": "feedback.created"},
            }
        ],
        response={"status": "accepted", "events": 1},
    ),
    WebhookCase(
        "plain feedback object, occurred_at defaults to receipt",
        fixture="plain_object.json",
        events=[
            {
                "external_id": "zap-77",
                "text": "Shipping took three weeks.",
                "author": {"handle": "@kim"},
                "occurred_at": "2026-11-21T12:00:00Z",
                "rating": None,
                "kind": "comment",
            }
        ],
    ),
    WebhookCase(
        "batch in data list",
        fixture="batch.json",
        events=[
            {"external_id": "b-1", "text": "Great"},
            {"external_id": "b-2", "text": "Bad", "rating": 1, "rating_scale": "stars"},
        ],
    ),
    WebhookCase(
        "object without id uses webhook-id",
        body=b'{"text": "No id here"}',
        sign=False,
        headers=signed_headers(b'{"text": "No id here"}'),
        events=[{"external_id": MESSAGE_ID, "text": "No id here"}],
    ),
    WebhookCase(
        "signature without v1 entry",
        body=VALID,
        sign=False,
        status=401,
        error_code="signature_invalid",
        headers={**signed_headers(VALID), "webhook-signature": "v2,abc"},
    ),
    WebhookCase(
        "timestamp not a number",
        body=VALID,
        sign=False,
        status=401,
        error_code="timestamp_expired",
        headers={**signed_headers(VALID), "webhook-timestamp": "yesterday"},
    ),
    WebhookCase(
        "one of several signatures matches (rotation on the sender)",
        body=VALID,
        sign=False,
        headers=signed_headers(VALID, extra_entries="v1,bm90IGl0 v1a,ignored"),
        events=[{"external_id": "evt_9"}],
    ),
    WebhookCase(
        "malformed JSON after a valid signature", body=b'{"id": ', status=400, error_code="malformed_json"
    ),
    payload_invalid("rating outside its scale", b'{"id": "r", "rating": 9, "rating_scale": "stars"}'),
    payload_invalid("rating without a scale", b'{"id": "r", "rating": 3}'),
    payload_invalid("data of the wrong type", b'{"data": "text"}'),
    payload_invalid("field of the wrong type", b'{"id": "x", "author": "bob"}'),
    # Found by test_normalizer_properties: such a time parses, then overflowed converting to UTC (500).
    payload_invalid(
        "occurred_at before the year 1 in UTC",
        b'{"id": "y", "text": "t", "occurred_at": "0001-01-01T00:00:00+14:00"}',
    ),
    # Issue 11, item 2: a correctly signed event that is not feedback is acknowledged (so the sender does not
    # retry for a day) and nothing is stored; the answer says why.
    WebhookCase(
        "an event type other than feedback.*",
        body=b'{"type": "contact.created", "data": {"id": "c_1", "email": "dana@example.com"}}',
        events=[],
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "not_feedback_event"}]},
    ),
    # feedback.deleted marks each item it names (by id) deleted, as a platform deletion is; nothing is stored.
    WebhookCase(
        "feedback.deleted names an item that is gone",
        body=b'{"type": "feedback.deleted", "data": {"id": "evt_1001", "text": "was here"}}',
        events=[],
        deletions=1,
        response={"status": "accepted", "events": 0, "deletions": 1},
    ),
    WebhookCase(
        "feedback.deleted of a batch, one item without its id",
        body=b'{"type": "feedback.deleted", "data": [{"id": "evt_1"}, {"text": "which?"}, {"id": "evt_2"}]}',
        events=[],
        deletions=2,
        response={
            "status": "accepted",
            "events": 0,
            "deletions": 2,
            "skipped": [{"reason": "no_id", "index": 1}],
        },
    ),
    payload_invalid("an event type that is not a string", b'{"type": 7, "data": {"id": "x", "text": "t"}}'),
    WebhookCase(
        "a feedback object with neither text nor rating",
        body=b'{"type": "feedback.created", "data": {"id": "e_1", "author": {"name": "Dana"}, "text": " "}}',
        events=[],
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "no_text_or_rating"}]},
    ),
    WebhookCase(
        "a rating without text is feedback",
        body=b'{"id": "r_1", "rating": 9, "rating_scale": "nps"}',
        events=[{"external_id": "r_1", "text": "", "rating": 9, "rating_scale": "nps"}],
        response={"status": "accepted", "events": 1},
    ),
    # Issue 11, item 17: a rating is a JSON integer; the 422 names the field.
    *(
        WebhookCase(
            f"rating {raw.decode()} is refused",
            body=b'{"id": "r", "text": "t", "rating": ' + raw + b', "rating_scale": "stars"}',
            status=422,
            error_code="payload_invalid",
            response={
                "error": {
                    "code": "payload_invalid",
                    "message": "Invalid feedback fields: rating (a JSON integer).",
                }
            },
        )
        for raw in (b"true", b"false", b'"5"', b"5.0", b"4.5")
    ),
    WebhookCase(
        "the 422 names the batch item whose rating is wrong",
        body=b'{"data": [{"id": "a", "text": "ok"}, {"id": "b", "text": "t", "rating": true}]}',
        status=422,
        response={
            "error": {
                "code": "payload_invalid",
                "message": "Invalid feedback fields: data[1].rating (a JSON integer).",
            }
        },
    ),
    # Issue 11, item 6: only http(s) URLs are kept; the item is stored without a bad one.
    *(
        WebhookCase(
            f"url {url!r} is dropped",
            body=b'{"id": "u", "text": "Nice", "url": "' + url.encode() + b'"}',
            events=[{"external_id": "u", "text": "Nice", "permalink": None}],
        )
        for url in ("javascript:alert(1)", "data:text/html,hi", "ftp://example.com/f", "crm/tickets/1")
    ),
    # Issue 11, item 3: an edit is stored under the id of the item it edits; the first version is kept.
    WebhookCase(
        "feedback.updated is an edit of the same id",
        body=b'{"type": "feedback.updated", "data": {"id": "evt_1001", "text": "Changed my mind"}}',
        events=[
            {
                "external_id": "evt_1001",
                "text": "Changed my mind",
                "metadata": {"event_type": "feedback.updated", "edited": True},
            }
        ],
    ),
    # Session 30: the envelope's timestamp ("when the event occurred", the spec's payload structure) was
    # ignored, so an item without occurred_at was dated when it arrived, a retry hours later included.
    WebhookCase(
        "an item without occurred_at takes the envelope's timestamp",
        body=b'{"type": "feedback.created", "timestamp": "2026-11-20T08:00:00Z", '
        b'"data": {"id": "t", "text": "x"}}',
        events=[{"external_id": "t", "occurred_at": "2026-11-20T08:00:00Z"}],
    ),
    WebhookCase(
        "an envelope timestamp that is no time is ignored",
        body=b'{"type": "feedback.created", "timestamp": "soon", "data": {"id": "t", "text": "x"}}',
        events=[{"external_id": "t", "occurred_at": "2026-11-21T12:00:00Z"}],
    ),
    # Session 31: a time after the delivery arrived (a sender's clock, a typo) was stored as sent, so its
    # customer stayed "last seen" in 2036 whatever they wrote later. Every webhook channel: channels/base.py.
    WebhookCase(
        "an item dated after it arrived is dated when it arrived",
        body=b'{"data": [{"id": "f", "text": "x", "occurred_at": "2036-01-01T10:00:00Z"}, '
        b'{"id": "g", "text": "y", "occurred_at": "2026-11-21T11:59:00Z"}]}',
        events=[
            {"external_id": "f", "occurred_at": "2026-11-21T12:00:00Z"},
            {"external_id": "g", "occurred_at": "2026-11-21T11:59:00Z"},
        ],
    ),
    # Session 30: a batch naming one id twice was answered "events": 2, though the first alone is stored.
    WebhookCase(
        "an id repeated in a batch is stored once, the answer naming the repeat",
        body=b'{"data": [{"id": "d", "text": "first"}, {"id": "d", "text": "second"}, '
        b'{"id": "e", "text": "x"}]}',
        events=[{"external_id": "d", "text": "first"}, {"external_id": "e"}],
        response={"status": "accepted", "events": 2, "skipped": [{"reason": "duplicate_id", "index": 1}]},
    ),
    # Session 30: a language that names none ("english") was stored as sent, and the item never analyzed
    # (unsupported_language); a tag was stored whole, so the read API's `language=pt` filter missed it.
    WebhookCase(
        "a language that names none is refused, saying what is expected",
        body=b'{"id": "l", "text": "Hello", "language": "english"}',
        status=422,
        response={
            "error": {
                "code": "payload_invalid",
                "message": "Invalid feedback fields: language (an ISO 639-1 code such as en, or a tag "
                "such as pt-BR).",
            }
        },
    ),
    *(
        WebhookCase(
            f"language {tag} is stored as {code}",
            body=b'{"id": "l", "text": "Hello", "language": "' + tag.encode() + b'"}',
            events=[{"external_id": "l", "language": code}],
        )
        for tag, code in (("pt-BR", "pt"), ("EN_gb", "en"), ("zh-Hant", "zh-TW"), ("fr", "fr"))
    ),
    # Session 30: the 422 named the field but not what it takes: a sender had to guess the limit or the kinds.
    *(
        WebhookCase(
            f"the 422 says what {field} takes",
            body=body,
            status=422,
            response={"error": {"code": "payload_invalid", "message": f"Invalid feedback fields: {said}."}},
        )
        for field, body, said in (
            ("text", b'{"id": "t", "text": "' + b"x" * 10_001 + b'"}', "text (at most 10000 characters)"),
            (
                "kind",
                b'{"id": "t", "text": "t", "kind": "tweet"}',
                "kind (one of 'comment', 'message', 'mention', 'review' or 'form_response')",
            ),
            (
                "occurred_at",
                b'{"id": "t", "text": "t", "occurred_at": "soon"}',
                "occurred_at (an ISO 8601 date-time)",
            ),
            ("data", b'{"data": []}', "data (a list of at least 1)"),
        )
    ),
    # Session 30: "not-an-email" became the customer's profile e-mail, and its CRM sync failed until the DLQ.
    WebhookCase(
        "an author e-mail that is no address is refused",
        body=b'{"id": "e", "text": "Hello", "author": {"email": "not-an-email"}}',
        status=422,
        response={
            "error": {
                "code": "payload_invalid",
                "message": "Invalid feedback fields: author.email (not an e-mail address such as "
                "name@example.com).",
            }
        },
    ),
    WebhookCase(
        "an author e-mail with a display name keeps the address",
        body=b'{"id": "e", "text": "Hello", "author": {"email": "Dana <Dana@Example.COM>", "name": "Dana"}}',
        events=[{"external_id": "e", "author": {"name": "Dana", "email": "dana@example.com"}}],
    ),
    # Found by test_normalizer_properties: nesting past the parser's recursion limit raised RecursionError
    # (500), and a lone surrogate reached the queue, which cannot encode it as UTF-8 (500).
    WebhookCase(
        "nesting deeper than the parser allows", body=b"[" * 50_000, status=400, error_code="malformed_json"
    ),
    WebhookCase(
        "lone surrogate in a string", body=b'{"text": "hi \\ud800"}', status=400, error_code="malformed_json"
    ),
    # A sender encoding its JSON as Latin-1 (or Windows-1252) was told "The body is not valid JSON.", which
    # it is, in another encoding: the answer says what is wrong.
    WebhookCase(
        "JSON encoded as Latin-1, not UTF-8",
        body='{"id": "l1", "text": "Caf\u00e9 tr\u00e8s froid"}'.encode("latin-1"),
        status=400,
        response={
            "error": {
                "code": "malformed_json",
                "message": "The body is not UTF-8: send JSON encoded as UTF-8 (RFC 8259).",
            }
        },
    ),
]


TABLE = ChannelTable("webhook", {"signing_secret": SECRET}, accepted=CASES[0])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_webhook_cases(harness, case):
    harness.run(case)


def test_published_test_vector_verifies(channel_harness, monkeypatch):
    """The Standard Webhooks reference libraries' vector, verbatim: signed by the channel, and verified."""
    harness = channel_harness("webhook", {"signing_secret": SECRET})
    body = b'{"test": 2432232314}'
    signed = StandardWebhooksChannel().sign(
        body,
        {"signing_secret": SECRET},
        datetime.fromtimestamp(1614265330, UTC),
        message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
    )
    assert signed.headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    case = WebhookCase(
        "spec vector",
        body=body,
        sign=False,
        now=datetime.fromtimestamp(1614265330, UTC),
        headers={
            "content-type": "application/json",
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        },
        # Verified, and acknowledged; it holds no feedback (no text, no rating), so nothing is stored.
        events=[],
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "no_text_or_rating"}]},
    )
    harness.run(case)


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(CASES[0])


def test_an_edit_of_a_stored_item_keeps_the_first_version(harness, stack):
    """Issue 11, item 3: feedback.updated after feedback.created is a duplicate; the created text stays."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    created = b'{"type": "feedback.created", "data": {"id": "evt_7", "text": "First words"}}'
    updated = b'{"type": "feedback.updated", "data": {"id": "evt_7", "text": "Second thoughts"}}'
    for body in (created, updated):
        assert harness.send(WebhookCase("edit", body=body), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, "evt_7"))
    assert stored is not None and stored.text == "First words" and "edited" not in stored.metadata
    assert stack.table_item_count() == 1


def test_a_deleted_item_is_marked_deleted_and_kept(harness, stack):
    """feedback.deleted after feedback.created: the stored item gets platform_deleted_at and stays."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    created = b'{"type": "feedback.created", "data": {"id": "evt_8", "text": "Delete me later"}}'
    deleted = b'{"type": "feedback.deleted", "data": {"id": "evt_8"}}'
    for body in (created, deleted):
        assert harness.send(WebhookCase("deletion", body=body), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, "evt_8"))
    assert stored is not None and stored.platform_deleted_at is not None
    assert stored.text == "Delete me later"
    assert stack.table_item_count() == 1


def test_unknown_source_and_handshake(client, stack):
    unknown = client.http.post("/webhooks/src_nope", headers={"content-type": "application/json"}, body=b"{}")
    form_id = client.http.post("/webhooks/demo", headers={"content-type": "application/json"}, body=b"{}")

    assert unknown.status_code == form_id.status_code == 404
    assert stack.queue_depth() == 0


def test_standard_webhooks_has_no_get_handshake(harness):
    harness.assert_no_get_handshake()
