"""Facebook Page channel (`meta`): Page feed comments → `facebook`, Messenger messages → `messenger`.

Fixtures in tests/fixtures/meta/ follow Meta's Webhooks reference for the Page object, field `feed`
(developers.facebook.com/docs/graph-api/webhooks/reference/page: from {id, name}, post {…, permalink_url},
post_id, comment_id, parent_id, created_time, item, verb, message) and the Messenger Platform webhook
events reference (…/messenger-platform/reference/webhook-events: `messages` text, quick-reply and
attachment examples, `message_echoes`, `message_reactions`, `message_reads`, `message_deliveries`,
`messaging_postbacks`, and `standby`). Bodies are written as Meta sends them, non-ASCII `\\u`-escaped.
"""

from __future__ import annotations

import json

import pytest

from chalicelib.channels.registry import CHANNELS
from tests.channels.harness import NOW, ChannelTable, WebhookCase, payload_invalid
from tests.channels.meta_cases import (
    APP_SECRET,
    NO_EVENTS,
    SECRETS,
    assert_challenge_answered_as_plain_text,
    auth_cases,
    handshake_cases,
    hub_signature,
    signed_with,
)

PAGE = "105371222151234"
POST = f"{PAGE}_122100000000000001"
CUSTOMER_PSID = "7012345678901234"


def page_body(*entries: dict) -> bytes:
    return json.dumps({"object": "page", "entry": list(entries)}).encode()


def feed_change(**value: object) -> dict:
    return {"field": "feed", "value": {"item": "comment", "verb": "add", "post_id": POST, **value}}


COMMENT = {
    "channel": "facebook",
    "kind": "comment",
    "external_id": "122100000000000001_1234567890123456",
    "text": "The new café menu is great, but delivery took 2 hours 😞",
    "author": {"channel_user_id": "6054912345678901", "name": "Dana Scott", "handle": None, "email": None},
    "occurred_at": "2026-11-21T11:58:00Z",
    "thread_id": POST,
    "permalink": f"https://www.facebook.com/{PAGE}/posts/pfbid00001AbCdEf",
    "rating": None,
    "metadata": {"item": "comment"},
}
MESSAGE = {
    "channel": "messenger",
    "kind": "message",
    "external_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fp",
    "text": "Hi! My order #4411 arrived damaged.",
    "author": {"channel_user_id": CUSTOMER_PSID, "name": None},
    "occurred_at": "2026-11-21T11:58:00.123000Z",
    "thread_id": CUSTOMER_PSID,
    "metadata": {"recipient_id": PAGE},
}


def skipped_as(reason: str, item: str) -> dict:
    """The answer to a delivery of one item that is skipped: its reason and its place in the delivery."""
    return {"status": "accepted", "events": 0, "skipped": [{"reason": reason, "item": item}]}


