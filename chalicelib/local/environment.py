"""Environment of the local stack: the same settings names as on AWS, pointed at the embedded moto server."""

from __future__ import annotations

import os
import threading
from typing import Any

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import fanout, rewrite
from chalicelib.local.lambda_runtime import invoke_async, lambda_context
from chalicelib.observability import logger

LOCAL_STAGE = "local"
LOCAL_REGION = "us-east-1"
DEFAULT_MOTO_PORT = 5000


def moto_port() -> int:
    """The moto server's port (MOTO_PORT, default 5000)."""
    return int(os.environ.get("MOTO_PORT", str(DEFAULT_MOTO_PORT)))


def local_environment(port: int | None = None) -> dict[str, str]:
    """Variables that make the app, the CLI and boto3 use the local stack."""
    endpoint = f"http://127.0.0.1:{port or moto_port()}"
    return {
        "AWS_ENDPOINT_URL": endpoint,
        # moto accepts any credentials; fixed fake ones keep a developer's real profile out of the picture.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
        "STAGE": LOCAL_STAGE,
        "TABLE_NAME": f"feedback-{LOCAL_STAGE}",
        "EXPORT_BUCKET": f"feedback-exports-{LOCAL_STAGE}",
        "INGEST_QUEUE_NAME": f"feedback-ingest-{LOCAL_STAGE}",
        "INGEST_QUEUE_URL": f"{endpoint}/123456789012/feedback-ingest-{LOCAL_STAGE}",
        "PARAMETER_PREFIX": f"/feedback/{LOCAL_STAGE}",
        "ANALYZER": "lexicon",
        "THEME_TAGGER": "keywords",
        "POWERTOOLS_SERVICE_NAME": "feedback-collector",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def use_local_stack(port: int | None = None) -> None:
    """Point this process at the local stack (settings and boto3 clients are rebuilt); with no Lambda here,
    an erasure's asynchronous export rewrite runs the export handler in a thread of this process."""
    os.environ.update(local_environment(port))
    settings.cache_clear()
    aws.reset_clients()
    rewrite.invoke_in_process(_invoke_export)


def _invoke_export(event: dict[str, Any]) -> threading.Thread | None:
    try:
        from app import nightly_export  # the process runs from the project directory (make run, the CLI)
    except ImportError:
        logger.exception("the export handler cannot be loaded here; the nightly run rewrites the days")
        return None

    def on_failure(record: dict[str, Any]) -> None:
        # As on AWS (infra/stack.py): the record goes to EventBridge, whose rule hands a fan-out step's back.
        given_up = aws.eventbridge_event(fanout.GIVEN_UP_SOURCE, fanout.GIVEN_UP_DETAIL_TYPE, record)
        if fanout.is_fanout_event(record["requestPayload"]):
            nightly_export(given_up, lambda_context(rewrite.EXPORT_FUNCTION))

    return invoke_async(nightly_export, event, rewrite.EXPORT_FUNCTION, on_failure)
