"""Intercom channel (`intercom`): X-Hub-Signature, conversation topics → messages and ratings.

Specs followed (checked through the `search` tool):
- https://developers.intercom.com/intercom-api-reference/v1.0/reference/signed-notifications —
  `X-Hub-Signature: sha1=` + the hexadecimal HMAC-SHA1 of the JSON notification. Its example request
  shows a signature but not the key, so it is no test vector; none is published. Current apps sign with
  the app's client_secret (https://developers.intercom.com/docs/webhooks).
- https://developers.intercom.com/docs/references/1.3/webhooks/webhook-models — topics
  conversation.user.created / conversation.user.replied / conversation.admin.replied …, the
  notification_event envelope (type, app_id, data{type, item}, links, id, topic, delivery_status,
  delivery_attempts, delivered_at, first_sent_at, created_at, self) and the `ping` topic.
- https://developers.intercom.com/docs/references/rest-api/api.intercom.io/models/conversation_part/ and the
  2.x Conversation / Conversation Rating models — `data.item` in every fixture is a Conversation with
  source, contacts, conversation_parts{conversation_parts[]} and conversation_rating{rating, remark,
  created_at, contact, teammate}; bodies are HTML.
The generic authentication cases (missing or wrong signature, tampered body, rotation) come from the
harness (test_generic_cases.py).
"""

from __future__ import annotations

import json

import pytest

from chalicelib.channels.intercom import IntercomChannel
from chalicelib.channels.signatures import b64_digest
from chalicelib.channels.text import html_to_text
from tests.channels.harness import FIXTURES, NOW, ChannelTable, WebhookCase, payload_invalid

SECRET = "8c4f2a1e9b7d4c3a5e6f7a8b9c0d1e2f3a4b5c6d"


def signature(body: bytes) -> str:
    """The X-Hub-Signature Intercom sends with `body`."""
    return IntercomChannel().sign(body, {"client_secret": SECRET}, NOW).headers["X-Hub-Signature"]


def variant(name: str, change) -> bytes:
    payload = json.loads((FIXTURES / "intercom" / name).read_text())
    change(payload)
    return json.dumps(payload).encode()


def _item(payload: dict) -> dict:
    return payload["data"]["item"]


def _set_parts(payload: dict, parts: list[dict]) -> None:
    _item(payload)["conversation_parts"]["conversation_parts"] = parts


ADMIN_NOTE = {
    "type": "conversation_part",
    "id": "7010",
    "part_type": "note",
    "body": "<p>Customer is on the legacy plan</p>",
    "created_at": 1763726150,
    "author": {"type": "admin", "id": "814860", "name": "Mark Admin"},
}
LEAD_PART = {
    "type": "conversation_part",
    "id": "7011",
    "part_type": "comment",
    "body": "<p>Any update?</p>",
    "created_at": 1763726160,
    "author": {"type": "lead", "id": "lead-9", "name": None, "email": None},
}


VALID = (FIXTURES / "intercom" / "user_replied.json").read_bytes()
JOE = {"channel_user_id": "5ba682d23d7cf92bef87bfd4", "name": "Joe Bloggs", "email": "joe.bloggs@example.com"}