CASES = [
    # --- kept -------------------------------------------------------------------------------------------
    WebhookCase(
        "feed comment",
        fixture="feed_comment.json",
        events=[COMMENT],
        response={"status": "accepted", "events": 1},
    ),
    WebhookCase(
        "visitor post on the Page",
        fixture="feed_visitor_post.json",
        events=[
            {
                "channel": "facebook",
                "kind": "comment",
                "external_id": f"{PAGE}_122100000000000077",
                "thread_id": f"{PAGE}_122100000000000077",
                "text": "Three weeks and still no refund for order 5521.",
                "author": {"channel_user_id": "6054912345678999", "name": "Kim Lee"},
                "occurred_at": "2026-11-21T11:55:00Z",
                "permalink": None,
                "metadata": {"item": "status"},
            }
        ],
    ),
    WebhookCase("Messenger text message", fixture="messenger_text.json", events=[MESSAGE]),
    WebhookCase(
        "batch: two entries with several feed changes, one SQS send",
        fixture="batch_feed.json",
        events=[
            {
                "channel": "facebook",
                "external_id": "122100000000000001_1234567890123456",
                "text": "Love the oat latte!",
                "occurred_at": "2026-11-21T11:58:00Z",
            },
            {
                "external_id": "122100000000000001_1234567890123457",
                "text": "Same here, but the wait was long.",
                "author": {"channel_user_id": "6054912345678903", "name": "Alex Kim"},
                "occurred_at": "2026-11-21T11:58:03Z",
                "thread_id": POST,
                # A reply names the comment it answers.
                "metadata": {"item": "comment", "parent_id": "122100000000000001_1234567890123456"},
            },
            {
                "external_id": "122100000000000002_2234567890123456",
                "text": "Card payment failed twice.",
                "thread_id": f"{PAGE}_122100000000000002",
                "occurred_at": "2026-11-21T11:59:00Z",
            },
        ],
        # What was skipped is named with its reason and its place in the delivery; the removed comment
        # (entry[1].changes[2]) is a deletion queued with the events.
        deletions=1,
        response={
            "status": "accepted",
            "events": 3,
            "deletions": 1,
            "skipped": [
                {"reason": "not_feedback_event", "item": "entry[0].changes[1]"},
                {"reason": "own_message", "item": "entry[0].changes[2]"},
            ],
        },
    ),
    WebhookCase(
        "batch: two entries with several messaging events and a standby message, one SQS send",
        fixture="batch_messenger.json",
        events=[
            {
                "channel": "messenger",
                "external_id": "m_batch000000000000000000000000001",
                "text": "Where is my parcel?",
            },
            {
                "external_id": "m_batch000000000000000000000000003",
                "text": "It was due on Monday.",
                "occurred_at": "2026-11-21T11:57:33Z",
            },
            {
                "external_id": "m_batch000000000000000000000000004",
                "text": "Great service today, thanks!",
                "author": {"channel_user_id": "7012345678909999"},
                "thread_id": "7012345678909999",
            },
            {"external_id": "m_batch000000000000000000000000005", "text": "Also, can I change my address?"},
        ],
    ),
    # Issue 11, item 3: an edit is stored under the id of the comment it edits, so the first version received
    # is kept (test_an_edit_of_a_stored_comment_keeps_the_first_version); stored when the add never arrived.
    WebhookCase(
        "edited comment whose add never arrived",
        fixture="feed_comment_edited.json",
        events=[
            {
                **COMMENT,
                "text": "The new café menu is great (edited)",
                "metadata": {"item": "comment", "edited": True},
            }
        ],
    ),
    WebhookCase(
        "edited visitor post (verb edit)",
        body=page_body(
            {
                "id": PAGE,
                "changes": [
                    feed_change(
                        item="status", verb="edit", message="Open late today?", **{"from": {"id": "61"}}
                    )
                ],
            }
        ),
        events=[{"external_id": POST, "text": "Open late today?", "metadata": {"edited": True}}],
    ),
    WebhookCase(
        "the Page's own edited comment",
        body=page_body(
            {
                "id": PAGE,
                "changes": [
                    feed_change(verb="edited", message="x", comment_id="c", **{"from": {"id": PAGE}})
                ],
            }
        ),
        events=NO_EVENTS,
    ),
    WebhookCase(
        "Messenger message_edit whose original never arrived",
        body=page_body(
            {
                "id": PAGE,
                "time": 1795262281000,
                "messaging": [
                    {
                        "sender": {"id": CUSTOMER_PSID},
                        "recipient": {"id": PAGE},
                        "timestamp": 1795262290123,
                        "message_edit": {"mid": "m_edited1", "text": "Damaged AND late", "num_edit": 1},
                    }
                ],
            }
        ),
        events=[
            {
                "channel": "messenger",
                "external_id": "m_edited1",
                "text": "Damaged AND late",
                "metadata": {"edited": True},
            }
        ],
    ),
    # Issue 11, item 6: only http(s) permalinks are kept; the comment is stored without a bad one.
    WebhookCase(
        "a javascript: permalink is dropped",
        body=page_body(
            {
                "id": PAGE,
                "changes": [
                    feed_change(
                        message="hi",
                        comment_id="c-js",
                        post={"permalink_url": "javascript:alert(document.cookie)"},
                        **{"from": {"id": "61"}},
                    )
                ],
            }
        ),
        events=[{"external_id": "c-js", "permalink": None}],
    ),
    # --- skipped: 200, nothing queued -------------------------------------------------------------------
    # A removed comment marks the stored one deleted (platform_deleted_at), as other platforms' deletions do.
    WebhookCase(
        "removed comment",
        fixture="feed_comment_removed.json",
        events=NO_EVENTS,
        deletions=1,
        response={"status": "accepted", "events": 0, "deletions": 1},
    ),
    WebhookCase("hidden comment", fixture="feed_comment_hidden.json", events=NO_EVENTS),
    WebhookCase(
        "reaction on a post",
        fixture="feed_reaction.json",
        events=NO_EVENTS,
        response=skipped_as("not_feedback_event", "entry[0].changes[0]"),
    ),
    WebhookCase(
        "the Page's own comment",
        fixture="feed_page_own_comment.json",
        events=NO_EVENTS,
        response=skipped_as("own_message", "entry[0].changes[0]"),
    ),
    WebhookCase(
        "comment with only a photo",
        fixture="feed_photo_comment.json",
        events=NO_EVENTS,
        response=skipped_as("no_text", "entry[0].changes[0]"),
    ),
    WebhookCase(
        "Messenger echo of the Page's message",
        fixture="messenger_echo.json",
        events=NO_EVENTS,
        response=skipped_as("own_message", "entry[0].messaging[0]"),
    ),
    WebhookCase("Messenger reaction", fixture="messenger_reaction.json", events=NO_EVENTS),
    WebhookCase(
        "Messenger read and delivery receipts", fixture="messenger_read_and_delivery.json", events=NO_EVENTS
    ),
    WebhookCase("Messenger postback", fixture="messenger_postback.json", events=NO_EVENTS),
    WebhookCase(
        "Messenger quick-reply tap",
        fixture="messenger_quick_reply.json",
        events=NO_EVENTS,
        response=skipped_as("not_customer_words", "entry[0].messaging[0]"),
    ),
    WebhookCase(
        "Messenger attachment without text",
        fixture="messenger_attachment.json",
        events=NO_EVENTS,
        response=skipped_as("no_text", "entry[0].messaging[0]"),
    ),
    WebhookCase(
        "a field other than feed",
        body=page_body({"id": PAGE, "time": 1795262285, "changes": [{"field": "ratings", "value": {}}]}),
        events=NO_EVENTS,
    ),
    WebhookCase("no entries", body=b'{"object": "page", "entry": []}', events=NO_EVENTS),
    WebhookCase(
        "post without an author (cannot tell a visitor's from the Page's)",
        body=page_body({"id": PAGE, "changes": [feed_change(item="status", message="New menu out now!")]}),
        events=NO_EVENTS,
    ),
    WebhookCase(
        "comment without an author is kept",
        body=page_body(
            {"id": PAGE, "changes": [feed_change(message="Open on Sunday?", comment_id="c-anon")]}
        ),
        events=[{"external_id": "c-anon", "author": {"channel_user_id": None, "name": None}}],
    ),
    # --- authentication and handshake -------------------------------------------------------------------
    *auth_cases("meta", "feed_comment.json"),
    *handshake_cases(),
    # --- signed but not the documented shape: 422, nothing queued ---------------------------------------
    payload_invalid("Instagram delivery sent to a Page source", b'{"object": "instagram", "entry": []}'),
    payload_invalid("no object", b'{"entry": []}'),
    payload_invalid("entry is not a list", b'{"object": "page", "entry": {}}'),
    payload_invalid("changes is not a list", page_body({"id": PAGE, "changes": "feed"})),
    payload_invalid(
        "comment without comment_id",
        page_body({"id": PAGE, "changes": [feed_change(message="hi", **{"from": {"id": "1"}})]}),
    ),
    payload_invalid(
        "created_time that is not a time",
        page_body(
            {"id": PAGE, "changes": [feed_change(message="hi", comment_id="c1", created_time="yesterday")]}
        ),
    ),
    payload_invalid(
        "comment message that is not a string",
        page_body({"id": PAGE, "changes": [feed_change(message=42, comment_id="c1")]}),
    ),
    payload_invalid(
        "Messenger message without mid",
        page_body(
            {
                "id": PAGE,
                "messaging": [
                    {"sender": {"id": CUSTOMER_PSID}, "timestamp": 1795262280000, "message": {"text": "hi"}}
                ],
            }
        ),
    ),
    # Issue 13, item 2: a field is refused only where it is read. The Page's own comments, echoes and
    # reactions are skipped unread, so a malformed field in one is no error (the payload model defers it).
    WebhookCase(
        "the Page's own comment with a message that is not a string is skipped",
        body=page_body(
            {"id": PAGE, "changes": [feed_change(message=42, comment_id="c1", **{"from": {"id": PAGE}})]}
        ),
        events=NO_EVENTS,
    ),
    WebhookCase(
        "an echo with a text that is not a string is skipped",
        body=page_body(
            {
                "id": PAGE,
                "messaging": [
                    {"sender": {"id": PAGE}, "message": {"mid": "m1", "text": 42, "is_echo": True}}
                ],
            }
        ),
        events=NO_EVENTS,
    ),
    payload_invalid(
        "a customer's message with a text that is not a string",
        page_body(
            {
                "id": PAGE,
                "messaging": [{"sender": {"id": CUSTOMER_PSID}, "message": {"mid": "m1", "text": 42}}],
            }
        ),
    ),
    WebhookCase(
        "a reaction with a sender that is not an object is skipped",
        body=page_body({"id": PAGE, "messaging": [{"sender": "someone", "reaction": {"mid": "m1"}}]}),
        events=NO_EVENTS,
    ),
    # Found by test_normalizer_properties: a non-string item was looked up in a set (TypeError).
    WebhookCase(
        "feed item that is not a string is skipped",
        body=page_body({"id": PAGE, "changes": [feed_change(item=[], message="hi", comment_id="c-1")]}),
        events=NO_EVENTS,
    ),
    # Found by test_normalizer_properties: ~4,000 one-letter messages (200 KB) expand to more events than
    # one SQS request holds; the queue refused them with a 500.
    WebhookCase(
        "more feedback than one queue request holds",
        body=page_body(
            {
                "id": PAGE,
                "messaging": [
                    {"sender": {"id": CUSTOMER_PSID}, "message": {"mid": f"m{i}", "text": "a"}}
                    for i in range(4_000)
                ],
            }
        ),
        status=413,
        error_code="payload_too_large",
    ),
]


