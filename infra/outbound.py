"""The outbound webhooks' resources: the delivery queue and its DLQ, the wiring of the two functions
`chalice package` generates for app.py (the stream's fan-out and the delivery worker), their alarms, and
what the two may do (the stream function also judges detractors and forwards CRM work: its policy includes
the statements infra/alerts.py and infra/crm.py give for that).

The delivery queue keeps messages for four days (the retry schedule spans about 27.6 hours) and redrives a
message to the DLQ after MAX_ATTEMPTS receives (chalicelib/outbound/delivery.py): the worker hides a failed
message until its next attempt, so each receive is one attempt.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.outbound.delivery import DELIVERY_QUEUE_NAME, MAX_ATTEMPTS
from infra import alerts, crm
from infra.alarms import app_metric, messages_waiting, notifying_alarm
from infra.permissions import (
    DELIVER_WEBHOOKS,
    DELIVERY_LOG_PARTITIONS,
    FAN_OUT_WEBHOOKS,
    SUBSCRIPTION_PARTITION,
    Targets,
    consume_queue,
    log_and_trace,
    statement,
)
from infra.queues import queue_with_dead_letters
from infra.settings import StageSettings

QUEUE_RETENTION = cdk.Duration.days(4)
# The events `chalice package` names for the two functions' event sources.
STREAM_EVENT_SOURCE = "FanOutWebhooksDynamodbEventSource"
QUEUE_EVENT_SOURCE = "DeliverWebhooksSqsEventSource"
PAUSED_METRIC = "WebhookSubscriptionPaused"  # chalicelib/outbound/delivery.py


def webhook_queues(scope: Construct, settings: StageSettings) -> tuple[sqs.Queue, sqs.Queue]:
    """The delivery DLQ and the delivery queue that redrives to it, in that order."""
    return queue_with_dead_letters(
        scope,
        settings,
        queue_id="WebhookQueue",
        dead_letters_id="WebhookDeadLetterQueue",
        # The name the CLI finds them by when no URL is configured (outbound/replay.py).
        name=DELIVERY_QUEUE_NAME.format(stage=settings.stage),
        consumer="deliver_webhooks",
        max_receives=MAX_ATTEMPTS,
        retention=QUEUE_RETENTION,
    )


def wire_functions(app: Chalice, table: dynamodb.Table, queue: sqs.Queue, dead_letters: sqs.Queue) -> None:
    """Point the two functions' event sources at this stack's stream and queue, and tell them the URLs."""
    fan_out, deliver = app.get_resource(FAN_OUT_WEBHOOKS), app.get_resource(DELIVER_WEBHOOKS)
    stream_event = f"Events.{STREAM_EVENT_SOURCE}.Properties"
    fan_out.add_property_override(f"{stream_event}.Stream", table.table_stream_arn)
    # A failing batch is retried (same webhook-ids) and then bisected, never skipped silently.
    fan_out.add_property_override(f"{stream_event}.BisectBatchOnFunctionError", True)
    queue_event = f"Events.{QUEUE_EVENT_SOURCE}.Properties"
    deliver.add_property_override(f"{queue_event}.Queue", queue.queue_arn)
    # delivery.handle_sqs_batch reports the attempts that failed: they stay hidden until their next attempt.
    deliver.add_property_override(f"{queue_event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
    for function in (fan_out, deliver):
        function.add_property_override("Environment.Variables.DELIVERY_QUEUE_URL", queue.queue_url)
        function.add_property_override("Environment.Variables.DELIVERY_DLQ_URL", dead_letters.queue_url)


def alarms(scope: Construct, settings: StageSettings, topic: sns.Topic, dead_letters: sqs.Queue) -> None:
    """Events that ran out of retries, and a subscription paused for failing, notify the alarm topic."""
    notifying_alarm(
        scope,
        settings,
        topic,
        "WebhookDeadLetters",
        description=(
            "Outbound webhook events failed every attempt (about 27.6 hours) and wait in the webhook DLQ: "
            "`cli subscriptions replay` sends them again once the receiver is fixed."
        ),
        metric=messages_waiting(dead_letters),
    )
    notifying_alarm(
        scope,
        settings,
        topic,
        "WebhookSubscriptionPaused",
        description=(
            "A webhook subscription failed for a whole retry schedule and was paused: `cli subscriptions "
            "resume` once its receiver works."
        ),
        metric=app_metric(settings, PAUSED_METRIC),
    )


def fan_out_policy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The stream function: reads the table's stream, the subscriptions, and queues deliveries; judges
    detractors and forwards the CRM work too (the alerts' and the CRM's statements)."""
    return [
        # The event source mapping reads the stream with the function's role (Lambda's documented minimum).
        statement(
            "ReadTableStream",
            [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            [targets.table_stream_arn],
        ),
        # subscriptions.list_cached: one Query of the SUBSCRIPTION partition per cache age.
        statement(
            "ReadSubscriptions",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[SUBSCRIPTION_PARTITION],
        ),
        # fanout.enqueue: SendMessageBatch (authorized as SendMessage).
        statement("QueueDeliveries", ["sqs:SendMessage"], [targets.webhook_queue_arn]),
        *alerts.detractor_rule_statements(targets),
        *crm.stream_statements(targets),
        *alerts.notify_statements(targets),
        *log_and_trace(log_group_arn),
    ]


def deliver_policy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The delivery worker: its queue, the subscriptions and their secrets, the delivery log."""
    return [
        # ChangeMessageVisibility schedules the retries (delivery.handle_sqs_batch).
        consume_queue("ConsumeWebhookQueue", targets.webhook_queue_arn, change_visibility=True),
        # subscriptions.get_cached/get_fresh (GetItem), save when pausing a dead endpoint (BatchWriteItem).
        statement(
            "ReadAndPauseSubscriptions",
            ["dynamodb:GetItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem"],
            [targets.table_arn],
            partitions=[SUBSCRIPTION_PARTITION],
        ),
        # deliveries.record (PutItem) and delivered_since (Query), in the delivery log partitions only.
        statement(
            "WriteDeliveryLogs",
            ["dynamodb:PutItem", "dynamodb:Query"],
            [targets.table_arn],
            partitions=[DELIVERY_LOG_PARTITIONS],
        ),
        # subscriptions.signing_secrets: GetParametersByPath under {PARAMETER_PREFIX}/subscriptions/{id}.
        statement("ReadSigningSecrets", ["ssm:GetParametersByPath"], [targets.subscription_secrets_arn]),
        *log_and_trace(log_group_arn),
    ]
