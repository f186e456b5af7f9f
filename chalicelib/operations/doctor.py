"""`cli doctor`: checks a deployed stage and says what is missing or broken, then the post-deploy checklist.

Every check reads only (one Comprehend DetectSentiment of a four-word text is the only billed call, about
$0.0001). The stage comes from the environment `eval "$(.venv/bin/python -m infra.outputs <stage>)"` sets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import utc_now
from chalicelib.operations import analysis_switch
from chalicelib.store.schema import TTL_ATTRIBUTE

EXPORT_FUNCTION_VARIABLE = "EXPORT_FUNCTION_NAME"
ALARM_TOPIC_VARIABLE = "ALARM_TOPIC_ARN"
DLQ_VARIABLE = "DLQ_URL"
# A new account's Lambda concurrency quota is as low as 10; analysis alone may use analyze_max_concurrency
# (5) and the API scales with traffic, so below this the API starts throttling (429) under load.
MIN_CONCURRENCY = 100

CHECKLIST = """After `make deploy`, in order:
  1. Confirm the alarm subscription: open the e-mail "AWS Notification - Subscription Confirmation"
     sent to the address given as -c alarm_email=…, or subscribe someone:
     aws sns subscribe --topic-arn "$ALARM_TOPIC_ARN" --protocol email --notification-endpoint ops@example.com
  2. Create a read token for the dashboard and BI tools:
     .venv/bin/python -m chalicelib.cli tokens create --scope read --name Dashboard
  3. Create a form (forms create …) and/or register webhook sources (sources add --type …), then paste each
     source URL and secret into its platform's console (README, "Channels").
  4. Run the first export so the ExportNotRun alarm clears (with the schedule's event: the handler
     refuses the empty one a bare `aws lambda invoke` sends):
     aws lambda invoke --function-name "$EXPORT_FUNCTION_NAME" --cli-binary-format raw-in-base64-out \\
       --payload file://infra/scheduled-event.json --cli-read-timeout 900 /dev/stdout
  5. New account? Ask for a Lambda concurrency quota of 1,000 (Service Quotas → AWS Lambda → Concurrent
     executions); the default of a new account can be as low as 10.
  6. Run `.venv/bin/python -m chalicelib.cli doctor` again until every line is OK."""


class Outcome(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    check: str
    outcome: Outcome
    detail: str


def _variable(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def check_comprehend() -> Finding:
    region = os.environ.get("COMPREHEND_REGION") or os.environ.get("AWS_REGION") or "the default region"
    try:
        aws.client("comprehend").detect_sentiment(Text="The doctor is in.", LanguageCode="en")
    except (BotoCoreError, ClientError) as error:
        return Finding("comprehend", Outcome.FAIL, f"Comprehend in {region} did not answer: {error}")
    return Finding("comprehend", Outcome.OK, f"Comprehend answers in {region}")


def check_alarm_subscription() -> Finding:
    topic = _variable(ALARM_TOPIC_VARIABLE)
    if topic is None:
        return Finding("alarms", Outcome.WARN, f"{ALARM_TOPIC_VARIABLE} is not set: cannot check the topic")
    subscriptions = aws.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    pending = [s for s in subscriptions if s["SubscriptionArn"] == "PendingConfirmation"]
    confirmed = len(subscriptions) - len(pending)
    if confirmed == 0:
        detail = (
            f"{len(pending)} subscription(s) await confirmation (checklist 1)"
            if pending
            else "nobody is subscribed to the alarm topic (checklist 1)"
        )
        return Finding("alarms", Outcome.FAIL, detail)
    if pending:
        return Finding("alarms", Outcome.WARN, f"{confirmed} confirmed, {len(pending)} awaiting confirmation")
    return Finding("alarms", Outcome.OK, f"{confirmed} confirmed subscription(s)")


def check_export_ran(today: date | None = None) -> Finding:
    """Yesterday's export (the nightly run at 02:15 UTC) or, before 03:00 UTC, the day before."""
    now = utc_now()
    today = today or now.date()
    lag = 1 if now.hour >= 3 or today != now.date() else 2
    day = today - timedelta(days=lag)
    key = f"exports/dt={day.isoformat()}/manifest.json"
    try:
        aws.client("s3").head_object(Bucket=settings().bucket_name, Key=key)
    except ClientError:
        return Finding("export", Outcome.FAIL, f"no export for {day} (s3://…/{key}); see checklist 4")
    return Finding("export", Outcome.OK, f"the export of {day} is there")


