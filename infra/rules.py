"""Rules checked on the template CloudFormation really deploys: after the AWS::Serverless transform.

cdk-nag (infra/nag.py) sees only CDK's own constructs: the functions, API and stage Chalice generates arrive
as AWS SAM resources, and the SAM transform turns them into plain resources at deploy time, after every
synth-time check has run. tests/test_infra_security.py applies these rules to the output of that transform
(run offline), so they cover Chalice's resources and the ones SAM adds on its own (such as a second stage).

Each rule looks at one resource type and returns what is wrong, as `LogicalId: message`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from infra import runtime

Resource = dict[str, Any]
Template = dict[str, Any]


def _resources(template: Template, resource_type: str) -> Iterator[tuple[str, Resource]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == resource_type:
            yield logical_id, resource.get("Properties", {})


def _text(value: Any) -> str:
    """A property value as text, intrinsic functions included (Fn::Sub strings, Refs…)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return str(value)


def functions_run_the_target_runtime(template: Template) -> Iterator[str]:
    for logical_id, properties in _resources(template, "AWS::Lambda::Function"):
        if properties.get("Runtime") != runtime.LAMBDA_RUNTIME:
            yield f"{logical_id}: runtime {properties.get('Runtime')}, not {runtime.LAMBDA_RUNTIME}"
        if properties.get("Architectures") != [runtime.LAMBDA_ARCHITECTURE]:
            yield f"{logical_id}: architectures {properties.get('Architectures')}"
        if properties.get("TracingConfig", {}).get("Mode") != "Active":
            yield f"{logical_id}: no active tracing"
        if not properties.get("LoggingConfig", {}).get("LogGroup"):
            yield f"{logical_id}: logs to no log group of the stack's (none with a retention)"


def one_stage_per_api(template: Template) -> Iterator[str]:
    apis = [logical_id for logical_id, _ in _resources(template, "AWS::ApiGateway::RestApi")]
    stages = list(_resources(template, "AWS::ApiGateway::Stage"))
    for api in apis:
        own = [s for s, p in stages if p.get("RestApiId") == {"Ref": api}]
        if len(own) != 1:
            yield f"{api}: {len(own)} stages, expected exactly one"
    # A Deployment with a StageName creates a stage of that name too (SAM's implicit `Stage`).
    for logical_id, properties in _resources(template, "AWS::ApiGateway::Deployment"):
        if "StageName" in properties or "StageDescription" in properties:
            yield f"{logical_id}: the deployment creates stage {properties.get('StageName')!r} of its own"


def stages_are_throttled_traced_and_logged(template: Template) -> Iterator[str]:
    for logical_id, properties in _resources(template, "AWS::ApiGateway::Stage"):
        if properties.get("TracingEnabled") is not True:
            yield f"{logical_id}: no X-Ray tracing"
        if not properties.get("AccessLogSetting", {}).get("DestinationArn"):
            yield f"{logical_id}: no access log"
        throttled = [
            setting
            for setting in properties.get("MethodSettings", [])
            if setting.get("ResourcePath") == "/*"
            and setting.get("HttpMethod") == "*"
            and setting.get("ThrottlingRateLimit")
            and setting.get("ThrottlingBurstLimit")
        ]
        if not throttled:
            yield f"{logical_id}: no throttling on every method"


def stages_are_behind_the_waf(template: Template) -> Iterator[str]:
    associated = " ".join(
        _text(p.get("ResourceArn")) for _, p in _resources(template, "AWS::WAFv2::WebACLAssociation")
    )
    for logical_id, _ in _resources(template, "AWS::ApiGateway::Stage"):
        if "${" + logical_id + "}" not in associated:
            yield f"{logical_id}: no web ACL association"


def api_permissions_name_the_stage(template: Template) -> Iterator[str]:
    """API Gateway may invoke functions through the intended stage (or as an authorizer), not any stage."""
    stages = {p.get("StageName") for _, p in _resources(template, "AWS::ApiGateway::Stage")}
    allowed = (*(f"/{stage}/*" for stage in stages), "/authorizers/*")
    for logical_id, properties in _resources(template, "AWS::Lambda::Permission"):
        if properties.get("Principal") != "apigateway.amazonaws.com":
            continue
        source = _text(properties.get("SourceArn"))
        if not source.endswith(allowed):
            yield f"{logical_id}: API Gateway may invoke it from any stage ({source})"


def data_is_encrypted_and_recoverable(template: Template) -> Iterator[str]:
    for logical_id, properties in _resources(template, "AWS::DynamoDB::Table"):
        if properties.get("SSESpecification", {}).get("SSEEnabled") is not True:
            yield f"{logical_id}: not encrypted with a KMS key"
        recovery = properties.get("PointInTimeRecoverySpecification", {})
        if recovery.get("PointInTimeRecoveryEnabled") is not True:
            yield f"{logical_id}: no point-in-time recovery"
    for logical_id, properties in _resources(template, "AWS::SQS::Queue"):
        if not (properties.get("SqsManagedSseEnabled") or properties.get("KmsMasterKeyId")):
            yield f"{logical_id}: not encrypted"
    for logical_id, properties in _resources(template, "AWS::S3::Bucket"):
        if not properties.get("BucketEncryption"):
            yield f"{logical_id}: not encrypted"
        block = properties.get("PublicAccessBlockConfiguration", {})
        flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        if not all(block.get(flag) is True for flag in flags):
            yield f"{logical_id}: public access not blocked"


def logs_expire(template: Template) -> Iterator[str]:
    for logical_id, properties in _resources(template, "AWS::Logs::LogGroup"):
        if not properties.get("RetentionInDays"):
            yield f"{logical_id}: kept forever"


RULES: tuple[Callable[[Template], Iterator[str]], ...] = (
    functions_run_the_target_runtime,
    one_stage_per_api,
    stages_are_throttled_traced_and_logged,
    api_permissions_name_the_stage,
    data_is_encrypted_and_recoverable,
    logs_expire,
)


def violations(template: Template, waf: bool) -> list[str]:
    """Every rule's findings on a transformed template (`waf`: the stage must have the web ACL)."""
    rules = RULES + ((stages_are_behind_the_waf,) if waf else ())
    return [f"{rule.__name__}: {finding}" for rule in rules for finding in rule(template)]
