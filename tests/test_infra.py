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
                "DeletionProtectionEnabled": True,  # prod keeps its data
            },
            "DeletionPolicy": "Retain",
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
    # One role per function and no other: Chalice manages none (manage_iam_role false, autogen_policy off).
    assert len(synth.of_type("AWS::IAM::Role")) == len(FUNCTIONS)
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
    admin_only = {ROOT / "chalicelib" / "cli.py"}
    called = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        if "local" in path.relative_to(ROOT / "chalicelib").parts or path in admin_only:
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
    assert synth.resources[bucket]["DeletionPolicy"] == "Retain"
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
    assert len(alarms) == 4 + 2 * len(FUNCTIONS)
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
        # Only wildcard-resource findings are accepted, and only on the function roles.
        assert violation["ruleName"].startswith("AwsSolutions-IAM5[Resource::"), violation["ruleName"]
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
