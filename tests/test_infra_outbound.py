"""The outbound webhooks in the deployed template: the table's stream (NEW_IMAGE) into the fan-out function,
the delivery queue (kept past the retry schedule, redriving to an encrypted DLQ after the last attempt) into
the delivery worker reporting its failed attempts, least-privilege roles, and the alarms."""

from __future__ import annotations

from typing import Any

from chalicelib.outbound.delivery import DELIVERY_QUEUE_NAME, MAX_ATTEMPTS, RETRY_DELAYS
from infra import permissions
from tests.infra_synth import STAGE, Synth, arn, ref


def test_the_table_streams_new_images_into_the_fan_out_function(synth: Synth):
    table = synth.logical_id("AWS::DynamoDB::Table", "Table")
    assert synth.resources[table]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    events = synth.resources[permissions.FAN_OUT_WEBHOOKS]["Properties"]["Events"]
    (event,) = events.values()
    assert event["Type"] == "DynamoDB"
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": [table, "StreamArn"]}
    assert event["Properties"]["BisectBatchOnFunctionError"] is True


def test_the_delivery_queue_outlives_the_retry_schedule_and_redrives_after_the_last_attempt(synth: Synth):
    queue = synth.logical_id("AWS::SQS::Queue", "WebhookQueue")
    dlq = synth.logical_id("AWS::SQS::Queue", "WebhookDeadLetterQueue")
    properties = synth.resources[queue]["Properties"]
    # `cli subscriptions replay` finds the queues by these names when no URL is configured.
    assert properties["QueueName"] == DELIVERY_QUEUE_NAME.format(stage=STAGE)
    assert synth.resources[dlq]["Properties"]["QueueName"] == DELIVERY_QUEUE_NAME.format(stage=STAGE) + "-dlq"
    assert properties["MessageRetentionPeriod"] > sum(RETRY_DELAYS) + 3600
    assert properties["RedrivePolicy"] == {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": MAX_ATTEMPTS}
    assert properties["SqsManagedSseEnabled"] is True
    assert synth.resources[dlq]["Properties"]["SqsManagedSseEnabled"] is True
    worker = synth.resources[permissions.DELIVER_WEBHOOKS]["Properties"]
    # SQS requires the queue's visibility timeout to cover the function's.
    assert properties["VisibilityTimeout"] >= worker["Timeout"] >= 60
    (event,) = worker["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == arn(queue)
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for function in (permissions.FAN_OUT_WEBHOOKS, permissions.DELIVER_WEBHOOKS):
        variables = synth.resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["DELIVERY_QUEUE_URL"] == ref(queue)
        assert variables["DELIVERY_DLQ_URL"] == ref(dlq)


def _statements(synth: Synth, function: str) -> dict[str, dict[str, Any]]:
    role = synth.resources[synth.logical_id("AWS::IAM::Role", f"{function}Role")]
    (policy,) = role["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_the_webhook_functions_may_do_only_their_own_calls(synth: Synth):
    queue = synth.logical_id("AWS::SQS::Queue", "WebhookQueue")
    fan_out = _statements(synth, permissions.FAN_OUT_WEBHOOKS)
    assert fan_out["QueueDeliveries"]["Action"] == "sqs:SendMessage"
    assert fan_out["QueueDeliveries"]["Resource"] == arn(queue)
    assert fan_out["ReadSubscriptions"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SUBSCRIPTION"]}
    }
    worker = _statements(synth, permissions.DELIVER_WEBHOOKS)
    assert "sqs:ChangeMessageVisibility" in worker["ConsumeWebhookQueue"]["Action"]
    assert worker["WriteDeliveryLogs"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["DELIVERY#*"]}
    }
    secrets = worker["ReadSigningSecrets"]["Resource"]["Fn::Join"][1]
    assert secrets[-1].endswith("/feedback/prod/subscriptions/*")
    # Neither may send to the ingest queue or read the sources' secrets.
    everything = str({**fan_out, **worker})
    assert "IngestQueue" not in everything and "/sources/" not in everything


def test_dead_letters_and_a_paused_subscription_raise_alarms(synth: Synth):
    alarms = synth.of_type("AWS::CloudWatch::Alarm")
    paused = alarms[synth.logical_id("AWS::CloudWatch::Alarm", "WebhookSubscriptionPaused")]["Properties"]
    assert paused["MetricName"] == "WebhookSubscriptionPaused" and paused["Threshold"] == 0
    dead = alarms[synth.logical_id("AWS::CloudWatch::Alarm", "WebhookDeadLetters")]["Properties"]
    assert dead["MetricName"] == "ApproximateNumberOfMessagesVisible"
    for alarm in (paused, dead):
        assert alarm["AlarmActions"] and alarm["OKActions"]
