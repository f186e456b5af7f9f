"""cdk-nag (AwsSolutions pack) runs on every synth (infra/app.py) and fails it on any finding that is not
acknowledged here. Each acknowledgment names one finding on one construct and says why it is accepted;
tests/test_infra_security.py checks that every acknowledgment carries a reason and that nothing is left
unacknowledged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk

from infra.permissions import (
    ANALYZE,
    API_HANDLER,
    BEARER,
    DELIVER_WEBHOOKS,
    EVALUATE_ALERTS,
    FAN_OUT_WEBHOOKS,
    FUNCTIONS,
    NIGHTLY_EXPORT,
    ON_DEPLOY,
    PULL_REVIEWS,
    RECEIVE_EMAIL,
    SYNC_CRM,
)

if TYPE_CHECKING:
    from infra.stack import FeedbackStack

PACK = "AwsSolutions"

XRAY_REASON = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource type in IAM, so Resource '*' is the "
    "only "
    "value they accept; the functions need them for active tracing (`xray: true` in .chalice/config.json)."
)
COMPREHEND_REASON = (
    "Comprehend's built-in BatchDetectDominantLanguage, BatchDetectSentiment and DetectPiiEntities have no "
    "resource type in IAM (they act on the text sent, not on an AWS resource), so Resource '*' is the only "
    "value they accept. " + XRAY_REASON
)
EXPORT_OBJECTS_REASON = (
    "Objects under exports/ only: the export writes one key per file and day (exports/dt=YYYY-MM-DD/…, "
    "exports/parquet/dt=…/…), which cannot be listed in advance; the rest of the bucket (Athena results, "
    "anything else) stays out of reach."
)
EXPORT_PARTS_REASON = (
    "Objects under exports/_parts/ only, read and deleted by the combining step of a busy day's export: "
    "each slice writes its parts under a run id chosen at run time (exports/_parts/dt=…/run=…/slice=…), "
    "so the keys cannot be named in advance."
)
INBOUND_MAIL_REASON = (
    "Objects under inbound-mail/ only: SES's receipt rule writes each mail under its own message id, which "
    "cannot be named in advance; the function reads the one it is invoked for."
)
SOURCE_SECRETS_REASON = (
    "GetParametersByPath on the source-secrets path of this stage only ({prefix}/sources/<source_id>): "
    "sources are added at run time by the admin CLI, so their ids are not known at deploy time."
)


SIGNING_SECRETS_REASON = (
    "GetParametersByPath on the webhook signing-secrets path of this stage only "
    "({prefix}/subscriptions/<subscription_id>): subscriptions are added at run time by the admin CLI."
)


CRM_SECRETS_REASON = (
    "GetParametersByPath on the CRM credentials path of this stage only ({prefix}/crm/<connection_id>): "
    "CRM connections are added at run time by the admin CLI, so their ids are not known at deploy time."
)


API_LOGS_ROLE_REASON = (
    "The one role API Gateway uses for every API of the account in this region to write logs: AWS's managed "
    "AmazonAPIGatewayPushToCloudWatchLogs is the policy API Gateway documents for it (log groups of any API "
    "of the account, created by API Gateway itself), which a stack-scoped policy could not cover."
)


def _finding(rule: str, detail: str) -> str:
    return f"{PACK}::{PACK}-{rule}[{detail}]"


def acknowledge_findings(stack: FeedbackStack) -> None:
    """Acknowledge, with reasons, the findings this stack accepts on purpose."""
    bucket_arn = f"<{stack.get_logical_id(stack.bucket.node.default_child)}.Arn>"  # type: ignore[arg-type]
    exports = _finding("IAM5", f"Resource::{bucket_arn}/exports/*")
    export_parts = _finding("IAM5", f"Resource::{bucket_arn}/exports/_parts/*")
    inbound_mail = _finding("IAM5", f"Resource::{bucket_arn}/inbound-mail/*")
    secrets = _finding(
        "IAM5",
        f"Resource::arn:<AWS::Partition>:ssm:{stack.region}:<AWS::AccountId>:parameter"
        f"{stack.settings.parameter_prefix}/sources/*",
    )
    signing_secrets = _finding(
        "IAM5",
        f"Resource::arn:<AWS::Partition>:ssm:{stack.region}:<AWS::AccountId>:parameter"
        f"{stack.settings.parameter_prefix}/subscriptions/*",
    )
    slack_urls = _finding(
        "IAM5",
        f"Resource::arn:<AWS::Partition>:ssm:{stack.region}:<AWS::AccountId>:parameter"
        f"{stack.settings.parameter_prefix}/alerts/*",
    )
    slack_reason = (
        "The alert rules' Slack webhook URLs are parameters under "
        f"{stack.settings.parameter_prefix}/alerts/, one per rule, written by `cli alerts add`."
    )
    crm_secrets = _finding(
        "IAM5",
        f"Resource::arn:<AWS::Partition>:ssm:{stack.region}:<AWS::AccountId>:parameter"
        f"{stack.settings.parameter_prefix}/crm/*",
    )
    any_resource = _finding("IAM5", "Resource::*")
    reasons = {
        API_HANDLER: {
            any_resource: XRAY_REASON,
            exports: EXPORT_OBJECTS_REASON
            + " The API reads manifests and presigns links there, and erasure rewrites the days it touched.",
            secrets: SOURCE_SECRETS_REASON.format(prefix=stack.settings.parameter_prefix),
            inbound_mail: INBOUND_MAIL_REASON.removesuffix("the function reads the one it is invoked for.")
            + "an erasure deletes those its customer's feedback items name.",
        },
        ANALYZE: {any_resource: COMPREHEND_REASON},
        NIGHTLY_EXPORT: {
            any_resource: XRAY_REASON,
            exports: EXPORT_OBJECTS_REASON,
            export_parts: EXPORT_PARTS_REASON,
        },
        BEARER: {any_resource: XRAY_REASON},
        FAN_OUT_WEBHOOKS: {any_resource: XRAY_REASON, slack_urls: slack_reason},
        DELIVER_WEBHOOKS: {
            any_resource: XRAY_REASON,
            signing_secrets: SIGNING_SECRETS_REASON.format(prefix=stack.settings.parameter_prefix),
        },
        RECEIVE_EMAIL: {any_resource: XRAY_REASON, inbound_mail: INBOUND_MAIL_REASON},
        ON_DEPLOY: {any_resource: XRAY_REASON},
        # The scheduled pull reads the pull sources' platform credentials (keys, refresh tokens) there.
        PULL_REVIEWS: {
            any_resource: XRAY_REASON,
            secrets: SOURCE_SECRETS_REASON.format(prefix=stack.settings.parameter_prefix),
        },
        EVALUATE_ALERTS: {any_resource: XRAY_REASON, slack_urls: slack_reason},
        SYNC_CRM: {
            any_resource: XRAY_REASON,
            crm_secrets: CRM_SECRETS_REASON.format(prefix=stack.settings.parameter_prefix),
        },
    }
    assert set(reasons) == set(FUNCTIONS)
    if stack.settings.create_api_gateway_logs_role:
        cdk.Validations.of(stack.node.find_child("ApiGatewayLogsRole")).acknowledge(
            cdk.Acknowledgment(
                id=_finding(
                    "IAM4",
                    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                ),
                reason=API_LOGS_ROLE_REASON,
            )
        )
    for function, findings in reasons.items():
        for finding, reason in findings.items():
            cdk.Validations.of(stack.roles[function]).acknowledge(
                cdk.Acknowledgment(id=finding, reason=reason)
            )
