"""Slack Events API channel (`slack`): request signing, url_verification, retries, which messages are kept.

Fixtures in tests/fixtures/slack/ follow Slack's event reference (api.slack.com/events/… and
docs.slack.dev/reference/events/…): url_verification, message.channels, app_rate_limited are the documented
examples verbatim; app_mention is the documented invite-by-mention envelope; bot_message, message_changed,
channel_topic and thread_broadcast are the docs.slack.dev envelopes; message_deleted and channel_join are the
inner events of api.slack.com/events/message in the standard event_callback wrapper. The signature scheme
and the test vector are those of "Verifying requests from Slack".

The Events API sends one event per request, so unlike X there is no batched delivery to test here. The
generic authentication cases (missing or wrong signature, tampered body, the five-minute replay window, key
rotation) come from the harness (test_generic_cases.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.exceptions import SignatureInvalid, TimestampExpired
from chalicelib.channels.slack import SlackChannel
from chalicelib.channels.sources import SourceConfig, SourceSecrets
from tests.channels.harness import FIXTURES, NOW, ChannelTable, WebhookCase, payload_invalid

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OTHER_SECRET = "e7d21c11a0f84c3aa9b1ddc0f2b0c6a7"
JSON = {"content-type": "application/json"}

# Slack's published example ("Verifying requests from Slack", api.slack.com/authentication/verifying-requests-
# from-slack): a slash-command body, form-encoded, signed at 1531420618 with the secret above.
VECTOR_TIMESTAMP = "1531420618"
VECTOR_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def signed_headers(body: bytes) -> dict[str, str]:
    """The headers Slack sends with `body` at NOW."""
    return {**JSON, **SlackChannel().sign(body, {"signing_secret": SECRET}, NOW).headers}


MESSAGE = (FIXTURES / "slack" / "message_channels.json").read_bytes()
NO_EVENTS: list[dict] = []

LIVE_LONG = {
    "channel": "slack",
    "kind": "message",
    "external_id": "C123ABC456:1355517523.000005",
    "text": "Live long and prospect.",
    "author": {"channel_user_id": "U123ABC456", "handle": None, "name": None, "email": None},
    "occurred_at": "2012-12-14T20:38:43.000005Z",
    "thread_id": "1355517523.000005",
    "permalink": None,
    "language": None,
    "metadata": {
        "team_id": "T123ABC456",
        "channel": "C123ABC456",
        "channel_type": "channel",
        "ts": "1355517523.000005",
        "event_id": "Ev123ABC456",
    },
}

CASES = [
    WebhookCase(
        "url_verification is answered with the challenge",
        fixture="url_verification.json",
        response={"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
        events=NO_EVENTS,
    ),
    WebhookCase(
        "channel message (message.channels example)",
        fixture="message_channels.json",
        events=[LIVE_LONG],
        response={"status": "accepted", "events": 1},
    ),
    WebhookCase(
        "Slack retry of the same event: acknowledged, same message",
        fixture="message_channels.json",
        headers={**JSON, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
        events=[{"external_id": "C123ABC456:1355517523.000005", "text": "Live long and prospect."}],
    ),
    WebhookCase(
        "direct message to the app (message.im)",
        fixture="message_im.json",
        events=[
            {
                "kind": "message",
                "external_id": "D024BE91L:1355517524.000006",
                "author": {"channel_user_id": "U2147483697"},
                "occurred_at": "2012-12-14T20:38:44.000006Z",
                "metadata": {"channel": "D024BE91L", "channel_type": "im"},
            }
        ],
    ),
    WebhookCase(
        "thread reply: thread_id is the parent's ts",
        fixture="message_thread_reply.json",
        events=[
            {
                "external_id": "C123ABC456:1483037603.017503",
                "text": "Same here, the dashboard has been slow since Monday.",
                "author": {"channel_user_id": "U2222222"},
                "thread_id": "1482960137.003543",
                "occurred_at": "2016-12-29T18:53:23.017503Z",
            }
        ],
    ),
    WebhookCase(
        "thread_broadcast reply",
        fixture="message_thread_broadcast.json",
        events=[
            {
                "external_id": "C123ABC456:1673464745.620769",
                "text": "broadcasting this reply",
                "thread_id": "1673464730.703009",
                "occurred_at": "2023-01-11T19:19:05.620769Z",
                "metadata": {"subtype": "thread_broadcast"},
            }
        ],
    ),
    WebhookCase(
        "file shared with a comment",
        fixture="message_file_share.json",
        events=[
            {
                "external_id": "C123ABC456:1700000000.123400",
                "text": "Screenshot of the error we keep getting at checkout",
                "occurred_at": "2023-11-14T22:13:20.123400Z",
                "metadata": {"subtype": "file_share"},
            }
        ],
    ),
    WebhookCase(
        "app_mention is a mention",
        fixture="app_mention.json",
        events=[
            {
                "kind": "mention",
                "external_id": "C0LAN2Q65:1515449483.000108",
                # Slack's <@U…> markup is stored as people read it (issue 11, item 1).
                "text": "You can count on @U0LAN0Z89 for an honorable mention.",
                "author": {"channel_user_id": "W021FGA1Z"},
                "occurred_at": "2018-01-08T22:11:23.000108Z",
                "thread_id": "1515449483.000108",
                "metadata": {"team_id": "T061EG9R6", "channel": "C0LAN2Q65"},
            }
        ],
    ),
    WebhookCase("classic bot_message", fixture="bot_message.json", events=NO_EVENTS),
    WebhookCase("app post with bot_id and no subtype", fixture="app_bot_post.json", events=NO_EVENTS),
    # Issue 11, item 3: an edit is the edited message under the original's identity (channel:ts); stored
    # when the original never arrived, a duplicate otherwise (test_an_edit_of_a_stored_message_...).
    WebhookCase(
        "edit (message_changed) whose original never arrived",
        fixture="message_changed.json",
        events=[
            {
                "kind": "message",
                "external_id": "C123ABC456:1355517523.000005",
                "text": "Hello, world!",
                "author": {"channel_user_id": "U123ABC456"},
                "occurred_at": "2012-12-14T20:38:43.000005Z",
                "thread_id": "1355517523.000005",
                "metadata": {
                    "channel": "C123ABC456",
                    "event_id": "Ev123ABC458",
                    "edited": True,
                    "edited_ts": "1358878755.000001",
                },
            }
        ],
    ),
    WebhookCase(
        "message_changed that is no edit (a link unfurled)",
        body=b'{"type": "event_callback", "event_id": "Ev9", "team_id": "T1", "event": {"type": "message", '
        b'"subtype": "message_changed", "hidden": true, "channel": "C1", "ts": "2.000001", "message": '
        b'{"type": "message", "user": "U1", "text": "see https://example.com", "ts": "1.000001"}}}',
        events=NO_EVENTS,
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "not_an_edit"}]},
    ),
    WebhookCase(
        "a bot's edit of its own message",
        body=b'{"type": "event_callback", "event_id": "Ev9", "team_id": "T1", "event": {"type": "message", '
        b'"subtype": "message_changed", "channel": "C1", "ts": "2.000001", "message": {"type": "message", '
        b'"subtype": "bot_message", "bot_id": "B1", "text": "Deploy done", "ts": "1.000001", '
        b'"edited": {"user": "B1", "ts": "2.000001"}}}}',
        events=NO_EVENTS,
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "not_customer_authored"}]},
    ),
    # Issue 11, item 1: Slack escapes & < > and writes mentions and links as <…> markup.
    WebhookCase(
        "escaped text and markup are stored as people read them",
        body=b'{"type": "event_callback", "event_id": "Ev8", "team_id": "T1", "event": {"type": "message", '
        b'"channel": "C1", "user": "U1", "ts": "1.000001", "text": "Prices &lt; competitors &amp; quality '
        b'&gt; expected, <@U2|dana> see <https://example.com/p?a=1&amp;b=2|the page>"}}',
        events=[
            {
                "external_id": "C1:1.000001",
                "text": "Prices < competitors & quality > expected, @dana see the page",
            }
        ],
    ),
    payload_invalid(
        "a message event without its channel",
        b'{"type": "event_callback", "event_id": "Ev7", "team_id": "T1", "event": {"type": "message", '
        b'"user": "U1", "text": "hi", "ts": "1.000001"}}',
    ),
    WebhookCase(
        "deletion (message_deleted): the stored message is marked, nothing new stored",
        fixture="message_deleted.json",
        events=NO_EVENTS,
        deletions=1,
        response={"status": "accepted", "events": 0, "deletions": 1},
    ),
    WebhookCase("channel_join", fixture="channel_join.json", events=NO_EVENTS),
    WebhookCase("channel_topic", fixture="channel_topic.json", events=NO_EVENTS),
    WebhookCase("reaction_added", fixture="reaction_added.json", events=NO_EVENTS),
    WebhookCase(
        "app_rate_limited notice",
        fixture="app_rate_limited.json",
        events=NO_EVENTS,
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "not_a_message_event"}]},
    ),
    WebhookCase(
        "message without text",
        body=b'{"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {"type": "message", '
        b'"user": "U1", "text": "", "ts": "1.000001"}}',
        events=NO_EVENTS,
    ),
    WebhookCase(
        "missing timestamp",
        body=MESSAGE,
        sign=False,
        headers={**JSON, "x-slack-signature": signed_headers(MESSAGE)["x-slack-signature"]},
        status=401,
        error_code="timestamp_expired",
    ),
    WebhookCase(
        "timestamp header changed after signing",
        body=MESSAGE,
        sign=False,
        headers={**signed_headers(MESSAGE), "x-slack-request-timestamp": str(int(NOW.timestamp()) - 1)},
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "unknown signature version",
        body=MESSAGE,
        sign=False,
        headers={**signed_headers(MESSAGE), "x-slack-signature": "v1=" + "0" * 64},
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "malformed JSON after a valid signature", body=b'{"type": ', status=400, error_code="malformed_json"
    ),
    payload_invalid("url_verification without a challenge", b'{"type": "url_verification", "token": "x"}'),
    payload_invalid(
        "event_callback without an event", b'{"type": "event_callback", "event_id": "Ev1", "team_id": "T1"}'
    ),
    payload_invalid(
        "event_callback without an event_id",
        b'{"type": "event_callback", "team_id": "T1", "event": {"type": "message", "user": "U1", '
        b'"text": "hi", "ts": "1.000001"}}',
    ),
    payload_invalid(
        "message with a malformed ts",
        b'{"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {"type": "message", '
        b'"user": "U1", "text": "hi", "ts": "yesterday"}}',
    ),
    # Found by test_normalizer_properties: "²" passes str.isdigit but not int(), and a ts past the year 9999
    # or of thousands of digits made datetime or int() raise ValueError (500).
    payload_invalid(
        "ts with a superscript digit",
        b'{"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {"type": "message", '
        b'"user": "U1", "text": "hi", "ts": "\\u00b2"}}',
    ),
    payload_invalid(
        "ts of 5,000 digits",
        b'{"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {"type": "message", '
        b'"user": "U1", "text": "hi", "ts": "' + b"9" * 5000 + b'"}}',
    ),
    WebhookCase(
        "event type and text that are not strings are skipped",
        body=b'{"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {"type": ["message"], '
        b'"user": "U1", "text": "hi", "ts": "1.000001", "subtype": []}}',
        events=NO_EVENTS,
    ),
]


TABLE = ChannelTable(
    "slack",
    {"signing_secret": SECRET},
    accepted=next(c for c in CASES if c.label.startswith("channel message")),
    settings={"team_id": "T061EG9R6"},
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_slack_cases(harness, case):
    harness.run(case)


def vector_request(secret: str = SECRET, at: int = int(VECTOR_TIMESTAMP)) -> WebhookRequest:
    return WebhookRequest(
        source=SourceConfig(source_id="src_slack_unit", type="slack", name="unit"),
        secrets=SourceSecrets({"signing_secret": secret}),
        method="POST",
        headers={"x-slack-signature": VECTOR_SIGNATURE, "x-slack-request-timestamp": VECTOR_TIMESTAMP},
        query={},
        body=VECTOR_BODY,
        received_at=datetime.fromtimestamp(at, UTC),
    )


def test_published_test_vector_verifies():
    """Slack's documented example, checked by verify() alone: its body is a slash command, not JSON, so the
    full route would (correctly) stop at parse() — the next test covers that path."""
    vector_time = datetime.fromtimestamp(int(VECTOR_TIMESTAMP), UTC)
    assert SlackChannel().sign(VECTOR_BODY, {"signing_secret": SECRET}, vector_time).headers == {
        "x-slack-request-timestamp": VECTOR_TIMESTAMP,
        "x-slack-signature": VECTOR_SIGNATURE,
    }
    SlackChannel().verify(vector_request())
    SlackChannel().verify(vector_request(at=int(VECTOR_TIMESTAMP) + 300))
    with pytest.raises(SignatureInvalid):
        SlackChannel().verify(vector_request(secret=OTHER_SECRET))
    with pytest.raises(TimestampExpired):
        SlackChannel().verify(vector_request(at=int(VECTOR_TIMESTAMP) + 301))


def test_published_test_vector_through_the_route(channel_harness):
    """Through the harness the vector's signature is accepted (no 401), then its form body is refused as
    not JSON: 400, nothing queued."""
    harness = channel_harness("slack", {"signing_secret": SECRET})
    harness.run(
        WebhookCase(
            "Slack's vector",
            body=VECTOR_BODY,
            sign=False,
            now=datetime.fromtimestamp(int(VECTOR_TIMESTAMP) + 30, UTC),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": VECTOR_TIMESTAMP,
                "x-slack-signature": VECTOR_SIGNATURE,
            },
            status=400,
            error_code="malformed_json",
        )
    )


def test_other_workspaces_are_acknowledged_and_dropped(channel_harness):
    harness = channel_harness("slack", {"signing_secret": SECRET}, settings={"team_id": "T999OTHER"})
    harness.run(WebhookCase("another workspace", fixture="message_channels.json", events=NO_EVENTS))
    # Issue 13, item 2: another workspace's event is not read, so one without an event_id is no error.
    harness.run(
        WebhookCase(
            "another workspace's event without event_id",
            body=b'{"type": "event_callback", "team_id": "T123ABC456", "event": "message"}',
            response={"status": "accepted", "events": 0, "skipped": [{"reason": "other_workspace"}]},
        )
    )
    # url_verification carries no team_id and is always answered.
    harness.run(
        WebhookCase(
            "handshake",
            fixture="url_verification.json",
            response={"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
            events=NO_EVENTS,
        )
    )


def test_own_workspace_is_kept(channel_harness):
    harness = channel_harness("slack", {"signing_secret": SECRET}, settings={"team_id": "T123ABC456"})
    harness.run(WebhookCase("own workspace", fixture="message_channels.json", events=[LIVE_LONG]))


def test_redelivery_is_stored_once(harness):
    """Slack's retry (X-Slack-Retry-Num) is the same message: delivered twice, stored once."""
    harness.assert_redelivery_stored_once(next(c for c in CASES if c.label.startswith("Slack retry")))


