"""infra/: what alerts the operators. Every alarm notifies the topic, each watches the metric the code
really emits (the nightly export, the items stored per hour), and the monthly budget alerts the same topic.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.export import fanout
from chalicelib.observability import SERVICE
from infra.monitoring import EXPORT_ALARM_HOURS
from tests.infra_synth import FUNCTIONS, ROOT, STAGE, Synth, arn, ref


def _alarm(synth: Synth, name: str) -> dict[str, Any]:
    (alarm,) = [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"feedback-collector-{STAGE}-{name}"
    ]
    return alarm


# --- alarms --------------------------------------------------------------------------------------------


def test_alarms_notify_the_topic(synth: Synth):
    topic = synth.logical_id("AWS::SNS::Topic", "AlarmTopic")
    alarms = synth.of_type("AWS::CloudWatch::Alarm")
    # + the outbound webhooks' two (test_infra_outbound.py), the pulled reviews' one (test_infra_pull.py),
    # the CRM DLQ's (test_infra_crm.py)
    assert len(alarms) == 6 + 2 * len(FUNCTIONS) + 2 + 1 + 1
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [ref(topic)]

    dlq = _alarm(synth, "DeadLetterQueueNotEmpty")
    assert dlq["Namespace"] == "AWS/SQS"
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible"
    dlq_queue = synth.logical_id("AWS::SQS::Queue", "DeadLetterQueue")
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_queue, "QueueName"]}}]
    assert (dlq["ComparisonOperator"], dlq["Threshold"]) == ("GreaterThanThreshold", 0)

    for function in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            alarm = _alarm(synth, f"{function}{metric}")
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric)
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": ref(function)}]
            assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_export_not_run_alarm_watches_the_metric_the_export_emits(synth: Synth):
    # chalicelib/export/day.py emits ExportCompleted through Powertools Metrics (EMF, dimension `service`).
    day = (ROOT / "chalicelib" / "export" / "day.py").read_text()
    assert 'metrics.add_metric(name="ExportCompleted"' in day
    observability = (ROOT / "chalicelib" / "observability.py").read_text()
    assert 'namespace="FeedbackCollector"' in observability

    alarm = _alarm(synth, "ExportNotRun")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("FeedbackCollector", "ExportCompleted")
    assert 'metrics.set_default_dimensions(stage=os.environ.get("STAGE"' in observability
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}, {"Name": "stage", "Value": STAGE}]
    assert alarm["Period"] * alarm["EvaluationPeriods"] == EXPORT_ALARM_HOURS * 3600 == 26 * 3600
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "LessThanThreshold",
        1,
    )
    assert alarm["TreatMissingData"] == "breaching"


def test_a_failed_export_slice_has_its_own_alarm_on_the_metric_the_fanout_emits(synth: Synth):
    # chalicelib/export/fanout.py emits it through Powertools Metrics when a slice fails or is found missing.
    fanout = (ROOT / "chalicelib" / "export" / "fanout.py").read_text()
    assert 'EXPORT_SLICE_FAILED = "ExportSliceFailed"' in fanout
    # A slice that raises, slices a combining step found missing, a step Lambda gave up (its record).
    assert fanout.count("metrics.add_metric(name=EXPORT_SLICE_FAILED") == 3

    alarm = _alarm(synth, "ExportSliceFailed")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("FeedbackCollector", "ExportSliceFailed")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}, {"Name": "stage", "Value": STAGE}]
    assert (alarm["Statistic"], alarm["Period"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        3600,
        "GreaterThanThreshold",
        0,
    )
    assert alarm["TreatMissingData"] == "notBreaching"  # no slice failed: nothing emitted
    assert "cli export --date" in alarm["AlarmDescription"]


def test_a_fanout_step_lambda_gives_up_comes_back_to_the_export_function(synth: Synth):
    """A slice killed by its timeout or memory runs no code to emit the metric: its asynchronous invocation's
    record goes to the default bus (the on-failure destination) and a rule hands it back to the function."""
    (properties,) = [
        c["Properties"]
        for c in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == ref("NightlyExport")
    ]
    assert properties["Qualifier"] == "$LATEST"
    assert properties["MaximumRetryAttempts"] == 2
    bus = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert "event-bus/default" in json.dumps(bus)

    rule_id, rule = synth.only("AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert (pattern["source"], pattern["detail-type"]) == (
        [fanout.GIVEN_UP_SOURCE],
        [fanout.GIVEN_UP_DETAIL_TYPE],
    )
    assert pattern["detail"]["requestPayload"] == {"source": [fanout.FANOUT_SOURCE]}
    # This stack's export function only: the default bus is the whole account's.
    assert pattern["detail"]["requestContext"]["functionArn"][0] == arn("NightlyExport")
    assert rule["Properties"]["EventBusName"] == "default"
    assert [target["Arn"] for target in rule["Properties"]["Targets"]] == [arn("NightlyExport")]
    (permission,) = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"].get("SourceArn") == arn(rule_id)
    ]
    assert (permission["Principal"], permission["FunctionName"]) == (
        "events.amazonaws.com",
        ref("NightlyExport"),
    )

    # Lambda sends the record with the function's role.
    role_id = synth.logical_id("AWS::IAM::Role", "NightlyExportRole")
    statements = synth.resources[role_id]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (put_events,) = [s for s in statements if s.get("Sid") == "SendGivenUpInvocations"]
    assert put_events["Action"] == "events:PutEvents"
    assert json.dumps(put_events["Resource"]) == json.dumps(bus)


# --- cost ----------------------------------------------------------------------------------------------


def test_a_budget_and_an_hourly_ceiling_alert_the_operators(synth: Synth):
    topic = synth.logical_id("AWS::SNS::Topic", "AlarmTopic")
    _, budget = synth.only("AWS::Budgets::Budget")
    data = budget["Properties"]["Budget"]
    assert (data["BudgetType"], data["TimeUnit"], data["BudgetLimit"]) == (
        "COST",
        "MONTHLY",
        {"Amount": 100, "Unit": "USD"},
    )
    assert "Amazon Comprehend" in data["CostFilters"]["Service"]
    # Budgets are account-wide: the same stage deployed in two regions of one account needs two names.
    assert data["BudgetName"] == "feedback-collector-prod-us-east-1-monthly"
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    assert {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]) for n in notifications
    } == {
        ("ACTUAL", 80),
        ("FORECASTED", 100),
    }
    assert all(
        n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": ref(topic)}] for n in notifications
    )
    # Budgets may publish to the topic (for this account only).
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.of_type("AWS::SNS::TopicPolicy").values()
    ]
    assert any(
        s.get("Principal") == {"Service": "budgets.amazonaws.com"}
        for statements in policies
        for s in statements
    )

    alarm = _alarm(synth, "ItemsStoredPerHour")
    processing = (ROOT / "chalicelib" / "ingest" / "processing.py").read_text()
    assert 'metrics.add_metric(name="FeedbackStored"' in processing
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "FeedbackCollector",
        "FeedbackStored",
        "Sum",
    )
    assert (alarm["Period"], alarm["Threshold"]) == (3600, 10_000)
    assert "analysis pause" in alarm["AlarmDescription"]


# --- the runbook ----------------------------------------------------------------------------------------

ALARMS_SECTION = "#### Alarms: what each means, what to do"
# CloudWatch's price of a standard-resolution alarm metric a month (us-east-1), as the README prices them.
ALARM_MONTHLY_USD = 0.10


def _runbook_rows() -> dict[str, str]:
    """README's alarm table: alarm name → its row."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split(ALARMS_SECTION)[1].split("\n#")[0]
    return {match[1]: match[0] for match in re.finditer(r"^\| `([^`]+)` \|.*$", section, re.MULTILINE)}


def test_every_alarm_has_a_runbook_line_its_notification_points_to(synth: Synth):
    """An alarm e-mail names the alarm and its description; README says what the operator does about it."""
    rows = _runbook_rows()
    alarms = synth.of_type("AWS::CloudWatch::Alarm").values()
    assert alarms
    for alarm in alarms:
        name = alarm["Properties"]["AlarmName"].removeprefix(f"feedback-collector-{STAGE}-")
        metric = next((m for m in ("Errors", "Throttles") if name.endswith(m)), "")
        function = name.removesuffix(metric) if metric else ""
        if function in FUNCTIONS:  # one line for every function's Errors, one for their Throttles
            assert f"<Function>{metric}" in rows and function in rows["<Function>Errors"], name
        else:
            assert name in rows, f"README's alarm table has no line for {name}"
        assert alarm["Properties"]["AlarmDescription"].endswith("What to do: README, Operations, Alarms."), (
            name
        )


def test_the_cost_at_rest_counts_the_alarms_the_stack_has(synth: Synth):
    alarms = len(synth.of_type("AWS::CloudWatch::Alarm"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{alarms} alarms ${alarms * ALARM_MONTHLY_USD:.2f}" in readme
