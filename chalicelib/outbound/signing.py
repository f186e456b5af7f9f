"""Standard Webhooks signatures for what we send: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The signature is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, made with the reference library
(`standardwebhooks`, pure Python), so receivers verifying with any Standard Webhooks library accept it. During
a key rotation the header carries one signature per secret in force, space-separated, new one first.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
SECRET_BYTES = 32  # 256-bit keys, as HMAC-SHA256's block size suggests and Svix issues


def new_secret() -> str:
    """A fresh signing secret, `whsec_<base64 of 32 random bytes>`."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def is_secret(value: str) -> bool:
    """Whether `value` has the shape of a signing secret we issue."""
    if not value.startswith(SECRET_PREFIX):
        return False
    try:
        return len(base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)) >= 24
    except ValueError:
        return False


def signature_header(signing_secrets: Sequence[str], webhook_id: str, sent_at: datetime, body: bytes) -> str:
    """The `webhook-signature` value: one `v1,` signature per secret, space-separated."""
    if not signing_secrets:
        raise ValueError("a delivery needs at least one signing secret")
    return " ".join(Webhook(secret).sign(webhook_id, sent_at, body) for secret in signing_secrets)


def headers(
    signing_secrets: Sequence[str], webhook_id: str, sent_at: datetime, body: bytes
) -> dict[str, str]:
    """Every header a delivery carries besides the transport's own."""
    return {
        "content-type": "application/json",
        "user-agent": "feedback-collector-webhooks/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature_header(signing_secrets, webhook_id, sent_at, body),
    }
