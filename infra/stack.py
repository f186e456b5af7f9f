"""The whole product as one CloudFormation stack per Chalice stage (`feedback-collector-<stage>`).

The Chalice app is included through `chalice.cdk.Chalice`, which runs `chalice package` (an AWS SAM
template plus deployment.zip, built in-process: no Chalice or CDK CLI needed) and imports the template with
`cloudformation_include`. Everything Chalice does not model is created here, and the generated resources are
adjusted through `get_resource(...)` overrides:

- every function runs with its own least-privilege role (infra/permissions.py) and logs to a log group
  created here with a retention;
- the analyze function's SQS event source points at the queue created here (by ARN, whatever
  INGEST_QUEUE_NAME app.py saw at import time) and reports partial batch failures
  (`FunctionResponseTypes: [ReportBatchItemFailures]`, which Chalice does not set);
- the REST API gets gateway responses in the product's JSON error shape (infra/gateway.py), a name per
  stage, stage throttling and tracing.

Note on the generated template: `chalice package` emits AWS SAM (`AWS::Serverless::Function` with an
`Events` map), so the SQS event source is the function's `Events.AnalyzeSqsEventSource`, which the
`AWS::Serverless-2016-10-31` transform turns into an `AWS::Lambda::EventSourceMapping` at deploy time
(tests/test_infra.py runs that transform offline and checks the mapping it produces).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_athena as athena
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_wafv2 as wafv2
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.local.provision import MAX_RECEIVE_COUNT
from chalicelib.observability import SERVICE
from chalicelib.store import schema
from infra import athena as athena_ddl
from infra import gateway, package, permissions, regions, runtime
from infra.permissions import ANALYZE, API_HANDLER, BEARER, FUNCTIONS, NIGHTLY_EXPORT

REPO_ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"

APP_NAME = "feedback-collector"
METRICS_NAMESPACE = "FeedbackCollector"  # chalicelib/observability.py
EXPORT_COMPLETED_METRIC = "ExportCompleted"  # chalicelib/export/day.py emits 1 per finished export
EXPORT_ALARM_HOURS = 26  # the nightly run is 24 h apart; 2 h of slack
DLQ_RETENTION = cdk.Duration.days(14)
# As long as the DLQ: an analysis outage (or a pause, `cli analysis pause`) of up to two weeks loses nothing.
QUEUE_RETENTION = cdk.Duration.days(14)
# The event `chalice package` names for `@app.on_sqs_message` on `analyze`.
SQS_EVENT_SOURCE = "AnalyzeSqsEventSource"
EXPORTS_PREFIX = permissions.EXPORTS_PREFIX
ATHENA_RESULTS_PREFIX = "athena-results/"
ATHENA_BYTES_SCANNED_CUTOFF = 10 * 1024**3  # per query: a cost guard (10 GiB ≈ $0.05 at $5/TB)
NONCURRENT_EXPORT_DAYS = 7  # overwritten export files (re-runs, erasure rewrites) are kept this long
API_THROTTLE_RATE = 100  # requests per second for the whole stage
API_THROTTLE_BURST = 200
DEFAULT_WAF_RATE_LIMIT = 300  # form submissions per client IP per 5 minutes
DEFAULT_REGION = "us-east-1"  # an offline synth without credentials or context
DEFAULT_MONTHLY_BUDGET_USD = 100
DEFAULT_MAX_ITEMS_PER_HOUR = 10_000
ITEMS_STORED_METRIC = "FeedbackStored"  # chalicelib/ingest/processing.py, per analyzed batch
# Cost Explorer's service names for everything the stack runs on (Comprehend is most of the bill).
BUDGET_SERVICES = (
    "Amazon Comprehend",
    "AWS Lambda",
    "Amazon DynamoDB",
    "Amazon API Gateway",
    "Amazon Simple Queue Service",
    "Amazon Simple Storage Service",
    "AWS WAF",
    "AWS X-Ray",
    "AmazonCloudWatch",
    "Amazon Athena",
)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _environment_region() -> str:
    for name in ("CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_REGION


def _logs_role_choice(value: Any) -> bool:
    choice = str(value or "create").strip().lower()
    if choice not in {"create", "existing"}:
        raise ValueError(f"api_gateway_logs_role must be create or existing, got {value!r}")
    return choice == "create"


def chalice_config() -> dict[str, Any]:
    return json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class StageSettings:
    """What can differ between deployments, from CDK context (`-c key=value`):

    stage                    a stage of .chalice/config.json (dev, prod); default dev
    waf                      attach the web ACL; default true in prod, false elsewhere
    waf_rate_limit           form submissions per IP per 5 minutes before 429; default 300 (min 10)
    alarm_email              subscribe this address to the alarm topic (confirm the e-mail AWS sends)
    retain_data              keep table and export bucket when the stack is deleted; default true in prod
    log_retention_days       Lambda log retention; default 90 in prod, 14 elsewhere
    analyze_max_concurrency  concurrent analyze invocations (SQS ScalingConfig), keeps Comprehend calls
                             under its default throughput quota; default 5 (min 2)
    pandas_layer_arn         the AWS SDK for pandas layer for nightly_export; default: the ARN its
                             publishers keep in an SSM public parameter of the deploy region
                             (infra/runtime.py), resolved by CloudFormation at deploy time
    region                   the region deployed to; default CDK_DEFAULT_REGION (the CDK CLI sets it
                             from your credentials), AWS_REGION or AWS_DEFAULT_REGION
    comprehend_region        where Amazon Comprehend is called when the deploy region has none (e.g.
                             eu-central-1 for eu-south-1); without it the synth refuses such a region
    monthly_budget_usd       an AWS Budget over the services the stack uses, alerting the alarm topic
                             at 80% of actual and 100% of forecast spend; default 100, 0 turns it off
    max_items_per_hour       alarm when more items than this are stored in an hour (spam, a runaway
                             sender; `cli analysis pause` stops the bill, nothing is lost); default 10000
    api_gateway_logs_role    API Gateway writes access logs with one account-wide role per region:
                             `create` (default) sets it up; `existing` when the account already has one
                             (its API Gateway settings show a CloudWatch log role ARN)
    """

    stage: str = "dev"
    waf: bool = False
    waf_rate_limit: int = DEFAULT_WAF_RATE_LIMIT
    alarm_email: str | None = None
    retain_data: bool = False
    log_retention_days: int = 14
    analyze_max_concurrency: int = 5
    pandas_layer_arn: str | None = None
    region: str = DEFAULT_REGION
    comprehend_region: str | None = None
    monthly_budget_usd: int = DEFAULT_MONTHLY_BUDGET_USD
    max_items_per_hour: int = DEFAULT_MAX_ITEMS_PER_HOUR
    create_api_gateway_logs_role: bool = True

    @classmethod
    def from_context(cls, get: Any) -> StageSettings:
        """Settings from a context getter (`node.try_get_context` or `dict.get`)."""
        stage = str(get("stage") or "dev")
        stages = chalice_config().get("stages", {})
        if stage not in stages:
            raise ValueError(f"unknown stage {stage!r}: .chalice/config.json has {', '.join(sorted(stages))}")
        prod = stage == "prod"
        settings = cls(
            stage=stage,
            waf=_flag(get("waf"), default=prod),
            waf_rate_limit=int(get("waf_rate_limit") or DEFAULT_WAF_RATE_LIMIT),
            alarm_email=get("alarm_email") or None,
            retain_data=_flag(get("retain_data"), default=prod),
            log_retention_days=int(get("log_retention_days") or (90 if prod else 14)),
            analyze_max_concurrency=int(get("analyze_max_concurrency") or 5),
            pandas_layer_arn=get("pandas_layer_arn") or None,
            region=str(get("region") or _environment_region()),
            comprehend_region=get("comprehend_region") or None,
            monthly_budget_usd=int(get("monthly_budget_usd") or DEFAULT_MONTHLY_BUDGET_USD),
            max_items_per_hour=int(get("max_items_per_hour") or DEFAULT_MAX_ITEMS_PER_HOUR),
            create_api_gateway_logs_role=_logs_role_choice(get("api_gateway_logs_role")),
        )
        regions.check_comprehend(settings.region, settings.comprehend_region)
        if settings.waf_rate_limit < 10:
            raise ValueError("waf_rate_limit must be at least 10 (the WAF minimum)")
        if settings.analyze_max_concurrency < 2:
            raise ValueError("analyze_max_concurrency must be at least 2 (the SQS event source minimum)")
        return settings

    @property
    def stack_name(self) -> str:
        return f"{APP_NAME}-{self.stage}"

    @property
    def queue_name(self) -> str:
        return f"feedback-ingest-{self.stage}"

    @property
    def parameter_prefix(self) -> str:
        return f"/feedback/{self.stage}"

    @property
    def chalice_stage(self) -> dict[str, Any]:
        return chalice_config()["stages"][self.stage]

    def function_timeout(self, function: str) -> int:
        stage = self.chalice_stage
        own = stage.get("lambda_functions", {}).get(function, {})
        return int(own.get("lambda_timeout", stage.get("lambda_timeout", 60)))


class FeedbackStack(cdk.Stack):
    """Table, queues, bucket, Glue/Athena, the Chalice app with its roles, WAF, alarms and outputs."""

    def __init__(self, scope: Construct, settings: StageSettings, **kwargs: Any) -> None:
        # The construct id is the stage: chalice.cdk.Chalice packages the stage named by its scope.
        super().__init__(
            scope,
            settings.stage,
            stack_name=settings.stack_name,
            description=f"Customer-feedback collector ({settings.stage}): API, queue, analysis, exports",
            env=cdk.Environment(region=settings.region),
            # Kept data stays kept: deleting the prod stack needs termination protection lifted first.
            termination_protection=settings.retain_data,
            **kwargs,
        )
        self.settings = settings
        stage = settings.stage
        # Kept on delete and on replacement, but removed when the stack's first create rolls back: the table
        # and buckets have fixed names, so a retained leftover of a failed first deploy would make every
        # retry fail with "already exists" (CloudFormation's RetainExceptOnCreate).
        data_removal = (
            cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            if settings.retain_data
            else cdk.RemovalPolicy.DESTROY
        )

        self.table = self._table(stage, data_removal)
        self.dead_letter_queue, self.queue = self._queues()
        self.bucket = self._buckets(data_removal)
        self.log_groups = {
            function: logs.LogGroup(
                self,
                f"{function}Logs",
                log_group_name=f"/aws/lambda/{settings.stack_name}/{function}",
                retention=_retention(settings.log_retention_days),
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )
            for function in FUNCTIONS
        }
        targets = permissions.Targets(
            table_arn=self.table.table_arn,
            queue_arn=self.queue.queue_arn,
            bucket_arn=self.bucket.bucket_arn,
            source_secrets_arn=self.format_arn(
                service="ssm",
                resource="parameter",
                resource_name=f"{settings.parameter_prefix.lstrip('/')}/sources/*",
            ),
            # The function `chalice package` generates for app.nightly_export (created below, by that name).
            export_function_arn=cdk.Fn.get_att(NIGHTLY_EXPORT, "Arn").to_string(),
        )
        self.roles = {
            function: iam.Role(
                self,
                f"{function}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"{APP_NAME} {stage}: the {function} function",
                inline_policies={
                    "least-privilege": iam.PolicyDocument(
                        statements=permissions.POLICIES[function](
                            targets, self.log_groups[function].log_group_arn
                        )
                    )
                },
            )
            for function in FUNCTIONS
        }
        self.chalice = self._chalice_app()
        self.rest_api = self.chalice.get_resource("RestAPI")
        host = f"{self.rest_api.ref}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
        self.api_url = f"https://{host}/{self._api_stage}/"
        self.api_access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            log_group_name=f"/aws/apigateway/{settings.stack_name}/access",
            retention=_retention(settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        if settings.create_api_gateway_logs_role:
            # The stage can log only once the region's API Gateway account settings name a role.
            self.rest_api.add_resource_dependency(self._api_gateway_logs_role())
        self._adjust_api()
        self.glue_database, self.glue_table, self.workgroup = self._analytics()
        self.web_acl = self._waf() if settings.waf else None
        self.alarm_topic = self._alarms()
        self.stack_parameter = ssm.StringParameter(
            self,
            "StackParameter",
            parameter_name=f"{settings.parameter_prefix}/stack",
            description="Resource names of this stage (same shape as the local stack's; not a secret)",
            string_value=self.to_json_string(
                {
                    "table": self.table.table_name,
                    "queue_url": self.queue.queue_url,
                    "dlq_url": self.dead_letter_queue.queue_url,
                    "bucket": self.bucket.bucket_name,
                    "api_url": self.api_url,
                }
            ),
        )
        self._outputs()
        self._acknowledge_findings()

    # --- data -----------------------------------------------------------------------------------------

    def _table(self, stage: str, removal: cdk.RemovalPolicy) -> dynamodb.Table:
        """The single table, keys and indexes from chalicelib/store/schema.py."""
        dynamo_types = {
            "S": dynamodb.AttributeType.STRING,
            "N": dynamodb.AttributeType.NUMBER,
            "B": dynamodb.AttributeType.BINARY,
        }
        types = {a["AttributeName"]: dynamo_types[a["AttributeType"]] for a in schema.ATTRIBUTE_DEFINITIONS}

        def key(element: dict[str, str]) -> dynamodb.Attribute:
            return dynamodb.Attribute(name=element["AttributeName"], type=types[element["AttributeName"]])

        def keys(key_schema: list[dict[str, str]]) -> dict[str, dynamodb.Attribute]:
            return {
                "partition_key" if element["KeyType"] == "HASH" else "sort_key": key(element)
                for element in key_schema
            }

        table = dynamodb.Table(
            self,
            "Table",
            table_name=f"feedback-{stage}",
            **keys(schema.KEY_SCHEMA),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The AWS-managed key (aws/dynamodb): encrypted at rest with use visible in CloudTrail, no key
            # to pay for or administer, and no kms statement in the function roles.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            # No DeletionProtectionEnabled: it would also stop a failed first create from removing the table
            # (the rollback's DeleteTable is refused). The retention policy and the stack's termination
            # protection keep it instead.
            removal_policy=removal,
        )
        for index in schema.GLOBAL_SECONDARY_INDEXES:
            table.add_global_secondary_index(
                index_name=index["IndexName"],
                **keys(index["KeySchema"]),
                projection_type=dynamodb.ProjectionType(index["Projection"]["ProjectionType"]),
            )
        return table

    def _queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{self.settings.queue_name}-dlq",
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        queue = sqs.Queue(
            self,
            "IngestQueue",
            queue_name=self.settings.queue_name,
            retention_period=QUEUE_RETENTION,
            # AWS's guidance for an SQS event source: at least six times the function timeout.
            visibility_timeout=cdk.Duration.seconds(6 * self.settings.function_timeout("analyze")),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=dead_letter_queue
            ),
        )
        return dead_letter_queue, queue

    def _buckets(self, removal: cdk.RemovalPolicy) -> s3.Bucket:
        common: dict[str, Any] = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        }
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=removal,
            **common,
        )
        return s3.Bucket(
            self,
            "ExportBucket",
            # Globally unique without a random suffix: the stage, the account and the region.
            bucket_name=cdk.Fn.sub(
                f"feedback-exports-{self.settings.stage}-${{AWS::AccountId}}-${{AWS::Region}}"
            ),
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="export-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="exports-to-infrequent-access",
                    prefix=EXPORTS_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(90),
                        )
                    ],
                ),
                # Re-running a day or erasing a customer overwrites export files; the old versions (which
                # may still hold an erased customer) are gone NONCURRENT_EXPORT_DAYS later.
                s3.LifecycleRule(
                    id="expire-overwritten-versions",
                    noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_EXPORT_DAYS),
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="expire-athena-results",
                    prefix=ATHENA_RESULTS_PREFIX,
                    expiration=cdk.Duration.days(30),
                ),
            ],
            removal_policy=removal,
            **common,
        )

    # --- the Chalice app --------------------------------------------------------------------------------

    @property
    def _api_stage(self) -> str:
        return str(self.settings.chalice_stage.get("api_gateway_stage", "api"))

    def _chalice_app(self) -> Chalice:
        settings = self.settings
        environment = {
            "STAGE": settings.stage,
            "TABLE_NAME": self.table.table_name,
            "EXPORT_BUCKET": self.bucket.bucket_name,
            # A plain string, not a token: `chalice package` puts the stage's variables into os.environ
            # before importing app.py, whose @app.on_sqs_message(queue=INGEST_QUEUE_NAME) reads it then.
            "INGEST_QUEUE_NAME": settings.queue_name,
            "INGEST_QUEUE_URL": self.queue.queue_url,
            "PARAMETER_PREFIX": settings.parameter_prefix,
        }
        if settings.comprehend_region and settings.comprehend_region != settings.region:
            # chalicelib/aws.py calls Comprehend there (infra/regions.py: the deploy region has none).
            environment["COMPREHEND_REGION"] = settings.comprehend_region
        with _environment_restored(), tempfile.TemporaryDirectory(prefix="lambda-package-") as workdir:
            # The app with its locked dependencies built for the target runtime (infra/package.py).
            app = Chalice(
                self,
                "App",
                source_dir=str(package.staged_project(Path(workdir))),
                stage_config={
                    "environment_variables": environment,
                    # The roles are created above; each function's Role is set below.
                    "manage_iam_role": False,
                    "iam_role_arn": self.roles[API_HANDLER].role_arn,
                    "lambda_architecture": runtime.LAMBDA_ARCHITECTURE,
                },
            )
        if app.stage_name != settings.stage:
            raise RuntimeError(f"Chalice packaged stage {app.stage_name!r}, expected {settings.stage!r}")
        for function in FUNCTIONS:
            resource = app.get_resource(function)
            # Chalice names the runtime of the interpreter running it; the package is built for this one.
            resource.add_property_override("Runtime", runtime.LAMBDA_RUNTIME)
            resource.add_property_override("Role", self.roles[function].role_arn)
            resource.add_property_override(
                "LoggingConfig", {"LogGroup": self.log_groups[function].log_group_name}
            )

        analyze = app.get_resource(ANALYZE)
        # (tests/test_infra.py transforms the template and fails if this event is not Chalice's.)
        event = f"Events.{SQS_EVENT_SOURCE}.Properties"
        # By ARN: the deployed queue, whatever INGEST_QUEUE_NAME app.py read when it was imported.
        analyze.add_property_override(f"{event}.Queue", self.queue.queue_arn)
        # processing.handle_sqs_batch returns batchItemFailures; without this Lambda ignores them and
        # retries (or deletes) whole batches.
        analyze.add_property_override(f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
        analyze.add_property_override(
            f"{event}.ScalingConfig", {"MaximumConcurrency": settings.analyze_max_concurrency}
        )
        # The layer ARN differs per region (account and version too): CloudFormation reads it from the SSM
        # public parameter of the region it deploys to, unless the deployer names one.
        layer_arn = settings.pandas_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self, runtime.pandas_layer_parameter()
        )
        app.get_resource(NIGHTLY_EXPORT).add_property_override("Layers", [layer_arn])
        # An erasure (DELETE /customers/{id}) invokes the export function to rewrite export days; only the
        # API function gets its name (chalicelib/config.py EXPORT_FUNCTION_NAME).
        app.get_resource(API_HANDLER).add_property_override(
            "Environment.Variables.EXPORT_FUNCTION_NAME", app.get_resource(NIGHTLY_EXPORT).ref
        )
        return app

    def _api_gateway_logs_role(self) -> apigateway.CfnAccount:
        """The region's API Gateway account settings with a role that may write to CloudWatch Logs (one per
        account and region: `-c api_gateway_logs_role=existing` where one is already set)."""
        role = iam.Role(
            self,
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
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return account

    def _adjust_api(self) -> None:
        api = self.rest_api
        name = self.settings.stack_name
        # One name per stage, so the API's metrics (ApiName dimension) are this stage's alone.
        api.add_property_override("Name", name)
        api.add_property_override("DefinitionBody.info.title", name)
        api.add_property_override(
            "DefinitionBody.x-amazon-apigateway-gateway-responses", gateway.openapi_gateway_responses()
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
        self.chalice.get_resource("APIHandlerInvokePermission").add_property_override(
            "SourceArn", cdk.Fn.sub(f"{api_arn}/{self._api_stage}/*")
        )
        # The authorizer is invoked as one (…/authorizers/<id>), whatever the stage.
        self.chalice.get_resource(f"{BEARER}InvokePermission").add_property_override(
            "SourceArn", cdk.Fn.sub(f"{api_arn}/authorizers/*")
        )
        api.add_property_override(
            "AccessLogSetting",
            {"DestinationArn": self.api_access_logs.log_group_arn, "Format": gateway.ACCESS_LOG_FORMAT},
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

    # --- Glue / Athena ------------------------------------------------------------------------------------

    def _analytics(self) -> tuple[glue.CfnDatabase, glue.CfnTable, athena.CfnWorkGroup]:
        stage = self.settings.stage
        database_name = f"feedback_{stage}"
        database = glue.CfnDatabase(
            self,
            "GlueDatabase",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name, description=f"Customer feedback exports ({stage})"
            ),
        )
        definition = athena_ddl.load().render(bucket=self.bucket.bucket_name)

        def columns(pairs: tuple[tuple[str, str], ...]) -> list[glue.CfnTable.ColumnProperty]:
            return [glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in pairs]

        storage = definition.storage
        table = glue.CfnTable(
            self,
            "GlueTable",
            catalog_id=self.account,
            database_name=database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=definition.name,
                description=definition.comment,
                table_type="EXTERNAL_TABLE",
                parameters={"EXTERNAL": "TRUE", **definition.properties},
                partition_keys=columns(definition.partition_keys),
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=columns(definition.columns),
                    location=definition.location,
                    input_format=storage["input_format"],
                    output_format=storage["output_format"],
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=storage["serde"], parameters={"serialization.format": "1"}
                    ),
                ),
            ),
        )
        table.node.add_dependency(database)
        workgroup = athena.CfnWorkGroup(
            self,
            "AthenaWorkGroup",
            name=f"feedback-{stage}",
            description="Queries over the nightly Parquet exports",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=ATHENA_BYTES_SCANNED_CUTOFF,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        return database, table, workgroup

    # --- WAF ------------------------------------------------------------------------------------------------

    def _waf(self) -> wafv2.CfnWebACL:
        acl = gateway.form_rate_limit_acl(
            self,
            "WebAcl",
            name=f"{self.settings.stack_name}-api",
            limit=self.settings.waf_rate_limit,
            api_stage=self._api_stage,
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            # `${RestAPI.Stage}` is the SAM reference to the stage the transform generates: it resolves to a
            # Ref of that stage, so CloudFormation associates the ACL only once the stage exists.
            resource_arn=cdk.Fn.sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/${RestAPI.Stage}"
            ),
            web_acl_arn=acl.attr_arn,
        )
        return acl

    # --- alarms ---------------------------------------------------------------------------------------------

    def _alarms(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{self.settings.stack_name}-alarms",
            display_name=f"{APP_NAME} {self.settings.stage} alarms",
            enforce_ssl=True,
        )
        if self.settings.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self.settings.alarm_email))
        action = cloudwatch_actions.SnsAction(topic)
        five_minutes = cdk.Duration.minutes(5)

        def alarm(
            construct_id: str,
            description: str,
            metric: cloudwatch.Metric,
            *,
            threshold: float = 0,
            comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods: int = 1,
            missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=f"{self.settings.stack_name}-{construct_id}",
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                comparison_operator=comparison,
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=evaluation_periods,
                treat_missing_data=missing,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            return created

        alarm(
            "DeadLetterQueueNotEmpty",
            "Deliveries failed 5 times and wait in the DLQ: inspect, fix, then replay them.",
            self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=five_minutes, statistic="Maximum"
            ),
        )
        alarm(
            "IngestBacklog",
            "The oldest queued delivery is over 15 minutes old: analysis is falling behind or failing.",
            self.queue.metric_approximate_age_of_oldest_message(period=five_minutes, statistic="Maximum"),
            threshold=15 * 60,
        )
        for function in FUNCTIONS:
            dimensions = {"FunctionName": self.chalice.get_resource(function).ref}
            for metric_name, what in (("Errors", "failed"), ("Throttles", "was throttled")):
                alarm(
                    f"{function}{metric_name}",
                    f"The {function} function {what} in the last 5 minutes.",
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name=metric_name,
                        dimensions_map=dimensions,
                        statistic="Sum",
                        period=five_minutes,
                    ),
                )
        alarm(
            "Api5xx",
            "The API answered with 5xx (queue refused, authorizer failed or an unexpected error).",
            cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map={"ApiName": self.settings.stack_name, "Stage": self._api_stage},
                statistic="Sum",
                period=five_minutes,
            ),
        )
        alarm(
            "ItemsStoredPerHour",
            f"More than {self.settings.max_items_per_hour} feedback items were stored in the last hour (spam "
            "or a runaway sender?). Comprehend bills every one: `cli analysis pause` stops analysis, items "
            "wait in the queue (14 days), `cli analysis resume` continues.",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=ITEMS_STORED_METRIC,
                dimensions_map={"service": SERVICE, "stage": self.settings.stage},
                statistic="Sum",
                period=cdk.Duration.hours(1),
            ),
            threshold=self.settings.max_items_per_hour,
        )
        if self.settings.monthly_budget_usd > 0:
            self._budget(topic)
        # One datapoint per hour; an hour without an export is missing data, counted as breaching, so the
        # alarm fires when no export completed in the last EXPORT_ALARM_HOURS hours (and right after the
        # first deploy until the first export has run).
        alarm(
            "ExportNotRun",
            f"No nightly export completed in the last {EXPORT_ALARM_HOURS} hours.",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=EXPORT_COMPLETED_METRIC,
                # chalicelib/observability.py: every metric carries `service` and `stage`.
                dimensions_map={"service": SERVICE, "stage": self.settings.stage},
                statistic="Sum",
                period=cdk.Duration.hours(1),
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=EXPORT_ALARM_HOURS,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        return topic

    def _budget(self, topic: sns.Topic) -> budgets.CfnBudget:
        """A monthly cost budget over the services this stack runs on, alerting the alarm topic."""
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsPublish",
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)]

        def notification(kind: str, percent: int) -> budgets.CfnBudget.NotificationWithSubscribersProperty:
            return budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=subscribers,
            )

        return budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{self.settings.stack_name}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(
                    amount=self.settings.monthly_budget_usd, unit="USD"
                ),
                # The account's spend on what this product uses (Budgets filters by service name, so another
                # stack on the same services in the account counts too: the README says so).
                cost_filters={"Service": list(BUDGET_SERVICES)},
            ),
            notifications_with_subscribers=[notification("ACTUAL", 80), notification("FORECASTED", 100)],
        )

    # --- outputs ------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        from infra.outputs import OUTPUTS

        values = {
            "ApiUrl": self.api_url,
            "Stage": self.settings.stage,
            "TableName": self.table.table_name,
            "ExportBucketName": self.bucket.bucket_name,
            "IngestQueueName": self.queue.queue_name,
            "IngestQueueUrl": self.queue.queue_url,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
            "ParameterPrefix": self.settings.parameter_prefix,
            "GlueDatabaseName": f"feedback_{self.settings.stage}",
            "AthenaWorkGroupName": self.workgroup.ref,
            "AlarmTopicArn": self.alarm_topic.topic_arn,
            "NightlyExportFunctionName": self.chalice.get_resource(NIGHTLY_EXPORT).ref,
            "AnalyzeFunctionName": self.chalice.get_resource(ANALYZE).ref,
            "Region": self.settings.region,
            "ComprehendRegion": self.settings.comprehend_region or self.settings.region,
        }
        for key, (description, _) in OUTPUTS.items():
            cdk.CfnOutput(self, key, value=values[key], description=description)

    # --- cdk-nag ------------------------------------------------------------------------------------------

    def _acknowledge_findings(self) -> None:
        from infra.nag import acknowledge_findings

        acknowledge_findings(self)


LOG_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


@contextlib.contextmanager
def _environment_restored() -> Iterator[None]:
    """Undo what `chalice package` does to os.environ (it loads the stage's variables to import app.py)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention for `days` (one of LOG_RETENTION's keys)."""
    if days not in LOG_RETENTION:
        raise ValueError(f"log_retention_days must be one of {', '.join(map(str, LOG_RETENTION))}")
    return LOG_RETENTION[days]
