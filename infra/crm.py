"""The CRM sync's resources: the CRM queue and its DLQ, the wiring of the `sync_crm` function `chalice
package` generates for app.py (and the fan-out function's queue URL: it forwards the stream's CRM work, being
the stream's one reader), and the DLQ's alarm.

A message is received MAX_RECEIVES times (each after the visibility timeout, six function timeouts: about
five hours in all) before it goes to the DLQ, where it waits 14 days for `cli crm replay`: a CRM that is down,
or a paused connection, loses nothing. What the consumer may do is `sync_crm_policy`; the stream function's
CRM statements (`stream_statements`) are part of infra/outbound.py's fan-out policy.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.crm.queue import CRM_QUEUE_NAME, MAX_RECEIVES
from infra.alarms import messages_waiting, notifying_alarm
from infra.permissions import (
    FAN_OUT_WEBHOOKS,
    FEEDBACK_PARTITIONS,
    SYNC_CRM,
    Targets,
    consume_queue,
    log_and_trace,
    statement,
)
from infra.queues import queue_with_dead_letters
from infra.settings import StageSettings

QUEUE_RETENTION = cdk.Duration.days(4)
# The event `chalice package` names for the function's event source.
QUEUE_EVENT_SOURCE = "SyncCrmSqsEventSource"
# Two invocations at most (SQS's lowest maximum concurrency): HubSpot's rate limit is per account (100
# requests per 10 s on smaller plans), so more would only trade requests for 429s, and fewer concurrent
# batches mean fewer chances for two of them to work on the same customer at once.
MAX_CONCURRENCY = 2
# The CRM sync (chalicelib/crm/): its connections (config records) and what it remembers per connection.
CRM_CONNECTION_PARTITION = "CRM"
CRM_LINK_PARTITIONS = "CRMLINK#*"
PROFILE_PARTITIONS = "CUSTOMER#*"


def crm_queues(scope: Construct, settings: StageSettings) -> tuple[sqs.Queue, sqs.Queue]:
    """The CRM DLQ and the CRM queue that redrives to it, in that order."""
    return queue_with_dead_letters(
        scope,
        settings,
        queue_id="CrmQueue",
        dead_letters_id="CrmDeadLetterQueue",
        # The name the CLI finds them by (crm/queue.py).
        name=CRM_QUEUE_NAME.format(stage=settings.stage),
        consumer="sync_crm",
        max_receives=MAX_RECEIVES,
        retention=QUEUE_RETENTION,
    )


def wire_function(app: Chalice, queue: sqs.Queue, dead_letters: sqs.Queue) -> None:
    """Point sync_crm's event source at this stack's queue by ARN, and tell both functions the URLs."""
    sync_crm = app.get_resource(SYNC_CRM)
    queue_event = f"Events.{QUEUE_EVENT_SOURCE}.Properties"
    sync_crm.add_property_override(f"{queue_event}.Queue", queue.queue_arn)
    # consumer.decide_batch's failures come back as batchItemFailures: only they are retried.
    sync_crm.add_property_override(f"{queue_event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
    sync_crm.add_property_override(f"{queue_event}.ScalingConfig", {"MaximumConcurrency": MAX_CONCURRENCY})
    for function in (sync_crm, app.get_resource(FAN_OUT_WEBHOOKS)):
        function.add_property_override("Environment.Variables.CRM_QUEUE_URL", queue.queue_url)
        function.add_property_override("Environment.Variables.CRM_DLQ_URL", dead_letters.queue_url)


def alarms(scope: Construct, settings: StageSettings, topic: sns.Topic, dead_letters: sqs.Queue) -> None:
    """CRM work that failed every attempt notifies the alarm topic (a paused connection's says so too; the
    function's Errors alarm, monitoring.py, fires when a connection's credentials are refused)."""
    notifying_alarm(
        scope,
        settings,
        topic,
        "CrmDeadLetters",
        description=(
            "CRM sync work (items, merges, erasures) failed every attempt and waits in the CRM DLQ: a CRM "
            "down or a paused connection. `cli crm test <id>` once its credentials work, then "
            "`cli crm replay`."
        ),
        metric=messages_waiting(dead_letters),
    )


def stream_statements(targets: Targets) -> list[iam.PolicyStatement]:
    """The stream's CRM work (app.fan_out_webhooks → crm/queue.forward_stream_batch): whether a CRM
    connection exists (one Query of the CRM partition per cache age), and SendMessageBatch."""
    return [
        statement(
            "ReadCrmConnections",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[CRM_CONNECTION_PARTITION],
        ),
        statement("QueueCrmWork", ["sqs:SendMessage"], [targets.crm_queue_arn]),
    ]


def sync_crm_policy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The CRM consumer: its queue, the connections and their secrets, the items and profiles it syncs,
    and its links (no Scan, no other partition)."""
    return [
        consume_queue("ConsumeCrmQueue", targets.crm_queue_arn, change_visibility=True),
        # connections.list_all (Query), set_status when credentials are refused (BatchWriteItem); the links
        # (crm_links: BatchGetItem, BatchWriteItem).
        statement(
            "ConnectionsAndLinks",
            ["dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
            [targets.table_arn],
            partitions=[CRM_CONNECTION_PARTITION, CRM_LINK_PARTITIONS],
        ),
        # consumer.read_items (the items as stored now) and the profiles the contacts are written from.
        statement(
            "ReadItemsAndProfiles",
            ["dynamodb:BatchGetItem"],
            [targets.table_arn],
            partitions=[FEEDBACK_PARTITIONS, PROFILE_PARTITIONS],
        ),
        # connections.secret: GetParametersByPath under {PARAMETER_PREFIX}/crm/{connection_id}.
        statement("ReadCrmCredentials", ["ssm:GetParametersByPath"], [targets.crm_secrets_arn]),
        *log_and_trace(log_group_arn),
    ]
