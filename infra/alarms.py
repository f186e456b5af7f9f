"""The shape every alarm of the stack has: named after the stack, notifying the alarm topic when it fires and
when it recovers; and the metrics alarms watch most (the app's own, a queue's waiting messages)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.observability import SERVICE
from infra.settings import StageSettings

METRICS_NAMESPACE = "FeedbackCollector"  # chalicelib/observability.py
FIVE_MINUTES = cdk.Duration.minutes(5)
RUNBOOK = "What to do: README, Operations, Alarms."


def app_metric(
    settings: StageSettings, metric_name: str, period: cdk.Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    """A metric the app emits through Powertools Metrics, summed: every one carries `service` and `stage`."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": SERVICE, "stage": settings.stage},
        statistic="Sum",
        period=period,
    )


def messages_waiting(queue: sqs.Queue) -> cloudwatch.Metric:
    """The most messages `queue` held visible in each 5 minutes (a DLQ's: what failed every attempt)."""
    return queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum")


def notifying_alarm(
    scope: Construct,
    settings: StageSettings,
    topic: sns.Topic,
    construct_id: str,
    *,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float = 0,
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """An alarm `<stack>-<construct_id>` notifying `topic` on alarm and on recovery; by default it fires when
    one 5-minute period's value is above zero, and no data is fine."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=f"{settings.stack_name}-{construct_id}",
        # The e-mail an operator gets at 3 a.m. says where the runbook line is (tests/test_infra_monitoring.py
        # holds README's table to the template's alarms).
        alarm_description=f"{description} {RUNBOOK}",
        metric=metric,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        treat_missing_data=missing,
    )
    action = cloudwatch_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm
