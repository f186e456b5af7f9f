"""The whole product as one CloudFormation stack per Chalice stage (`feedback-collector-<stage>`).

The Chalice app is included through `chalice.cdk.Chalice`, which runs `chalice package` (an AWS SAM
template plus deployment.zip, built in-process: no Chalice or CDK CLI needed) and imports the template with
`cloudformation_include`. Everything Chalice does not model is created here or by the builders this stack
calls, and the generated resources are adjusted through `get_resource(...)` overrides:

- what the stack may be told (stage, WAF, budget, regions …) is read and checked in infra/settings.py;
- the table, the queues, the buckets and the Glue/Athena catalogue come from infra/storage.py;
- every function runs with its own least-privilege role (POLICIES below: infra/permissions.py and the rooms'
  modules) and logs to a log group
  created here with a retention;
- the analyze function's SQS event source points at the queue created here (by ARN, whatever
  INGEST_QUEUE_NAME app.py saw at import time) and reports partial batch failures
  (`FunctionResponseTypes: [ReportBatchItemFailures]`, which Chalice does not set);
- the REST API gets gateway responses in the product's JSON error shape, a name per stage, stage
  throttling, tracing and access logs, and the WAF when enabled (infra/gateway.py);
- the alarms, their topic and the cost budget come from infra/monitoring.py; the outputs are those
  infra/outputs.py names, and the cdk-nag acknowledgments are infra/nag.py's.

Note on the generated template: `chalice package` emits AWS SAM (`AWS::Serverless::Function` with an
`Events` map), so the SQS event source is the function's `Events.AnalyzeSqsEventSource`, which the
`AWS::Serverless-2016-10-31` transform turns into an `AWS::Lambda::EventSourceMapping` at deploy time
(tests/test_infra.py runs that transform offline and checks the mapping it produces).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from chalice.cdk import Chalice
from constructs import Construct

from infra import (
    alerts,
    crm,
    gateway,
    mail_receiving,
    monitoring,
    outbound,
    package,
    permissions,
    pull,
    runtime,
    storage,
)
from infra.nag import acknowledge_findings
from infra.outputs import OUTPUTS
from infra.permissions import ANALYZE, API_HANDLER, FUNCTIONS, NIGHTLY_EXPORT, ON_DEPLOY, RECEIVE_EMAIL
from infra.settings import APP_NAME, StageSettings

# The event `chalice package` names for `@app.on_sqs_message` on `analyze`.
SQS_EVENT_SOURCE = "AnalyzeSqsEventSource"
# Each function's least-privilege policy: the shared functions' in infra/permissions.py, a room's beside the
# room's other infra.
POLICIES: dict[str, Callable[[permissions.Targets, str], list[iam.PolicyStatement]]] = {
    API_HANDLER: permissions.api_handler,
    ANALYZE: permissions.analyze,
    NIGHTLY_EXPORT: permissions.nightly_export,
    permissions.BEARER: gateway.bearer_policy,
    permissions.FAN_OUT_WEBHOOKS: outbound.fan_out_policy,
    permissions.DELIVER_WEBHOOKS: outbound.deliver_policy,
    RECEIVE_EMAIL: mail_receiving.receive_email_policy,
    ON_DEPLOY: permissions.on_deploy,
    permissions.PULL_REVIEWS: pull.pull_reviews_policy,
    permissions.EVALUATE_ALERTS: alerts.evaluate_alerts_policy,
    permissions.SYNC_CRM: crm.sync_crm_policy,
}


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

        # Constructs are created in this order on purpose: it is the order of the template's resources.
        self.table = storage.feedback_table(self, stage=stage, removal=data_removal)
        self.dead_letter_queue, self.queue = storage.ingest_queues(self, settings)
        self.access_logs_bucket, self.bucket = storage.export_buckets(
            self, stage=stage, removal=data_removal, export_retention_days=settings.export_retention_days
        )
        self.webhook_dead_letters, self.webhook_queue = outbound.webhook_queues(self, settings)
        self.alerts_topic = alerts.alerts_topic(self, settings)
        self.crm_dead_letters, self.crm_queue = crm.crm_queues(self, settings)
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
            source_secrets_arn=self._parameters_arn("sources"),
            # The function `chalice package` generates for app.nightly_export (created below, by that name).
            export_function_arn=cdk.Fn.get_att(NIGHTLY_EXPORT, "Arn").to_string(),
            bedrock_model=permissions.BedrockModel(
                model_id=settings.bedrock_model_id,
                region=settings.bedrock_source_region,
                account=self.account,
                partition=self.partition,
            )
            if settings.uses_bedrock
            else None,
            webhook_queue_arn=self.webhook_queue.queue_arn,
            table_stream_arn=self.table.table_stream_arn or "",
            subscription_secrets_arn=self._parameters_arn("subscriptions"),
            default_event_bus_arn=self.format_arn(
                service="events", resource="event-bus", resource_name="default"
            ),
            alert_secrets_arn=self._parameters_arn("alerts"),
            alerts_topic_arn=self.alerts_topic.topic_arn,
            crm_queue_arn=self.crm_queue.queue_arn,
            crm_secrets_arn=self._parameters_arn("crm"),
        )
        self.roles = {
            function: iam.Role(
                self,
                f"{function}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"{APP_NAME} {stage}: the {function} function",
                inline_policies={
                    "least-privilege": iam.PolicyDocument(
                        statements=POLICIES[function](targets, self.log_groups[function].log_group_arn)
                    )
                },
            )
            for function in FUNCTIONS
        }
        self.chalice = self._chalice_app()
        # Feedback by e-mail (README, E-mail): SES's receipt rule set, only when recipients are configured.
        self.mail = (
            mail_receiving.mail_receiving(
                self,
                settings,
                bucket=self.bucket,
                function=self.chalice.get_resource(RECEIVE_EMAIL),
                role=self.roles[RECEIVE_EMAIL],
            )
            if settings.email_recipients
            else None
        )
        iam.Policy(
            self,
            f"{NIGHTLY_EXPORT}Invocations",
            roles=[self.roles[NIGHTLY_EXPORT]],
            statements=permissions.nightly_export_invocations(targets),
        )
        self.rest_api = self.chalice.get_resource("RestAPI")
        host = f"{self.rest_api.ref}.execute-api.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
        self.api_url = f"https://{host}/{settings.api_stage}/"
        self.api_access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            log_group_name=f"/aws/apigateway/{settings.stack_name}/access",
            retention=_retention(settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        if settings.create_api_gateway_logs_role:
            # The stage can log only once the region's API Gateway account settings name a role.
            self.rest_api.add_resource_dependency(gateway.api_gateway_logs_role(self))
        gateway.adjust_api(
            self.chalice,
            name=settings.stack_name,
            api_stage=settings.api_stage,
            access_logs=self.api_access_logs,
        )
        self.glue_database, self.glue_table, self.workgroup = storage.query_catalog(
            self, stage=stage, bucket=self.bucket
        )
        self.web_acl = (
            gateway.web_acl(
                self,
                name=f"{settings.stack_name}-api",
                limit=settings.waf_rate_limit,
                api_stage=settings.api_stage,
            )
            if settings.waf
            else None
        )
        self.alarm_topic = monitoring.alarms(
            self, settings, dead_letter_queue=self.dead_letter_queue, queue=self.queue, app=self.chalice
        )
        outbound.alarms(self, settings, self.alarm_topic, self.webhook_dead_letters)
        crm.alarms(self, settings, self.alarm_topic, self.crm_dead_letters)
        if self.mail is not None:
            mail_receiving.alarms(self, settings, self.alarm_topic, self.mail.failures)
        # The counters' completeness mark from the day after the deploy (chalicelib/operations/deploy_hooks).
        cdk.CustomResource(
            self,
            "CountersCompleteMark",
            service_token=cdk.Fn.get_att(ON_DEPLOY, "Arn").to_string(),
            resource_type="Custom::CountersCompleteMark",
        )
        monitoring.export_step_failures(
            self, self.chalice.get_resource(NIGHTLY_EXPORT), targets.default_event_bus_arn
        )
        pull.alarms(self, settings, self.alarm_topic)
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
        acknowledge_findings(self)

    def _parameters_arn(self, folder: str) -> str:
        """The ARN of every SSM parameter under {PARAMETER_PREFIX}/<folder>/ (the secrets the CLI writes)."""
        prefix = self.settings.parameter_prefix.lstrip("/")
        return self.format_arn(service="ssm", resource="parameter", resource_name=f"{prefix}/{folder}/*")

    # --- the Chalice app --------------------------------------------------------------------------------

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
            # On every function, replacing .chalice/config.json's default, so none names another analyzer.
            "ANALYZER": settings.analyzer.value,
            # On every function, so none disagrees: analyze writes items with their expiry and profiles with
            # the stored_days an erasure (API function) reads to find the export days of expired items.
            "RETENTION_DAYS": str(settings.retention_days),
        }
        if settings.comprehend_region and settings.comprehend_region != settings.region:
            # chalicelib/aws.py calls Comprehend there (infra/regions.py: the deploy region has none).
            environment["COMPREHEND_REGION"] = settings.comprehend_region
        interpreter = bytecode_interpreter(self)
        with _environment_restored(), tempfile.TemporaryDirectory(prefix="lambda-package-") as workdir:
            # The app with its locked dependencies built for the target runtime (infra/package.py).
            app = Chalice(
                self,
                "App",
                source_dir=str(package.staged_project(Path(workdir), interpreter)),
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
        for name, value in _tagging_variables(settings).items():
            # Only the analyze function tags items and calls Bedrock (backfill --themes runs from the CLI).
            analyze.add_property_override(f"Environment.Variables.{name}", value)
        # The layer ARN differs per region (account and version too): CloudFormation reads it from the SSM
        # public parameter of the region it deploys to, unless the deployer names one.
        layer_arn = settings.pandas_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self, runtime.pandas_layer_parameter()
        )
        export_function = app.get_resource(NIGHTLY_EXPORT)
        export_function.add_property_override("Layers", [layer_arn])
        # Only the export function fans a busy day out (chalicelib/export/fanout.py).
        export_function.add_property_override(
            "Environment.Variables.EXPORT_FANOUT_ITEMS", str(settings.export_fanout_items)
        )
        outbound.wire_functions(app, self.table, self.webhook_queue, self.webhook_dead_letters)
        # Alerts link to the dashboard this stage serves (the API's own /dashboard).
        dashboard = cdk.Fn.join(
            "",
            [
                "https://",
                app.get_resource("RestAPI").ref,
                ".execute-api.",
                cdk.Aws.REGION,
                ".",
                cdk.Aws.URL_SUFFIX,
                f"/{settings.api_stage}/dashboard",
            ],
        )
        alerts.wire_functions(app, self.alerts_topic, self.webhook_queue, dashboard)
        crm.wire_function(app, self.crm_queue, self.crm_dead_letters)
        # An erasure (DELETE /customers/{id}) invokes the export function to rewrite export days; only the
        # API function gets its name (chalicelib/config.py EXPORT_FUNCTION_NAME).
        app.get_resource(API_HANDLER).add_property_override(
            "Environment.Variables.EXPORT_FUNCTION_NAME", app.get_resource(NIGHTLY_EXPORT).ref
        )
        return app

    # --- outputs ------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        values = {
            "ApiUrl": self.api_url,
            "Stage": self.settings.stage,
            "TableName": self.table.table_name,
            "ExportBucketName": self.bucket.bucket_name,
            "AccessLogsBucketName": self.access_logs_bucket.bucket_name,
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
            "Analyzer": self.settings.analyzer.value,
            "ThemeTagger": self.settings.theme_tagger.value,
            "BedrockModelId": self.settings.bedrock_model_id,
            "BedrockRegion": self.settings.bedrock_source_region,
            "RetentionDays": str(self.settings.retention_days),
        }
        for key, (description, _) in OUTPUTS.items():
            cdk.CfnOutput(self, key, value=values[key], description=description)


def bytecode_interpreter(scope: Construct) -> Path | None:
    """The interpreter that compiles the package's bytecode for the runtime's Python (infra/package.py);
    without one the synth warns, and the package ships sources that every cold start compiles."""
    interpreter = package.lambda_interpreter()
    if interpreter is None:
        cdk.Annotations.of(scope).add_warning_v2("feedback:no-bytecode", package.NO_BYTECODE_WARNING)
    return interpreter


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


def _tagging_variables(settings: StageSettings) -> dict[str, str]:
    """The analyze function's THEME_TAGGER, and the Bedrock model and region when a backend uses Bedrock."""
    variables = {"THEME_TAGGER": settings.theme_tagger.value}
    if settings.uses_bedrock:
        variables["BEDROCK_MODEL_ID"] = settings.bedrock_model_id
        if settings.bedrock_source_region != settings.region:
            # chalicelib/aws.py calls Bedrock there (infra/regions.py: the deploy region has none).
            variables["BEDROCK_REGION"] = settings.bedrock_source_region
    return variables


def _retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention for `days` (one of LOG_RETENTION's keys)."""
    if days not in LOG_RETENTION:
        raise ValueError(f"log_retention_days must be one of {', '.join(map(str, LOG_RETENTION))}")
    return LOG_RETENTION[days]
