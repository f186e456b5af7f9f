"""The CRM sync in the deployed template: the CRM queue (redriving to an encrypted DLQ after MAX_RECEIVES
receives) into the `sync_crm` function reporting its failed messages, the fan-out function (the stream's one
reader) told the queue's URL, least-privilege roles, and the DLQ's alarm."""

from __future__ import annotations

from typing import Any

from chalicelib.crm.queue import CRM_QUEUE_NAME, MAX_RECEIVES
from infra import permissions
from tests.infra_synth import ROOT, STAGE, Synth, arn, ref


def _statements(synth: Synth, function: str) -> dict[str, dict[str, Any]]:
    role = synth.resources[synth.logical_id("AWS::IAM::Role", f"{function}Role")]
    (policy,) = role["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_the_crm_queue_feeds_sync_crm_and_redrives_to_its_dlq(synth: Synth):
    queue = synth.logical_id("AWS::SQS::Queue", "CrmQueue")
    dlq = synth.logical_id("AWS::SQS::Queue", "CrmDeadLetterQueue")
    properties = synth.resources[queue]["Properties"]
    # `cli crm replay` finds the queues by these names when no URL is configured.
    assert properties["QueueName"] == CRM_QUEUE_NAME.format(stage=STAGE)
    assert synth.resources[dlq]["Properties"]["QueueName"] == CRM_QUEUE_NAME.format(stage=STAGE) + "-dlq"
    assert properties["RedrivePolicy"] == {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": MAX_RECEIVES}
    assert synth.resources[dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert properties["MessageRetentionPeriod"] == 4 * 24 * 3600
    # README's deploy section says what the template has (it said 14 days for both).
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "the CRM sync's queue (4 days) and DLQ (14 days, redrive after 10 receives" in readme
    assert properties["SqsManagedSseEnabled"] is True
    assert synth.resources[dlq]["Properties"]["SqsManagedSseEnabled"] is True
    function = synth.resources[permissions.SYNC_CRM]["Properties"]
    assert properties["VisibilityTimeout"] >= function["Timeout"] >= 300  # HubSpot's backoff fits
    (event,) = function["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == arn(queue)
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 2}  # HubSpot's per-account limit
    for name in (permissions.SYNC_CRM, permissions.FAN_OUT_WEBHOOKS):
        variables = synth.resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["CRM_QUEUE_URL"] == ref(queue) and variables["CRM_DLQ_URL"] == ref(dlq)
    # No second reader of the table's stream: the fan-out function forwards the CRM's work.
    stream_readers = [
        r
        for r in synth.of_type("AWS::Serverless::Function").values()
        if any(e["Type"] == "DynamoDB" for e in r["Properties"].get("Events", {}).values())
    ]
    assert len(stream_readers) == 1


def test_the_crm_functions_may_do_only_their_own_calls(synth: Synth):
    queue = synth.logical_id("AWS::SQS::Queue", "CrmQueue")
    consumer = _statements(synth, permissions.SYNC_CRM)
    assert consumer["ConsumeCrmQueue"]["Resource"] == arn(queue)
    assert consumer["ConnectionsAndLinks"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CRM", "CRMLINK#*"]}
    }
    assert consumer["ReadItemsAndProfiles"]["Action"] == "dynamodb:BatchGetItem"
    secrets = consumer["ReadCrmCredentials"]["Resource"]["Fn::Join"][1]
    assert secrets[-1].endswith("/feedback/prod/crm/*")
    fan_out = _statements(synth, permissions.FAN_OUT_WEBHOOKS)
    assert fan_out["QueueCrmWork"]["Resource"] == arn(queue)
    assert fan_out["ReadCrmConnections"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["CRM"]}
    }
    # The consumer may not send to any queue, nor read the sources' or subscriptions' secrets, nor Scan.
    everything = str(consumer)
    assert "sqs:SendMessage" not in everything and "/sources/" not in everything
    assert "/subscriptions/" not in everything and "dynamodb:Scan" not in everything


def test_crm_dead_letters_raise_an_alarm(synth: Synth):
    alarms = synth.of_type("AWS::CloudWatch::Alarm")
    dead = alarms[synth.logical_id("AWS::CloudWatch::Alarm", "CrmDeadLetters")]["Properties"]
    assert dead["MetricName"] == "ApproximateNumberOfMessagesVisible" and dead["Threshold"] == 0
    assert dead["AlarmActions"] and dead["OKActions"]
