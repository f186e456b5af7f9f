"""API Gateway's own answers in the product's JSON error shape, and the WAF rate limit on the form routes.

Gateway responses: some requests are answered by API Gateway before any of our code runs (no
Authorization header on a bearer route, an unknown path, throttling, a WAF block …). Left alone it answers
`{"message": "Unauthorized"}`; the responses below give every such answer the shape the routes use,
`{"error": {"code": "...", "message": "..."}}` (chalicelib/http.py, chalicelib/auth/). They are written into
the API's OpenAPI definition (`x-amazon-apigateway-gateway-responses`), so they are deployed with the
API itself instead of needing a redeployment after separate GatewayResponse resources.

WAF: a per-IP rate-based rule scoped to the public form routes (`POST /forms/{form_id}/responses`; the
path as WAF sees it on the execute-api endpoint starts with the stage, `/api/forms/…`, and without it behind
a custom domain, so both are matched). Webhooks are left out on purpose: platforms send bursts from few
addresses and authenticate every delivery with a signature.

The REST API itself comes from `chalice package`; `adjust_api` sets what Chalice does not (a name per stage,
a regional endpoint, tracing, stage throttling, access logs, invoke permissions scoped to the one stage),
`api_gateway_logs_role` the account-wide role that lets API Gateway write those logs, `web_acl` puts the
rate-limiting ACL in front of the stage, and `bearer_policy` is what the `bearer` authorizer may do.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from chalice.cdk import Chalice
from constructs import Construct

from infra.permissions import BEARER, Targets, log_and_trace, statement

FORM_PATH_PREFIX = "/forms/"
RATE_LIMITED_BODY_KEY = "rate_limited"
RATE_WINDOW_SECONDS = 300
API_THROTTLE_RATE = 100  # requests per second for the whole stage
API_THROTTLE_BURST = 200
# The token records the `bearer` authorizer reads live in this partition (store/config_records.py TOKENS).
TOKEN_PARTITION = "TOKEN"  # noqa: S105 - a partition key value, not a secret

_AS_GATEWAY_SAID = "$context.error.messageString"  # API Gateway's own message, already a quoted JSON string


def _body(code: str, message: str | None) -> str:
    """A response template: our JSON error shape (templates are not VTL; $context variables are filled)."""
    if message is None:
        return '{"error":{"code":"%s","message":%s}}' % (code, _AS_GATEWAY_SAID)  # noqa: UP031
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))


# response type → (status or None to keep API Gateway's, error code, message or None for API Gateway's own)
RESPONSES: dict[str, tuple[str | None, str, str | None]] = {
    # No Authorization header on a route with the `bearer` authorizer: API Gateway answers before `bearer`
    # runs (chalicelib/auth/tokens.py, step 1). The same code and message the routes give for a missing token.
    "UNAUTHORIZED": ("401", "unauthorized", "Send the token as `Authorization: Bearer fbk_…`."),
    # `bearer` never denies (it allows and the route decides), so these mean a misconfiguration, but the
    # caller still gets our shape.
    "ACCESS_DENIED": ("403", "forbidden", "This token may not call this route."),
    "AUTHORIZER_CONFIGURATION_ERROR": ("500", "internal_error", "Something went wrong on our side."),
    # The authorizer Lambda failed or timed out: the same answer as when it cannot read the token table.
    "AUTHORIZER_FAILURE": ("503", "unavailable", "Tokens cannot be checked right now; try again shortly."),
    # API Gateway's answer to a path or method no route has (its default, 403 "Missing Authentication
    # Token", misleads every client that mistyped a URL).
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", "No such route."),
    "THROTTLED": ("429", "throttled", "Too many requests; retry after a short wait."),
    "QUOTA_EXCEEDED": ("429", "throttled", "Too many requests; retry after a short wait."),
    "WAF_FILTERED": ("403", "request_blocked", "The request was blocked by the firewall."),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large", "The request is larger than API Gateway accepts."),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type", None),
    "INTEGRATION_TIMEOUT": ("504", "timeout", "The request took too long; retry it."),
    "DEFAULT_4XX": (None, "bad_request", None),
    "DEFAULT_5XX": (None, "internal_error", "Something went wrong on our side."),
}


# The stage's access log: one JSON line per request with what operators need (status, route template,
# latency, why the gateway refused) and nothing that identifies a person: no source IP, user agent, path
# (`resourcePath` is the route template, /customers/{customer_id}, not the id) or query string (an email
# lookup would carry the address).
ACCESS_LOG_FIELDS: dict[str, str] = {
    "requestId": "$context.requestId",
    "time": "$context.requestTimeEpoch",
    "method": "$context.httpMethod",
    "route": "$context.resourcePath",
    "status": "$context.status",
    "responseBytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "gatewayError": "$context.error.responseType",
    "waf": "$context.wafResponseCode",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))


def openapi_gateway_responses() -> dict[str, Any]:
    """The `x-amazon-apigateway-gateway-responses` object for the API definition."""
    extension: dict[str, Any] = {}
    for response_type, (status, code, message) in RESPONSES.items():
        response: dict[str, Any] = {"responseTemplates": {"application/json": _body(code, message)}}
        if status is not None:
            response["statusCode"] = status
        if response_type == "UNAUTHORIZED":
            # The same challenge chalicelib.auth.TokenRejected sends (RFC 6750).
            response["responseParameters"] = {
                "gatewayresponse.header.WWW-Authenticate": "'Bearer realm=\"feedback\"'"
            }
        extension[response_type] = response
    return extension


def _path_starts_with(prefix: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="STARTS_WITH",
            search_string=prefix,
            # Decode and normalise first, so /api//forms/ or /api/%66orms/ cannot slip past the match.
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="NORMALIZE_PATH"),
            ],
        )
    )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def form_rate_limit_acl(
    scope: Construct, construct_id: str, *, name: str, limit: int, api_stage: str
) -> wafv2.CfnWebACL:
    """A regional web ACL that allows everything except more than `limit` form submissions per client IP
    in RATE_WINDOW_SECONDS, answered with 429 in the product's JSON error shape."""
    prefixes = [f"/{api_stage}{FORM_PATH_PREFIX}", FORM_PATH_PREFIX]
    return wafv2.CfnWebACL(
        scope,
        construct_id,
        name=name,
        scope="REGIONAL",
        description="Per-IP rate limit on the public form submission routes",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility(name),
        custom_response_bodies={
            RATE_LIMITED_BODY_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON",
                content=_body("rate_limited", "Too many submissions from this address; try again later."),
            )
        },
        rules=[
            wafv2.CfnWebACL.RuleProperty(
                name="form-submissions-per-ip",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                            response_code=429, custom_response_body_key=RATE_LIMITED_BODY_KEY
                        )
                    )
                ),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=limit,
                        evaluation_window_sec=RATE_WINDOW_SECONDS,
                        scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                            or_statement=wafv2.CfnWebACL.OrStatementProperty(
                                statements=[_path_starts_with(prefix) for prefix in prefixes]
                            )
                        ),
                    )
                ),
                visibility_config=_visibility(f"{name}-form-submissions-per-ip"),
            )
        ],
    )


