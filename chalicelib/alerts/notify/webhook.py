"""The `alert.triggered` outbound event: queued for every subscription that wants it, by the outbound
webhooks' own fan-out (signed, retried, logged like every other event; its webhook-id is the alert's)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib.alerts.exceptions import NotificationFailed
from chalicelib.alerts.notify.base import Alert, Notifier
from chalicelib.outbound import fanout
from chalicelib.outbound.events import AlertTriggeredData, ThemeCount, alert_event


def event_data(alert: Alert) -> AlertTriggeredData:
    """The event's payload: the alert, its slice and counts; samples by feedback id (their text stays in
    the product, where erasure reaches it)."""
    return AlertTriggeredData(
        alert_id=alert.alert_id,
        rule_id=alert.rule_id,
        rule_kind=alert.rule_kind,
        summary=alert.summary,
        fired_at=alert.fired_at,
        dimension=alert.dimension,
        value=alert.value,
        window_start=alert.window_start,
        window_end=alert.window_end,
        count=alert.count,
        negatives=alert.negatives,
        baseline=alert.baseline,
        threshold=alert.threshold,
        top_themes=[ThemeCount(theme=theme, items=count) for theme, count in alert.top_themes],
        sample_feedback_ids=[sample.feedback_id for sample in alert.samples],
        dashboard_url=alert.dashboard_url,
    )


class WebhookNotifier(Notifier):
    name = "webhook"

    def send(self, alert: Alert) -> None:
        self.send_many([alert])

    def send_many(self, alerts: list[Alert]) -> None:
        """One event per alert, queued ten to a SendMessageBatch (a burst of detractors)."""
        try:
            fanout.publish([alert_event(event_data(alert)) for alert in alerts])
        except (fanout.EnqueueFailed, ClientError) as error:
            raise NotificationFailed(self.name, type(error).__name__) from error
