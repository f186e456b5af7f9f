"""infra/: least privilege and the checkers. Every function's role grants exactly the calls its code makes,
no statement grants every action, `*` resources only where IAM offers nothing narrower; cdk-nag finds nothing
unacknowledged; the template CloudFormation really deploys (after the SAM transform) passes infra/rules.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra import permissions, regions
from tests.infra_synth import ROOT, STAGE, Synth, arn, ref, synthesize_variants

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
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
        "ssm:GetParametersByPath",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
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
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:DeleteObject",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "events:PutEvents",  # the on-failure destination: Lambda sends given-up records with this role
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
    permissions.ON_DEPLOY: {
        "dynamodb:UpdateItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
    permissions.BEARER: {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",  # a token's last use, stamped at most once an hour
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
    permissions.EVALUATE_ALERTS: {
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "ssm:GetParameter",
        "sns:Publish",
        "sqs:SendMessage",
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
        permissions.API_HANDLER: {"by_day", "by_customer", "by_negative"},
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
    # Objects: under exports/ only; the export reads and deletes only the parts of a fanned-out day, the API
    # (an erasure) deletes only raw mail.
    for function in (permissions.API_HANDLER, permissions.NIGHTLY_EXPORT):
        for statement in _role_statements(synth, function):
            actions = set(_listed(statement["Action"]))
            if actions & {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}:
                deletes = "s3:DeleteObject" in actions
                parts = function == permissions.NIGHTLY_EXPORT and deletes
                suffix = '"/exports/_parts/*"]]}' if parts else '"/exports/*"]]}'
                if function == permissions.API_HANDLER and deletes:
                    suffix = '"/inbound-mail/*"]]}'
                    assert actions == {"s3:DeleteObject", "s3:DeleteObjectVersion"}, statement
                assert _resource_text(statement).endswith(suffix), statement
    (fanout_record,) = [
        s for s in _role_statements(synth, permissions.NIGHTLY_EXPORT) if s["Sid"] == "TrackExportSlices"
    ]
    assert fanout_record["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["EXPORT_FANOUT"]}
    }
    # The nightly run marks the counters complete where no mark exists: that one item, one action.
    (counters_mark,) = [
        s for s in _role_statements(synth, permissions.NIGHTLY_EXPORT) if s["Sid"] == "MarkCountersComplete"
    ]
    assert counters_mark["Action"] == "dynamodb:UpdateItem"
    assert counters_mark["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["COUNTERS"]}}
    # An erasure invokes the export function and nothing else; no other function invokes any.
    (invoke,) = [
        s
        for s in _role_statements(synth, permissions.API_HANDLER)
        if "lambda:InvokeFunction" in _listed(s["Action"])
    ]
    assert (invoke["Sid"], _listed(invoke["Resource"])) == (
        "InvokeExportRewrite",
        [arn(permissions.NIGHTLY_EXPORT)],
    )
    # … and the export function itself, from a policy of its own on its role (no cycle: the role's inline
    # policy cannot name the function that uses the role): the nightly run hands rewrites to an invocation.
    self_invoke = synth.logical_id("AWS::IAM::Policy", f"{permissions.NIGHTLY_EXPORT}Invocations")
    assert [
        owner
        for owner, s in _statements(synth)
        if any(a.startswith("lambda:") for a in _listed(s.get("Action", [])))
    ] == [synth.logical_id("AWS::IAM::Role", "APIHandlerRole"), self_invoke]
    policy = synth.resources[self_invoke]["Properties"]
    assert policy["Roles"] == [ref(synth.logical_id("AWS::IAM::Role", f"{permissions.NIGHTLY_EXPORT}Role"))]
    (own,) = policy["PolicyDocument"]["Statement"]
    assert (own["Sid"], own["Action"], _listed(own["Resource"])) == (
        "InvokeItself",
        "lambda:InvokeFunction",
        [arn(permissions.NIGHTLY_EXPORT)],
    )
    # The API function writes no export file (the export function rewrites them).
    assert not [
        s for s in _role_statements(synth, permissions.API_HANDLER) if "s3:PutObject" in _listed(s["Action"])
    ]
    # The export touches the base table only in the partition of rewrites erasures marked …
    (rewrites,) = [
        s for s in _role_statements(synth, permissions.NIGHTLY_EXPORT) if s["Sid"] == "TakeScheduledRewrites"
    ]
    assert rewrites["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["EXPORT_REWRITE"]}
    }
    # … and in the taxonomy's, which it reads to name the exported themes.
    (taxonomy,) = [
        s for s in _role_statements(synth, permissions.NIGHTLY_EXPORT) if s["Sid"] == "ReadTaxonomy"
    ]
    assert (taxonomy["Action"], taxonomy["Condition"]) == (
        "dynamodb:GetItem",
        {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["THEMES"]}},
    )
    # The API puts one item only: the cursor key, in its own partition.
    (key,) = [s for s in _role_statements(synth, permissions.API_HANDLER) if s["Sid"] == "CreateCursorKey"]
    assert key["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SIGNING_KEY"]}}
    # It queries no table partition but the forms' and sources' config records (GET /stats names them) and
    # the delivery logs (GET /subscriptions/{id}/deliveries; GET /stats lists the latest negatives through
    # their sparse index), and deletes or updates in the feedback and counter partitions only (erasure).
    assert [
        s["Condition"]
        for s in _role_statements(synth, permissions.API_HANDLER)
        if "dynamodb:Query" in _listed(s["Action"]) and "Condition" in s
    ] == [
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["DELIVERY#*"]}},
        {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["FORM", "SOURCE"]}},
    ]
    (erase,) = [
        s for s in _role_statements(synth, permissions.API_HANDLER) if s["Sid"] == "EraseCountedFeedback"
    ]
    assert erase["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["FEEDBACK#*", "COUNTER#*"]}
    }
    # The authorizer reads token records only, and stamps their use on them only.
    for sid in ("ReadTokenRecords", "StampTokenUse"):
        (tokens,) = [s for s in _role_statements(synth, permissions.BEARER) if s["Sid"] == sid]
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
        called |= set(re.findall(r"aws\.client\(\"([\w-]+)\"\)", path.read_text()))
    granted = {action.split(":")[0] for actions in EXPECTED_ACTIONS.values() for action in actions}
    assert called, "no aws.client(...) calls found"
    # Bedrock is granted only when a backend uses it: test_bedrock_is_granted_on_exactly_the_model_called.
    assert "bedrock-runtime" in called
    assert called - {"bedrock-runtime"} <= granted, f"no IAM statement for {called - granted}"


# --- cdk-nag -------------------------------------------------------------------------------------------


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


# --- rules on the deployed template --------------------------------------------------------------------


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


# --- Bedrock (analyzer or theme_tagger = bedrock) ----------------------------------------------------------

ACCOUNT = "123456789012"
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT}
NOVA_MICRO = "amazon.nova-micro-v1:0"
CLAUDE_HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
# The stack with each Bedrock setup; cdk-nag must pass on each (a finding fails the synth).
BEDROCK_VARIANTS = {
    # The default model in the stage's region, for the analyzer only.
    "model": {"region": "us-east-1", "analyzer": "bedrock", "theme_tagger": "none"},
    # Hong Kong has neither Comprehend nor Bedrock: both are called in Singapore, through the APAC profile
    # (nor has CloudFormation AWS Budgets there: the budget is off).
    "profile": {
        "region": "ap-east-1",
        "comprehend_region": "ap-southeast-1",
        "monthly_budget_usd": "0",
        "bedrock_region": "ap-southeast-1",
        "theme_tagger": "bedrock",
        "bedrock_model_id": f"apac.{NOVA_MICRO}",
    },
}


@pytest.fixture(scope="module")
def bedrock_synths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synth]:
    return synthesize_variants(tmp_path_factory.mktemp("bedrock"), BEDROCK_VARIANTS)


def _rendered(value: Any) -> Any:
    """A template value with Fn::Join and the pseudo parameters resolved (as CloudFormation would)."""
    if isinstance(value, list):
        return [_rendered(item) for item in value]
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_rendered(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return PSEUDO_PARAMETERS[value["Ref"]]
    if isinstance(value, dict):
        return {key: _rendered(item) for key, item in value.items()}
    return value


def _bedrock_statements(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    """Owner → its statements naming a bedrock action."""
    found: dict[str, list[dict[str, Any]]] = {}
    for owner, statement in _statements(synth):
        if any(action.startswith("bedrock:") for action in _listed(statement.get("Action", []))):
            found.setdefault(owner, []).append(_rendered(statement))
    return found


def test_no_bedrock_grant_by_default(synth: Synth):
    assert _bedrock_statements(synth) == {}
    assert "bedrock" not in json.dumps(synth.template["Resources"][permissions.ANALYZE]["Properties"])


def test_bedrock_is_granted_on_exactly_the_model_called(bedrock_synths: dict[str, Synth]):
    synth = bedrock_synths["model"]
    statements = _bedrock_statements(synth)
    assert list(statements) == [synth.logical_id("AWS::IAM::Role", "AnalyzeRole")]
    (statement,) = next(iter(statements.values()))
    assert statement == {
        "Sid": "InvokeBedrockModel",
        "Effect": "Allow",
        "Action": "bedrock:InvokeModel",
        "Resource": f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_MICRO}",
    }
    # Everything else the analyze function may do is unchanged.
    granted = {a for s in _role_statements(synth, permissions.ANALYZE) for a in _listed(s["Action"])}
    assert granted == EXPECTED_ACTIONS[permissions.ANALYZE] | {"bedrock:InvokeModel"}


def test_an_inference_profile_is_granted_with_its_models_through_it_only(bedrock_synths: dict[str, Synth]):
    synth = bedrock_synths["profile"]
    statements = _bedrock_statements(synth)
    assert list(statements) == [synth.logical_id("AWS::IAM::Role", "AnalyzeRole")]
    profile, models = statements[synth.logical_id("AWS::IAM::Role", "AnalyzeRole")]
    profile_arn = f"arn:aws:bedrock:ap-southeast-1:{ACCOUNT}:inference-profile/apac.{NOVA_MICRO}"
    assert profile == {
        "Sid": "InvokeBedrockProfile",
        "Effect": "Allow",
        "Action": "bedrock:InvokeModel",
        "Resource": profile_arn,
    }
    assert models["Sid"] == "InvokeBedrockModelThroughProfile"
    assert models["Action"] == "bedrock:InvokeModel"
    assert models["Condition"] == {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}}
    model_regions = set()
    for resource in models["Resource"]:
        match = re.fullmatch(r"arn:aws:bedrock:(ap-[a-z]+-\d)::foundation-model/(.+)", resource)
        assert match and match[2] == NOVA_MICRO, resource
        model_regions.add(match[1])
    # The source region and the APAC profile's destinations are among them; Hong Kong has no Bedrock.
    assert {
        "ap-southeast-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-2",
    } <= model_regions
    assert "ap-east-1" not in model_regions


def test_the_analyze_function_is_told_the_bedrock_model_and_region(bedrock_synths: dict[str, Synth]):
    def variables(synth: Synth, function: str) -> dict[str, Any]:
        return synth.template["Resources"][function]["Properties"]["Environment"]["Variables"]

    analyze = variables(bedrock_synths["model"], permissions.ANALYZE)
    assert (analyze["ANALYZER"], analyze["THEME_TAGGER"], analyze["BEDROCK_MODEL_ID"]) == (
        "bedrock",
        "none",
        NOVA_MICRO,
    )
    assert "BEDROCK_REGION" not in analyze  # the stage's own region
    analyze = variables(bedrock_synths["profile"], permissions.ANALYZE)
    assert analyze["THEME_TAGGER"] == "bedrock"
    assert analyze["ANALYZER"] == "comprehend"
    assert analyze["BEDROCK_MODEL_ID"] == f"apac.{NOVA_MICRO}"
    assert analyze["BEDROCK_REGION"] == analyze["COMPREHEND_REGION"] == "ap-southeast-1"
    outputs = bedrock_synths["profile"].template["Outputs"]
    assert outputs["BedrockRegion"]["Value"] == "ap-southeast-1"
    assert outputs["BedrockModelId"]["Value"] == f"apac.{NOVA_MICRO}"
    for synth in bedrock_synths.values():
        for function in set(permissions.FUNCTIONS) - {permissions.ANALYZE}:
            assert not any(name.startswith("BEDROCK") for name in variables(synth, function)), function
            assert variables(synth, function)["ANALYZER"] == variables(synth, permissions.ANALYZE)["ANALYZER"]


def test_cdk_nag_passes_with_bedrock(bedrock_synths: dict[str, Synth]):
    for name, synth in bedrock_synths.items():
        (report,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
        assert report["violations"] == [], name
        assert report["conclusion"] == "success", name


@pytest.mark.parametrize(
    ("model_id", "region", "expected"),
    [
        (NOVA_MICRO, "eu-west-1", ["eu-west-1"]),
        (f"us.{NOVA_MICRO}", "us-east-1", ["us-east-1", "us-east-2", "us-west-2"]),
        (f"eu.{NOVA_MICRO}", "eu-central-1", ["eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"]),
        (f"jp.{CLAUDE_HAIKU}", "ap-northeast-1", ["ap-northeast-1", "ap-northeast-3"]),
    ],
)
def test_model_arns_cover_the_regions_a_profile_routes_to(model_id: str, region: str, expected: list[str]):
    model = permissions.BedrockModel(model_id=model_id, region=region, account=ACCOUNT)
    base = model_id.split(".", 1)[1] if model.geography else model_id
    arns = model.foundation_model_arns
    assert {f"arn:aws:bedrock:{r}::foundation-model/{base}" for r in expected} <= set(arns)
    assert all(arn.endswith(f"::foundation-model/{base}") and "*" not in arn for arn in arns)
    if model.geography is None:
        assert (model.profile_arn, arns) == (None, [f"arn:aws:bedrock:{region}::foundation-model/{model_id}"])
    else:
        assert model.profile_arn == f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{model_id}"
        starts = regions.PROFILE_GEOGRAPHIES[model.geography]
        assert all(arn.split(":")[3].startswith(starts) for arn in arns), arns
    if model.geography == "jp":
        assert len(arns) == 2


def test_a_global_profile_is_granted_on_the_region_less_model():
    model_id = f"global.{CLAUDE_HAIKU}"
    model = permissions.BedrockModel(model_id=model_id, region="eu-west-1", account=ACCOUNT)
    assert model.profile_arn == f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/{model_id}"
    assert model.foundation_model_arns == [
        f"arn:aws:bedrock:eu-west-1::foundation-model/{CLAUDE_HAIKU}",
        f"arn:aws:bedrock:::foundation-model/{CLAUDE_HAIKU}",
    ]
