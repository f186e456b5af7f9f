"""What the Meta channel tests (meta, instagram, whatsapp) share: test secrets, an X-Hub-Signature-256
signature written independently of chalicelib, and the handshake and authentication cases every Meta
channel's table includes (the verification and signature scheme is the same for all three; their payloads
differ). The generic authentication cases (missing or wrong signature, tampered body, rotation of the app
secret) come from the harness (test_generic_cases.py).

Scheme: developers.facebook.com/docs/graph-api/webhooks/getting-started — "Verification Requests" (the
sample request `hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock` is used here
verbatim) and "Validate Payloads" (sha256=<hex HMAC-SHA256 of the payload keyed with the App Secret>).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.channels.harness import FIXTURES, ChannelHarness, WebhookCase

APP_SECRET = "6c9f2e41d0b84b7a9e3f5a1c2d7e8b90"  # test value, shaped like a Meta App Secret (32 hex)
VERIFY_TOKEN = "meatyhamhock"  # the token in Meta's sample verification request
SECRETS = {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}
CHALLENGE = "1158201444"  # the challenge in Meta's sample verification request
JSON = {"content-type": "application/json"}
NO_EVENTS: list[dict] = []


def hub_signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 as Meta computes it, without the production helper: hex HMAC-SHA256, prefixed."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_with(secret: str, body: bytes) -> dict[str, str]:
    return {**JSON, "x-hub-signature-256": hub_signature(secret, body)}


def verification(**query: str) -> dict[str, str]:
    """A verification request's query (hub.* parameters), Meta's sample values unless overridden."""
    params = {"hub.mode": "subscribe", "hub.challenge": CHALLENGE, "hub.verify_token": VERIFY_TOKEN}
    params.update({f"hub.{name}": value for name, value in query.items()})
    return {name: value for name, value in params.items() if value is not None}


def handshake(label: str, query: dict[str, str] | None = None, **expected: Any) -> WebhookCase:
    """A GET verification request with `query` (no body, no signature) and what it should answer."""
    return WebhookCase(label, method="GET", headers={}, sign=False, query=query or {}, **expected)


def handshake_cases() -> list[WebhookCase]:
    """GET verification: the challenge back on the right token, 403 on a wrong one, 400 when malformed."""
    refused = {"status": 403, "error_code": "handshake_refused"}
    malformed = {"status": 400, "error_code": "handshake_malformed"}
    return [
        handshake("handshake answers the challenge", verification(), response=CHALLENGE, events=NO_EVENTS),
        handshake(
            "handshake with a wrong verify token", verification(verify_token="not-the-token"), **refused
        ),
        handshake("handshake with an empty verify token", verification(verify_token=""), **refused),
        handshake("handshake without a challenge", verification(challenge=None), **malformed),
        handshake("handshake without a verify token", verification(verify_token=None), **malformed),
        handshake(
            "handshake with a mode other than subscribe", verification(mode="unsubscribe"), **malformed
        ),
        handshake("GET without parameters", **malformed),
    ]


def assert_challenge_answered_as_plain_text(harness: ChannelHarness) -> None:
    """The verification answer is the challenge itself, byte for byte, as text/plain."""
    result = harness.send(handshake("handshake", verification()), collect=False)

    assert (result.status, result.body) == (200, CHALLENGE.encode())
    assert {k.lower(): v for k, v in result.headers.items()}["content-type"] == "text/plain"


def auth_cases(channel_type: str, fixture: str) -> list[WebhookCase]:
    """A signature computed as Meta's page says (accepted), signatures of other shapes (401, nothing queued)
    and bodies that are not a JSON object after a valid signature (400), around one of the channel's own
    fixtures."""
    body = (FIXTURES / channel_type / fixture).read_bytes()
    return [
        WebhookCase(
            "signed as Meta's page says, independently of the channel",
            fixture=fixture,
            sign=False,
            headers=signed_with(APP_SECRET, body),
        ),
        WebhookCase(
            "signature without the sha256= prefix",
            fixture=fixture,
            sign=False,
            headers={**JSON, "x-hub-signature-256": hub_signature(APP_SECRET, body).removeprefix("sha256=")},
            status=401,
            error_code="signature_invalid",
        ),
        WebhookCase(
            "only the legacy SHA-1 X-Hub-Signature",
            fixture=fixture,
            sign=False,
            headers={
                **JSON,
                "x-hub-signature": "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest(),
            },
            status=401,
            error_code="signature_missing",
        ),
        WebhookCase(
            "empty signature header",
            fixture=fixture,
            sign=False,
            headers={**JSON, "x-hub-signature-256": ""},
            status=401,
            error_code="signature_missing",
        ),
        WebhookCase(
            "malformed JSON after a valid signature",
            body=b'{"object": ',
            status=400,
            error_code="malformed_json",
        ),
        WebhookCase("a JSON array, not an object", body=b"[]", status=400, error_code="malformed_json"),
    ]
