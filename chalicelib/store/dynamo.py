"""Low-level DynamoDB helpers: attribute (de)serialisation, conditional batched puts, batch writes, queries.

Every write path here is batched and retries at the item level what DynamoDB hands back (cancelled
transaction entries, UnprocessedItems), which botocore's own request retries cannot see.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.analysis.base import chunked
from chalicelib.store.schema import PK

MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_WRITE_ITEMS = 25
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


def put_new_items(table: str, items: Sequence[tuple[str, dict[str, Any]]]) -> PutOutcome:
    """Create each (key, item) only if no item with its primary key exists, in TransactWriteItems batches.

    A transaction is all-or-nothing, so when DynamoDB cancels one the reasons say which entries collided
    with an existing item (a redelivery: counted as already present) and which met contention (retried).
    Keys must be unique within the call.
    """
    outcome = PutOutcome()
    for batch in chunked(list(items), MAX_TRANSACTION_ITEMS):
        _put_batch(table, list(batch), outcome)
    return outcome


def _put_batch(table: str, pending: list[tuple[str, dict[str, Any]]], outcome: PutOutcome) -> None:
    dynamodb = aws.client("dynamodb")
    for attempt in range(MAX_ATTEMPTS):
        if not pending:
            return
        actions = [
            {
                "Put": {
                    "TableName": table,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            }
            for _, item in pending
        ]
        try:
            dynamodb.transact_write_items(TransactItems=actions)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "TransactionCanceledException":
                pending = _sort_cancellations(pending, error.response.get("CancellationReasons", []), outcome)
            elif code not in RETRYABLE_ERRORS:
                raise
            backoff(attempt)
            continue
        outcome.created.extend(key for key, _ in pending)
        return
    outcome.failed.update({key: "write retries exhausted" for key, _ in pending})


def _sort_cancellations(
    pending: list[tuple[str, dict[str, Any]]], reasons: list[dict[str, Any]], outcome: PutOutcome
) -> list[tuple[str, dict[str, Any]]]:
    """Split a cancelled transaction's entries into present, failed for good, and worth retrying."""
    retry: list[tuple[str, dict[str, Any]]] = []
    for (key, item), reason in zip(pending, reasons or [{}] * len(pending), strict=True):
        code = reason.get("Code", "None")
        if code == "ConditionalCheckFailed":
            outcome.already_present.append(key)
        elif code in RETRYABLE_CANCELLATIONS or code == "None":
            # "None" marks an entry that was fine but cancelled with the rest: it goes again.
            retry.append((key, item))
        else:
            outcome.failed[key] = f"transaction cancelled: {code}"
    return retry


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


def put_request(item: dict[str, Any]) -> dict[str, Any]:
    """A BatchWriteItem PutRequest for a plain item."""
    return {"PutRequest": {"Item": serialize(item)}}


def query_pages(**query: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query returns, following LastEvaluatedKey, deserialised."""
    dynamodb = aws.client("dynamodb")
    while True:
        response = dynamodb.query(**query)
        for item in response.get("Items", []):
            yield deserialize(item)
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def get_item(table: str, key: dict[str, str], consistent: bool = False) -> dict[str, Any] | None:
    """One item by primary key, or None."""
    response = aws.client("dynamodb").get_item(TableName=table, Key=serialize(key), ConsistentRead=consistent)
    item = response.get("Item")
    return deserialize(item) if item else None
