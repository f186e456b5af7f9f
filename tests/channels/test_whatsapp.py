"""WhatsApp Cloud API channel (`whatsapp`): customers' messages; statuses, reactions and button taps skipped.

Fixtures in tests/fixtures/whatsapp/ follow Meta's "messages webhook reference" for the WhatsApp Business
Platform (developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages:
text.json is its incoming text example; image caption, reply context, reaction, button, interactive
list_reply, audio and status webhooks use the same reference's shapes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.exceptions import SignatureInvalid
from chalicelib.channels.sources import SourceConfig, SourceSecrets
from chalicelib.channels.whatsapp import WhatsAppChannel
from tests.channels.harness import NOW, ChannelTable, WebhookCase, payload_invalid
from tests.channels.meta_cases import (
    APP_SECRET,
    CHALLENGE,
    JSON,
    NO_EVENTS,
    SECRETS,
    VERIFY_TOKEN,
    assert_challenge_answered_as_plain_text,
    auth_cases,
    handshake,
    handshake_cases,
    verification,
)

WABA = "102290129340398"
METADATA = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}

# The published X-Hub-Signature-256 vector of Meta's WhatsApp Node.js SDK, verbatim:
# github.com/WhatsApp/WhatsApp-Nodejs-SDK, src/__tests__/utils.test.ts ("signature match": body 'test',
# known_signature below) with the app secret from that repository's jest.config.ts
# (globals.sdk_config.M4D_APP_SECRET = 'TEST_APP_SECRET').
SDK_APP_SECRET = "TEST_APP_SECRET"
SDK_BODY = b"test"
SDK_SIGNATURE = "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"


def whatsapp_body(*messages: dict, contacts: list | None = None) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": METADATA,
        "contacts": contacts or [],
        "messages": list(messages),
    }
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA, "changes": [{"value": value, "field": "messages"}]}],
        }
    ).encode()


TEXT = {
    "channel": "whatsapp",
    "kind": "message",
    "external_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    "text": "Does it come in another color?",
    "author": {"channel_user_id": "16505551234", "name": "Sheena Nelson", "handle": None, "email": None},
    "occurred_at": "2026-11-21T11:58:00Z",
    "thread_id": "16505551234",
    "permalink": None,
    "metadata": {"phone_number_id": "106540352242922", "message_type": "text"},
}

CASES = [
    # --- kept -------------------------------------------------------------------------------------------
    # Issue 11, item 3: an edit is stored under original_message_id, so the first version received is kept.
    WebhookCase(
        "edit whose original never arrived",
        body=whatsapp_body(
            {
                "from": "16505551234",
                "id": "wamid.EDIT1",
                "timestamp": "1795262290",
                "type": "edit",
                "edit": {
                    "original_message_id": "wamid.ORIGINAL1",
                    "message": {"type": "text", "text": {"body": "Does it come in dark blue?"}},
                },
            },
            contacts=[{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        ),
        events=[
            {
                "external_id": "wamid.ORIGINAL1",
                "text": "Does it come in dark blue?",
                "author": {"channel_user_id": "16505551234", "name": "Sheena Nelson"},
                "metadata": {"message_type": "text", "edited": True},
            }
        ],
    ),
    WebhookCase(
        "edit of a captioned image",
        body=whatsapp_body(
            {
                "from": "16505551234",
                "id": "wamid.EDIT2",
                "timestamp": "1795262290",
                "type": "edit",
                "edit": {
                    "original_message_id": "wamid.ORIGINAL2",
                    "message": {"type": "image", "image": {"caption": "Box arrived crushed", "id": "m1"}},
                },
            }
        ),
        events=[
            {"external_id": "wamid.ORIGINAL2", "text": "Box arrived crushed", "metadata": {"edited": True}}
        ],
    ),
    WebhookCase(
        "edit without the edited message",
        body=whatsapp_body({"from": "16505551234", "id": "wamid.EDIT3", "timestamp": "1", "type": "edit"}),
        events=[],
    ),
    WebhookCase(
        "text message", fixture="text.json", events=[TEXT], response={"status": "accepted", "events": 1}
    ),
    WebhookCase(
        "image with a caption",
        fixture="image_caption.json",
        events=[
            {
                "external_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgB=",
                "text": "This is how the box arrived 😠",
                "author": {"name": "Sheena Nelson"},
                "metadata": {"message_type": "image"},
            }
        ],
    ),
    WebhookCase(
        "reply to the business's message",
        fixture="reply_with_context.json",
        events=[
            {
                "text": "Yes, the blue one please",
                "metadata": {"reply_to": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"},
            }
        ],
    ),
    WebhookCase(
        "batch: two accounts, several changes and messages, one SQS send",
        fixture="batch.json",
        events=[
            {
                "external_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgH=",
                "text": "Hi, my order is late",
            },
            {
                "external_id": "wamid.HBgLMTIxMjU1NTAxOTkVAgASGBQzRUIwM0ExQjJDM0Q0RTVGNkE3QgA=",
                "text": "Olá, o pedido chegou quebrado",
                "author": {"channel_user_id": "5511987654321", "name": "João Silva"},
                "thread_id": "5511987654321",
                "occurred_at": "2026-11-21T11:57:31Z",
            },
            {
                "external_id": "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0VCMEE5QkI4QjFDRDJFNDVGRjYA",
                "author": {"channel_user_id": "447700900123", "name": "Priya Shah"},
                "metadata": {"phone_number_id": "109876543210987"},
            },
        ],
        response={
            "status": "accepted",
            "events": 3,
            "skipped": [
                {"reason": "not_feedback_event", "item": "entry[0].changes[0].value.messages[2]"},  # reaction
                {"reason": "not_feedback_event", "item": "entry[0].changes[1]"},  # statuses
                {"reason": "not_feedback_event", "item": "entry[1].changes[1]"},  # template update
            ],
        },
    ),
    WebhookCase(
        "sender without a contacts entry",
        body=whatsapp_body(
            {
                "from": "15551230000",
                "id": "wamid.X1",
                "timestamp": "1795262280",
                "type": "text",
                "text": {"body": "hi"},
            }
        ),
        events=[{"external_id": "wamid.X1", "author": {"channel_user_id": "15551230000", "name": None}}],
    ),
    # --- skipped: 200, nothing queued -------------------------------------------------------------------
    WebhookCase("delivery statuses", fixture="statuses.json", events=NO_EVENTS),
    WebhookCase("reaction", fixture="reaction.json", events=NO_EVENTS),
    WebhookCase("quick-reply button tap", fixture="button_reply.json", events=NO_EVENTS),
    WebhookCase("interactive list reply", fixture="interactive_list_reply.json", events=NO_EVENTS),
    WebhookCase("voice message", fixture="audio.json", events=NO_EVENTS),
    WebhookCase(
        "image without a caption",
        body=whatsapp_body(
            {"from": "1", "id": "wamid.I", "timestamp": "1795262280", "type": "image", "image": {"id": "9"}}
        ),
        events=NO_EVENTS,
    ),
    WebhookCase(
        "whitespace-only text",
        body=whatsapp_body(
            {"from": "1", "id": "wamid.W", "timestamp": "1795262280", "type": "text", "text": {"body": " \n"}}
        ),
        events=NO_EVENTS,
    ),
    # --- authentication and handshake -------------------------------------------------------------------
    *auth_cases("whatsapp", "text.json"),
    *handshake_cases(),
    # --- signed but not the documented shape: 422, nothing queued ---------------------------------------
    payload_invalid("Page delivery sent to a WhatsApp source", b'{"object": "page", "entry": []}'),
    payload_invalid(
        "message without id",
        whatsapp_body({"from": "1", "timestamp": "1795262280", "type": "text", "text": {"body": "hi"}}),
    ),
    payload_invalid(
        "message without sender",
        whatsapp_body({"id": "wamid.Y", "timestamp": "1795262280", "type": "text", "text": {"body": "hi"}}),
    ),
    payload_invalid(
        "timestamp that is not a time",
        whatsapp_body(
            {"from": "1", "id": "wamid.T", "timestamp": "soon", "type": "text", "text": {"body": "hi"}}
        ),
    ),
    payload_invalid(
        "text body that is not a string",
        whatsapp_body(
            {"from": "1", "id": "wamid.B", "timestamp": "1795262280", "type": "text", "text": {"body": 7}}
        ),
    ),
    payload_invalid(
        "messages is not a list",
        json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {"id": WABA, "changes": [{"field": "messages", "value": {"messages": {"id": "x"}}}]}
                ],
            }
        ).encode(),
    ),
]


TABLE = ChannelTable(
    "whatsapp",
    SECRETS,
    accepted=next(c for c in CASES if c.label == "text message"),
    settings={"phone_number_id": "106540352242922"},
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_whatsapp_cases(harness, case):
    harness.run(case)


def test_published_sdk_signature_vector_verifies(channel_harness):
    """The SDK's vector through the route: 'test' is not JSON, so 400 (not 401) shows the signature held."""
    harness = channel_harness("whatsapp", {"app_secret": SDK_APP_SECRET, "verify_token": VERIFY_TOKEN})
    headers = {**JSON, "x-hub-signature-256": f"sha256={SDK_SIGNATURE}"}
    harness.run(
        WebhookCase(
            "SDK vector", body=SDK_BODY, sign=False, headers=headers, status=400, error_code="malformed_json"
        )
    )
    tampered = {**JSON, "x-hub-signature-256": f"sha256={SDK_SIGNATURE[:-1]}0"}
    harness.run(
        WebhookCase(
            "SDK vector, one digit changed",
            body=SDK_BODY,
            sign=False,
            headers=tampered,
            status=401,
            error_code="signature_invalid",
        )
    )