CASES = [
    WebhookCase(
        "conversation.user.created: the opening message, HTML → text",
        fixture="user_created.json",
        events=[
            {
                "channel": "intercom",
                "kind": "message",
                "external_id": "conversation:1295",
                "text": "Hi! I can't export my invoices as PDF.\n\n"
                "The button just spins & nothing downloads.",
                "rating": None,
                "author": JOE,
                "occurred_at": "2025-11-21T11:50:00Z",
                "thread_id": "1295",
                "metadata": {
                    "topic": "conversation.user.created",
                    "notification_id": "notif_78c122d0-23ba-11e4-9464-79b01267cc2e",
                    "app_id": "a86dr8yl",
                },
            }
        ],
        response={"status": "accepted", "events": 1},
    ),
    WebhookCase(
        "conversation.user.replied: the user's part",
        fixture="user_replied.json",
        events=[
            {
                "kind": "message",
                "external_id": "part:7001",
                "text": "Still broken after clearing the cache :(",
                "author": JOE,
                "occurred_at": "2025-11-21T11:56:00Z",
                "thread_id": "1295",
                "metadata": {"topic": "conversation.user.replied", "part_id": "7001"},
            }
        ],
    ),
    WebhookCase(
        "two user parts in one notification: two events, one SQS send",
        fixture="user_replied_batch.json",
        events=[
            {"external_id": "part:7002", "text": "Here is the invoice number: INV-2041"},
            {
                "external_id": "part:7003",
                "text": "And it happens in Firefox too.",
                "occurred_at": "2025-11-21T11:56:05Z",
            },
        ],
        response={"status": "accepted", "events": 2},
    ),
    WebhookCase(
        "conversation.rating.added: 1-5 → csat, remark → text, author from the matching source",
        fixture="rating_added.json",
        events=[
            {
                "kind": "review",
                "external_id": "conversation:1295:rating",
                "text": "Solved quickly, thanks!",
                "rating": 4,
                "rating_scale": "csat",
                "author": JOE,
                "occurred_at": "2025-11-21T12:01:00Z",
                "metadata": {"topic": "conversation.rating.added"},
            }
        ],
    ),
    WebhookCase(
        "a rating without remark is still a rating",
        body=variant("rating_added.json", lambda p: _item(p)["conversation_rating"].update(remark=None)),
        events=[{"external_id": "conversation:1295:rating", "rating": 4, "text": ""}],
    ),
    WebhookCase(
        "a rating by a contact other than the opening author keeps only the contact id",
        body=variant(
            "rating_added.json", lambda p: _item(p)["conversation_rating"]["contact"].update(id="6a7b8c9d")
        ),
        events=[{"author": {"channel_user_id": "6a7b8c9d", "name": None, "email": None}}],
    ),
    WebhookCase(
        "a lead's part is kept, an admin note in the same notification is not",
        body=variant("user_replied.json", lambda p: _set_parts(p, [ADMIN_NOTE, LEAD_PART])),
        events=[{"external_id": "part:7011", "text": "Any update?", "author": {"channel_user_id": "lead-9"}}],
    ),
    WebhookCase(
        "an operator-initiated conversation (admin source) is not customer feedback",
        body=variant("user_created.json", lambda p: _item(p)["source"]["author"].update(type="admin")),
        events=[],
    ),
    WebhookCase(
        "an author e-mail that is no address is left out, the message kept (linked by the contact id)",
        body=variant("user_created.json", lambda p: _item(p)["source"]["author"].update(email="joe at home")),
        events=[{"external_id": "conversation:1295", "author": {**JOE, "email": None}}],
    ),
    WebhookCase(
        "an author e-mail with a display name keeps its address",
        body=variant(
            "user_created.json",
            lambda p: _item(p)["source"]["author"].update(email="Joe Bloggs <Joe.Bloggs@Example.com>"),
        ),
        events=[{"external_id": "conversation:1295", "author": JOE}],
    ),
    WebhookCase("admin replies are skipped", fixture="admin_replied.json", events=[]),
    WebhookCase(
        "admin-authored parts under a user topic are skipped",
        body=variant(
            "user_replied.json",
            lambda p: _item(p)["conversation_parts"]["conversation_parts"][0]["author"].update(type="bot"),
        ),
        events=[],
    ),
    WebhookCase(
        "Intercom's ping on setup: 200, nothing queued",
        fixture="ping.json",
        events=[],
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "not_feedback_event"}]},
    ),
    payload_invalid(
        "a rating outside 1-5",
        variant("rating_added.json", lambda p: _item(p)["conversation_rating"].update(rating=9)),
    ),
    # Issue 11, item 17: Intercom documents the rating as an integer; a boolean or a string is never one.
    *(
        payload_invalid(
            f"a rating of {value!r}",
            variant("rating_added.json", lambda p, v=value: _item(p)["conversation_rating"].update(rating=v)),
        )
        for value in (True, "4", 4.0)
    ),
    payload_invalid(
        "rating.added without conversation_rating",
        variant("rating_added.json", lambda p: _item(p).update(conversation_rating=None)),
    ),
    payload_invalid(
        "a feedback topic without data.item",
        b'{"type": "notification_event", "id": "n", "topic": "conversation.user.replied", "data": {}}',
    ),
    payload_invalid(
        "a conversation without an id", variant("user_replied.json", lambda p: _item(p).pop("id"))
    ),
    WebhookCase(
        "malformed JSON after a valid signature", body=b'{"topic": ', status=400, error_code="malformed_json"
    ),
    WebhookCase(
        "sha256 instead of sha1",
        body=VALID,
        sign=False,
        headers={"X-Hub-Signature": "sha256=" + signature(VALID).removeprefix("sha1=")},
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "base64 instead of hex",
        body=VALID,
        sign=False,
        headers={"X-Hub-Signature": "sha1=" + b64_digest(SECRET, VALID, "sha1")},
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "signature over a re-serialised body",
        body=VALID,
        sign=False,
        headers={
            "content-type": "application/json",
            "X-Hub-Signature": signature(json.dumps(json.loads(VALID)).encode()),
        },
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "upper-case hex digest is the same signature",
        body=VALID,
        sign=False,
        headers={"X-Hub-Signature": "sha1=" + signature(VALID).removeprefix("sha1=").upper()},
        events=[{"external_id": "part:7001"}],
    ),
    # Found by test_normalizer_properties: a non-string topic was looked up in a set (TypeError).
    WebhookCase("topic that is not a string is acknowledged", body=b'{"topic": [], "data": {}}', events=[]),
    # Found by test_normalizer_properties: such a time parses, then overflowed converting to UTC (500).
    payload_invalid(
        "time before the year 1 in UTC",
        variant(
            "user_replied.json",
            lambda payload: _item(payload)["conversation_parts"]["conversation_parts"][0].update(
                created_at="0001-01-01T00:00:00+14:00"
            ),
        ),
    ),
]


TABLE = ChannelTable("intercom", {"client_secret": SECRET}, accepted=CASES[1])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_intercom_cases(harness, case):
    harness.run(case)


def test_redelivery_is_stored_once(harness):
    """The same notification (same notif id) sent twice: same part ids, one stored item per part."""
    harness.assert_redelivery_stored_once(CASES[2])


def test_html_to_text():
    assert html_to_text("<p>Hello&nbsp;<b>there</b></p><p>Line<br>break</p><script>x()</script>") == (
        "Hello there\n\nLine\nbreak"
    )
    assert html_to_text("<ul><li>one</li><li>two &amp; three</li></ul>") == "one\ntwo & three"
    assert html_to_text(None) == html_to_text("") == ""


def test_the_head_request_intercom_checks_the_endpoint_url_with_is_answered(harness, client, stack):
    """Session 30: Intercom checks an endpoint URL with a HEAD request before saving it ("Setting up
    webhooks", developers.intercom.com/docs/webhooks/setting-up-webhooks); it was 404 `not_found`, so the
    webhook could not be set up as the README says. A source's URL answers HEAD; an unknown id still 404."""
    answered = client.http.head(f"/webhooks/{harness.source.source_id}")
    unknown = client.http.head("/webhooks/src_nope")

    assert answered.status_code == 200
    assert answered.body == b""
    assert unknown.status_code == 404
    assert stack.queue_depth() == 0
