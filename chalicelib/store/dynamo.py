"""Low-level DynamoDB helpers: attribute (de)serialisation, conditional batched puts, batch writes, queries.

Every write path here is batched and retries at the item level what DynamoDB hands back (cancelled
transaction entries, UnprocessedItems), which botocore's own request retries cannot see.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib import aws
from chalicelib.aws import chunked
from chalicelib.store.schema import PK, SK

MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_WRITE_ITEMS = 25
MAX_BATCH_GET_ITEMS = 100
MAX_ATTEMPTS = 6
# Cancellation reasons that mean "try this item again": contention or throughput, not the item itself.
RETRYABLE_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
RETRYABLE_ERRORS = RETRYABLE_CANCELLATIONS | {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "InternalServerError",
}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Tests replace this to run the backoff without waiting.
sleep: Callable[[float], None] = time.sleep


def backoff(attempt: int) -> None:
    """Full-jitter exponential backoff: 50 ms, 100 ms, 200 ms … capped at 2 s."""
    sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter, not security


def _to_dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo_value(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_to_dynamo_value(item) for item in value]
    return value


def _from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo_value(item) for key, item in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo_value(item) for item in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """A plain dict (None values dropped, floats allowed) as DynamoDB attribute values."""
    return {
        key: _serializer.serialize(_to_dynamo_value(value))
        for key, value in item.items()
        if value is not None
    }


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values back to a plain dict (numbers as int or float)."""
    return {key: _from_dynamo_value(_deserializer.deserialize(value)) for key, value in item.items()}


@dataclass
class PutOutcome:
    """What a batch of conditional puts did, by item key."""

    created: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def batch_write(table: str, requests: Sequence[dict[str, Any]]) -> None:
    """BatchWriteItem in groups of 25 (PutRequest/DeleteRequest), retrying UnprocessedItems with backoff."""
    dynamodb = aws.client("dynamodb")
    for batch in chunked(list(requests), MAX_BATCH_WRITE_ITEMS):
        pending: dict[str, list[dict[str, Any]]] = {table: list(batch)}
        for attempt in range(MAX_ATTEMPTS):
            response = dynamodb.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            backoff(attempt)
        else:
            raise RuntimeError(f"{len(pending.get(table, []))} writes still unprocessed after retries")


def batch_get(
    table: str,
    keys: Iterable[dict[str, str]],
    consistent: bool = False,
    attributes: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The items that exist among `keys` (BatchGetItem, 100 keys a request, UnprocessedKeys retried); with
    `attributes`, only those attributes of each item (a projection)."""
    found: list[dict[str, Any]] = []
    unique = list({(key[PK], key[SK]): key for key in keys}.values())
    projection: dict[str, Any] = {}
    if attributes:
        names = {f"#a{index}": name for index, name in enumerate(attributes)}
        projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    for batch in chunked(unique, MAX_BATCH_GET_ITEMS):
        request: dict[str, Any] = {
            table: {"Keys": [serialize(k) for k in batch], "ConsistentRead": consistent, **projection}
        }
        for attempt in range(MAX_ATTEMPTS):
            response = aws.client("dynamodb").batch_get_item(RequestItems=request)
            found += [deserialize(item) for item in response.get("Responses", {}).get(table, [])]
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            backoff(attempt)
        else:
            raise RuntimeError("reads still unprocessed after retries")
    return found


def put_request(item: dict[str, Any]) -> dict[str, Any]:
    """A BatchWriteItem PutRequest for a plain item."""
    return {"PutRequest": {"Item": serialize(item)}}


def query_pages(max_pages: int | None = None, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query returns (up to `max_pages` responses), following LastEvaluatedKey, deserialised."""
    dynamodb = aws.client("dynamodb")
    pages = 0
    while True:
        response = dynamodb.query(**query)
        pages += 1
        for item in response.get("Items", []):
            yield deserialize(item)
        if "LastEvaluatedKey" not in response or (max_pages is not None and pages >= max_pages):
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def get_item(table: str, key: dict[str, str], consistent: bool = False) -> dict[str, Any] | None:
    """One item by primary key, or None."""
    response = aws.client("dynamodb").get_item(TableName=table, Key=serialize(key), ConsistentRead=consistent)
    item = response.get("Item")
    return deserialize(item) if item else None
