"""infra/: the CDK app synthesizes offline (no AWS account, no CDK CLI), and the template it produces has the
properties the product relies on: the table, the queues and the functions wired to them, the export bucket,
Glue/Athena and SSM; the SAM transform run offline on it; cfn-lint on both.

The synth runs once per test session (tests/conftest.py, tests/infra_synth.py) and is shared with the other
suites on it: test_infra_security.py (IAM, cdk-nag, the deployed-template rules), test_infra_api.py (gateway
responses, WAF, the stage), test_infra_monitoring.py (alarms, budget), test_infra_packaging.py (runtime,
layer, deployment package) and test_infra_outputs.py (the outputs and the operator's commands made of them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cfnlint.api import lint_file

from chalicelib.ingest import ANALYZE_BATCH_SIZE
from chalicelib.local.provision import MAX_RECEIVE_COUNT
from chalicelib.store import schema
from infra import athena, gateway, permissions, settings
from tests.infra_synth import FUNCTIONS, ROOT, STAGE, Synth, arn, ref

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


def test_index_projections_customer_index_narrow_day_index_all_negatives_keys_only(synth: Synth):
    _, table = synth.only("AWS::DynamoDB::Table")
    projections = {i["IndexName"]: i["Projection"] for i in table["Properties"]["GlobalSecondaryIndexes"]}
    assert projections == {
        schema.DAY_INDEX: {"ProjectionType": "ALL"},
        schema.CUSTOMER_INDEX: {
            "ProjectionType": "INCLUDE",
            "NonKeyAttributes": ["record_type", "channel", "sentiment"],
        },
        schema.NEGATIVE_INDEX: {"ProjectionType": "KEYS_ONLY"},
    }


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
            "RedrivePolicy": {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": MAX_RECEIVE_COUNT},
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
                "Queues": [ref(logical_id)],
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
    assert event["Properties"]["Queue"] == arn(queue)
    # app.py's one batch size, with the batching window SQS needs for more than 10 records a batch.
    assert event["Properties"]["BatchSize"] == ANALYZE_BATCH_SIZE
    assert event["Properties"]["MaximumBatchingWindowInSeconds"] >= 1
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_the_api_function_has_the_memory_the_dashboard_bench_projects_with(synth: Synth):
    from tools.bench.dashboard_cost import READ_FUNCTION_MB

    # /stats is CPU-bound, and Lambda gives CPU in proportion to memory (README, Counters).
    assert synth.resources[permissions.API_HANDLER]["Properties"]["MemorySize"] == READ_FUNCTION_MB == 512


def test_the_sam_transform_makes_the_event_source_mapping_and_stage_association(transformed: dict[str, Any]):
    resources = transformed["template"]["Resources"]
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    # The ingest queue's, the outbound webhooks' stream and delivery queue (tests/test_infra_outbound.py) and
    # the CRM queue (tests/test_infra_crm.py).
    assert len(mappings) == 4
    (mapping,) = [
        m["Properties"] for m in mappings if m["Properties"]["FunctionName"] == ref(permissions.ANALYZE)
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["FunctionName"] == ref(permissions.ANALYZE)
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
        assert variables["TABLE_NAME"] == ref(table)
        assert variables["EXPORT_BUCKET"] == ref(bucket)
        assert variables["INGEST_QUEUE_URL"] == ref(queue)
        # app.py reads INGEST_QUEUE_NAME at import time for its @app.on_sqs_message decorator.
        assert variables["INGEST_QUEUE_NAME"] == queue_name
        assert variables["PARAMETER_PREFIX"] == f"/feedback/{STAGE}"
        # An erasure invokes the export function: only the API function knows its name.
        if function == permissions.API_HANDLER:
            assert variables["EXPORT_FUNCTION_NAME"] == ref(permissions.NIGHTLY_EXPORT)
        else:
            assert "EXPORT_FUNCTION_NAME" not in variables
        assert properties["Role"] == arn(synth.logical_id("AWS::IAM::Role", f"{function}Role"))
        log_group = synth.logical_id("AWS::Logs::LogGroup", f"{function}Logs")
        assert properties["LoggingConfig"] == {"LogGroup": ref(log_group)}
        assert synth.resources[log_group]["Properties"]["RetentionInDays"] == 90
    # One role per function, and API Gateway's account-wide logging role: Chalice manages none
    # (manage_iam_role false, autogen_policy off).
    roles = synth.of_type("AWS::IAM::Role")
    assert len(roles) == len(FUNCTIONS) + 1
    assert synth.logical_id("AWS::IAM::Role", "ApiGatewayLogsRole") in roles
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert all(stage["autogen_policy"] is False for stage in config["stages"].values())


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
    assert properties["LoggingConfiguration"]["DestinationBucketName"] == ref(
        synth.logical_id("AWS::S3::Bucket", "AccessLogsBucket")
    )
    rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-overwritten-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    assert rules["exports-to-infrequent-access"]["Prefix"] == "exports/"
    assert rules["exports-to-infrequent-access"]["Transitions"][0]["StorageClass"] == "STANDARD_IA"
    assert rules["expire-athena-results"]["Prefix"] == "athena-results/"
    # A fanned-out export's parts hold the day's items: those of a run that never completed expire.
    assert (rules["expire-export-parts"]["Prefix"], rules["expire-export-parts"]["ExpirationInDays"]) == (
        "exports/_parts/",
        2,
    )
    assert synth.resources[bucket]["DeletionPolicy"] == "RetainExceptOnCreate"
    deny_plain_http = Match.object_like(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Principal": {"AWS": "*"},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Resource": [arn(bucket), {"Fn::Join": ["", [arn(bucket), "/*"]]}],
        }
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"Bucket": ref(bucket), "PolicyDocument": {"Statement": Match.array_with([deny_plain_http])}},
    )
    for _, other in synth.of_type("AWS::S3::Bucket").items():
        assert other["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


# --- Glue / Athena -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ddl_path", "construct_id", "prefix"),
    [
        (athena.DDL_PATH, "GlueTable", "/exports/parquet/"),
        (athena.THEMES_DDL_PATH, "GlueThemesTable", "/exports/feedback_themes/"),
    ],
    ids=["feedback", "feedback_themes"],
)
def test_glue_tables_are_the_athena_ddl(synth: Synth, ddl_path, construct_id: str, prefix: str):
    assert len(synth.of_type("AWS::Glue::Table")) == 2
    table = synth.resources[synth.logical_id("AWS::Glue::Table", construct_id)]
    _, database = synth.only("AWS::Glue::Database")
    bucket = synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    ddl_text = ddl_path.read_text()
    ddl = athena.load(ddl_path)
    # The loader read every column line of the statement (an independent count, not the loader's).
    assert len(ddl.columns) == len(re.findall(r"^\s*`\w+` \S+,?$", ddl_text.split("PARTITIONED")[0], re.M))
    assert ddl.partition_keys == (("dt", "string"),)

    table_input = table["Properties"]["TableInput"]
    assert (
        table["Properties"]["DatabaseName"]
        == database["Properties"]["DatabaseInput"]["Name"]
        == "feedback_prod"
    )
    assert table_input["Name"] == ddl.name == ddl_path.stem
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    storage = table_input["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == list(ddl.columns)
    assert [(c["Name"], c["Type"]) for c in table_input["PartitionKeys"]] == list(ddl.partition_keys)
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert storage["InputFormat"].endswith("MapredParquetInputFormat")

    def rendered(value: str) -> dict[str, Any]:
        """A DDL value with ${bucket} as CloudFormation writes it (the bucket is a Ref)."""
        before, _, after = value.partition("${bucket}")
        return {"Fn::Join": ["", [before, ref(bucket), after]]}

    assert storage["Location"] == rendered(ddl.location)
    parameters = table_input["Parameters"]
    for key, value in ddl.properties.items():
        assert parameters[key] == (rendered(value) if "${bucket}" in value else value), key
    # Athena's own placeholder reaches Glue as written (no Fn::Sub that would eat it).
    assert parameters["storage.location.template"]["Fn::Join"][1][2] == f"{prefix}dt=${{dt}}/"
    assert parameters["projection.enabled"] == "true"


def test_the_feedback_table_keeps_its_logical_id_and_types_the_themes_list(synth: Synth):
    # A changed logical id would make CloudFormation replace the deployed table.
    assert synth.logical_id("AWS::Glue::Table", "GlueTable").startswith("GlueTable")
    table = synth.resources[synth.logical_id("AWS::Glue::Table", "GlueTable")]
    columns = dict(
        (c["Name"], c["Type"]) for c in table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    )
    assert columns["themes"] == "array<struct<id:string,name:string,sentiment:string>>"


def test_the_saved_queries_are_named_queries_of_the_workgroup(synth: Synth):
    queries = synth.of_type("AWS::Athena::NamedQuery")
    saved = athena.saved_queries()
    assert "negative_share_per_theme_per_week" in saved
    assert sorted(q["Properties"]["Name"] for q in queries.values()) == sorted(
        name.replace("_", " ") for name in saved
    )
    workgroup = synth.logical_id("AWS::Athena::WorkGroup", "AthenaWorkGroup")
    for query in queries.values():
        properties = query["Properties"]
        assert properties["Database"] == "feedback_prod"
        assert properties["WorkGroup"] == ref(workgroup)
        assert properties["QueryString"] == saved[properties["Name"].replace(" ", "_")]


def test_athena_workgroup_enforces_encrypted_results_in_the_bucket(template: Template, synth: Synth):
    bucket = synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": f"feedback-{STAGE}",
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "ResultConfiguration": {
                    "OutputLocation": {"Fn::Join": ["", ["s3://", ref(bucket), "/athena-results/"]]},
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                },
            },
        },
    )


def test_gateway_module_and_ddl_loader_refuse_what_they_do_not_understand():
    assert set(gateway.openapi_gateway_responses()) == set(gateway.RESPONSES)
    with pytest.raises(athena.DdlError):
        athena.parse("CREATE TABLE nope (a int)")
    broken = athena.DDL_PATH.read_text().replace("STORED AS PARQUET", "STORED AS ORC")
    with pytest.raises(athena.DdlError, match="ORC"):
        athena.parse(broken)
    unknown_type = athena.DDL_PATH.read_text().replace("`rating` smallint", "`rating` small int")
    with pytest.raises(athena.DdlError, match="column"):
        athena.parse(unknown_type)


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


def test_every_function_skips_pydantics_plugin_scan(synth: Synth, monkeypatch: pytest.MonkeyPatch):
    # Without it, the first validator a cold start builds lists every installed distribution's entry points
    # looking for pydantic plugins (about 3 ms on the Lambda layout); the app uses none.
    values = {_variables(synth, function).get("PYDANTIC_DISABLE_PLUGINS") for function in FUNCTIONS}
    assert values == {"__all__"}
    from pydantic.plugin import _loader

    def no_scan(**_: Any) -> None:
        raise AssertionError("pydantic scanned the installed distributions for plugins")

    monkeypatch.setattr(_loader, "entry_points", no_scan)
    monkeypatch.setattr(_loader, "_plugins", None)
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    with pytest.raises(AssertionError, match="scanned"):
        _loader.get_plugins()
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", values.pop())
    assert tuple(_loader.get_plugins()) == ()


# --- analysis and themes settings ----------------------------------------------------------------------


def _variables(synth: Synth, function: str) -> dict[str, Any]:
    return synth.resources[function]["Properties"]["Environment"]["Variables"]


def test_the_analyze_function_tags_with_keywords_by_default(synth: Synth):
    analyze = _variables(synth, permissions.ANALYZE)
    assert (analyze["ANALYZER"], analyze["THEME_TAGGER"]) == ("comprehend", "keywords")
    assert not [name for name in analyze if name.startswith("BEDROCK")]  # no Bedrock backend, no model
    for function in set(FUNCTIONS) - {permissions.ANALYZE}:
        assert "THEME_TAGGER" not in _variables(synth, function), function
        assert _variables(synth, function)["ANALYZER"] == "comprehend", function
    stack_outputs = synth.template["Outputs"]
    assert {key: stack_outputs[key]["Value"] for key in ("Analyzer", "ThemeTagger", "BedrockModelId")} == {
        "Analyzer": "comprehend",
        "ThemeTagger": "keywords",
        "BedrockModelId": "amazon.nova-micro-v1:0",
    }


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"analyzer": "openai"}, "analyzer must be one of comprehend, lexicon, bedrock, got 'openai'"),
        ({"theme_tagger": "regex"}, "theme_tagger must be one of none, keywords, bedrock, got 'regex'"),
        ({"bedrock_model_id": "amazon.*"}, "bedrock_model_id must be a Bedrock model id"),
        ({"bedrock_model_id": "arn:aws:bedrock:us-east-1::foundation-model/x.y"}, "or a cross-Region"),
        ({"bedrock_model_id": "nova micro"}, "got 'nova micro'"),
        ({"bedrock_region": "mars-1"}, "bedrock_region=mars-1 does not offer Amazon Bedrock"),
        (
            {"theme_tagger": "bedrock", "bedrock_model_id": "eu.amazon.nova-micro-v1:0"},
            "of the 'eu' geography, which us-east-1 cannot call",
        ),
    ],
)
def test_unknown_analysis_settings_are_refused_naming_what_is_allowed(context: dict[str, str], message: str):
    with pytest.raises(ValueError, match=re.escape(message)):
        settings.StageSettings.from_context({"stage": "prod", "region": "us-east-1", **context}.get)


def test_analysis_settings_are_read_case_insensitively_and_cdk_json_holds_the_defaults():
    chosen = settings.StageSettings.from_context(
        {"stage": "dev", "region": "eu-west-1", "analyzer": "Bedrock", "theme_tagger": " none "}.get
    )
    assert (chosen.analyzer.value, chosen.theme_tagger.value, chosen.uses_bedrock) == (
        "bedrock",
        "none",
        True,
    )
    context = json.loads((ROOT / "infra" / "cdk.json").read_text())["context"]
    assert context == {
        "analyzer": settings.DEFAULT_ANALYZER.value,
        "theme_tagger": settings.DEFAULT_THEME_TAGGER.value,
        "bedrock_model_id": settings.DEFAULT_BEDROCK_MODEL_ID,
    }
    defaults = settings.StageSettings.from_context({"stage": "dev", "region": "eu-west-1"}.get)
    assert (defaults.theme_tagger.value, defaults.uses_bedrock) == ("keywords", False)


# --- retention ------------------------------------------------------------------------------------------


def test_items_are_kept_forever_by_default_on_a_table_whose_ttl_is_always_on(synth: Synth):
    # TTL stays enabled whatever the setting: without `expires_at` nothing expires, and switching TTL with
    # the setting could fail a deploy (DynamoDB refuses a second TTL change within an hour).
    _, table = synth.only("AWS::DynamoDB::Table")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": schema.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert {
        function: _variables(synth, function)["RETENTION_DAYS"] for function in FUNCTIONS
    } == dict.fromkeys(FUNCTIONS, "0")
    assert synth.template["Outputs"]["RetentionDays"]["Value"] == "0"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 0), ("", 0), ("0", 0), (" 400 ", 400), (30, 30), ("7", 7)]
)
def test_retention_days_is_read_as_whole_days(value: object, expected: int):
    context = {"stage": "prod", "region": "us-east-1", "retention_days": value}
    assert settings.StageSettings.from_context(context.get).retention_days == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-30", "retention_days must be a whole number of days (0 keeps items forever), got '-30'"),
        ("90d", "got '90d'"),
        ("1.5", "got '1.5'"),
        (True, "got True"),
        ("3", f"0 (keep forever) or at least {settings.MIN_RETENTION_DAYS}"),
        ("6", "a failed nightly export can be re-run before its day's items expire; got 6"),
    ],
)
def test_a_bad_retention_is_refused_at_synth_naming_what_is_allowed(value: object, message: str):
    context = {"stage": "prod", "region": "us-east-1", "retention_days": value}
    with pytest.raises(ValueError, match=re.escape(message)):
        settings.StageSettings.from_context(context.get)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("waf_rate_limit", "abc", "waf_rate_limit must be a whole number of at least 10 (the WAF minimum)"),
        ("waf_rate_limit", "5", "waf_rate_limit must be a whole number of at least 10"),
        ("monthly_budget_usd", "100$", "monthly_budget_usd must be a whole number, got '100$'"),
        ("max_items_per_hour", "10k", "max_items_per_hour must be a whole number of at least 1"),
        ("analyze_max_concurrency", "1", "analyze_max_concurrency must be a whole number of at least 2"),
        ("log_retention_days", "10", "log_retention_days must be one of 7, 14, 30, 90, 180, 365, got '10'"),
        ("waf", "maybe", "waf must be true or false, got 'maybe'"),
    ],
)
def test_a_bad_setting_is_refused_at_synth_by_its_name(name: str, value: str, message: str):
    """Not int()'s `invalid literal for int() with base 10`: the setting, what it takes, what was given."""
    context = {"stage": "prod", "region": "us-east-1", name: value}
    with pytest.raises(ValueError, match=re.escape(message)):
        settings.StageSettings.from_context(context.get)


# --- linters -------------------------------------------------------------------------------------------


def test_cfn_lint_passes_on_the_template_and_its_sam_transform(synth: Synth, transformed: dict[str, Any]):
    for path in (synth.template_path, transformed["path"]):
        matches = lint_file(Path(path))
        assert not matches, "\n".join(str(match) for match in matches)


# --- export fan-out -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 250_000), ("", 250_000), ("0", 0), (" 1000 ", 1000), (2_000_000, 2_000_000)],
)
def test_the_fanout_threshold_is_read_as_whole_items(value: object, expected: int):
    context = {"stage": "prod", "region": "us-east-1", "export_fanout_items": value}
    assert settings.StageSettings.from_context(context.get).export_fanout_items == expected


@pytest.mark.parametrize("value", ["-1", "1e6", "250k", "999", "1", True])
def test_a_bad_fanout_threshold_is_refused_at_synth_naming_what_is_allowed(value: object):
    context = {"stage": "prod", "region": "us-east-1", "export_fanout_items": value}
    message = (
        f"export_fanout_items must be 0 (never fan out) or a whole number of items of at least 1000, "
        f"got {value!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        settings.StageSettings.from_context(context.get)
