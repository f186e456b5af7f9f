"""infra/: the CDK app synthesizes offline (no AWS account, no CDK CLI), and the template it produces has the
properties the product relies on. One synth per module (`python infra/app.py -c stage=prod` in a
subprocess, so `chalice package` cannot touch this process's environment or imported modules), then:
assertions on the template, the SAM transform run offline on it, cfn-lint on both, and cdk-nag's report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cfnlint.api import lint_file

from chalicelib.local.provision import MAX_RECEIVE_COUNT
from chalicelib.observability import SERVICE
from chalicelib.store import schema
from infra import athena, gateway, outputs, permissions
from infra.stack import EXPORT_ALARM_HOURS, StageSettings

ROOT = Path(__file__).resolve().parent.parent
STAGE = "prod"
FUNCTIONS = permissions.FUNCTIONS


@dataclass
class Synth:
    outdir: Path
    returncode: int
    stderr: str
    template: dict[str, Any]
    report: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{STAGE}.template.json"

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, resource_type: str, prefix: str) -> str:
        found = [k for k in self.of_type(resource_type) if k.startswith(prefix)]
        assert len(found) == 1, f"expected one {resource_type} named {prefix}*, found {found}"
        return found[0]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    assert shutil.which("node"), "the CDK synth needs node (jsii runs aws-cdk-lib on it)"
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "app.py"), "-c", f"stage={STAGE}", "--outdir", str(outdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,  # a cold `chalice package` downloads the Lambda wheels of requirements.txt once
        check=False,
        env={key: value for key, value in os.environ.items() if key != "CDK_OUTDIR"},
    )
    # cdk-nag findings fail the synth after the template is written: the nag test reports them, the other
    # tests still check the template.
    written = (outdir / f"{STAGE}.template.json").exists() and (outdir / "validation-report.json").exists()
    assert written, f"synth failed:\n{result.stdout[-5000:]}\n{result.stderr[-10000:]}"
    return Synth(
        outdir=outdir,
        returncode=result.returncode,
        stderr=result.stderr,
        template=json.loads((outdir / f"{STAGE}.template.json").read_text()),
        report=json.loads((outdir / "validation-report.json").read_text()),
        metadata=json.loads((outdir / f"{STAGE}.metadata.json").read_text()),
    )


@pytest.fixture(scope="module")
def template(synth: Synth) -> Template:
    return Template.from_json(synth.template)


@pytest.fixture(scope="module")
def transformed(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The plain CloudFormation the AWS::Serverless-2016-10-31 transform makes of the template."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    parameters = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    result = transform(json.loads(json.dumps(synth.template)), parameters, NoManagedPolicies())
    path = tmp_path_factory.mktemp("transformed") / "template.json"
    path.write_text(json.dumps(result))
    return {"template": result, "path": path}


def _ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def _arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# --- the table -----------------------------------------------------------------------------------------


def test_table_is_on_demand_with_pitr_encryption_ttl_and_the_schema_indexes(synth: Synth, template: Template):
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "TableName": f"feedback-{STAGE}",
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                # Encrypted with the AWS-managed KMS key (aws/dynamodb), not the default AWS-owned one.
                "SSESpecification": {"SSEEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True},
                "KeySchema": schema.KEY_SCHEMA,
            },
            # prod keeps its data on delete and replacement, but a failed first create removes the table, so a
            # retry does not stop at "already exists" (and deletion protection would block that rollback).
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
        },
    )
    _, table = synth.only("AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert properties["GlobalSecondaryIndexes"] == schema.GLOBAL_SECONDARY_INDEXES
    by_name = lambda definitions: {d["AttributeName"]: d for d in definitions}  # noqa: E731
    assert by_name(properties["AttributeDefinitions"]) == by_name(schema.ATTRIBUTE_DEFINITIONS)
    assert (
        "SSEType" not in properties["SSESpecification"] or properties["SSESpecification"]["SSEType"] == "KMS"
    )


# --- queues --------------------------------------------------------------------------------------------


def test_ingest_queue_redrives_to_an_encrypted_dlq_after_five_receives(synth: Synth, template: Template):
    dlq = synth.logical_id("AWS::SQS::Queue", "DeadLetterQueue")
    queue = synth.logical_id("AWS::SQS::Queue", "IngestQueue")
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": f"feedback-ingest-{STAGE}-dlq",
            "MessageRetentionPeriod": 14 * 24 * 3600,
            "SqsManagedSseEnabled": True,
        },
    )
    assert MAX_RECEIVE_COUNT == 5
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": f"feedback-ingest-{STAGE}",
            # As long as the DLQ: an analysis outage or a pause of up to 14 days loses nothing.
            "MessageRetentionPeriod": 14 * 24 * 3600,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {"deadLetterTargetArn": _arn(dlq), "maxReceiveCount": MAX_RECEIVE_COUNT},
        },
    )
    # AWS's guidance for an SQS event source: visibility timeout at least six times the function timeout.
    analyze_timeout = synth.resources[permissions.ANALYZE]["Properties"]["Timeout"]
    assert synth.resources[queue]["Properties"]["VisibilityTimeout"] >= 6 * analyze_timeout
    # Both queues refuse requests without TLS.
    for logical_id in (dlq, queue):
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [_ref(logical_id)],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                            )
                        ]
                    )
                },
            },
        )


def test_analyze_reports_batch_item_failures_from_the_deployed_queue(synth: Synth):
    queue = synth.logical_id("AWS::SQS::Queue", "IngestQueue")
    analyze = synth.resources[permissions.ANALYZE]["Properties"]
    events = analyze["Events"]
    assert list(events) == ["AnalyzeSqsEventSource"]
    event = events["AnalyzeSqsEventSource"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["Queue"] == _arn(queue)
    assert event["Properties"]["BatchSize"] == 25
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_the_sam_transform_makes_the_event_source_mapping_and_stage_association(transformed: dict[str, Any]):
    resources = transformed["template"]["Resources"]
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 1
    mapping = mappings[0]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["FunctionName"] == _ref(permissions.ANALYZE)
    assert mapping["EventSourceArn"]["Fn::GetAtt"][0].startswith("IngestQueue")
    # The WAF association names the stage the transform generated, so it waits for it.
    stages = [k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stages == ["RestAPIapiStage"]
    associations = [r for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACLAssociation"]
    assert len(associations) == 1
    assert "${RestAPIapiStage}" in associations[0]["Properties"]["ResourceArn"]["Fn::Sub"]
    # And the gateway responses ride along in the API definition.
    (api,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert "UNAUTHORIZED" in api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]


# --- functions: environment, roles, logs ---------------------------------------------------------------


def test_functions_get_the_deployed_names_and_their_own_role_and_log_group(synth: Synth):
    table = synth.logical_id("AWS::DynamoDB::Table", "Table")
    bucket = synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    queue = synth.logical_id("AWS::SQS::Queue", "IngestQueue")
    queue_name = synth.resources[queue]["Properties"]["QueueName"]
    for function in FUNCTIONS:
        properties = synth.resources[function]["Properties"]
        variables = properties["Environment"]["Variables"]
        assert variables["STAGE"] == STAGE
        assert variables["TABLE_NAME"] == _ref(table)
        assert variables["EXPORT_BUCKET"] == _ref(bucket)
        assert variables["INGEST_QUEUE_URL"] == _ref(queue)
        # app.py reads INGEST_QUEUE_NAME at import time for its @app.on_sqs_message decorator.
        assert variables["INGEST_QUEUE_NAME"] == queue_name
        assert variables["PARAMETER_PREFIX"] == f"/feedback/{STAGE}"
        # An erasure invokes the export function: only the API function knows its name.
        if function == permissions.API_HANDLER:
            assert variables["EXPORT_FUNCTION_NAME"] == _ref(permissions.NIGHTLY_EXPORT)
        else:
            assert "EXPORT_FUNCTION_NAME" not in variables
        assert properties["Role"] == _arn(synth.logical_id("AWS::IAM::Role", f"{function}Role"))
        log_group = synth.logical_id("AWS::Logs::LogGroup", f"{function}Logs")
        assert properties["LoggingConfig"] == {"LogGroup": _ref(log_group)}
        assert synth.resources[log_group]["Properties"]["RetentionInDays"] == 90
    # One role per function, and API Gateway's account-wide logging role: Chalice manages none
    # (manage_iam_role false, autogen_policy off).
    roles = synth.of_type("AWS::IAM::Role")
    assert len(roles) == len(FUNCTIONS) + 1
    assert synth.logical_id("AWS::IAM::Role", "ApiGatewayLogsRole") in roles
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert all(stage["autogen_policy"] is False for stage in config["stages"].values())


# --- IAM -----------------------------------------------------------------------------------------------


def _policy_documents(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    """Every policy document in the template: role inline policies, managed/inline policy resources and
    resource policies (bucket, queue, topic)."""
    documents = []
    for logical_id, resource in synth.resources.items():
        properties = resource.get("Properties", {})
        for policy in properties.get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []:
            documents.append((logical_id, policy["PolicyDocument"]))
        if "PolicyDocument" in properties:
            documents.append((logical_id, properties["PolicyDocument"]))
    return documents


def _statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    return [(owner, s) for owner, document in _policy_documents(synth) for s in document["Statement"]]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(synth: Synth, function: str) -> list[dict[str, Any]]:
    role = synth.resources[synth.logical_id("AWS::IAM::Role", f"{function}Role")]
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_no_statement_grants_every_action(synth: Synth):
    statements = _statements(synth)
    assert len(statements) > 20
    for owner, statement in statements:
        actions = _listed(statement.get("Action", []))
        assert "*" not in actions, f"{owner}: Action '*' in {statement}"
        assert "NotAction" not in statement, f"{owner}: NotAction in {statement}"
        if statement["Effect"] == "Allow":
            # Not even a service-wide wildcard (s3:*) may be allowed; Deny statements (TLS only) may.
            assert not any("*" in action for action in actions), f"{owner}: wildcard action in {statement}"


def test_star_resources_only_for_calls_without_resource_level_permissions(synth: Synth):
    for owner, statement in _statements(synth):
        if statement["Effect"] != "Allow" or "*" not in _listed(statement.get("Resource", [])):
            continue
        actions = set(_listed(statement["Action"]))
        assert actions <= permissions.ACTIONS_WITHOUT_RESOURCE_TYPES, f"{owner}: Resource '*' for {actions}"
        assert _listed(statement["Resource"]) == ["*"]
    comprehend = [
        owner
        for owner, s in _statements(synth)
        if any(a.startswith("comprehend:") for a in _listed(s.get("Action", [])))
    ]
    assert comprehend == [synth.logical_id("AWS::IAM::Role", "AnalyzeRole")]


# function → every action its role allows (the least-privilege contract, spelled out)
EXPECTED_ACTIONS = {
    permissions.API_HANDLER: {
        "sqs:SendMessage",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
        "ssm:GetParametersByPath",
        "s3:GetObject",
        "s3:ListBucket",
        "lambda:InvokeFunction",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
    permissions.ANALYZE: {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
        "comprehend:BatchDetectDominantLanguage",
        "comprehend:BatchDetectSentiment",
        "comprehend:DetectPiiEntities",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
    permissions.NIGHTLY_EXPORT: {
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
    permissions.BEARER: {
        "dynamodb:GetItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
}


def _resource_text(statement: dict[str, Any]) -> str:
    return json.dumps(statement.get("Resource"))


def test_each_function_gets_only_the_calls_it_makes(synth: Synth):
    for function, expected in EXPECTED_ACTIONS.items():
        statements = _role_statements(synth, function)
        granted = {action for s in statements for action in _listed(s["Action"])}
        assert granted == expected, function
    # Queries only through the indexes each function uses, never on the table itself (no Scan anywhere).
    for function, indexes in {
        permissions.API_HANDLER: {"by_day", "by_customer"},
        permissions.ANALYZE: {"by_customer"},
        permissions.NIGHTLY_EXPORT: {"by_day"},
    }.items():
        (query,) = [
            s
            for s in _role_statements(synth, function)
            if "dynamodb:Query" in _listed(s["Action"]) and "Condition" not in s
        ]
        resources = _listed(query["Resource"])
        assert {r["Fn::Join"][1][1].removeprefix("/index/") for r in resources} == indexes, function
    # Objects: under exports/ only.
    for function in (permissions.API_HANDLER, permissions.NIGHTLY_EXPORT):
        for statement in _role_statements(synth, function):
            if any(a in {"s3:PutObject", "s3:GetObject"} for a in _listed(statement["Action"])):
                assert _resource_text(statement).endswith('"/exports/*"]]}'), statement
    # An erasure invokes the export function and nothing else; no other function invokes any.
    (invoke,) = [
        s
        for s in _role_statements(synth, permissions.API_HANDLER)
        if "lambda:InvokeFunction" in _listed(s["Action"])
    ]
    assert (invoke["Sid"], _listed(invoke["Resource"])) == (
        "InvokeExportRewrite",
        [_arn(permissions.NIGHTLY_EXPORT)],
    )
    assert [
        owner
        for owner, s in _statements(synth)
        if any(a.startswith("lambda:") for a in _listed(s.get("Action", [])))
    ] == [synth.logical_id("AWS::IAM::Role", "APIHandlerRole")]
    # The API function writes no export file (the export function rewrites them).
    assert not [
        s for s in _role_statements(synth, permissions.API_HANDLER) if "s3:PutObject" in _listed(s["Action"])
    ]
    # The export touches the base table only in the partition of rewrites erasures marked.
    (rewrites,) = [
        s for s in _role_statements(synth, permissions.NIGHTLY_EXPORT) if s["Sid"] == "TakeScheduledRewrites"
    ]
    assert rewrites["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["EXPORT_REWRITE"]}
    }
    # The API puts one item only: the cursor key, in its own partition.
    (key,) = [s for s in _role_statements(synth, permissions.API_HANDLER) if s["Sid"] == "CreateCursorKey"]
    assert key["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SIGNING_KEY"]}}
    # The authorizer reads token records only.
    (tokens,) = [s for s in _role_statements(synth, permissions.BEARER) if s["Sid"] == "ReadTokenRecords"]
    assert tokens["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TOKEN"]}}
    # Source secrets: this stage's sources prefix only.
    (ssm,) = [s for s in _role_statements(synth, permissions.API_HANDLER) if s["Sid"] == "ReadSourceSecrets"]
    assert _resource_text(ssm).endswith(f':parameter/feedback/{STAGE}/sources/*"]]}}')


def test_every_service_the_lambda_code_calls_is_granted_somewhere(synth: Synth):
    """A new `aws.client("<service>")` in code the functions run fails here until a statement exists."""
    operations = ROOT / "chalicelib" / "operations"
    # The operator's commands for a deployed stage run with the operator's credentials, not a function's.
    admin_only = {operations / "doctor.py", operations / "analysis_switch.py"}
    called = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        if {"local", "cli"} & set(path.relative_to(ROOT / "chalicelib").parts) or path in admin_only:
            continue
        called |= set(re.findall(r"aws\.client\(\"(\w+)\"\)", path.read_text()))
    granted = {action.split(":")[0] for actions in EXPECTED_ACTIONS.values() for action in actions}
    assert called, "no aws.client(...) calls found"
    assert called <= granted, f"no IAM statement for {called - granted}"


# --- the export bucket ---------------------------------------------------------------------------------


def test_export_bucket_is_private_encrypted_tls_only_versioned_with_lifecycle(
    synth: Synth, template: Template
):
    bucket = synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    properties = synth.resources[bucket]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["LoggingConfiguration"]["DestinationBucketName"] == _ref(
        synth.logical_id("AWS::S3::Bucket", "AccessLogsBucket")
    )
    rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-overwritten-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    assert rules["exports-to-infrequent-access"]["Prefix"] == "exports/"
    assert rules["exports-to-infrequent-access"]["Transitions"][0]["StorageClass"] == "STANDARD_IA"
    assert rules["expire-athena-results"]["Prefix"] == "athena-results/"
    assert synth.resources[bucket]["DeletionPolicy"] == "RetainExceptOnCreate"
    deny_plain_http = Match.object_like(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Principal": {"AWS": "*"},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Resource": [_arn(bucket), {"Fn::Join": ["", [_arn(bucket), "/*"]]}],
        }
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"Bucket": _ref(bucket), "PolicyDocument": {"Statement": Match.array_with([deny_plain_http])}},
    )
    for _, other in synth.of_type("AWS::S3::Bucket").items():
        assert other["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


# --- Glue / Athena -------------------------------------------------------------------------------------


def test_glue_table_is_the_athena_ddl(synth: Synth):
    _, table = synth.only("AWS::Glue::Table")
    _, database = synth.only("AWS::Glue::Database")
    bucket = synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    ddl_text = athena.DDL_PATH.read_text()
    ddl = athena.load()
    # The loader read every column line of the statement (an independent count, not the loader's).
    assert len(ddl.columns) == len(re.findall(r"^\s*`\w+` \w+,?$", ddl_text.split("PARTITIONED")[0], re.M))
    assert ddl.partition_keys == (("dt", "string"),)

    table_input = table["Properties"]["TableInput"]
    assert (
        table["Properties"]["DatabaseName"]
        == database["Properties"]["DatabaseInput"]["Name"]
        == "feedback_prod"
    )
    assert table_input["Name"] == ddl.name == "feedback"
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    storage = table_input["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == list(ddl.columns)
    assert [(c["Name"], c["Type"]) for c in table_input["PartitionKeys"]] == list(ddl.partition_keys)
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert storage["InputFormat"].endswith("MapredParquetInputFormat")

    def rendered(value: str) -> dict[str, Any]:
        """A DDL value with ${bucket} as CloudFormation writes it (the bucket is a Ref)."""
        before, _, after = value.partition("${bucket}")
        return {"Fn::Join": ["", [before, _ref(bucket), after]]}

    assert storage["Location"] == rendered(ddl.location)
    parameters = table_input["Parameters"]
    for key, value in ddl.properties.items():
        assert parameters[key] == (rendered(value) if "${bucket}" in value else value), key
    # Athena's own placeholder reaches Glue as written (no Fn::Sub that would eat it).
    assert parameters["storage.location.template"]["Fn::Join"][1][2] == "/exports/parquet/dt=${dt}/"
    assert parameters["projection.enabled"] == "true"


def test_athena_workgroup_enforces_encrypted_results_in_the_bucket(template: Template, synth: Synth):
    bucket = synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": f"feedback-{STAGE}",
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "ResultConfiguration": {
                    "OutputLocation": {"Fn::Join": ["", ["s3://", _ref(bucket), "/athena-results/"]]},
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                },
            },
        },
    )


# --- SSM -----------------------------------------------------------------------------------------------


def test_ssm_holds_only_the_stack_description_secrets_come_from_the_cli(template: Template, synth: Synth):
    template.resource_count_is("AWS::SSM::Parameter", 1)
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": f"/feedback/{STAGE}/stack", "Type": "String"}
    )
    _, parameter = synth.only("AWS::SSM::Parameter")
    value = json.dumps(parameter["Properties"]["Value"])
    for key in ("table", "queue_url", "dlq_url", "bucket"):  # the local stack's shape (provision.py)
        assert f'\\"{key}\\"' in value


# --- API: gateway responses, WAF -----------------------------------------------------------------------


def _error_body(template_text: str) -> dict[str, Any]:
    return json.loads(template_text.replace("$context.error.messageString", '"as API Gateway said"'))


def test_gateway_answers_in_the_json_error_shape(synth: Synth):
    api = synth.resources["RestAPI"]["Properties"]
    responses = api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    for required in (
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "AUTHORIZER_FAILURE",
        "AUTHORIZER_CONFIGURATION_ERROR",
        "MISSING_AUTHENTICATION_TOKEN",
        "THROTTLED",
        "WAF_FILTERED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    ):
        assert required in responses
    for response_type, response in responses.items():
        body = _error_body(response["responseTemplates"]["application/json"])
        assert set(body) == {"error"}, response_type
        assert set(body["error"]) == {"code", "message"}, response_type
        assert re.fullmatch(r"[a-z_]+", body["error"]["code"]), response_type
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["statusCode"] == "401"
    assert (
        _error_body(unauthorized["responseTemplates"]["application/json"])["error"]["code"] == "unauthorized"
    )
    assert unauthorized["responseParameters"]["gatewayresponse.header.WWW-Authenticate"].startswith(
        "'Bearer "
    )
    assert api["Name"] == api["DefinitionBody"]["info"]["title"] == f"feedback-collector-{STAGE}"
    assert api["EndpointConfiguration"] == "REGIONAL"  # WAF sees callers' addresses, not CloudFront's


def test_waf_rate_limits_form_submissions_per_ip(synth: Synth, template: Template):
    acl_id, acl = synth.only("AWS::WAFv2::WebACL")
    properties = acl["Properties"]
    assert properties["Scope"] == "REGIONAL"
    assert properties["DefaultAction"] == {"Allow": {}}
    (rule,) = properties["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP"
    assert rate["Limit"] == StageSettings().waf_rate_limit
    matches = rate["ScopeDownStatement"]["OrStatement"]["Statements"]
    assert {m["ByteMatchStatement"]["SearchString"] for m in matches} == {"/forms/", "/api/forms/"}
    assert all(m["ByteMatchStatement"]["PositionalConstraint"] == "STARTS_WITH" for m in matches)
    block = rule["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    body = properties["CustomResponseBodies"][block["CustomResponseBodyKey"]]
    assert _error_body(body["Content"])["error"]["code"] == "rate_limited"
    template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {
            "WebACLArn": _arn(acl_id),
            "ResourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/"
                "${RestAPI.Stage}"
            },
        },
    )


def test_waf_is_on_by_default_in_prod_only_and_configurable(monkeypatch: pytest.MonkeyPatch):
    assert StageSettings.from_context({"stage": "prod"}.get).waf is True
    assert StageSettings.from_context({"stage": "dev"}.get).waf is False
    assert StageSettings.from_context({"stage": "prod", "waf": "false"}.get).waf is False
    assert StageSettings.from_context({"stage": "dev", "waf": "true"}.get).waf is True
    assert StageSettings.from_context({"stage": "prod", "waf_rate_limit": "50"}.get).waf_rate_limit == 50
    assert StageSettings.from_context({}.get).stage == "dev"
    assert StageSettings.from_context({"stage": "dev"}.get).retain_data is False
    with pytest.raises(ValueError, match="unknown stage"):
        StageSettings.from_context({"stage": "staging"}.get)
    with pytest.raises(ValueError, match="at least 10"):
        StageSettings.from_context({"stage": "prod", "waf_rate_limit": "5"}.get)
    with pytest.raises(ValueError, match="true or false"):
        StageSettings.from_context({"stage": "prod", "waf": "maybe"}.get)


# --- alarms --------------------------------------------------------------------------------------------


def _alarm(synth: Synth, name: str) -> dict[str, Any]:
    (alarm,) = [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"feedback-collector-{STAGE}-{name}"
    ]
    return alarm


def test_alarms_notify_the_topic(synth: Synth):
    topic, _ = synth.only("AWS::SNS::Topic")
    alarms = synth.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == 5 + 2 * len(FUNCTIONS)
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [_ref(topic)]

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
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": _ref(function)}]
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


# --- outputs -------------------------------------------------------------------------------------------


def test_outputs_name_what_the_cli_needs(synth: Synth):
    stack_outputs = synth.template["Outputs"]
    assert set(outputs.OUTPUTS) <= set(stack_outputs)
    assert stack_outputs["TableName"]["Value"] == _ref(synth.logical_id("AWS::DynamoDB::Table", "Table"))
    assert stack_outputs["ExportBucketName"]["Value"] == _ref(
        synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    )
    assert stack_outputs["IngestQueueUrl"]["Value"] == _ref(
        synth.logical_id("AWS::SQS::Queue", "IngestQueue")
    )
    assert stack_outputs["DeadLetterQueueUrl"]["Value"] == _ref(
        synth.logical_id("AWS::SQS::Queue", "DeadLetterQueue")
    )
    api_url = json.dumps(stack_outputs["ApiUrl"]["Value"])
    assert '{"Ref": "RestAPI"}' in api_url
    assert ".execute-api." in api_url
    assert api_url.endswith('"/api/"]]}')


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


# --- linters -------------------------------------------------------------------------------------------


def test_cfn_lint_passes_on_the_template_and_its_sam_transform(synth: Synth, transformed: dict[str, Any]):
    for path in (synth.template_path, transformed["path"]):
        matches = lint_file(Path(path))
        assert not matches, "\n".join(str(match) for match in matches)


def test_cdk_nag_finds_nothing_unacknowledged_and_every_acknowledgment_has_a_reason(synth: Synth):
    (report,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    unacknowledged = [
        (v["ruleName"], v["violatingConstructs"][0]["constructPath"]) for v in report["violations"]
    ]
    assert unacknowledged == []
    assert report["conclusion"] == "success"
    assert synth.returncode == 0, synth.stderr[-5000:]
    suppressed = report["suppressedViolations"]
    assert suppressed, "expected the documented IAM5 acknowledgments"
    for violation in suppressed:
        assert len(violation["reason"].split()) >= 10, violation["ruleName"]
        # Only wildcard-resource findings on the function roles, and API Gateway's documented managed
        # policy on its logging role.
        logs_role = violation["ruleName"].startswith("AwsSolutions-IAM4[Policy::") and violation[
            "acknowledgedAt"
        ].endswith("ApiGatewayLogsRole")
        assert violation["ruleName"].startswith("AwsSolutions-IAM5[Resource::") or logs_role, violation
        assert violation["acknowledgedAt"].endswith("Role"), violation["acknowledgedAt"]
    acknowledgments = [
        reason
        for entries in synth.metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for reason in entry["data"].values()
    ]
    assert acknowledgments
    assert all(len(reason.split()) >= 10 for reason in acknowledgments)


def test_gateway_module_and_ddl_loader_refuse_what_they_do_not_understand():
    assert set(gateway.openapi_gateway_responses()) == set(gateway.RESPONSES)
    with pytest.raises(athena.DdlError):
        athena.parse("CREATE TABLE nope (a int)")
    broken = athena.DDL_PATH.read_text().replace("STORED AS PARQUET", "STORED AS ORC")
    with pytest.raises(athena.DdlError, match="ORC"):
        athena.parse(broken)


# --- issue 12: what is deployed, where, and at what cost -------------------------------------------------


def test_the_sam_transform_makes_only_the_intended_stage(transformed: dict[str, Any]):
    resources = transformed["template"]["Resources"]
    stages = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Stage"}
    assert list(stages) == ["RestAPIapiStage"]
    assert stages["RestAPIapiStage"]["StageName"] == "api"
    # Without OpenApiVersion the transform's Deployment also names a stage `Stage` (no WAF, no throttling).
    for deployment in (r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"):
        assert "StageName" not in deployment["Properties"]
    # Lambda permissions: the API function through this stage only, the authorizer as an authorizer.
    handler = resources["APIHandlerInvokePermission"]["Properties"]["SourceArn"]["Fn::Sub"]
    assert handler.endswith("${RestAPI}/api/*")
    assert resources["BearerInvokePermission"]["Properties"]["SourceArn"]["Fn::Sub"].endswith(
        "/authorizers/*"
    )


def test_the_deployed_template_passes_the_rules_cdk_nag_cannot_see(transformed: dict[str, Any]):
    from infra import rules

    assert rules.violations(transformed["template"], waf=True) == []


def test_the_rules_catch_what_the_transform_would_otherwise_deploy(transformed: dict[str, Any]):
    """Each rule fails on a template with the defect it names (so the check above can fail)."""
    import copy

    from infra import rules

    def broken(change: Any) -> list[str]:
        template = copy.deepcopy(transformed["template"])
        change(template["Resources"])
        return rules.violations(template, waf=True)

    def second_stage(resources: dict[str, Any]) -> None:
        (deployment,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
        deployment["Properties"]["StageName"] = "Stage"

    def old_runtime(resources: dict[str, Any]) -> None:
        resources["NightlyExport"]["Properties"]["Runtime"] = "python3.11"

    def open_permission(resources: dict[str, Any]) -> None:
        resources["APIHandlerInvokePermission"]["Properties"]["SourceArn"] = {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestAPI}/*"
        }

    def unlogged_stage(resources: dict[str, Any]) -> None:
        del resources["RestAPIapiStage"]["Properties"]["AccessLogSetting"]
        resources["RestAPIapiStage"]["Properties"]["MethodSettings"] = []

    def no_waf(resources: dict[str, Any]) -> None:
        del resources["WebAclAssociation"]

    def forever_logs(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            if resource["Type"] == "AWS::Logs::LogGroup":
                resource["Properties"].pop("RetentionInDays", None)

    expected = {
        second_stage: "one_stage_per_api",
        old_runtime: "functions_run_the_target_runtime",
        open_permission: "api_permissions_name_the_stage",
        unlogged_stage: "stages_are_throttled_traced_and_logged",
        no_waf: "stages_are_behind_the_waf",
        forever_logs: "logs_expire",
    }
    for change, rule in expected.items():
        found = broken(change)
        assert found and all(line.startswith(rule) for line in found), (change.__name__, found)


def test_functions_run_the_pinned_runtime_and_architecture_with_the_regions_layer(synth: Synth):
    from infra import runtime

    for function in FUNCTIONS:
        properties = synth.resources[function]["Properties"]
        assert properties["Runtime"] == runtime.LAMBDA_RUNTIME == "python3.13"
        assert properties["Architectures"] == [runtime.LAMBDA_ARCHITECTURE] == ["arm64"]
    (layer,) = synth.resources[permissions.NIGHTLY_EXPORT]["Properties"]["Layers"]
    parameter = synth.template["Parameters"][layer["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/aws-sdk-pandas/{runtime.PANDAS_LAYER_VERSION}/py3.13/arm64/layer-arn",
    }
    config = (ROOT / ".chalice" / "config.json").read_text()
    assert "layer" not in config.replace('"automatic_layer"', "")  # nothing pinned to one region any more


def _deployment_package(synth: Synth) -> Path:
    code = synth.resources[permissions.API_HANDLER]["Properties"]["CodeUri"]
    (package,) = [p for p in synth.outdir.glob("asset.*.zip") if code["Key"].startswith(p.name[6:-4])]
    return package


def test_the_package_holds_the_locked_dependencies_built_for_the_runtime(synth: Synth):
    import zipfile

    from infra import package, runtime

    with zipfile.ZipFile(_deployment_package(synth)) as archive:
        names = archive.namelist()
        compiled = [name for name in names if name.endswith(".so") or ".so." in name]
        assert compiled, "pydantic-core and wrapt ship compiled modules"
        for name in compiled:
            # PEP 3149 tag, and the ELF header's machine (183: AArch64) of the file itself.
            assert f"cpython-313-{runtime.LAMBDA_MACHINE}-linux-gnu" in name or ".abi3." in name, name
            header = archive.read(name)[:20]
            assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183, name
        installed = {
            package.normalized(name.split("-")[0]): name.removesuffix(".dist-info").split("-")[1]
            for name in {n.split("/")[0] for n in names}
            if name.endswith(".dist-info")
        }
    locked = {r.name: r.version for r in package.lambda_requirements()}
    assert installed == locked  # exactly the lock, nothing more or less
    assert not package.RUNTIME_PROVIDED & set(installed)  # boto3 & co. come from the Lambda runtime


def test_every_function_with_its_layers_stays_well_under_lambdas_size_limit(synth: Synth):
    import zipfile

    from infra import runtime

    with zipfile.ZipFile(_deployment_package(synth)) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    for function in FUNCTIONS:
        layers = len(synth.resources[function]["Properties"].get("Layers", []))
        assert layers <= (1 if function == permissions.NIGHTLY_EXPORT else 0)
        total = unzipped + layers * runtime.PANDAS_LAYER_UNZIPPED_BYTES
        # "Well under": 80% of the limit leaves room for a larger layer release.
        assert total < 0.8 * runtime.LAMBDA_UNZIPPED_LIMIT_BYTES, (function, total)
    assert unzipped < 30 * 1024**2  # boto3/botocore (21 MiB) stay out: the runtime has them


def test_the_stage_logs_access_without_identifiers_through_the_accounts_role(synth: Synth):
    api = synth.resources["RestAPI"]
    assert api["Properties"]["OpenApiVersion"] == "2.0"
    setting = api["Properties"]["AccessLogSetting"]
    log_group = synth.logical_id("AWS::Logs::LogGroup", "ApiAccessLogs")
    assert setting["DestinationArn"] == _arn(log_group)
    fields = json.loads(setting["Format"])
    assert fields["route"] == "$context.resourcePath" and fields["status"] == "$context.status"
    for identifying in ("$context.path", "$context.identity.sourceIp", "$context.identity.userAgent"):
        assert identifying not in setting["Format"]
    account, _ = synth.only("AWS::ApiGateway::Account")
    assert api["DependsOn"] == [account]  # the stage can log only once the account names the role
    role = synth.resources[synth.resources[account]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }


def test_an_account_that_has_the_logging_role_keeps_its_own(monkeypatch: pytest.MonkeyPatch):
    settings = StageSettings.from_context({"stage": "prod", "api_gateway_logs_role": "existing"}.get)
    assert settings.create_api_gateway_logs_role is False
    with pytest.raises(ValueError, match="create or existing"):
        StageSettings.from_context({"stage": "prod", "api_gateway_logs_role": "maybe"}.get)


def test_a_budget_and_an_hourly_ceiling_alert_the_operators(synth: Synth):
    topic, _ = synth.only("AWS::SNS::Topic")
    _, budget = synth.only("AWS::Budgets::Budget")
    data = budget["Properties"]["Budget"]
    assert (data["BudgetType"], data["TimeUnit"], data["BudgetLimit"]) == (
        "COST",
        "MONTHLY",
        {"Amount": 100, "Unit": "USD"},
    )
    assert "Amazon Comprehend" in data["CostFilters"]["Service"]
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    assert {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]) for n in notifications
    } == {
        ("ACTUAL", 80),
        ("FORECASTED", 100),
    }
    assert all(
        n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": _ref(topic)}] for n in notifications
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


def test_prod_is_protected_from_deletion_and_outputs_name_the_switches(synth: Synth):
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    assert manifest["artifacts"][STAGE]["properties"]["terminationProtection"] is True
    stack_outputs = synth.template["Outputs"]
    assert stack_outputs["AnalyzeFunctionName"]["Value"] == _ref(permissions.ANALYZE)
    assert stack_outputs["Region"]["Value"] == "us-east-1"