def test_published_sdk_signature_vector_verifies_directly():
    def request(secret: str, signature: str) -> WebhookRequest:
        return WebhookRequest(
            source=SourceConfig(source_id="src_wa_vector", type="whatsapp", name="vector"),
            secrets=SourceSecrets({"app_secret": secret}),
            method="POST",
            headers={"x-hub-signature-256": signature},
            query={},
            body=SDK_BODY,
            received_at=datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
        )

    channel = WhatsAppChannel()
    signed = channel.sign(SDK_BODY, {"app_secret": SDK_APP_SECRET, "verify_token": VERIFY_TOKEN}, NOW)
    assert signed.headers == {"X-Hub-Signature-256": f"sha256={SDK_SIGNATURE}"}
    channel.verify(request(SDK_APP_SECRET, f"sha256={SDK_SIGNATURE}"))
    channel.verify(request(SDK_APP_SECRET, f"sha256={SDK_SIGNATURE.upper()}"))  # hex digits in either case
    with pytest.raises(SignatureInvalid):
        channel.verify(request(APP_SECRET, f"sha256={SDK_SIGNATURE}"))


def test_previous_verify_token_is_accepted_during_a_rotation(harness):
    harness.assert_rotation(
        "verify_token",
        "new-token",
        lambda token: handshake("handshake", verification(verify_token=token), response=CHALLENGE),
        status=403,
        error_code="handshake_refused",
    )


