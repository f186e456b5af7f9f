"""Operating a deployed stage: the analysis kill switch, `cli doctor`, Comprehend called in another region.

moto stands in for Lambda (functions, event source mappings, layers), SQS, SNS, S3 and Comprehend.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from chalicelib import aws, cli
from chalicelib.ingest.queue import encode_events
from chalicelib.models import utc_now
from chalicelib.operations import analysis_switch, doctor
from tests.factories import form_event


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _publish_layer(lambda_client: Any, name: str, runtime: str, architecture: str) -> str:
    """The ARN of a new layer `name` built for one runtime and architecture (what the doctor checks)."""
    return lambda_client.publish_layer_version(
        LayerName=name,
        Content={"ZipFile": _zip()},
        CompatibleRuntimes=[runtime],
        CompatibleArchitectures=[architecture],
    )["LayerVersionArn"]


@pytest.fixture
def deployed(stack: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Functions, a trigger, a layer, a DLQ and an alarm topic as the stack creates them."""
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
        ),
    )["Role"]["Arn"]
    lambda_client = boto3.client("lambda")
    layer = _publish_layer(lambda_client, "AWSSDKPandas-Python313-Arm64", "python3.13", "arm64")
    for name, layers in (("analyze", []), ("export", [layer])):
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            Architectures=["arm64"],
            Layers=layers,
        )
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="analyze", BatchSize=25)
    topic = boto3.client("sns").create_topic(Name="alarms")["TopicArn"]
    dlq = boto3.client("sqs").create_queue(QueueName="ingest-dlq")["QueueUrl"]
    monkeypatch.setenv(analysis_switch.FUNCTION_VARIABLE, "analyze")
    monkeypatch.setenv(doctor.EXPORT_FUNCTION_VARIABLE, "export")
    monkeypatch.setenv(doctor.ALARM_TOPIC_VARIABLE, topic)
    monkeypatch.setenv(doctor.DLQ_VARIABLE, dlq)
    return {"topic": topic, "dlq": dlq, "layer": layer, "queue_arn": queue_arn}


def _queue(stack: Any, count: int) -> None:
    sqs = boto3.client("sqs")
    for n in range(count):
        (body,) = encode_events([form_event(f"waiting-{n}")])
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)


# --- the kill switch ------------------------------------------------------------------------------------


def test_pause_disables_the_trigger_and_keeps_every_delivery_queued(stack, deployed, capsys):
    assert cli.main(["analysis", "pause"]) == 0
    assert "analysis paused: trigger Disabl" in capsys.readouterr().out
    _queue(stack, 3)  # deliveries acknowledged while paused wait in the queue
    assert cli.main(["analysis", "status"]) == 0
    assert "3 deliveries queued" in capsys.readouterr().out
    state = analysis_switch.status()
    assert state.paused and state.queued == 3
    (mapping,) = boto3.client("lambda").list_event_source_mappings(FunctionName="analyze")[
        "EventSourceMappings"
    ]
    assert mapping["State"] in {"Disabled", "Disabling"}

    assert cli.main(["analysis", "pause"]) == 0  # idempotent
    assert cli.main(["analysis", "resume"]) == 0
    assert not analysis_switch.status().paused
    assert cli.main(["analysis", "status"]) == 0
    assert "running" in capsys.readouterr().out


def test_a_switch_already_as_asked_says_so_and_leaves_the_trigger_alone(stack, deployed, capsys, monkeypatch):
    updates: list[dict[str, Any]] = []
    lambda_client = aws.client("lambda")
    update = lambda_client.update_event_source_mapping

    def counted(**request: Any) -> dict[str, Any]:
        updates.append(request)
        return update(**request)

    monkeypatch.setattr(lambda_client, "update_event_source_mapping", counted)
    assert cli.main(["analysis", "resume"]) == 0
    out = capsys.readouterr().out
    assert "analysis was already running: trigger Enabled" in out and "resumed" not in out
    assert updates == []

    assert cli.main(["analysis", "pause"]) == 0
    assert "analysis paused" in capsys.readouterr().out and len(updates) == 1
    assert cli.main(["analysis", "pause"]) == 0
    out = capsys.readouterr().out
    assert "analysis was already paused: trigger Disabl" in out and len(updates) == 1
    assert "Deliveries are still accepted" not in out


