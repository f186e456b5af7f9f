"""Slack: a Block Kit message to the rule's incoming webhook.

Per Slack's incoming-webhook documentation: one POST of JSON to the webhook URL, `text` the fallback shown
in notifications and `blocks` the message; Slack answers 200 `ok`, 400 `invalid_payload`, 403/404 when the
webhook was revoked or its channel archived, and 429 with Retry-After past about one message a second.
A section's text holds at most 3,000 characters and a header's 150; text we did not write (comments,
names) has `&`, `<` and `>` escaped, so a comment cannot mention @channel or forge a link.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.alerts.exceptions import NotificationFailed, RateLimited
from chalicelib.alerts.notify.base import Alert, Notifier
from chalicelib.outbound import transport
from chalicelib.outbound.subscriptions import allows_loopback

SECTION_CHARS = 3_000
HEADER_CHARS = 150
TIMEOUT_SECONDS = 10.0


def escape(text: str) -> str:
    """Slack's mrkdwn control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_CHARS)}}


def _rating(sample_scale: str | None, rating: int | None) -> str:
    return f" · {sample_scale.upper()} {rating}" if sample_scale and rating is not None else ""


def _counts(counts: list[tuple[str, int]]) -> str:
    return "\n".join(f"{escape(name)}: {n}" for name, n in counts)


def message(alert: Alert) -> dict[str, Any]:
    """The Block Kit message of an alert."""
    title = {"spike": "Feedback spike", "silence": "Source gone quiet", "detractor": "Detractor"}
    header = f"{title.get(alert.rule_kind, 'Alert')}: {alert.slice_label}"
    window = f"{alert.window_start:%a %d %b %H:%M} to {alert.window_end:%H:%M} UTC"
    fields = [
        {"type": "mrkdwn", "text": f"*Items*\n{alert.count}"},
        {"type": "mrkdwn", "text": f"*Negative*\n{alert.negatives}"},
        {"type": "mrkdwn", "text": f"*Window*\n{window}"},
    ]
    if alert.breakdown:  # a digest: what its detractors were, not a sentiment count
        fields[1] = {"type": "mrkdwn", "text": "*Why*\n" + _counts(alert.breakdown)}
    if alert.baseline is not None and alert.rule_kind != "detractor":
        fields.append({"type": "mrkdwn", "text": f"*Usual (same hours, past weeks)*\n{alert.baseline:.2f}"})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(header, HEADER_CHARS)}},
        _section(escape(alert.summary)),
        {"type": "section", "fields": fields},
    ]
    if alert.top_themes:
        lines = "\n".join(f"• {escape(theme)} ({count})" for theme, count in alert.top_themes)
        blocks.append(_section(f"*Top themes*\n{lines}"))
    if alert.samples:
        quotes = "\n".join(
            f"> {escape(sample.text)}\n_{escape(sample.source_id or '')}"
            f"{' · ' + sample.sentiment.lower() if sample.sentiment else ''}"
            f"{_rating(sample.rating_scale, sample.rating)}_"
            for sample in alert.samples
        )
        blocks.append(_section(f"*Sample comments*\n{quotes}"))
    if alert.dashboard_url:
        button = {"type": "button", "text": {"type": "plain_text", "text": "Open in the dashboard"}}
        blocks.append({"type": "actions", "elements": [{**button, "url": alert.dashboard_url}]})
    context = f"rule `{alert.rule_id}` · alert `{alert.alert_id}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _cut(escape(alert.summary), SECTION_CHARS), "blocks": blocks}


class SlackNotifier(Notifier):
    name = "slack"

    def __init__(self, webhook_url: str) -> None:
        self.webhook_url = webhook_url

    def __repr__(self) -> str:  # the URL is a secret: never in a log line or a trace
        return "SlackNotifier(<webhook>)"

    def send(self, alert: Alert) -> None:
        body = json.dumps(message(alert), ensure_ascii=False).encode()
        try:
            response = transport.post(
                self.webhook_url,
                body,
                {"content-type": "application/json"},
                allow_loopback=allows_loopback(),
                timeout=TIMEOUT_SECONDS,
            )
        except transport.TargetRefused as error:
            raise NotificationFailed(self.name, str(error)) from error
        if response.status == 429:
            raise RateLimited(self.name, response.retry_after_seconds)
        if response.status != 200:
            raise NotificationFailed(self.name, f"HTTP {response.status} {response.body_excerpt[:60]}")