def check_export_layer() -> Finding:
    """The export function's layers are built for its runtime and architecture (else pyarrow cannot load)."""
    function = _variable(EXPORT_FUNCTION_VARIABLE)
    if function is None:
        return Finding(
            "layer", Outcome.WARN, f"{EXPORT_FUNCTION_VARIABLE} is not set: cannot check the layer"
        )
    lambda_client = aws.client("lambda")
    configuration = lambda_client.get_function_configuration(FunctionName=function)
    runtime = configuration["Runtime"]
    architecture = (configuration.get("Architectures") or ["x86_64"])[0]
    layers = configuration.get("Layers") or []
    if not layers:
        return Finding(
            "layer", Outcome.FAIL, f"{function} has no layer: the Parquet export cannot import pyarrow"
        )
    for layer in layers:
        name, number = layer["Arn"].rsplit(":", 1)  # arn:…:layer:<name>:<version>; the name may be an ARN
        version = lambda_client.get_layer_version(LayerName=name, VersionNumber=int(number))
        runtimes = version.get("CompatibleRuntimes") or []
        architectures = version.get("CompatibleArchitectures") or []
        if runtimes and runtime not in runtimes:
            return Finding(
                "layer", Outcome.FAIL, f"{layer['Arn']} is built for {', '.join(runtimes)}, not {runtime}"
            )
        if architectures and architecture not in architectures:
            return Finding(
                "layer",
                Outcome.FAIL,
                f"{layer['Arn']} is built for {', '.join(architectures)}, not {architecture}",
            )
    return Finding("layer", Outcome.OK, f"{len(layers)} layer(s) match {runtime} on {architecture}")


def check_dead_letter_queue() -> Finding:
    url = _variable(DLQ_VARIABLE)
    if url is None:
        # Unset (`make run`, a shell without the stage's outputs): the ingest queue's redrive policy names the
        # DLQ, as `cli dlq list` finds it.
        from chalicelib.ingest.queue import ingest_queue_url
        from chalicelib.operations.dlq import dlq_url_for

        try:
            url = dlq_url_for(ingest_queue_url())
        except (LookupError, BotoCoreError, ClientError):
            return Finding("dlq", Outcome.WARN, f"{DLQ_VARIABLE} is not set: cannot check the DLQ")
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    waiting = int(attributes.get("ApproximateNumberOfMessages", 0))
    if waiting:
        return Finding(
            "dlq", Outcome.FAIL, f"{waiting} delivery(ies) failed 5 times: cli dlq list, then replay"
        )
    return Finding("dlq", Outcome.OK, "the dead-letter queue is empty")


def check_analysis_running() -> Finding:
    try:
        state = analysis_switch.status()
    except analysis_switch.SwitchUnavailable as error:
        return Finding("analysis", Outcome.WARN, str(error))
    if state.paused:
        return Finding("analysis", Outcome.WARN, f"paused ({state.queued} queued): cli analysis resume")
    return Finding("analysis", Outcome.OK, f"running ({state.queued} queued)")


def check_retention() -> Finding:
    """The stage's retention (RETENTION_DAYS, from `-c retention_days`) against the table's TTL."""
    days = settings().retention_days
    description = aws.client("dynamodb").describe_time_to_live(TableName=settings().table_name)
    status = description["TimeToLiveDescription"].get("TimeToLiveStatus", "DISABLED")
    attribute = description["TimeToLiveDescription"].get("AttributeName")
    if status not in {"ENABLED", "ENABLING"} or attribute != TTL_ATTRIBUTE:
        detail = f"the table's TTL is {status} on {attribute or 'no attribute'}, not {TTL_ATTRIBUTE}"
        if days:
            return Finding("retention", Outcome.FAIL, f"{detail}: items kept {days} days never expire")
        return Finding("retention", Outcome.WARN, f"{detail} (the stack enables it: redeploy)")
    if days:
        return Finding("retention", Outcome.OK, f"items expire {days} days after they are stored")
    return Finding("retention", Outcome.OK, "items are kept forever (retention_days 0)")


def check_concurrency() -> Finding:
    limit = aws.client("lambda").get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    if limit < MIN_CONCURRENCY:
        return Finding("concurrency", Outcome.WARN, f"Lambda concurrency quota is {limit}; see checklist 5")
    return Finding("concurrency", Outcome.OK, f"Lambda concurrency quota is {limit}")


CHECKS: tuple[Callable[[], Finding], ...] = (
    check_comprehend,
    check_alarm_subscription,
    check_export_ran,
    check_export_layer,
    check_dead_letter_queue,
    check_analysis_running,
    check_retention,
    check_concurrency,
)


def run(checks: tuple[Callable[[], Finding], ...] = CHECKS) -> list[Finding]:
    """Every check's finding; a check that cannot run (no permission, no resource) fails, naming why."""
    findings = []
    for check in checks:
        name = check.__name__.removeprefix("check_")
        try:
            findings.append(check())
        except ClientError as error:
            if aws.not_offered(error):
                # The endpoint has no such API (the local stack): nothing is wrong, it cannot be checked here.
                findings.append(Finding(name, Outcome.WARN, f"cannot check: {aws.refusal(error)}"))
            else:
                findings.append(Finding(name, Outcome.FAIL, f"could not check: {aws.refusal(error)}"))
        except (BotoCoreError, KeyError) as error:
            findings.append(Finding(name, Outcome.FAIL, f"could not check: {error}"))
    return findings


def report(findings: list[Finding]) -> str:
    width = max(len(f.check) for f in findings)
    return "\n".join(f"{f.outcome.value:<4}  {f.check:<{width}}  {f.detail}" for f in findings)


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.outcome is Outcome.FAIL for f in findings) else 0