def test_the_mention_and_message_events_of_one_message_are_stored_once(harness, stack):
    """One message seen by both subscriptions (app_mention and message.channels, two event_ids) is one
    message: its identity is channel:ts."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller

    mention = FIXTURES / "slack" / "app_mention.json"
    as_message = mention.read_text().replace('"app_mention"', '"message"').replace("Ev0MDYHUEL", "Ev0OTHER")
    for body in (mention.read_bytes(), as_message.encode()):
        assert harness.send(WebhookCase("both", body=body), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    assert stack.table_item_count() == 1


def test_an_edit_of_a_stored_message_keeps_the_first_version(harness, stack):
    """Issue 11, item 3: the message, then its edit: one item, the first text."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    for fixture in ("message_channels.json", "message_changed.json"):
        assert harness.send(WebhookCase(fixture, fixture=fixture), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, "C123ABC456:1355517523.000005"))
    assert stored is not None and stored.text == "Live long and prospect."
    assert "edited" not in stored.metadata
    assert stack.table_item_count() == 1


def test_a_deleted_message_is_marked_deleted_and_kept(harness, stack):
    """A person deletes their message in Slack (message_deleted names it by channel and deleted_ts): the
    stored message is marked platform_deleted_at, as Trustpilot's deleted reviews are; our copy stays."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    message = json.loads((FIXTURES / "slack" / "message_channels.json").read_bytes())
    deletion = json.loads((FIXTURES / "slack" / "message_deleted.json").read_bytes())
    deletion["event"]["channel"], deletion["event"]["deleted_ts"] = (
        message["event"]["channel"],
        message["event"]["ts"],
    )
    for label, body in (("message", message), ("its deletion", deletion)):
        assert harness.send(WebhookCase(label, body=json.dumps(body).encode()), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, "C123ABC456:1355517523.000005"))
    assert stored is not None and stored.platform_deleted_at is not None
    assert stored.text == "Live long and prospect."
    assert stack.table_item_count() == 1


def test_slack_has_no_get_handshake(harness):
    harness.assert_no_get_handshake()


def test_slack_console_help_agrees_with_the_readme_on_app_mention():
    """Session 30: `sources add` said "or app_mention alone, not both" where the README says message.* and/or
    app_mention (one message's events share an identity and are stored once)."""
    from chalicelib.channels.slack import SlackChannel

    assert "and/or app_mention" in SlackChannel.console_help
    assert "not both" not in SlackChannel.console_help
