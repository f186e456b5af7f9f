"""How to authenticate a delivery to a source of every registered channel type, in one table.

Each `Recipe` holds test secrets, optional settings that switch on the channel's setting-dependent branches,
and `auth(body, secrets, now)` → (headers, query) that makes the request authentic for exactly those bytes.
The property tests (test_normalizer_properties.py) drive every channel from the registry through this table,
so a channel registered without a recipe fails there instead of going unfuzzed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib.channels import intercom, meta_common, slack, typeform, webhook, x, zendesk

# (body, secrets, now) → (headers, query parameters) that authenticate the request
Auth = Callable[[bytes, Mapping[str, str], datetime], tuple[dict[str, str], dict[str, str]]]

WEBHOOK_MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


@dataclass(frozen=True)
class Recipe:
    secrets: dict[str, str]
    auth: Auth
    # Settings that switch on the channel's setting-dependent branches (own-account filters and the like).
    settings: dict[str, str] = field(default_factory=dict)


def _meta(body: bytes, secrets: Mapping[str, str], now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    return {"x-hub-signature-256": meta_common.sign(secrets["app_secret"], body)}, {}


def _slack(body: bytes, secrets: Mapping[str, str], now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    timestamp = str(int(now.timestamp()))
    return {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": slack.sign(secrets["signing_secret"], timestamp, body),
    }, {}


def _webhook(body: bytes, secrets: Mapping[str, str], now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    timestamp = int(now.timestamp())
    return {
        "webhook-id": WEBHOOK_MESSAGE_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook.sign(secrets["signing_secret"], WEBHOOK_MESSAGE_ID, timestamp, body),
    }, {}


def _zendesk(body: bytes, secrets: Mapping[str, str], now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    timestamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "x-zendesk-webhook-signature": zendesk.sign(secrets["signing_secret"], timestamp, body),
        "x-zendesk-webhook-signature-timestamp": timestamp,
    }, {}


META_SECRETS = {"app_secret": "6c9f2e41d0b84b7a9e3f5a1c2d7e8b90", "verify_token": "meatyhamhock"}

RECIPES: dict[str, Recipe] = {
    "webhook": Recipe({"signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, _webhook),
    "slack": Recipe({"signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}, _slack, {"team_id": "T061EG9R6"}),
    "x": Recipe(
        {"consumer_secret": "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"},
        lambda body, secrets, now: (
            {"x-twitter-webhooks-signature": x.sign(secrets["consumer_secret"], body)},
            {},
        ),
    ),
    "telegram": Recipe(
        {"secret_token": "kV3p_9-Zq2mWx7TtY4bN8cR1sD6fG0hJ"},
        lambda body, secrets, now: ({"x-telegram-bot-api-secret-token": secrets["secret_token"]}, {}),
    ),
    "trustpilot": Recipe(
        {"token": "Gx2vQ8mZr4Lk1sTn7YwPb0JcH5dFa3Ue9KoVi6NqXtM"},
        lambda body, secrets, now: ({}, {"token": secrets["token"]}),
    ),
    "meta": Recipe(META_SECRETS, _meta, {"page_id": "105371222151234"}),
    "instagram": Recipe(META_SECRETS, _meta, {"account_id": "17841405309211844", "username": "acme.coffee"}),
    "whatsapp": Recipe(META_SECRETS, _meta, {"phone_number_id": "106540352242922"}),
    "typeform": Recipe(
        {"secret": "d41c9c5e0b7a4f3e8a1b2c3d4e5f60718293a4b5"},
        lambda body, secrets, now: ({"typeform-signature": typeform.sign(secrets["secret"], body)}, {}),
        {"opinion_scale": "nps", "text_fields": "readable_ref_long_text, other"},
    ),
    "zendesk": Recipe(
        {"signing_secret": "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="}, _zendesk, {"subdomain": "acme"}
    ),
    "intercom": Recipe(
        {"client_secret": "8c4f2a1e9b7d4c3a5e6f7a8b9c0d1e2f3a4b5c6d"},
        lambda body, secrets, now: ({"x-hub-signature": intercom.sign(secrets["client_secret"], body)}, {}),
    ),
}
