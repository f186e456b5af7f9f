"""The alerts' resources: the SNS topic alerts are e-mailed through (subscribe addresses to it), the
wiring of the scheduled evaluator `chalice package` generates for app.evaluate_alerts (its 5-minute
EventBridge rule comes from the `@app.schedule` itself) and of the stream function that judges detractors,
and what those two may do for alerts (the evaluator's policy; the stream function's alert statements, which
infra/outbound.py's fan-out policy includes)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.store.schema import DAY_INDEX
from infra.permissions import (
    COUNTER_PARTITIONS,
    EVALUATE_ALERTS,
    FAN_OUT_WEBHOOKS,
    SUBSCRIPTION_PARTITION,
    Targets,
    log_and_trace,
    statement,
)
from infra.settings import StageSettings

# Alerts (chalicelib/alerts/): the rules (config records) and each rule's cool-down state.
ALERT_RULE_PARTITION = "ALERT_RULE"
ALERT_STATE_PARTITION = "ALERT_STATE"


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


def detractor_rule_statements(targets: Targets) -> list[iam.PolicyStatement]:
    """The stream function judging detractors (alerts/detractors): the detractor rules, one Query of their
    partition per cache age."""
    return [
        statement(
            "ReadAlertRules",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[ALERT_RULE_PARTITION],
        ),
    ]


def notify_statements(targets: Targets) -> list[iam.PolicyStatement]:
    """What sending a fired alert takes: its cool-down claimed, the rule's Slack URL, the e-mail topic."""
    return [
        # alerts/cooldown.claim: one conditional PutItem in the cool-down partition; alerts/digest: a
        # detractor window's count (an ADD per rule and stream batch), what went one by one, a digest's claim.
        statement(
            "ClaimAlertCooldowns",
            ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            [targets.table_arn],
            partitions=[ALERT_STATE_PARTITION],
        ),
        # alerts/rules.slack_url: GetParameter of {PARAMETER_PREFIX}/alerts/{rule_id}/slack-webhook-url.
        statement("ReadSlackWebhookUrls", ["ssm:GetParameter"], [targets.alert_secrets_arn]),
        # alerts/notify/sns: one Publish per alert that e-mails.
        statement("PublishAlerts", ["sns:Publish"], [targets.alerts_topic_arn]),
    ]


def evaluate_alerts_policy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The scheduled evaluator: the rules, the hour counters, a fired slice's items, and its notifications."""
    return [
        # rules.list_all (ALERT_RULE) and, for alert.triggered, subscriptions.list_cached (SUBSCRIPTION).
        statement(
            "ReadRulesAndSubscriptions",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[ALERT_RULE_PARTITION, SUBSCRIPTION_PARTITION],
        ),
        # counters.read_hours: BatchGetItem of the hour counter items, in the counter partitions only.
        statement(
            "ReadHourCounters",
            ["dynamodb:BatchGetItem"],
            [targets.table_arn],
            partitions=[COUNTER_PARTITIONS],
        ),
        # alerts/digest.send_due: BatchGetItem of the detractor windows' records (their count, what was sent).
        statement(
            "ReadDetractorWindows",
            ["dynamodb:BatchGetItem"],
            [targets.table_arn],
            partitions=[ALERT_STATE_PARTITION],
        ),
        # alerts/samples: a fired slice's items of the window, through the per-day index.
        statement("ReadWindowItems", ["dynamodb:Query"], [targets.index_arn(DAY_INDEX)]),
        # alerts/notify/webhook: alert.triggered queued for the subscriptions (SendMessageBatch).
        statement("QueueAlertEvents", ["sqs:SendMessage"], [targets.webhook_queue_arn]),
        *notify_statements(targets),
        *log_and_trace(log_group_arn),
    ]
