"""Hands a fired alert to the channels its rule names: the `alert.triggered` outbound event, Slack, SNS.

A channel that fails is logged (its name and the reason, never the alert's content) and counted; the
others are still tried. The cool-down was claimed before: a failed Slack post is not retried by the next
evaluation (the outbound event has its own retries, and the alert stays on the dashboard).
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.alerts import rules
from chalicelib.alerts.exceptions import NotificationFailed, RateLimited
from chalicelib.alerts.notify.base import Alert, Notifier
from chalicelib.alerts.rules import Notify
from chalicelib.config import settings
from chalicelib.observability import logger, metrics

# (channel, rule id) → the notifier to use, or None when the channel is not set up for that rule.
NotifierFactory = Callable[[str, str], Notifier | None]
CHANNELS = ("webhook", "slack", "email")
# Each slice's filter name on the dashboard (its form filter is the source filter).
DASHBOARD_FILTERS = {"form": "source", "source": "source", "channel": "channel", "theme": "theme"}


def default_notifier(channel: str, rule_id: str) -> Notifier | None:
    """The stage's notifier for a channel (imported when used: each pulls in what it sends with)."""
    if channel == "webhook":
        from chalicelib.alerts.notify.webhook import WebhookNotifier

        return WebhookNotifier()
    if channel == "slack":
        from chalicelib.alerts.notify.slack import SlackNotifier

        url = rules.slack_url(rule_id)
        return SlackNotifier(url) if url else None
    if channel == "email":
        from chalicelib.alerts.notify.sns import SnsNotifier

        topic = settings().alerts_topic_arn
        return SnsNotifier(topic) if topic else None
    return None


class Delivery(NamedTuple):
    outcome: str  # "sent", "not set up", "rate limited" or "failed: <reason>"
    retry_after: float | None = None  # a 429's Retry-After, in seconds


def send(alert: Alert, notify: Notify, notifiers: NotifierFactory | None = None) -> dict[str, str]:
    """Send `alert` on every channel `notify` names; channel → "sent", "not set up" or the failure."""
    return {
        channel: deliver(channel, [alert], alert.rule_id, notifiers).outcome
        for channel in CHANNELS
        if getattr(notify, channel)
    }


def deliver(
    channel: str, alerts: list[Alert], rule_id: str, notifiers: NotifierFactory | None = None
) -> Delivery:
    """Hand `alerts` (one rule's) to one channel: "sent", "not set up", "rate limited" (a 429: the caller
    folds what is left into a digest rather than wait) or "failed: <reason>"."""
    notifier = (notifiers or default_notifier)(channel, rule_id)
    if notifier is None:
        logger.warning("alert channel not set up", extra={"channel": channel, "rule_id": rule_id})
        return Delivery("not set up")
    try:
        notifier.send_many(alerts) if len(alerts) > 1 else notifier.send(alerts[0])
    # Whatever a channel's endpoint answers (even not HTTP: BadStatusLine is no OSError), the failure is that
    # channel's, logged; it never fails the stream batch or the evaluator run that sent it.
    except (NotificationFailed, OSError, http.client.HTTPException) as error:
        reason = error.reason if isinstance(error, NotificationFailed) else type(error).__name__
        logger.warning("alert not sent", extra={"channel": channel, "rule_id": rule_id, "reason": reason})
        metrics.add_metric(name="AlertNotificationFailed", unit=MetricUnit.Count, value=1)
        if isinstance(error, RateLimited):
            return Delivery("rate limited", error.retry_after_seconds)
        return Delivery(f"failed: {reason}")
    return Delivery("sent")


def dashboard_link(
    dimension: str,
    value: str | None,
    start: datetime,
    end: datetime,
    negatives_only: bool,
    *,
    filters: Mapping[str, str] | None = None,
) -> str | None:
    """The dashboard filtered to the slice and the window's days, and `filters` (the dashboard's own
    names); None when no dashboard URL is set."""
    base = settings().dashboard_url
    if not base:
        return None
    query = {"from": start.date().isoformat(), "to": end.date().isoformat()}
    if value is not None and dimension in DASHBOARD_FILTERS:
        query[DASHBOARD_FILTERS[dimension]] = value
    if negatives_only:
        query["sentiment"] = "NEGATIVE"
    query |= filters or {}
    return f"{base}?{urlencode(query)}"