def test_the_switch_refuses_without_a_deployed_function(stack, monkeypatch, capsys):
    monkeypatch.delenv(analysis_switch.FUNCTION_VARIABLE, raising=False)
    assert cli.main(["analysis", "pause"]) == 2
    assert "infra.outputs" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("error", "code", "said"),
    [
        (NoRegionError(), 2, "infra.outputs <stage>"),
        (NoCredentialsError(), 2, "infra.outputs <stage>"),
        (
            ClientError(
                {
                    "Error": {
                        "Code": "AccessDenied",
                        "Message": "not authorized to perform: sqs:receivemessage",
                    }
                },
                "ReceiveMessage",
            ),
            1,
            "lacks that permission",
        ),
        (
            ClientError(
                {"Error": {"Code": "ExpiredToken", "Message": "The token has expired"}}, "ReceiveMessage"
            ),
            1,
            "expired",
        ),
        (
            ClientError(
                {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no such queue"}},
                "GetQueueUrl",
            ),
            1,
            "infra.outputs <stage>",
        ),
    ],
)
def test_an_operator_command_aws_refuses_says_why_in_a_line_not_a_traceback(
    stack, monkeypatch, capsys, error: Exception, code: int, said: str
):
    """The CLI without the stage's environment, with expired credentials or without a permission."""
    from chalicelib.operations import dlq

    def refused(self: Any) -> None:
        raise error

    monkeypatch.setattr(dlq.DeadLetterQueue, "list", refused)
    assert cli.main(["dlq", "list"]) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and said in err
    if isinstance(error, ClientError):
        assert f"AWS refused {error.operation_name}: {error.response['Error']['Code']}" in err


def test_a_parameter_powertools_could_not_read_is_said_as_aws_s_own_error(stack, monkeypatch, capsys):
    """Powertools wraps an unreachable SSM in GetParameterError (backfill against a stopped `make run`)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import EndpointConnectionError

    from chalicelib.operations import dlq

    def unreachable(self: Any) -> None:
        try:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:5999/")
        except EndpointConnectionError as error:
            raise GetParameterError(str(error)) from error

    monkeypatch.setattr(dlq.DeadLetterQueue, "list", unreachable)
    assert cli.main(["dlq", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach AWS at http://127.0.0.1:5999/") and "Traceback" not in err


# --- doctor ---------------------------------------------------------------------------------------------

EXPORT_NOW_PAYLOAD = Path(__file__).resolve().parent.parent / "infra" / "scheduled-event.json"


def test_the_documented_first_export_runs_the_nightly_export(client, monkeypatch):
    """Step 6 (and the ExportNotRun runbook line) invokes the export function by hand: a bare `aws lambda
    invoke` sends `{}`, which Chalice's schedule handler refuses (KeyError 'version'), so the command sends
    the schedule's event from infra/scheduled-event.json."""
    from datetime import UTC, datetime

    from chalicelib.export import day as export_day

    with pytest.raises(KeyError):
        client.lambda_.invoke("nightly_export", {})
    monkeypatch.setattr(export_day, "utc_now", lambda: datetime(2026, 11, 22, 2, 15, tzinfo=UTC))
    response = client.lambda_.invoke("nightly_export", json.loads(EXPORT_NOW_PAYLOAD.read_text()))
    assert response.payload["date"] == "2026-11-21"
    readme = " ".join((EXPORT_NOW_PAYLOAD.parent.parent / "README.md").read_text(encoding="utf-8").split())
    for text in (readme, " ".join(doctor.CHECKLIST.split())):
        assert "--payload file://infra/scheduled-event.json" in text
        assert 'aws lambda invoke --function-name "$EXPORT_FUNCTION_NAME" /dev/stdout' not in text


