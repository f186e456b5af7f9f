"""infra/: the stack's outputs and what the operator's commands make of them: the names the CLI needs,
`infra.outputs` turning them into its environment (or saying in one line why it cannot), prod's switches,
and the README's tear-down command. The synth is the session's (tests/conftest.py, tests/infra_synth.py)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from moto import mock_aws

from infra import outputs, permissions
from tests.infra_synth import ROOT, STAGE, Synth, ref


def test_outputs_name_what_the_cli_needs(synth: Synth):
    stack_outputs = synth.template["Outputs"]
    assert set(outputs.OUTPUTS) <= set(stack_outputs)
    assert stack_outputs["TableName"]["Value"] == ref(synth.logical_id("AWS::DynamoDB::Table", "Table"))
    assert stack_outputs["ExportBucketName"]["Value"] == ref(
        synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    )
    assert stack_outputs["IngestQueueUrl"]["Value"] == ref(synth.logical_id("AWS::SQS::Queue", "IngestQueue"))
    assert stack_outputs["DeadLetterQueueUrl"]["Value"] == ref(
        synth.logical_id("AWS::SQS::Queue", "DeadLetterQueue")
    )
    api_url = json.dumps(stack_outputs["ApiUrl"]["Value"])
    assert '{"Ref": "RestAPI"}' in api_url
    assert ".execute-api." in api_url
    assert api_url.endswith('"/api/"]]}')
    # The tear-down empties both buckets by these names (README, Tear down).
    assert stack_outputs["AccessLogsBucketName"]["Value"] == ref(
        synth.logical_id("AWS::S3::Bucket", "AccessLogsBucket")
    )


def test_the_tear_down_command_empties_a_versioned_bucket_of_every_version_and_delete_marker(monkeypatch):
    """CloudFormation cannot delete a bucket holding objects; `aws s3 rm --recursive` leaves the old versions
    and delete markers of a versioned one. README's command is run as written, against moto."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"\.venv/bin/python -c '([^']+)' \"\$bucket\"", readme)
    assert command, "README's tear-down command"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="feedback-exports-dev-1-us-east-1")
        s3.put_bucket_versioning(
            Bucket="feedback-exports-dev-1-us-east-1", VersioningConfiguration={"Status": "Enabled"}
        )
        for body in (b"v1", b"v2"):
            s3.put_object(Bucket="feedback-exports-dev-1-us-east-1", Key="exports/a.csv", Body=body)
        s3.delete_object(Bucket="feedback-exports-dev-1-us-east-1", Key="exports/a.csv")  # a delete marker
        monkeypatch.setattr(sys, "argv", ["-c", "feedback-exports-dev-1-us-east-1"])
        exec(command.group(1), {})  # noqa: S102 - the README's own one-liner
        left = s3.list_object_versions(Bucket="feedback-exports-dev-1-us-east-1")
        assert "Versions" not in left and "DeleteMarkers" not in left
        s3.delete_bucket(Bucket="feedback-exports-dev-1-us-east-1")  # what CloudFormation then does


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            ClientError(
                {
                    "Error": {
                        "Code": "ValidationError",
                        "Message": "Stack with id feedback-collector-prod does not exist",
                    }
                },
                "DescribeStacks",
            ),
            "no stack feedback-collector-prod in this region: check the stage name and AWS_REGION",
        ),
        (NoRegionError(), "no AWS region is set: export AWS_REGION="),
        (NoCredentialsError(), "no AWS credentials: set AWS_PROFILE"),
    ],
)
def test_outputs_of_a_stage_it_cannot_read_say_why_in_one_line(
    capsys: pytest.CaptureFixture[str], error: Exception, said: str
):
    """Step 5 is `eval "$(… infra.outputs prod)"`: a wrong region or stage is said, not a traceback."""

    class Refusing:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            raise error

    assert outputs.main(["prod"], cloudformation=Refusing()) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing for eval to run
    assert captured.err.startswith("error: cannot read the outputs of feedback-collector-prod: ")
    assert said in captured.err and "Traceback" not in captured.err


def test_outputs_become_the_cli_environment(capsys: pytest.CaptureFixture[str]):
    class FakeCloudFormation:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            assert StackName == "feedback-collector-prod"
            values = {
                "TableName": "feedback-prod",
                "ExportBucketName": "feedback-exports-prod-123456789012-eu-west-1",
                "IngestQueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/feedback-ingest-prod",
                "ParameterPrefix": "/feedback/prod",
                "Stage": "prod",
                "GlueDatabaseName": "feedback_prod",
                "NightlyExportFunctionName": "feedback-collector-prod-NightlyExport-AbC123",
                "ThemeTagger": "keywords",
                "BedrockRegion": "eu-west-1",
                "RetentionDays": "400",
                "ComprehendRegion": "eu-central-1",
            }
            return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in values.items()]}]}

    assert outputs.main(["prod"], cloudformation=FakeCloudFormation()) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "export TABLE_NAME=feedback-prod" in printed
    assert "export PARAMETER_PREFIX=/feedback/prod" in printed
    assert "export STAGE=prod" in printed
    # `cli customers erase` invokes the export function to rewrite the export days.
    assert "export EXPORT_FUNCTION_NAME=feedback-collector-prod-NightlyExport-AbC123" in printed
    assert not any("Glue" in line or "feedback_prod" in line for line in printed)
    # `backfill --themes` and `themes suggestions` run with the stage's tagger and Bedrock region.
    assert {"export THEME_TAGGER=keywords", "export BEDROCK_REGION=eu-west-1"} <= set(printed)
    # `backfill` writes items with the stage's expiry.
    assert "export RETENTION_DAYS=400" in printed
    # `backfill --analyzer comprehend` and `doctor` call Comprehend where the functions do (a stage in
    # eu-south-1 calls Frankfurt's: Milan has no Comprehend endpoint).
    assert "export COMPREHEND_REGION=eu-central-1" in printed


def test_prod_is_protected_from_deletion_and_outputs_name_the_switches(synth: Synth):
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    assert manifest["artifacts"][STAGE]["properties"]["terminationProtection"] is True
    stack_outputs = synth.template["Outputs"]
    assert stack_outputs["AnalyzeFunctionName"]["Value"] == ref(permissions.ANALYZE)
    assert stack_outputs["Region"]["Value"] == "us-east-1"
