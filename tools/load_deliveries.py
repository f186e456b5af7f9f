"""The deliveries `make load` sends: form responses (JSON and urlencoded) and one signed webhook per channel
type, each carrying exactly one piece of customer feedback with an id unique to the run.

Every builder returns the request to send and the (source_id, external_id) the stored item must have, so the
load check knows each delivery's feedback id (`feedback_id_for`) before anything is stored. Payloads follow
the shapes in tests/fixtures/<channel>/ (trimmed to what the normalizers read); each webhook is signed by its
channel's own `sign` (the inverse of the `verify` it meets), called just before sending so timestamped
schemes (Slack, Standard Webhooks, Zendesk) stay inside their replay windows however long the burst lasts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from chalicelib.channels.registry import CHANNELS
from chalicelib.models import feedback_id_for

FORM_ID = "demo"
FORM_KINDS = ("form_json", "form_urlencoded")


@dataclass
class Delivery:
    """One HTTP request of the burst and the stored item it must produce."""

    kind: str
    path: str
    body: bytes
    content_type: str
    source_id: str
    external_id: str
    # The source's secrets a webhook is signed with (its kind is its channel type); none for forms.
    secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def feedback_id(self) -> str:
        return feedback_id_for(self.source_id, self.external_id)

    def request(self, now: datetime | None = None) -> tuple[str, dict[str, str]]:
        """The path (with any authentication query) and the headers for sending it at `now` (default: now)."""
        headers = {"Content-Type": self.content_type}
        channel = CHANNELS.get(self.kind)
        if channel is None:
            return self.path, headers
        signed = channel.sign(self.body, self.secrets, now or _now())
        query = "?" + urlencode(signed.query) if signed.query else ""
        return self.path + query, {**headers, **signed.headers}


@dataclass(frozen=True)
class Ident:
    """What makes delivery `index` of run `run` unique: a numeric id (platforms with numeric ids), a text
    id, and a marker the feedback text carries (to find stored items of the run under unexpected ids)."""

    run: int
    index: int

    @property
    def number(self) -> int:
        return self.run * 1_000_000 + self.index

    @property
    def text_id(self) -> str:
        return f"load-{self.run}-{self.index}"

    @property
    def marker(self) -> str:
        # No word a theme could have as a keyword: "[load-3-17]" tagged every item "Speed and bugs" ("load").
        return f"[load{self.run}-{self.index}]"

    def text(self, words: str) -> str:
        return f"{words} {self.marker}"


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _now() -> datetime:
    return datetime.now(UTC)


def run_marker_prefix(run: int) -> str:
    """The text every item of the run carries (`[load<run>-`)."""
    return f"[load{run}-"


# --- forms ------------------------------------------------------------------------------------------------


def form_json(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    body = {
        "rating": ident.index % 11,
        "comment": ident.text("The checkout was quick and the support team friendly"),
        "response_id": ident.text_id,
        "email": f"customer{ident.index}@example.com",
    }
    return Delivery(
        "form_json", f"/forms/{FORM_ID}/responses", _json(body), "application/json", FORM_ID, ident.text_id
    )


def form_urlencoded(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    body = urlencode(
        {
            "rating": ident.index % 11,
            "comment": ident.text("Slow page, but it worked"),
            "response_id": ident.text_id,
        }
    ).encode()
    return Delivery(
        "form_urlencoded",
        f"/forms/{FORM_ID}/responses",
        body,
        "application/x-www-form-urlencoded",
        FORM_ID,
        ident.text_id,
    )


# --- webhooks ---------------------------------------------------------------------------------------------


def _hook(kind: str, payload: dict[str, Any], external_id: str, secrets: Mapping[str, str]) -> Delivery:
    source_id = f"demo-{kind}"
    return Delivery(
        kind, f"/webhooks/{source_id}", _json(payload), "application/json", source_id, external_id, secrets
    )


def standard_webhook(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    payload = {
        "type": "feedback.created",
        "data": {
            "id": ident.text_id,
            "text": ident.text("The onboarding call was really helpful"),
            "author": {"id": f"cust-{ident.number}", "name": "Dana Scott"},
            "rating": 1 + ident.index % 5,
            "rating_scale": "csat",
        },
    }
    return _hook("webhook", payload, ident.text_id, secrets)


def slack_event(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    event_id = f"Ev{ident.number}"
    # A Slack message is `{channel}:{ts}`: the seconds say the run and the fraction the index, so every
    # delivery of every run is a different message.
    channel, ts = "C123ABC456", f"{1_000_000_000 + ident.run}.{ident.index % 1_000_000:06d}"
    payload = {
        "team_id": "T123ABC456",
        "api_app_id": "A123ABC456",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1355517523,
        "event": {
            "type": "message",
            "channel": channel,
            "user": f"U{ident.number}",
            "text": ident.text("Live long and prospect, but the app keeps logging me out"),
            "ts": ts,
            "channel_type": "channel",
        },
    }
    return _hook("slack", payload, f"{channel}:{ts}", secrets)


def x_mention(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    tweet_id = str(ident.number)
    payload = {
        "for_user_id": "2244994945",
        "tweet_create_events": [
            {
                "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                "id_str": tweet_id,
                "text": ident.text("@TwitterDev the new onboarding docs are great"),
                "user": {
                    "id_str": f"9{ident.number}",
                    "name": "Jordan Brinks",
                    "screen_name": "furiouscamper",
                },
                "entities": {"user_mentions": [{"id_str": "2244994945", "screen_name": "TwitterDev"}]},
                "lang": "en",
                "timestamp_ms": "1539202764123",
            }
        ],
    }
    return _hook("x", payload, tweet_id, secrets)


def telegram_message(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    chat = 5312094417
    payload = {
        "update_id": ident.number,
        "message": {
            "message_id": ident.number,
            "from": {"id": chat, "is_bot": False, "first_name": "Ana", "username": "analima"},
            "chat": {"id": chat, "first_name": "Ana", "type": "private"},
            "date": int(_now().timestamp()),
            "text": ident.text("My order arrived broken and nobody answers"),
        },
    }
    return _hook("telegram", payload, f"{chat}:{ident.number}", secrets)


def trustpilot_review(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    review_id = f"tp{ident.number}"
    payload = {
        "events": [
            {
                "eventName": "service-review-created",
                "version": "1",
                "eventData": {
                    "id": review_id,
                    "language": "en",
                    "title": "Great service",
                    "text": ident.text("Excellent customer service, delivery was a day early"),
                    "stars": 1 + ident.index % 5,
                    "createdAt": _now().isoformat(),
                    "consumer": {"id": f"c{ident.number}", "name": "Maria Jensen"},
                },
            }
        ]
    }
    return _hook("trustpilot", payload, review_id, secrets)


def meta_message(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    mid = f"m_{ident.text_id}"
    page = "105371222151234"
    payload = {
        "object": "page",
        "entry": [
            {
                "id": page,
                "time": 1795262281000,
                "messaging": [
                    {
                        "sender": {"id": str(ident.number)},
                        "recipient": {"id": page},
                        "timestamp": 1795262280123,
                        "message": {"mid": mid, "text": ident.text("Hi! My order arrived damaged")},
                    }
                ],
            }
        ],
    }
    return _hook("meta", payload, mid, secrets)


def instagram_comment(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    comment_id = str(ident.number)
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": "17841405309211844",
                "time": 1795262285,
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "from": {"id": f"7{ident.number}", "username": "dana.scott"},
                            "media": {"id": "17918195224117851", "media_product_type": "FEED"},
                            "id": comment_id,
                            "text": ident.text("Love the new colours! When is the restock?"),
                        },
                    }
                ],
            }
        ],
    }
    return _hook("instagram", payload, comment_id, secrets)


def whatsapp_message(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    message_id = f"wamid.{ident.text_id}"
    sender = f"1650{ident.number}"
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": sender}],
                            "messages": [
                                {
                                    "from": sender,
                                    "id": message_id,
                                    "timestamp": "1795262280",
                                    "type": "text",
                                    "text": {"body": ident.text("Does it come in another color?")},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return _hook("whatsapp", payload, message_id, secrets)


def typeform_response(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    token = ident.text_id
    payload = {
        "event_id": f"ev{ident.number}",
        "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j",
            "token": token,
            "submitted_at": "2026-11-21T11:57:02Z",
            "landed_at": "2026-11-21T11:50:02Z",
            "definition": {
                "id": "lT4Z3j",
                "title": "Feedback",
                "fields": [
                    {
                        "id": "DlXFaesGBpoF",
                        "title": "What could we do better?",
                        "type": "long_text",
                        "ref": "better",
                    }
                ],
            },
            "answers": [
                {
                    "type": "text",
                    "text": ident.text("Faster delivery would make me order more often"),
                    "field": {"id": "DlXFaesGBpoF", "type": "long_text"},
                }
            ],
        },
    }
    return _hook("typeform", payload, token, secrets)


def zendesk_comment(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    comment_id = str(ident.number)
    requester = "8447388090494"
    payload = {
        "account_id": 22129848,
        "detail": {
            "id": "5158",
            "created_at": "2025-01-08T10:12:07Z",
            "requester_id": requester,
            "status": "OPEN",
            "subject": "Cannot login to mobile app",
            "updated_at": "2025-01-08T15:02:11Z",
        },
        "event": {
            "comment": {
                "id": comment_id,
                "body": ident.text("Still can't log in after the update"),
                "is_public": True,
                "author": {"id": requester, "is_staff": False, "name": "Dana Scott"},
            }
        },
        "id": f"evt-{ident.text_id}",
        "subject": "zen:ticket:5158",
        "time": "2025-01-08T15:02:11.482913507Z",
        "type": "zen:event-type:ticket.comment_added",
        "zendesk_event_version": "2022-11-06",
    }
    return _hook("zendesk", payload, f"comment:{comment_id}", secrets)


def intercom_reply(ident: Ident, secrets: Mapping[str, str]) -> Delivery:
    part_id = str(ident.number)
    author = {"type": "user", "id": f"u{ident.number}", "name": "Joe Bloggs"}
    payload = {
        "type": "notification_event",
        "app_id": "a86dr8yl",
        "data": {
            "type": "notification_event_data",
            "item": {
                "type": "conversation",
                "id": "1295",
                "created_at": 1763725800,
                "source": {"type": "conversation", "id": "403918330", "body": "<p>Hi</p>", "author": author},
                "conversation_parts": {
                    "type": "conversation_part.list",
                    "conversation_parts": [
                        {
                            "type": "conversation_part",
                            "id": part_id,
                            "part_type": "comment",
                            "body": f"<p>{ident.text('Still broken after clearing the cache')}</p>",
                            "created_at": 1763726160,
                            "author": author,
                        }
                    ],
                    "total_count": 1,
                },
            },
        },
        "id": f"notif_{ident.text_id}",
        "topic": "conversation.user.replied",
        "created_at": 1763726160,
    }
    return _hook("intercom", payload, f"part:{part_id}", secrets)


Builder = Callable[[Ident, Mapping[str, str]], Delivery]

# Kind → builder; a webhook kind is its channel type (its demo source is `demo-<kind>`).
BUILDERS: dict[str, Builder] = {
    "form_json": form_json,
    "form_urlencoded": form_urlencoded,
    "webhook": standard_webhook,
    "slack": slack_event,
    "x": x_mention,
    "telegram": telegram_message,
    "trustpilot": trustpilot_review,
    "meta": meta_message,
    "instagram": instagram_comment,
    "whatsapp": whatsapp_message,
    "typeform": typeform_response,
    "zendesk": zendesk_comment,
    "intercom": intercom_reply,
}
WEBHOOK_KINDS = tuple(kind for kind in BUILDERS if kind not in FORM_KINDS)


def build(run: int, index: int, secrets_by_kind: Mapping[str, Mapping[str, str]]) -> Delivery:
    """Delivery `index` of the run: kinds in rotation, so any count of at least 13 covers every kind."""
    kind = tuple(BUILDERS)[index % len(BUILDERS)]
    return BUILDERS[kind](Ident(run, index), secrets_by_kind.get(kind, {}))