def _by_check(findings: list[doctor.Finding]) -> dict[str, doctor.Finding]:
    return {finding.check: finding for finding in findings}


def test_doctor_on_a_fresh_deploy_names_each_missing_step(stack, deployed, capsys):
    code = cli.main(["doctor"])
    printed = capsys.readouterr().out
    findings = _by_check(doctor.run())
    assert code == 1
    assert findings["comprehend"].outcome is doctor.Outcome.OK
    assert findings["alarms"].outcome is doctor.Outcome.FAIL  # nobody subscribed yet
    assert findings["export"].outcome is doctor.Outcome.FAIL  # the first export has not run
    assert findings["layer"].outcome is doctor.Outcome.OK
    assert findings["dlq"].outcome is doctor.Outcome.OK
    assert findings["analysis"].outcome is doctor.Outcome.OK
    assert "After `make deploy`, in order:" in printed and "tokens create" in printed


def test_doctor_is_green_once_the_checklist_is_done(stack, deployed, monkeypatch):
    sns = boto3.client("sns")
    sns.subscribe(TopicArn=deployed["topic"], Protocol="sqs", Endpoint=deployed["queue_arn"])
    for lag in (1, 2):
        day = (utc_now() - timedelta(days=lag)).date()
        aws.client("s3").put_object(
            Bucket=stack.resources.bucket_name, Key=f"exports/dt={day}/manifest.json", Body=b"{}"
        )
    quota = {"AccountLimit": {"ConcurrentExecutions": 1000}}  # moto has no GetAccountSettings
    monkeypatch.setattr(aws.client("lambda"), "get_account_settings", lambda: quota)
    findings = doctor.run()
    assert doctor.exit_code(findings) == 0, doctor.report(findings)
    quota["AccountLimit"]["ConcurrentExecutions"] = 10  # a new account's
    assert _by_check(doctor.run())["concurrency"].outcome is doctor.Outcome.WARN


def test_doctor_finds_a_wrong_layer_a_full_dlq_and_a_paused_analysis(stack, deployed):
    lambda_client = boto3.client("lambda")
    x86_layer = _publish_layer(lambda_client, "AWSSDKPandas-Python311", "python3.11", "x86_64")
    lambda_client.update_function_configuration(FunctionName="export", Layers=[x86_layer])
    boto3.client("sqs").send_message(QueueUrl=deployed["dlq"], MessageBody="{}")
    analysis_switch.switch(enabled=False)
    findings = _by_check(doctor.run())
    assert findings["layer"].outcome is doctor.Outcome.FAIL and "python3.11" in findings["layer"].detail
    assert findings["dlq"].outcome is doctor.Outcome.FAIL
    assert findings["analysis"].outcome is doctor.Outcome.WARN and "resume" in findings["analysis"].detail


def test_doctor_checks_the_retention_against_the_tables_ttl(stack, monkeypatch):
    from chalicelib.config import settings

    forever = _by_check(doctor.run((doctor.check_retention,)))["retention"]
    assert (forever.outcome, forever.detail) == (
        doctor.Outcome.OK,
        "items are kept forever (retention_days 0)",
    )
    monkeypatch.setenv("RETENTION_DAYS", "400")
    settings.cache_clear()
    kept = _by_check(doctor.run((doctor.check_retention,)))["retention"]
    assert (kept.outcome, kept.detail) == (doctor.Outcome.OK, "items expire 400 days after they are stored")
    aws.client("dynamodb").update_time_to_live(
        TableName=settings().table_name,
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"},
    )
    broken = _by_check(doctor.run((doctor.check_retention,)))["retention"]
    assert broken.outcome is doctor.Outcome.FAIL and "never expire" in broken.detail
    monkeypatch.setenv("RETENTION_DAYS", "0")
    settings.cache_clear()
    assert _by_check(doctor.run((doctor.check_retention,)))["retention"].outcome is doctor.Outcome.WARN


