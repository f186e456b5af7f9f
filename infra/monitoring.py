"""What tells the operators something is wrong: the alarm topic, the alarms that notify it (dead letters, a
backlog, function errors and throttles, API 5xx, an item flood, a missed nightly export, a failed slice of a
fanned-out export) and the monthly
cost budget that alerts the same topic.

The custom metrics watched here are the ones the app emits through Powertools Metrics
(chalicelib/observability.py): their names and dimensions are named once below, beside where they come from.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.export.fanout import FANOUT_SOURCE, GIVEN_UP_DETAIL_TYPE, GIVEN_UP_SOURCE
from infra.alarms import FIVE_MINUTES, app_metric, messages_waiting, notifying_alarm
from infra.permissions import FUNCTIONS
from infra.settings import APP_NAME, StageSettings

EXPORT_COMPLETED_METRIC = "ExportCompleted"  # chalicelib/export/day.py emits 1 per finished export
EXPORT_ALARM_HOURS = 26  # the nightly run is 24 h apart; 2 h of slack
# chalicelib/export/fanout.py emits it per slice that failed or that its combining step found missing.
EXPORT_SLICE_FAILED_METRIC = "ExportSliceFailed"
ITEMS_STORED_METRIC = "FeedbackStored"  # chalicelib/ingest/processing.py, per analyzed batch
# Cost Explorer's service names for everything the stack runs on (Comprehend is most of the bill).
BUDGET_SERVICES = (
    "Amazon Comprehend",
    "AWS Lambda",
    "Amazon DynamoDB",
    "Amazon API Gateway",
    "Amazon Simple Queue Service",
    "Amazon Simple Storage Service",
    "AWS WAF",
    "AWS X-Ray",
    "AmazonCloudWatch",
    "Amazon Athena",
)


def alarms(
    scope: Construct,
    settings: StageSettings,
    *,
    dead_letter_queue: sqs.Queue,
    queue: sqs.Queue,
    app: Chalice,
) -> sns.Topic:
    """The alarm topic, every alarm notifying it (on alarm and on recovery), and the budget if one is set."""
    topic = sns.Topic(
        scope,
        "AlarmTopic",
        topic_name=f"{settings.stack_name}-alarms",
        display_name=f"{APP_NAME} {settings.stage} alarms",
        enforce_ssl=True,
    )
    if settings.alarm_email:
        topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))

    def alarm(
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        evaluation_periods: int = 1,
        **options: Any,
    ) -> cloudwatch.Alarm:
        # Every period of the evaluation must breach (datapoints_to_alarm stated, unlike the rooms' alarms).
        return notifying_alarm(
            scope,
            settings,
            topic,
            construct_id,
            description=description,
            metric=metric,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            **options,
        )

    alarm(
        "DeadLetterQueueNotEmpty",
        "Deliveries failed 5 times and wait in the DLQ: inspect, fix, then replay (or delete) them.",
        messages_waiting(dead_letter_queue),
    )
    alarm(
        "IngestBacklog",
        "The oldest queued delivery is over 15 minutes old: analysis is falling behind or failing.",
        queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
        threshold=15 * 60,
    )
    for function in FUNCTIONS:
        dimensions = {"FunctionName": app.get_resource(function).ref}
        for metric_name, what in (("Errors", "failed"), ("Throttles", "was throttled")):
            alarm(
                f"{function}{metric_name}",
                f"The {function} function {what} in the last 5 minutes.",
                cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name=metric_name,
                    dimensions_map=dimensions,
                    statistic="Sum",
                    period=FIVE_MINUTES,
                ),
            )
    alarm(
        "Api5xx",
        "The API answered with 5xx (queue refused, authorizer failed or an unexpected error).",
        cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={"ApiName": settings.stack_name, "Stage": settings.api_stage},
            statistic="Sum",
            period=FIVE_MINUTES,
        ),
    )
    alarm(
        "ItemsStoredPerHour",
        f"More than {settings.max_items_per_hour} feedback items were stored in the last hour (spam "
        "or a runaway sender?). Comprehend bills every one: `cli analysis pause` stops analysis, items "
        "wait in the queue (14 days), `cli analysis resume` continues.",
        app_metric(settings, ITEMS_STORED_METRIC, cdk.Duration.hours(1)),
        threshold=settings.max_items_per_hour,
    )
    if settings.monthly_budget_usd > 0:
        monthly_budget(
            scope,
            topic,
            # Budgets are account-wide, not regional: the region keeps a copy of the same stage deployed in
            # another region of the account from colliding with this one's name.
            name=f"{settings.stack_name}-{settings.region}-monthly",
            amount=settings.monthly_budget_usd,
        )
    # One datapoint per hour; an hour without an export is missing data, counted as breaching, so the
    # alarm fires when no export completed in the last EXPORT_ALARM_HOURS hours (and right after the
    # first deploy until the first export has run).
    alarm(
        "ExportNotRun",
        f"No nightly export completed in the last {EXPORT_ALARM_HOURS} hours.",
        app_metric(settings, EXPORT_COMPLETED_METRIC, cdk.Duration.hours(1)),
        threshold=1,
        comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=EXPORT_ALARM_HOURS,
        missing=cloudwatch.TreatMissingData.BREACHING,
    )
    alarm(
        "ExportSliceFailed",
        "A slice of a fanned-out export day failed (Lambda retries it twice), Lambda gave a slice or a "
        "combining step up (timeout, out of memory) or a combining step found a slice missing: no manifest "
        "is written for that day until every slice is done. A nightly day: "
        "`cli export --date <day>` exports it again in one go. A day an erasure marked stays marked (409) "
        "and the next nightly run fans its rewrite out again. The logs name the day, run and slices.",
        app_metric(settings, EXPORT_SLICE_FAILED_METRIC, cdk.Duration.hours(1)),
    )
    return topic


def export_step_failures(scope: Construct, export_function: cdk.CfnResource, bus_arn: str) -> None:
    """A fan-out step Lambda gives up (a slice killed by its timeout or memory runs no code of its own to say
    so) reaches the export function as its invocation record: the function's asynchronous invocations send
    the records of those given up to the account's default bus (the on-failure destination), and a rule
    hands back the ones of this function's fan-out steps, which emit EXPORT_SLICE_FAILED_METRIC
    (chalicelib/export/fanout.record_given_up_step). The rule matches no record of a record (their request
    is not a fan-out step), so no failure loops back."""
    function_arn = cdk.Fn.get_att(export_function.logical_id, "Arn").to_string()
    lambda_.CfnEventInvokeConfig(
        scope,
        "NightlyExportAsyncInvocations",
        function_name=export_function.ref,
        qualifier="$LATEST",
        maximum_retry_attempts=2,  # Lambda's default, stated: a failing slice is tried three times
        destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
            on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=bus_arn)
        ),
    )
    rule = events.CfnRule(
        scope,
        "ExportStepGivenUp",
        description="A fan-out step of the export that Lambda gave up, back to the export function",
        event_bus_name="default",
        event_pattern={
            "source": [GIVEN_UP_SOURCE],
            "detail-type": [GIVEN_UP_DETAIL_TYPE],
            "detail": {
                # This stack's export function only (the bus is the account's), qualified or not.
                "requestContext": {
                    "functionArn": [function_arn, {"prefix": cdk.Fn.join("", [function_arn, ":"])}]
                },
                "requestPayload": {"source": [FANOUT_SOURCE]},
            },
        },
        targets=[events.CfnRule.TargetProperty(arn=function_arn, id="ExportFunction")],
    )
    lambda_.CfnPermission(
        scope,
        "ExportStepGivenUpInvokes",
        action="lambda:InvokeFunction",
        function_name=export_function.ref,
        principal="events.amazonaws.com",
        source_arn=rule.attr_arn,
    )


def monthly_budget(scope: Construct, topic: sns.Topic, *, name: str, amount: int) -> budgets.CfnBudget:
    """A monthly cost budget over the services this stack runs on, alerting the alarm topic."""
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="BudgetsPublish",
            actions=["sns:Publish"],
            principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account}},
        )
    )
    subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)]

    def notification(kind: str, percent: int) -> budgets.CfnBudget.NotificationWithSubscribersProperty:
        return budgets.CfnBudget.NotificationWithSubscribersProperty(
            notification=budgets.CfnBudget.NotificationProperty(
                notification_type=kind,
                comparison_operator="GREATER_THAN",
                threshold=percent,
                threshold_type="PERCENTAGE",
            ),
            subscribers=subscribers,
        )

    return budgets.CfnBudget(
        scope,
        "MonthlyBudget",
        budget=budgets.CfnBudget.BudgetDataProperty(
            budget_name=name,
            budget_type="COST",
            time_unit="MONTHLY",
            budget_limit=budgets.CfnBudget.SpendProperty(amount=amount, unit="USD"),
            # The account's spend on what this product uses (Budgets filters by service name, so another
            # stack on the same services in the account counts too: the README says so).
            cost_filters={"Service": list(BUDGET_SERVICES)},
        ),
        notifications_with_subscribers=[notification("ACTUAL", 80), notification("FORECASTED", 100)],
    )
