"""infra/: the REST API as deployed. API Gateway's own answers in the product's JSON error shape, the WAF
rate limit on the form routes, one stage (the SAM transform makes no other), and access logs without
identifiers through the account's logging role; the settings that switch the WAF and that role.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.settings import StageSettings
from tests.infra_synth import STAGE, Synth, arn

# --- gateway responses ---------------------------------------------------------------------------------


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


# --- WAF -----------------------------------------------------------------------------------------------


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
            "WebACLArn": arn(acl_id),
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


# --- the stage -----------------------------------------------------------------------------------------


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


def test_the_stage_logs_access_without_identifiers_through_the_accounts_role(synth: Synth):
    api = synth.resources["RestAPI"]
    assert api["Properties"]["OpenApiVersion"] == "2.0"
    setting = api["Properties"]["AccessLogSetting"]
    log_group = synth.logical_id("AWS::Logs::LogGroup", "ApiAccessLogs")
    assert setting["DestinationArn"] == arn(log_group)
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
