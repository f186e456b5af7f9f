"""The alerts' resources: the SNS topic alerts are e-mailed through (subscribe addresses to it), and the
wiring of the scheduled evaluator `chalice package` generates for app.evaluate_alerts (its 5-minute
EventBridge rule comes from the `@app.schedule` itself) and of the stream function that judges detractors."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from infra.permissions import EVALUATE_ALERTS, FAN_OUT_WEBHOOKS
from infra.settings import StageSettings


def alerts_topic(scope: Construct, settings: StageSettings) -> sns.Topic:
    """Where fired alerts are published for e-mail (chalicelib/alerts/notify/sns.py)."""
    return sns.Topic(
        scope,
        "AlertsTopic",
        topic_name=f"{settings.stack_name}-alerts",
        display_name=f"Feedback alerts ({settings.stage})",
        enforce_ssl=True,
    )


def wire_functions(app: Chalice, topic: sns.Topic, webhook_queue: sqs.Queue, dashboard_url: str) -> None:
    """Both alerting functions publish to the topic, link to the dashboard and queue `alert.triggered`."""
    for function in (app.get_resource(EVALUATE_ALERTS), app.get_resource(FAN_OUT_WEBHOOKS)):
        function.add_property_override("Environment.Variables.ALERTS_TOPIC_ARN", topic.topic_arn)
        function.add_property_override("Environment.Variables.DASHBOARD_URL", dashboard_url)
    app.get_resource(EVALUATE_ALERTS).add_property_override(
        "Environment.Variables.DELIVERY_QUEUE_URL", webhook_queue.queue_url
    )