def test_doctor_finds_the_dlq_by_the_queues_redrive_policy_when_dlq_url_is_unset(stack, monkeypatch):
    # `doctor --local` said "DLQ_URL is not set: cannot check the DLQ" while `dlq list` found it.
    monkeypatch.delenv(doctor.DLQ_VARIABLE, raising=False)
    assert _by_check(doctor.run((doctor.check_dead_letter_queue,)))["dlq"].outcome is doctor.Outcome.OK

    boto3.client("sqs").send_message(QueueUrl=stack.resources.dlq_url, MessageBody="{}")

    full = _by_check(doctor.run((doctor.check_dead_letter_queue,)))["dlq"]
    assert full.outcome is doctor.Outcome.FAIL and "1 delivery(ies) failed" in full.detail


def test_a_check_that_cannot_run_fails_naming_why(stack, deployed, monkeypatch):
    monkeypatch.setenv(doctor.DLQ_VARIABLE, "https://sqs.us-east-1.amazonaws.com/123456789012/nope")
    findings = _by_check(doctor.run((doctor.check_dead_letter_queue,)))
    assert findings["dead_letter_queue"].outcome is doctor.Outcome.FAIL
    assert "could not check" in findings["dead_letter_queue"].detail


# --- Comprehend in another region ------------------------------------------------------------------------


def test_comprehend_is_called_in_its_own_region_and_the_rest_in_the_stage_region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-south-1")
    monkeypatch.setenv("COMPREHEND_REGION", "eu-central-1")
    aws.reset_clients()
    try:
        assert aws.client("comprehend").meta.region_name == "eu-central-1"
        assert aws.client("sqs").meta.region_name == "eu-south-1"
        monkeypatch.delenv("COMPREHEND_REGION")
        aws.reset_clients()
        assert aws.client("comprehend").meta.region_name == "eu-south-1"
    finally:
        aws.reset_clients()


def test_make_doctor_stops_when_the_stage_cannot_be_read(tmp_path):
    """`eval "$(infra.outputs …)"` alone succeeds when infra.outputs fails: doctor would then check nothing
    and print its checklist as if the stage had been read."""
    make = shutil.which("make")
    assert make is not None, "make runs every documented command"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment |= {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    finished = subprocess.run(
        [make, "-s", "-o", "install", "doctor", "STAGE=prod"],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode != 0
    assert "error: cannot read the outputs of feedback-collector-prod: no AWS region" in finished.stderr
    assert "After `make deploy`" not in finished.stdout  # doctor never ran


MOTO_404_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again.</p>\n"
)


def _not_offered(operation: str) -> ClientError:
    """What botocore raises when the endpoint answers an HTML page (the local stack's moto, an operation it
    does not implement)."""
    return ClientError(
        {"Error": {"Code": "404", "Message": MOTO_404_PAGE}, "ResponseMetadata": {"HTTPStatusCode": 404}},
        operation,
    )


def test_doctor_says_in_one_line_what_the_endpoint_does_not_offer(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9310")

    def check_concurrency() -> doctor.Finding:
        raise _not_offered("GetAccountSettings")

    [finding] = doctor.run((check_concurrency,))

    assert finding.outcome is doctor.Outcome.WARN  # cannot check here, as the checks missing a variable
    assert finding.detail == (
        "cannot check: http://127.0.0.1:9310 does not offer GetAccountSettings (HTTP 404 Not Found; "
        "the local stack's moto does not implement it)"
    )
    assert "\n" not in doctor.report([finding]) and "<" not in finding.detail


def test_a_refused_command_says_an_html_answer_in_one_line(stack, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9310")

    def refuse(*args: Any) -> list[doctor.Finding]:
        raise _not_offered("GetAccountSettings")

    monkeypatch.setattr(doctor, "run", refuse)
    assert cli.main(["doctor"]) == 1

    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        "error: AWS refused GetAccountSettings: http://127.0.0.1:9310 does not offer GetAccountSettings "
        "(HTTP 404 Not Found; the local stack's moto does not implement it)"
    )
    assert "<" not in err