def test_handshake_answers_the_exact_challenge_as_plain_text(harness):
    assert_challenge_answered_as_plain_text(harness)


def test_phone_number_id_setting_keeps_one_business_number(channel_harness):
    harness = channel_harness("whatsapp", SECRETS, settings={"phone_number_id": "109876543210987"})

    harness.run(
        WebhookCase(
            "one number",
            fixture="batch.json",
            events=[{"external_id": "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0VCMEE5QkI4QjFDRDJFNDVGRjYA"}],
        )
    )


def test_phone_number_id_setting_leaves_other_numbers_unread(channel_harness):
    """Issue 13, item 2: a field is refused only where it is read. Another number's messages are not read, so
    malformed contacts or messages there are no error; the wanted number's are refused."""
    message = {
        "from": "15551230000",
        "id": "wamid.X1",
        "timestamp": "1795262280",
        "type": "text",
        "text": "hi",
    }
    body = whatsapp_body(message, contacts=[{"wa_id": "15551230000", "profile": "Kim"}])
    other = channel_harness("whatsapp", SECRETS, settings={"phone_number_id": "109876543210987"})
    other.run(WebhookCase("another number's malformed message", body=body, events=[]))
    wanted = channel_harness("whatsapp", SECRETS, settings={"phone_number_id": METADATA["phone_number_id"]})
    wanted.run(payload_invalid("the wanted number's", body))


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(next(c for c in CASES if c.fixture == "batch.json"))


def test_whatsapp_console_help_names_what_to_paste():
    channel = WhatsAppChannel()
    for needle in ("/webhooks/<source_id>", "verify_token", "app_secret", "`messages`"):
        assert needle in channel.console_help
