"""Shared fixtures: a moto-backed stack provisioned exactly as the local stack does, a Chalice client, and
the CDK stack synthesized once per session for the tests/test_infra*.py suites (tests/infra_synth.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

# Set before the app is imported anywhere: the app and its settings read the environment.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGE": "test",
        "TABLE_NAME": "feedback-test",
        "EXPORT_BUCKET": "feedback-exports-test",
        "INGEST_QUEUE_NAME": "feedback-ingest-test",
        "PARAMETER_PREFIX": "/feedback/test",
        "ANALYZER": "lexicon",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("INGEST_QUEUE_URL", None)

import boto3
from botocore import loaders
from botocore.stub import Stubber
from chalice.test import Client
from moto import mock_aws

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.channels import sources
from chalicelib.config import settings
from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.ingest import queue
from chalicelib.local.moto_patches import deep_update_expressions, serialized_dynamodb
from chalicelib.local.provision import Resources, create_demo_form, provision
from chalicelib.models import RatingScale
from chalicelib.store import config_records, dynamo
from chalicelib.themes import records as theme_records

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

    from tests.infra_synth import Synth


def _share_service_models_between_sessions() -> None:
    """Every test's mock_aws() resets boto3's default session, and a new session parses each service's
    model JSON again (about 50 ms a client, most of a test's setup). The files never change, so loaders
    that search the same paths share one cache, as the clients of one session already do."""
    caches: dict[tuple[Any, ...], dict[Any, Any]] = {}
    construct = loaders.Loader.__init__

    def construct_sharing(self: loaders.Loader, *args: Any, **kwargs: Any) -> None:
        construct(self, *args, **kwargs)
        searched = (tuple(self.search_paths), tuple(self.extras_types), type(self.file_loader))
        self._cache = caches.setdefault(searched, {})

    loaders.Loader.__init__ = construct_sharing  # type: ignore[method-assign]


_share_service_models_between_sessions()


def _reset_process_caches() -> None:
    settings.cache_clear()
    aws.reset_clients()
    queue.ingest_queue_url.cache_clear()
    form_store.clear_cache()
    sources.clear_cache()
    theme_records.clear_cache()
    # Every kind of configuration record: one read by a test (list_fresh fills the cache too) must not be
    # found by the next, whose table does not hold it (a CRM connection would have its stream queue work).
    for records in vars(config_records).values():
        if isinstance(records, config_records.ConfigRecords):
            records.clear_cache()
    tokens.clear_cache()  # and which uses of a token this process has stamped


@dataclass
class Stack:
    resources: Resources

    @property
    def queue_url(self) -> str:
        return self.resources.queue_url

    def queued_bodies(self) -> list[str]:
        """Every message body in the ingest queue (received and left in flight)."""
        bodies: list[str] = []
        sqs = aws.client("sqs")
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
            ).get("Messages", [])
            if not messages:
                return bodies
            bodies.extend(m["Body"] for m in messages)

    def queue_depth(self) -> int:
        attributes = aws.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def table_item_count(self, item_type: str = "FEEDBACK") -> int:
        items = aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
        return sum(1 for item in items if item.get("record_type", {}).get("S") == item_type)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh moto account with the table, queues (with DLQ), bucket, parameters and the demo form."""
    monkeypatch.setattr(dynamo, "sleep", lambda seconds: None)
    # One DynamoDB request at a time, as the local stack's server: the product's threads share moto's backend.
    with mock_aws(), deep_update_expressions(), serialized_dynamodb():
        _reset_process_caches()
        resources = provision(os.environ["INGEST_QUEUE_NAME"], visibility_timeout_seconds=30)
        monkeypatch.setenv("INGEST_QUEUE_URL", resources.queue_url)
        _reset_process_caches()
        create_demo_form()
        yield Stack(resources)
    _reset_process_caches()


@pytest.fixture
def client(stack: Stack) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def csat_form(stack: Stack) -> FormConfig:
    """A CSAT form that requires an email and accepts only one origin."""
    form = FormConfig(
        form_id="csat-shop",
        name="Shop CSAT",
        rating_scale=RatingScale.CSAT,
        allowed_origins=["https://shop.example.com"],
        require_email=True,
    )
    form_store.save(form)
    return form


# The synth takes a minute or more: one per session, shared by every tests/test_infra*.py module. The
# imports wait until a test asks for it, so suites that never do skip loading aws_cdk (and its node process).


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The prod stage synthesized by `python infra/app.py` in a subprocess."""
    from tests.infra_synth import synthesize

    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_json(synth.template)


@pytest.fixture(scope="session")
def transformed(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The plain CloudFormation the AWS::Serverless-2016-10-31 transform makes of the template."""
    from tests.infra_synth import sam_transform

    return sam_transform(synth.template, tmp_path_factory.mktemp("transformed"))


@pytest.fixture
def comprehend() -> Iterator[tuple[Any, Stubber]]:
    """A Comprehend client under botocore's Stubber (which validates request and response shapes)."""
    client = boto3.client("comprehend", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