def web_acl(scope: Construct, *, name: str, limit: int, api_stage: str) -> wafv2.CfnWebACL:
    """The form rate-limit ACL (construct id `WebAcl`), associated with the stage the SAM transform makes."""
    acl = form_rate_limit_acl(scope, "WebAcl", name=name, limit=limit, api_stage=api_stage)
    wafv2.CfnWebACLAssociation(
        scope,
        "WebAclAssociation",
        # `${RestAPI.Stage}` is the SAM reference to the stage the transform generates: it resolves to a
        # Ref of that stage, so CloudFormation associates the ACL only once the stage exists.
        resource_arn=cdk.Fn.sub(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/${RestAPI.Stage}"
        ),
        web_acl_arn=acl.attr_arn,
    )
    return acl


def api_gateway_logs_role(scope: Construct) -> apigateway.CfnAccount:
    """The region's API Gateway account settings with a role that may write to CloudWatch Logs (one per
    account and region: `-c api_gateway_logs_role=existing` where one is already set)."""
    role = iam.Role(
        scope,
        "ApiGatewayLogsRole",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        description="API Gateway (account-wide in this region): write access logs to CloudWatch Logs",
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
            )
        ],
    )
    # The setting outlives the stack on purpose: other APIs of the account may rely on it.
    role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    account = apigateway.CfnAccount(scope, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
    account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    return account


def adjust_api(app: Chalice, *, name: str, api_stage: str, access_logs: logs.LogGroup) -> None:
    """Override on Chalice's REST API what it does not model: the stage's name, endpoint, gateway
    responses, tracing, throttling and access logs, and invoke permissions scoped to the one stage."""
    api = app.get_resource("RestAPI")
    # One name per stage, so the API's metrics (ApiName dimension) are this stage's alone.
    api.add_property_override("Name", name)
    api.add_property_override("DefinitionBody.info.title", name)
    api.add_property_override(
        "DefinitionBody.x-amazon-apigateway-gateway-responses", openapi_gateway_responses()
    )
    # Regional rather than Chalice's default edge-optimized endpoint: no hidden CloudFront hop in front of
    # the stage, so the address the WAF rule aggregates on is the caller's own (and one less layer of
    # caching/headers to reason about). Callers are CRMs, platforms and browsers; none needs the edge.
    api.add_property_override("EndpointConfiguration", "REGIONAL")
    # Any OpenApiVersion stops the SAM transform from also creating a stage named `Stage` beside the
    # intended one: a live stage without the WAF, throttling, tracing or access logs set below.
    # "2.0" because Chalice's DefinitionBody is Swagger 2.0.
    api.add_property_override("OpenApiVersion", "2.0")
    api.add_property_override("TracingEnabled", True)
    # API Gateway may invoke the API function through this API's one stage only (Chalice's permission
    # allows `<api>/*`, every stage that exists or ever will).
    api_arn = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestAPI}"
    app.get_resource("APIHandlerInvokePermission").add_property_override(
        "SourceArn", cdk.Fn.sub(f"{api_arn}/{api_stage}/*")
    )
    # The authorizer is invoked as one (…/authorizers/<id>), whatever the stage.
    app.get_resource(f"{BEARER}InvokePermission").add_property_override(
        "SourceArn", cdk.Fn.sub(f"{api_arn}/authorizers/*")
    )
    api.add_property_override(
        "AccessLogSetting", {"DestinationArn": access_logs.log_group_arn, "Format": ACCESS_LOG_FORMAT}
    )
    api.add_property_override(
        "MethodSettings",
        [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": API_THROTTLE_RATE,
                "ThrottlingBurstLimit": API_THROTTLE_BURST,
            }
        ],
    )


def bearer_policy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The `bearer` authorizer: reads token records (pk = TOKEN) and stamps their last use, nothing else."""
    return [
        statement(
            "ReadTokenRecords",
            ["dynamodb:GetItem"],
            [targets.table_arn],
            partitions=[TOKEN_PARTITION],
        ),
        # auth/tokens.py note_use: a conditional update of `last_used_at`, at most once an hour per token.
        statement(
            "StampTokenUse",
            ["dynamodb:UpdateItem"],
            [targets.table_arn],
            partitions=[TOKEN_PARTITION],
        ),
        *log_and_trace(log_group_arn),
    ]
