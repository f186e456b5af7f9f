"""The pulled reviews' alarm: a pull source paused because its platform refused its credentials or settings
(chalicelib/channels/pull/scheduler.py emits PullSourcePaused) notifies the alarm topic. The schedule itself
is app.py's `pull_reviews` (every 5 minutes), which `chalice package` turns into an EventBridge rule, and
its least-privilege policy is `pull_reviews_policy` below."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from chalicelib.channels.pull.scheduler import PAUSED_METRIC
from infra.alarms import app_metric, notifying_alarm
from infra.permissions import SOURCE_PARTITION, Targets, log_and_trace, statement
from infra.settings import StageSettings

# Each pull source's checkpoint and pause (store/config_records.py PULL_STATES, channels/pull/state.py).
PULL_STATE_PARTITION = "PULL"


def alarms(scope: Construct, settings: StageSettings, topic: sns.Topic) -> None:
    """A paused pull source notifies the alarm topic (on alarm and when it recovers)."""
    notifying_alarm(
        scope,
        settings,
        topic,
        "PullSourcePaused",
        description=(
            "A pull source (Google Play, App Store, Google Business Profile) was paused: its platform "
            "refused its credentials or settings. Fix them (`cli sources rotate`), then "
            "`cli sources resume <id>`."
        ),
        metric=app_metric(settings, PAUSED_METRIC),
    )


def pull_reviews_policy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The scheduled pull: the sources and their checkpoints, the sources' secrets, one SQS send a page."""
    return [
        # sources.list_all and state.load_all: one Query of each partition per run.
        statement(
            "ListSourcesAndCheckpoints",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[SOURCE_PARTITION, PULL_STATE_PARTITION],
        ),
        # state.save: one conditional PutItem per source and run, in the PULL partition only.
        statement(
            "SaveCheckpoints",
            ["dynamodb:PutItem"],
            [targets.table_arn],
            partitions=[PULL_STATE_PARTITION],
        ),
        # sources.secrets_cached: GetParametersByPath under {PARAMETER_PREFIX}/sources/{source_id}.
        statement("ReadSourceSecrets", ["ssm:GetParametersByPath"], [targets.source_secrets_arn]),
        # scheduler.queue_events: SendMessage / SendMessageBatch, one request per page of reviews.
        statement("EnqueueReviews", ["sqs:SendMessage"], [targets.queue_arn]),
        *log_and_trace(log_group_arn),
    ]
