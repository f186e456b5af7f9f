"""The stack the bench runs against: its environment, moto's resources, and writes outside every phase."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]

QUEUE_NAME = "feedback-ingest-bench"
BENCH_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "STAGE": "bench",
    "TABLE_NAME": "feedback-bench",
    "EXPORT_BUCKET": "feedback-exports-bench",
    "INGEST_QUEUE_NAME": QUEUE_NAME,
    "PARAMETER_PREFIX": "/feedback/bench",
    "ANALYZER": "comprehend",
    # As the stack deploys it: the keywords tagger against the starter taxonomy (provision_stack loads it).
    "THEME_TAGGER": "keywords",
    # As deployed (.chalice/config.json); the bench must not depend on the form cache outliving the run.
    "DAY_SHARDS": "8",
    "CONFIG_CACHE_SECONDS": "300",
    "POWERTOOLS_SERVICE_NAME": "feedback-collector",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # As deployed (.chalice/config.json): a first validator does not scan every package for pydantic plugins.
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
}


def prepare_environment() -> None:
    """Set the variables the app reads at import and the fake credentials, before chalicelib is imported."""
    os.environ.update(BENCH_ENVIRONMENT)
    for name in ("AWS_ENDPOINT_URL", "INGEST_QUEUE_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    from chalicelib.local.moto_patches import PARSER_RECURSION_LIMIT

    # moto parses a long counter update by recursion (see moto_patches): the bench process too.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), PARSER_RECURSION_LIMIT))


def reset_process_caches() -> None:
    """Drop every per-process cache so the app rebuilds settings and clients from the environment."""
    from chalicelib import aws
    from chalicelib.channels import sources
    from chalicelib.config import settings
    from chalicelib.forms import records as form_store
    from chalicelib.ingest import queue

    settings.cache_clear()
    aws.reset_clients()
    queue.ingest_queue_url.cache_clear()
    form_store.clear_cache()
    sources.clear_cache()


def provision_stack() -> str:
    """Create the table, queues, bucket, parameters and the demo form in moto; returns the queue URL."""
    from chalicelib.config import settings
    from chalicelib.local.provision import create_demo_form, load_starter_taxonomy, provision

    reset_process_caches()
    resources = provision(QUEUE_NAME)
    os.environ["INGEST_QUEUE_URL"] = resources.queue_url
    reset_process_caches()
    create_demo_form()
    load_starter_taxonomy()
    # Read now: chalice.test.Client swaps os.environ for the stage's variables during each request.
    settings()
    return resources.queue_url


def write_items(items: Sequence[dict[str, Any]], *, direct: bool = False) -> None:
    """Write plain items in primary-key order, outside every counted phase: in BatchWriteItem requests, or
    (`direct`) straight into moto's in-process DynamoDB backend with its own `put_item`.

    The order changes nothing for DynamoDB; moto sorts the whole table by primary key on every Query
    request, which is linear for a table written in key order and O(n log n) otherwise.
    """
    from chalicelib.config import settings
    from chalicelib.store import dynamo
    from chalicelib.store.schema import PK, SK

    ordered = sorted(items, key=lambda item: (item[PK], item[SK]))
    table = settings().table_name
    if not direct:
        dynamo.batch_write(table, [dynamo.put_request(item) for item in ordered])
        return
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import aws

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][aws.client("dynamodb").meta.region_name]
    for item in ordered:
        backend.put_item(table, dynamo.serialize(item))
