"""Telegram channel (`telegram`): the secret-token header, which updates are customer feedback, identity.

Fixtures in tests/fixtures/telegram/ follow the Bot API reference (https://core.telegram.org/bots/api):
the `Update` object with one of `message`, `business_message`, `edited_message`, `channel_post`,
`callback_query`, `my_chat_member`, `message_reaction`; `Message`, `User`, `Chat`, `PhotoSize`,
`MessageEntity`, `MessageOrigin` and `ReactionType` shapes as documented there. The bot's anonymous-admin
sender (`GroupAnonymousBot`, 1087968824) and the linked-channel forwarder (`Telegram`, 777000) are the ids
Telegram uses for those messages.

Telegram publishes no test vector: it signs nothing, it only echoes the `secret_token` given to setWebhook
in the X-Telegram-Bot-Api-Secret-Token header. It sends one update per request (no batching), so this
table has no batched case. The generic authentication cases (missing or wrong token, rotation) come from
the harness (test_generic_cases.py).
"""

from __future__ import annotations

import re

import pytest

from chalicelib.channels.telegram import SECRET_TOKEN_PATTERN, TelegramChannel
from tests.channels.harness import ChannelTable, WebhookCase, payload_invalid

SECRET = "kV3p_9-Zq2mWx7TtY4bN8cR1sD6fG0hJ"
HEADER = "x-telegram-bot-api-secret-token"


def with_token(token: str) -> dict[str, str]:
    return {"content-type": "application/json", HEADER: token}


def skipped(label: str, fixture: str, reason: str) -> WebhookCase:
    return WebhookCase(
        label,
        fixture=fixture,
        events=[],
        response={"status": "accepted", "events": 0, "skipped": [{"reason": reason}]},
    )


PRIVATE_TEXT = WebhookCase(
    "private chat text message",
    fixture="private_text.json",
    events=[
        {
            "channel": "telegram",
            "kind": "message",
            "external_id": "5312094417:1365",
            "thread_id": "5312094417",
            "text": "My order arrived broken and nobody answers the support email.",
            "language": None,
            "rating": None,
            "author": {
                "channel_user_id": "5312094417",
                "handle": "@analima",
                "name": "Ana Lima",
                "email": None,
            },
            "occurred_at": "2026-11-21T11:58:00Z",
            "metadata": {"update_id": 874201334, "update_type": "message", "chat_type": "private"},
        }
    ],
    response={"status": "accepted", "events": 1},
)

