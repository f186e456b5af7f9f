"""One boto3 client per service per process, created on first use and reused across invocations, and the
slicing every batch API call shares.

Clients are created lazily so that importing the app stays cheap (cold starts) and so that tests can swap
endpoints or install moto before the first call. `reset_clients()` drops them (tests, CLI `--local`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from typing import Any, TypeVar

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; our own code adds item-level retries on top (UnprocessedItems,
# cancelled transactions), which botocore cannot see.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=10)


_SERVICE_CONFIG = {
    # Presigned export links must be SigV4: botocore still presigns with SigV2 in us-east-1 unless told, and
    # buckets created since 2020 refuse SigV2.
    "s3": _CLIENT_CONFIG.merge(Config(signature_version="s3v4")),
    # A Converse request answering a whole batch writes its answer for several seconds.
    "bedrock-runtime": _CLIENT_CONFIG.merge(Config(read_timeout=30)),
}


# Services a deployment may call in another region than its own: Comprehend and Bedrock are offered in fewer
# regions than the rest of the stack (infra/regions.py), so a stage in eu-south-1 calls Comprehend in
# eu-central-1.
_SERVICE_REGION_VARIABLES = {"comprehend": "COMPREHEND_REGION", "bedrock-runtime": "BEDROCK_REGION"}


@cache
def client(service: str) -> Any:
    """The shared boto3 client for `service` (endpoint taken from AWS_ENDPOINT_URL when set)."""
    region = os.environ.get(_SERVICE_REGION_VARIABLES.get(service, ""), "") or None
    return boto3.client(service, region_name=region, config=_SERVICE_CONFIG.get(service, _CLIENT_CONFIG))


def reset_clients() -> None:
    """Forget every cached client so the next call builds one against the current environment."""
    client.cache_clear()


T = TypeVar("T")


def queue_url(variable: str, name: str) -> str:
    """An SQS queue's URL: from the environment variable the stack sets on the functions that use it, else
    looked up by the queue's name (the local stack and an operator's CLI have no such variable)."""
    return os.environ.get(variable) or client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items: AWS batch APIs take bounded lists (100 keys a
    BatchGetItem, 25 texts a Comprehend batch …)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def eventbridge_event(
    source: str, detail_type: str, detail: Mapping[str, Any], account: str = "", region: str = ""
) -> dict[str, Any]:
    """An event in EventBridge's shape, every field of it (Chalice's CloudWatchEvent reads them all): the
    schedule's own, and the ones a function sends itself by asynchronous invocation."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": datetime.now(UTC).isoformat(),
        "region": region,
        "resources": [],
        "detail": dict(detail),
    }


def not_offered(error: Exception) -> bool:
    """Whether a ClientError is an endpoint's page rather than AWS's error document (the local stack's moto
    answers an operation it does not implement with an HTML 404): the operation is not offered there."""
    detail = getattr(error, "response", {}).get("Error", {})
    return str(detail.get("Code", "")).isdigit() or "<html" in str(detail.get("Message", "")).lower()


def refusal(error: Exception) -> str:
    """A ClientError in one line for a person: AWS's code and message, or, for an endpoint's page, which
    operation it does not offer and its HTTP status (never the page itself)."""
    response = getattr(error, "response", {})
    operation = getattr(error, "operation_name", "") or "the request"
    if not_offered(error):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        known = status in HTTPStatus._value2member_map_
        http = f"HTTP {status} {HTTPStatus(status).phrase}" if known else f"HTTP {status}"
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            local = "the local stack's moto does not implement it"
            return f"{endpoint} does not offer {operation} ({http}; {local})"
        return f"the endpoint does not offer {operation} ({http})"
    detail = response.get("Error", {})
    message = " ".join(str(detail.get("Message", "")).split())
    return f"{detail.get('Code', '')}: {message}"
