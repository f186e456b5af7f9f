"""Whatever a channel acknowledges is storable (issue 11, item 15): the text of every channel is bounded at
normalize time (`MAX_TEXT_CHARS`, flagged `text_truncated`), and so is every other free-form field.

Each channel is sent a text exactly at the bound (stored whole) and one character beyond (stored cut, and
flagged); the Standard Webhooks channel is this product's own API and keeps refusing texts over its
documented 10,000 characters (422). Huge texts (450,000 and 900,000 characters on Telegram, 450,000 on
Slack) are acknowledged, analyzed and stored, and the stored DynamoDB item is measured against the 400 KB
item limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import MAX_NAME_CHARS, MAX_TEXT_CHARS
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from tests.channels.harness import WebhookCase, table_for
from tools.load_deliveries import BUILDERS, WEBHOOK_KINDS, Ident

DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024
WEBHOOK_TEXT_LIMIT = 10_000  # the Standard Webhooks channel's documented limit (README)


@dataclass(frozen=True)
class TextIdent(Ident):
    """An Ident whose deliveries carry exactly `words` as the customer's text (no run marker)."""

    words: str = ""

    def text(self, words: str) -> str:
        return self.words


def _case(channel_type: str, secrets: Mapping[str, str], text: str, **expect: Any) -> WebhookCase:
    """The load tool's delivery of `channel_type`, carrying `text`, as a harness case (signed by the
    harness with the channel's `sign`) arriving now."""
    delivery = BUILDERS[channel_type](TextIdent(run=1, index=1, words=text), secrets)
    return WebhookCase(
        f"{channel_type} with {len(text)} characters",
        body=delivery.body,
        headers={"content-type": delivery.content_type},
        now=datetime.now(UTC),
        **expect,
    )


def _stored_text(harness: Any, channel_type: str, text: str) -> dict[str, Any]:
    result = harness.run(_case(channel_type, harness.secrets, text, events=[{}]))
    return result.events[0]


@pytest.mark.parametrize("channel_type", [kind for kind in WEBHOOK_KINDS if kind != "webhook"])
def test_each_platform_channel_keeps_a_text_at_the_bound_and_cuts_one_beyond(channel_harness, channel_type):
    harness = channel_harness(channel_type, table_for(channel_type).secrets)
    # What the channel adds around the customer's words (Trustpilot puts the review title first).
    overhead = len(_stored_text(harness, channel_type, "ä")["text"]) - 1
    at_bound = "ä" * (MAX_TEXT_CHARS - overhead)

    whole = _stored_text(harness, channel_type, at_bound)
    assert len(whole["text"]) == MAX_TEXT_CHARS and whole["text"].endswith(at_bound)
    assert whole["text_truncated"] is False

    cut = _stored_text(harness, channel_type, at_bound + "ö")
    assert cut["text"] == whole["text"] and cut["text_truncated"] is True


def test_the_standard_webhooks_channel_keeps_refusing_texts_over_its_documented_limit(channel_harness):
    harness = channel_harness("webhook", table_for("webhook").secrets)
    stored = _stored_text(harness, "webhook", "ä" * WEBHOOK_TEXT_LIMIT)
    assert len(stored["text"]) == WEBHOOK_TEXT_LIMIT and stored["text_truncated"] is False

    harness.run(
        _case(
            "webhook",
            harness.secrets,
            "ä" * (WEBHOOK_TEXT_LIMIT + 1),
            status=422,
            error_code="payload_invalid",
        )
    )


# --- huge texts reach the store ---------------------------------------------------------------------------


def _attribute_bytes(value: dict[str, Any]) -> int:
    """An attribute value's size by DynamoDB's rules ("Item sizes and formats"), rounded up for numbers."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind in ("N", "B"):
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _attribute_bytes(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _attribute_bytes(element) for name, element in inner.items())
    return sum(len(element.encode()) if isinstance(element, str) else len(element) for element in inner)


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """The size DynamoDB counts against its 400 KB item limit: attribute names plus values (hand-written:
    moto does not check the limit when items are put, and boto3 has no such helper)."""
    return sum(len(name.encode()) + _attribute_bytes(value) for name, value in item.items())


def _huge_text(length: int) -> str:
    # Four-byte characters first, so the part that is kept is as large in bytes as a text can be. Not emoji:
    # the lexicon analyzer spells each emoji out, which takes minutes over 20,000 of them.
    return "\U00020000" * MAX_TEXT_CHARS + "a" * (length - MAX_TEXT_CHARS)


def _telegram_body(text: str) -> bytes:
    chat = 5312094417
    update = {
        "update_id": 904417,
        "message": {
            "message_id": 77,
            "from": {"id": chat, "is_bot": False, "first_name": "Ana"},
            "chat": {"id": chat, "type": "private"},
            "date": 1795262280,
            "text": text,
        },
    }
    return json.dumps(update, ensure_ascii=False).encode()


def _slack_body(text: str) -> bytes:
    envelope = {
        "type": "event_callback",
        "team_id": "T123ABC456",
        "event_id": "Ev0HUGE",
        "event": {"type": "message", "channel": "C1", "user": "U1", "text": text, "ts": "1795262280.000100"},
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("channel_type", "length"), [("telegram", 450_000), ("telegram", 900_000), ("slack", 450_000)]
)
def test_a_huge_text_is_acknowledged_and_stored_within_the_dynamodb_item_limit(
    channel_harness, stack, channel_type, length
):
    from app import analyze

    harness = channel_harness(channel_type, table_for(channel_type).secrets)
    text = _huge_text(length)
    body = _telegram_body(text) if channel_type == "telegram" else _slack_body(text)
    case = WebhookCase("huge", body=body, now=datetime.now(UTC))

    result = harness.send(case, collect=False)
    assert result.status == 200, result.body
    assert json.loads(result.body)["events"] == 1

    drained = SqsPoller(stack.queue_url, analyze).drain()
    assert (drained.received, drained.failed) == (1, 0)
    items = aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
    stored = [item for item in items if item.get("record_type", {}).get("S") == "FEEDBACK"]
    assert len(stored) == 1
    (item,) = stored
    feedback = feedback_store.from_item(dynamo.deserialize(item))
    assert feedback.text == text[:MAX_TEXT_CHARS] and feedback.text_truncated
    assert dynamodb_item_bytes(item) < DYNAMODB_ITEM_LIMIT_BYTES


# --- the other free-form fields ---------------------------------------------------------------------------


def test_names_are_cut_and_over_long_ids_refused(channel_harness):
    harness = channel_harness("telegram", table_for("telegram").secrets)
    long_name = "N" * 10_000
    update = json.loads(_telegram_body("Where is my order?"))
    update["message"]["from"].update(first_name=long_name, username="u" * 10_000)
    result = harness.run(WebhookCase("long names", body=json.dumps(update).encode(), events=[{}]))
    author = result.events[0]["author"]
    assert author["name"] == long_name[:MAX_NAME_CHARS]
    assert len(author["handle"]) == MAX_NAME_CHARS

    thread = json.loads(_slack_body("hi"))
    thread["event"]["thread_ts"] = "1" * 5_000
    slack_harness = channel_harness("slack", table_for("slack").secrets)
    slack_harness.run(
        WebhookCase(
            "thread id of 5,000 characters",
            body=json.dumps(thread).encode(),
            status=422,
            error_code="payload_invalid",
        )
    )