def test_an_edit_of_a_stored_comment_keeps_the_first_version(harness, stack):
    """Issue 11, item 3: the add, then the edit: one item, the first text."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    for fixture in ("feed_comment.json", "feed_comment_edited.json"):
        assert harness.send(WebhookCase(fixture, fixture=fixture), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, COMMENT["external_id"]))
    assert stored is not None and stored.text == COMMENT["text"]
    assert stack.table_item_count() == 1


def test_a_removed_comment_is_marked_deleted_and_kept(harness, stack):
    """The add, then Meta's `remove` of that comment: one item, marked platform_deleted_at, text kept."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    for fixture in ("feed_comment.json", "feed_comment_removed.json"):
        assert harness.send(WebhookCase(fixture, fixture=fixture), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, COMMENT["external_id"]))
    assert stored is not None and stored.platform_deleted_at is not None
    assert stored.text == COMMENT["text"]
    assert stack.table_item_count() == 1


TABLE = ChannelTable(
    "meta",
    SECRETS,
    accepted=next(c for c in CASES if c.label == "feed comment"),
    settings={"page_id": "105371222151234"},
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_meta_cases(harness, case):
    harness.run(case)


@pytest.mark.parametrize("channel_type", ["meta", "instagram", "whatsapp"])
def test_sign_is_the_signature_meta_describes(channel_type):
    body = page_body({"id": PAGE, "changes": [feed_change(message="hi", comment_id="c1")]})
    signed = CHANNELS[channel_type].sign(body, SECRETS, NOW)
    assert (signed.headers, signed.query) == ({"X-Hub-Signature-256": hub_signature(APP_SECRET, body)}, {})


def test_handshake_answers_the_exact_challenge_as_plain_text(harness):
    assert_challenge_answered_as_plain_text(harness)


def test_page_id_setting_skips_the_pages_own_comments_under_another_entry_id(channel_harness):
    harness = channel_harness("meta", SECRETS, settings={"page_id": "999"})
    body = page_body(
        {
            "id": PAGE,
            "changes": [
                feed_change(message="Official answer", comment_id="c-page", **{"from": {"id": "999"}}),
                feed_change(message="Customer question", comment_id="c-customer", **{"from": {"id": "1"}}),
            ],
        }
    )

    harness.run(
        WebhookCase(
            "page_id setting",
            body=body,
            sign=False,
            headers=signed_with(APP_SECRET, body),
            events=[{"external_id": "c-customer", "text": "Customer question"}],
        )
    )


def test_occurred_at_falls_back_to_the_entry_time(harness):
    body = page_body(
        {"id": PAGE, "time": 1795262285, "changes": [feed_change(message="hi", comment_id="c1")]}
    )

    harness.run(WebhookCase("no created_time", body=body, events=[{"occurred_at": "2026-11-21T11:58:05Z"}]))


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(next(c for c in CASES if c.fixture == "batch_feed.json"))


def test_meta_console_help_names_what_to_paste():
    from chalicelib.channels.meta import MetaChannel

    channel = MetaChannel()
    assert channel.secret_names == ("app_secret", "verify_token")
    assert channel.generated_secrets == ("verify_token",)
    for needle in ("/webhooks/<source_id>", "verify_token", "app_secret", "`feed`", "`messages`"):
        assert needle in channel.console_help
