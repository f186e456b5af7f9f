"""Create the stack's resources where they do not exist yet (moto locally, tests): table, queues, bucket,
parameters, the demo form and the starter theme taxonomy. Safe to run again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.registry import CHANNELS
from chalicelib.channels.sources import SourceConfig
from chalicelib.config import settings
from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.models import RatingScale, utc_now
from chalicelib.store import counters
from chalicelib.store.schema import TTL_ATTRIBUTE, create_table_arguments
from chalicelib.themes import records as theme_records
from chalicelib.themes.taxonomy import Taxonomy

# Matches the deployed queue (infra/): after five failed receives a message moves to the DLQ.
MAX_RECEIVE_COUNT = 5
DEMO_FORM_ID = "demo"


@dataclass(frozen=True)
class Resources:
    table_name: str
    queue_url: str
    dlq_url: str
    bucket_name: str
    table_created: bool = False  # the table was created now (so it holds no feedback)


def provision(queue_name: str, visibility_timeout_seconds: int = 30) -> Resources:
    """Create everything the app needs, idempotently, and return the names."""
    config = settings()
    table_created = _create_table(config.table_name)
    dlq_url, queue_url = _create_queues(queue_name, visibility_timeout_seconds)
    _create_bucket(config.bucket_name)
    aws.client("ssm").put_parameter(
        Name=f"{config.parameter_prefix}/stack",
        Type="String",
        Overwrite=True,
        Value=json.dumps(
            {
                "table": config.table_name,
                "queue_url": queue_url,
                "dlq_url": dlq_url,
                "bucket": config.bucket_name,
            }
        ),
    )
    return Resources(config.table_name, queue_url, dlq_url, config.bucket_name, table_created)


def _create_table(table_name: str) -> bool:
    """Create the table unless it exists; whether it was created now."""
    dynamodb = aws.client("dynamodb")
    try:
        dynamodb.create_table(**create_table_arguments(table_name))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return False
    dynamodb.get_waiter("table_exists").wait(TableName=table_name)
    dynamodb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    return True


def mark_counters_complete(resources: Resources) -> bool:
    """The counters' completeness mark, unless one exists: a table created now holds no item the counters
    missed, so every day is counted; a table found holding data is trusted from tomorrow, as on AWS."""
    since = counters.EVERY_DAY if resources.table_created else utc_now().date() + timedelta(days=1)
    return counters.mark_complete_if_unset(since)


def _create_queues(queue_name: str, visibility_timeout_seconds: int) -> tuple[str, str]:
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(
        QueueName=f"{queue_name}-dlq", Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=queue_name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
        },
    )["QueueUrl"]
    return dlq_url, queue_url


def _create_bucket(bucket_name: str) -> None:
    s3 = aws.client("s3")
    try:
        s3.create_bucket(Bucket=bucket_name)
    except ClientError as error:
        if error.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise


def create_demo_sources() -> list[SourceConfig]:
    """One source per channel type (`demo-<type>`), with demo secrets, unless it exists already.

    Secrets this product generates are generated; platform-issued ones get a recognisable demo value.
    `python -m chalicelib.cli sources show demo-<type> --local --reveal` prints them to sign test requests.
    """
    existing = {source.source_id for source in sources.list_all()}
    created = []
    for source_type, channel in sorted(CHANNELS.items()):
        source = SourceConfig(source_id=f"demo-{source_type}", type=source_type, name=f"Demo {source_type}")
        if source.source_id not in existing:
            secret_values = {
                name: channel.generate_secret(name) if name in channel.generated_secrets else f"demo-{name}"
                for name in channel.secret_names
            }
            sources.save(source, secret_values)
        created.append(source)
    return created


DEMO_EMAIL_SOURCE_ID = "demo-email"
DEMO_EMAIL_ADDRESS = "feedback@localhost"


def create_demo_email_source() -> SourceConfig:
    """The `email` source `make run`'s SMTP server delivers to (feedback@localhost), unless it exists."""
    existing = sources.get_cached(DEMO_EMAIL_SOURCE_ID)
    if existing is not None:
        return existing
    source = SourceConfig(
        source_id=DEMO_EMAIL_SOURCE_ID,
        type="email",
        name="Demo e-mail",
        settings={"recipients": DEMO_EMAIL_ADDRESS},
    )
    sources.save(source, {})
    return source


def create_demo_form() -> FormConfig:
    """The NPS form `make run` prints, open to any origin."""
    form = FormConfig(form_id=DEMO_FORM_ID, name="Demo NPS survey", rating_scale=RatingScale.NPS)
    form_store.save(form)
    return form


def load_starter_taxonomy() -> Taxonomy:
    """The starter theme taxonomy (themes/starter.json) when the table holds none; one that exists stays."""
    return theme_records.load_starter_if_none() or theme_records.current_fresh()


def create_local_read_token() -> str:
    """A token for the dashboard URL `make run` prints (each run starts an empty moto: a new token): `read`,
    and `export`, so that the dashboard's "Nightly export files" link works locally too (it lists
    `GET /exports/{date}`, which needs that scope)."""
    from chalicelib.auth import tokens

    token, _ = tokens.create_token("local dashboard", ["read", "export"], description="created by make run")
    return token
