"""Hands a fired alert to the channels its rule names: the `alert.triggered` outbound event, Slack, SNS.

A channel that fails is logged (its name and the reason, never the alert's content) and counted; the
others are still tried. The cool-down was claimed before: a failed Slack post is not retried by the next
evaluation (the outbound event has its own retries, and the alert stays on the dashboard).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.alerts import rules
from chalicelib.alerts.exceptions import NotificationFailed
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


def send(alert: Alert, notify: Notify, notifiers: NotifierFactory | None = None) -> dict[str, str]:
    """Send `alert` on every channel `notify` names; channel → "sent", "not set up" or the failure."""
    factory = notifiers or default_notifier
    outcomes: dict[str, str] = {}
    for channel in CHANNELS:
        if not getattr(notify, channel):
            continue
        notifier = factory(channel, alert.rule_id)
        if notifier is None:
            outcomes[channel] = "not set up"
            logger.warning("alert channel not set up", extra={"channel": channel, "rule_id": alert.rule_id})
            continue
        try:
            notifier.send(alert)
            outcomes[channel] = "sent"
        except (NotificationFailed, OSError) as error:
            reason = error.reason if isinstance(error, NotificationFailed) else type(error).__name__
            outcomes[channel] = f"failed: {reason}"
            logger.warning(
                "alert not sent", extra={"channel": channel, "rule_id": alert.rule_id, "reason": reason}
            )
            metrics.add_metric(name="AlertNotificationFailed", unit=MetricUnit.Count, value=1)
    return outcomes


def dashboard_link(
    dimension: str, value: str | None, start: datetime, end: datetime, negatives_only: bool
) -> str | None:
    """The dashboard filtered to the slice and the window's days (None when no dashboard URL is set)."""
    base = settings().dashboard_url
    if not base:
        return None
    query = {"from": start.date().isoformat(), "to": end.date().isoformat()}
    if value is not None and dimension in DASHBOARD_FILTERS:
        query[DASHBOARD_FILTERS[dimension]] = value
    if negatives_only:
        query["sentiment"] = "NEGATIVE"
    return f"{base}?{urlencode(query)}"
