"""E-mail (and anything else subscribed to the topic) through the stage's SNS topic (settings
`alerts_topic_arn`): one Publish, its subject under SNS's 100 characters, its message plain text."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.alerts.exceptions import NotificationFailed
from chalicelib.alerts.notify.base import Alert, Notifier

SUBJECT_CHARS = 100


def subject(alert: Alert) -> str:
    """SNS subjects are one line of printable ASCII."""
    text = f"[feedback alert] {alert.rule_kind}: {alert.slice_label}"
    ascii_text = text.encode("ascii", "replace").decode().replace("\n", " ")
    return ascii_text[:SUBJECT_CHARS]


def body(alert: Alert) -> str:
    lines = [
        alert.summary,
        "",
        f"Window: {alert.window_start:%Y-%m-%d %H:%M} to {alert.window_end:%H:%M} UTC",
    ]
    lines.append(f"Items: {alert.count}, negative: {alert.negatives}")
    if alert.breakdown:
        lines.append("Why: " + ", ".join(f"{name} ({n})" for name, n in alert.breakdown))
    if alert.top_themes:
        lines.append("Top themes: " + ", ".join(f"{theme} ({count})" for theme, count in alert.top_themes))
    if alert.samples:
        lines += ["", "Sample comments:", *(f"  - {sample.text}" for sample in alert.samples)]
    if alert.dashboard_url:
        lines += ["", f"Dashboard: {alert.dashboard_url}"]
    lines += ["", f"Rule {alert.rule_id}, alert {alert.alert_id}"]
    return "\n".join(lines)


class SnsNotifier(Notifier):
    name = "email"

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def send(self, alert: Alert) -> None:
        try:
            aws.client("sns").publish(TopicArn=self.topic_arn, Subject=subject(alert), Message=body(alert))
        except ClientError as error:
            raise NotificationFailed(self.name, error.response["Error"]["Code"]) from error