CASES = [
    PRIVATE_TEXT,
    WebhookCase(
        "photo caption in a forum topic",
        fixture="forum_topic_caption.json",
        events=[
            {
                "kind": "message",
                "external_id": "-1001987654321:2210",
                "thread_id": "-1001987654321:42",
                "text": "Love the new packaging, look at this!",
                "author": {"channel_user_id": "6021447730", "handle": None, "name": "Kenji"},
                "occurred_at": "2026-11-21T11:55:00Z",
                "metadata": {"chat_type": "supergroup"},
            }
        ],
    ),
    WebhookCase(
        "customer message to a connected business account",
        fixture="business_message.json",
        events=[
            {
                "kind": "message",
                "external_id": "MbUp9sJiJEEhAQAAW4nwuQF8Ia8:7140022518:88",
                "thread_id": "MbUp9sJiJEEhAQAAW4nwuQF8Ia8:7140022518",
                "text": "Is the blue model back in stock? Waiting for weeks.",
                "author": {"channel_user_id": "7140022518", "name": "Priya Shah"},
                "occurred_at": "2026-11-21T11:53:00Z",
                "metadata": {"update_type": "business_message"},
            }
        ],
    ),
    WebhookCase(
        "command followed by text is kept",
        fixture="command_with_text.json",
        events=[
            {"external_id": "5312094418:2", "text": "/feedback The checkout keeps timing out on mobile."}
        ],
    ),
    # Issue 11, item 3: an edit is stored under the original message's identity (the first version received
    # is kept; see test_an_edit_of_a_stored_message_keeps_the_first_version).
    WebhookCase(
        "edited message whose original never arrived",
        fixture="edited_message.json",
        events=[
            {
                "external_id": "5312094417:1365",
                "text": "My order arrived broken and nobody answers the support email!!",
                "occurred_at": "2026-11-21T11:58:00Z",
                "metadata": {
                    "update_type": "edited_message",
                    "edited": True,
                    "edited_at": "2026-11-21T11:58:50+00:00",
                },
            }
        ],
    ),
    WebhookCase(
        "edited business message keeps the business identity",
        body=(
            b'{"update_id": 6, "edited_business_message": {"message_id": 88, "date": 1795261980, '
            b'"edit_date": 1795262000, "business_connection_id": "MbUp9sJiJEEhAQAAW4nwuQF8Ia8", '
            b'"from": {"id": 7140022518, "is_bot": false, "first_name": "Priya"}, '
            b'"chat": {"id": 7140022518, "type": "private"}, "text": "Is the blue model back?"}}'
        ),
        events=[
            {
                "external_id": "MbUp9sJiJEEhAQAAW4nwuQF8Ia8:7140022518:88",
                "metadata": {"update_type": "edited_business_message", "edited": True},
            }
        ],
    ),
    skipped("business account's own reply", "business_message_outgoing.json", "not_customer_authored"),
    skipped("channel post (written by the business)", "channel_post.json", "not_a_message_update"),
    skipped(
        "channel post forwarded into the discussion group", "automatic_forward.json", "not_customer_authored"
    ),
    skipped("anonymous group admin (a bot sender)", "bot_message.json", "not_customer_authored"),
    skipped("service message without text", "new_chat_members.json", "no_text"),
    skipped("bare /start command", "start_command.json", "no_text"),
    skipped("callback query", "callback_query.json", "not_a_message_update"),
    skipped("bot added to a group", "my_chat_member.json", "not_a_message_update"),
    skipped("reaction", "message_reaction.json", "not_a_message_update"),
    WebhookCase(
        "message from another bot",
        body=(
            b'{"update_id": 1, "message": {"message_id": 5, "date": 1795262000, '
            b'"from": {"id": 42, "is_bot": true, "first_name": "Other"}, '
            b'"chat": {"id": -100, "type": "group", "title": "G"}, "text": "Beep"}}'
        ),
        events=[],
    ),
    WebhookCase(
        "sticker without text",
        body=(
            b'{"update_id": 2, "message": {"message_id": 6, "date": 1795262000, '
            b'"from": {"id": 43, "is_bot": false, "first_name": "Sam"}, '
            b'"chat": {"id": 43, "type": "private", "first_name": "Sam"}, '
            b'"sticker": {"file_id": "CAACAgIAAxkBAAEB", "file_unique_id": "AgADVg", "type": "regular", '
            b'"width": 512, "height": 512, "is_animated": false, "is_video": false}}}'
        ),
        events=[],
    ),
    WebhookCase(
        "secret token differing only in case",
        fixture="private_text.json",
        sign=False,
        headers=with_token(SECRET.upper()),
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "wrong token before a malformed body is still 401",
        body=b'{"update_id": ',
        sign=False,
        headers=with_token("nope"),
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "malformed JSON after a valid token", body=b'{"update_id": ', status=400, error_code="malformed_json"
    ),
    WebhookCase("JSON that is not an object", body=b"[1, 2]", status=400),
    payload_invalid("update without update_id", b'{"message": {}}'),
    payload_invalid(
        "message without chat",
        b'{"update_id": 3, "message": {"message_id": 7, "date": 1795262000, "text": "hi"}}',
    ),
    payload_invalid(
        "message with an impossible date",
        b'{"update_id": 4, "message": {"message_id": 8, "date": 99999999999999, '
        b'"from": {"id": 44, "is_bot": false, "first_name": "Al"}, '
        b'"chat": {"id": 44, "type": "private"}, "text": "hi"}}',
    ),
    payload_invalid(
        "business message without its connection id",
        b'{"update_id": 5, "business_message": {"message_id": 9, "date": 1795262000, '
        b'"from": {"id": 45, "is_bot": false, "first_name": "Bo"}, '
        b'"chat": {"id": 45, "type": "private"}, "text": "hi"}}',
    ),
]


TABLE = ChannelTable("telegram", {"secret_token": SECRET}, accepted=PRIVATE_TEXT)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_telegram_cases(harness, case):
    harness.run(case)


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(PRIVATE_TEXT)


def test_an_edit_of_a_stored_message_keeps_the_first_version(harness, stack):
    """Issue 11, item 3: the message, then its edit: one item, the first text, not flagged as edited."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    for fixture in ("private_text.json", "edited_message.json"):
        assert harness.send(WebhookCase(fixture, fixture=fixture), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, "5312094417:1365"))
    assert stored is not None
    assert stored.text == "My order arrived broken and nobody answers the support email."
    assert "edited" not in stored.metadata
    assert stack.table_item_count() == 1


def test_generated_secret_token_is_one_telegram_accepts():
    channel = TelegramChannel()
    values = {channel.generate_secret("secret_token") for _ in range(20)}

    assert len(values) == 20
    assert all(SECRET_TOKEN_PATTERN.match(value) for value in values)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{64}", value) for value in values)


def test_telegram_has_no_get_handshake(harness):
    harness.assert_no_get_handshake()


def test_deleted_business_messages_mark_the_stored_ones(harness, stack):
    """Bot API `deleted_business_messages` (BusinessMessagesDeleted: business_connection_id, chat,
    message_ids): a customer deleted messages in a Telegram Business chat. Each stored one is marked
    platform_deleted_at and kept, as every channel's platform deletions are; one never stored changes
    nothing."""
    import json

    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    assert harness.send(WebhookCase("message", fixture="business_message.json"), collect=False).status == 200
    deleted = harness.send(WebhookCase("deleted", fixture="deleted_business_messages.json"), collect=False)
    assert json.loads(deleted.body) == {"status": "accepted", "events": 0, "deletions": 2}
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(
        feedback_id_for(harness.source.source_id, "MbUp9sJiJEEhAQAAW4nwuQF8Ia8:7140022518:88")
    )
    assert stored is not None and stored.platform_deleted_at is not None
    assert stored.text == "Is the blue model back in stock? Waiting for weeks."
    assert stack.table_item_count() == 1
