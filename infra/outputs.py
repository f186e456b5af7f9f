"""The stack's outputs, and the environment the admin CLI needs for a deployed stage, read from them.

    eval "$(.venv/bin/python -m infra.outputs prod)"   # needs AWS credentials for the account
    .venv/bin/python -m chalicelib.cli feedback list

chalicelib.config reads TABLE_NAME, EXPORT_BUCKET, INGEST_QUEUE_URL, PARAMETER_PREFIX, STAGE,
EXPORT_FUNCTION_NAME, ANALYZER, THEME_TAGGER, BEDROCK_MODEL_ID and RETENTION_DAYS (chalicelib/aws.py:
BEDROCK_REGION and COMPREHEND_REGION); the same resource names are also in the SSM parameter
`/feedback/<stage>/stack` (JSON, as the local stack writes it).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any

# output key → (description, environment variable the app and CLI read, or None)
OUTPUTS: dict[str, tuple[str, str | None]] = {
    "ApiUrl": ("Base URL of the API (forms, webhooks, read API)", "API_URL"),
    "Stage": ("Chalice stage", "STAGE"),
    "TableName": ("DynamoDB table", "TABLE_NAME"),
    "ExportBucketName": ("S3 bucket of the nightly exports (exports/) and Athena results", "EXPORT_BUCKET"),
    # Read by no function: the tear-down empties it (README, Cost and the kill switch, Tear down).
    "AccessLogsBucketName": ("S3 bucket of the export bucket's access logs", "ACCESS_LOGS_BUCKET"),
    "IngestQueueName": ("SQS ingest queue name", "INGEST_QUEUE_NAME"),
    "IngestQueueUrl": ("SQS ingest queue URL", "INGEST_QUEUE_URL"),
    "DeadLetterQueueUrl": ("SQS dead-letter queue URL (deliveries that failed 5 times)", "DLQ_URL"),
    "ParameterPrefix": (
        "SSM prefix: source secrets are SecureStrings under <prefix>/sources/<id>/ (the CLI writes them)",
        "PARAMETER_PREFIX",
    ),
    "GlueDatabaseName": ("Glue database with the `feedback` table over the Parquet exports", None),
    "AthenaWorkGroupName": ("Athena workgroup for querying the exports", None),
    "AlarmTopicArn": ("SNS topic the alarms notify (subscribe to it)", "ALARM_TOPIC_ARN"),
    "NightlyExportFunctionName": (
        "The export Lambda (nightly; `cli customers erase` invokes it to rewrite export days)",
        "EXPORT_FUNCTION_NAME",
    ),
    "AnalyzeFunctionName": (
        "The analyze Lambda (`cli analysis pause|resume` switches its queue trigger)",
        "ANALYZE_FUNCTION",
    ),
    "Region": ("The region the stage runs in", "AWS_REGION"),
    "ComprehendRegion": (
        "Where Amazon Comprehend is called (the stage's region unless set)",
        "COMPREHEND_REGION",
    ),
    # The analyze function's settings: `backfill` and `themes suggestions` run from the CLI with the same.
    "Analyzer": ("Language and sentiment: comprehend, lexicon or bedrock", "ANALYZER"),
    "ThemeTagger": ("How items are tagged against the taxonomy: keywords, bedrock or none", "THEME_TAGGER"),
    "BedrockModelId": ("The model (or inference profile) the Bedrock backends call", "BEDROCK_MODEL_ID"),
    "BedrockRegion": ("Where Amazon Bedrock is called (the stage's region unless set)", "BEDROCK_REGION"),
    "RetentionDays": (
        "Days a stored item is kept before its TTL may delete it (0: forever)",
        "RETENTION_DAYS",
    ),
}


def stack_outputs(stack_name: str, cloudformation: Any = None) -> dict[str, str]:
    """OutputKey → OutputValue of a deployed stack."""
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def environment(outputs: dict[str, str]) -> dict[str, str]:
    """The environment variables the outputs stand for."""
    return {
        variable: outputs[key]
        for key, (_, variable) in OUTPUTS.items()
        if variable is not None and key in outputs
    }


def main(argv: Sequence[str] | None = None, cloudformation: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.outputs", description="Print `export NAME=value` lines for a deployed stage."
    )
    parser.add_argument("stage", help="the stage deployed with `make deploy STAGE=…` (dev, prod)")
    args = parser.parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    stack_name = f"feedback-collector-{args.stage}"
    try:
        outputs = stack_outputs(stack_name, cloudformation)
    except (BotoCoreError, ClientError) as error:
        # Read by `eval "$(…)"`: nothing on stdout, one line on stderr saying what to fix, no traceback.
        print(
            f"error: cannot read the outputs of {stack_name}: {_reason(error, stack_name)}", file=sys.stderr
        )
        return 1
    for name, value in environment(outputs).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _reason(error: Exception, stack_name: str) -> str:
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(error, NoRegionError):
        return "no AWS region is set: export AWS_REGION=<the region deployed to> (or a profile that sets one)"
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: set AWS_PROFILE or your keys for the account deployed to"
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        if "does not exist" in detail.get("Message", ""):
            return (
                f"no stack {stack_name} in this region: check the stage name and AWS_REGION (the region "
                "`make deploy` deployed to)"
            )
        return f"{detail.get('Code', '')}: {detail.get('Message', '')}"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
