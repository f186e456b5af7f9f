"""The pulled reviews in the deployed template: the `pull_reviews` function on a 5-minute schedule, a role
that may read the sources and their secrets, write checkpoints and send to the ingest queue only, and the
alarm on a paused pull source."""

from __future__ import annotations

from chalicelib.channels.pull.scheduler import PAUSED_METRIC
from infra import permissions
from tests.infra_synth import Synth, arn, ref


def test_the_pull_function_runs_every_five_minutes_within_the_tick(synth: Synth):
    function = synth.resources[permissions.PULL_REVIEWS]["Properties"]
    (event,) = function["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == "rate(5 minutes)"
    assert function["Timeout"] < 5 * 60  # a run ends before the next tick starts another
    assert function["Handler"] == "app.pull_reviews"


def test_the_pull_function_may_do_only_its_own_calls(synth: Synth):
    role = synth.resources[synth.logical_id("AWS::IAM::Role", f"{permissions.PULL_REVIEWS}Role")]
    (policy,) = role["Properties"]["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    table = synth.logical_id("AWS::DynamoDB::Table", "Table")
    queue = synth.logical_id("AWS::SQS::Queue", "IngestQueue")
    assert statements["ListSourcesAndCheckpoints"]["Action"] == "dynamodb:Query"
    assert statements["ListSourcesAndCheckpoints"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SOURCE", "PULL"]}
    }
    assert statements["SaveCheckpoints"]["Action"] == "dynamodb:PutItem"
    assert statements["SaveCheckpoints"]["Resource"] == arn(table)
    assert statements["SaveCheckpoints"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["PULL"]}
    }
    assert statements["EnqueueReviews"] == {**statements["EnqueueReviews"], "Action": "sqs:SendMessage"}
    assert statements["EnqueueReviews"]["Resource"] == arn(queue)
    assert statements["ReadSourceSecrets"]["Action"] == "ssm:GetParametersByPath"
    assert set(statements) == {
        "ListSourcesAndCheckpoints",
        "SaveCheckpoints",
        "ReadSourceSecrets",
        "EnqueueReviews",
        "WriteOwnLogs",
        "UploadTraces",
    }


def test_a_paused_pull_source_raises_an_alarm(synth: Synth):
    topic = synth.logical_id("AWS::SNS::Topic", "AlarmTopic")  # not the alerts' own topic
    alarm_id = synth.logical_id("AWS::CloudWatch::Alarm", "PullSourcePaused")
    alarm = synth.resources[alarm_id]["Properties"]
    assert alarm["MetricName"] == PAUSED_METRIC
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [ref(topic)] == alarm["OKActions"]
