"""Low-level DynamoDB helpers: attribute (de)serialisation, conditional batched puts, batch writes, queries.

Every write path here is batched and retries at the item level what DynamoDB hands back (cancelled
transaction entries, UnprocessedItems), which botocore's own request retries cannot see.
"""

from __future__ import annotations

import base64
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

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

T = TypeVar("T")
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


# A plain slotted class, not a dataclass: chalicelib/records.py says why.
class PutOutcome:
    """What a batch of conditional puts did, by item key."""

    __slots__ = ("already_present", "created", "failed")

    def __init__(
        self,
        created: list[str] | None = None,
        already_present: list[str] | None = None,
        failed: dict[str, str] | None = None,
    ) -> None:
        self.created = [] if created is None else created
        self.already_present = [] if already_present is None else already_present
        self.failed = {} if failed is None else failed


def unchanged_conditions(
    read: Iterable[tuple[str, str, Any]], names: dict[str, str], values: dict[str, Any]
) -> list[str]:
    """Conditions that each attribute still holds the value read, `(placeholder label, attribute, value)`:
    absent where the value read was None. Adds the placeholders to `names` and `values`."""
    conditions = []
    for label, name, value in read:
        names[f"#{label}"] = name
        if value is None:
            conditions.append(f"attribute_not_exists(#{label})")
        else:
            values[f":{label}"] = value
            conditions.append(f"#{label} = :{label}")
    return conditions


def add_clauses(
    amounts: Mapping[str, Any], names: dict[str, str], values: dict[str, Any], label: str
) -> list[str]:
    """The `ADD` clauses adding each amount to its attribute (placeholders `#<label>n`, `:<label>n`, in
    sorted attribute order); adds the placeholders to `names` and `values`."""
    clauses = []
    for index, (name, amount) in enumerate(sorted(amounts.items())):
        names[f"#{label}{index}"] = name
        values[f":{label}{index}"] = amount
        clauses.append(f"#{label}{index} :{label}{index}")
    return clauses


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
    return [
        deserialize(item) for item in _batch_get_pages(table, keys, consistent, attributes, unparsed=False)
    ]


def batch_get_unparsed(table: str, keys: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    """The items that exist among `keys`, as batch_get reads them but left in DynamoDB's JSON wire format
    ({"name": {"N": "12"}}, Binary still base64) as json.loads gives them: botocore's shape walk of every
    attribute is most of the CPU of reading many large items (the day counters of `/stats`)."""
    return _batch_get_pages(table, keys, consistent=False, attributes=None, unparsed=True)


def _batch_get_pages(
    table: str,
    keys: Iterable[dict[str, str]],
    consistent: bool,
    attributes: Sequence[str] | None,
    unparsed: bool,
) -> list[dict[str, Any]]:
    """The found items of every BatchGetItem response for `keys` as the responses hold them (with
    `unparsed`, as sent: see _keep_unparsed)."""
    found: list[dict[str, Any]] = []
    unique = list({(key[PK], key[SK]): key for key in keys}.values())
    projection: dict[str, Any] = {}
    if attributes:
        names = {f"#a{index}": name for index, name in enumerate(attributes)}
        projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    dynamodb = aws.client("dynamodb")
    if unparsed:
        dynamodb.meta.events.register(
            "before-parse.dynamodb.BatchGetItem",
            _keep_responses_unparsed,
            unique_id="feedback-collector-unparsed-responses",
        )
    for batch in chunked(unique, MAX_BATCH_GET_ITEMS):
        request: dict[str, Any] = {
            table: {"Keys": [serialize(k) for k in batch], "ConsistentRead": consistent, **projection}
        }
        for attempt in range(MAX_ATTEMPTS):
            _unparsed.active = unparsed
            try:
                response = dynamodb.batch_get_item(RequestItems=request)
            finally:
                _unparsed.active = False
            found += response.get("Responses", {}).get(table, [])
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


def _number(text: str) -> int | float:
    if "." not in text and "e" not in text and "E" not in text:
        return int(text)
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def _number_set(data: list[str]) -> list[int | float]:
    return [int(n) if n == n.to_integral_value() else float(n) for n in {Decimal(text) for text in data}]


# Each DynamoDB attribute type → its plain value (as TypeDeserializer + _from_dynamo_value give it).
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "S": lambda data: data,
    "BOOL": lambda data: data,
    "NULL": lambda data: None,
    "N": _number,
    "M": lambda data: {key: _decode(item) for key, item in data.items()},
    "L": lambda data: [_decode(item) for item in data],
    "SS": lambda data: list(set(data)),
    "NS": _number_set,
    "B": lambda data: Binary(base64.b64decode(data)),
    "BS": lambda data: list({Binary(base64.b64decode(item)) for item in data}),
}


def _decode(value: dict[str, Any]) -> Any:
    ((tag, data),) = value.items()
    return _DECODERS[tag](data)


def decode_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item as DynamoDB's JSON wire format has it, decoded in one pass to what `deserialize` gives (numbers
    as int or float, sets as lists): the export's Query pages skip botocore's shape walk and Decimals."""
    return {key: _decode(value) for key, value in item.items()}


# Whether the calling thread's request keeps its items as sent (query_pages_unparsed, batch_get_unparsed).
_unparsed = threading.local()


def _keep_unparsed(
    member: str, response_dict: dict[str, Any], customized_response_dict: dict[str, Any]
) -> None:
    """Hand the response's `member` (a Query page's Items, a BatchGetItem's Responses) to the caller as
    json.loads gives it and let botocore parse only the rest (Count, LastEvaluatedKey, UnprocessedKeys…): its
    shape walk of every attribute is most of a page's CPU. Only while the calling thread asked for it."""
    if not getattr(_unparsed, "active", False) or response_dict.get("status_code") != 200:
        return
    try:
        page = json.loads(response_dict["body"])
    except (TypeError, ValueError):
        return  # not the JSON protocol's body: botocore parses it all
    customized_response_dict[member] = page.pop(member, {} if member == "Responses" else [])
    response_dict["body"] = json.dumps(page).encode()


def _keep_items_unparsed(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """before-parse hook of Query: its page's Items as sent."""
    _keep_unparsed("Items", response_dict, customized_response_dict)


def _keep_responses_unparsed(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """before-parse hook of BatchGetItem: its found items (Responses) as sent."""
    _keep_unparsed("Responses", response_dict, customized_response_dict)


def query_pages_unparsed(**query: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query returns, as query_pages gives it, with the page's items read by json.loads and
    decode_item instead of botocore's parser and TypeDeserializer (about a sixth of their CPU; the export's
    read of a whole day). Binary attributes come back as Binary, as from `deserialize`."""
    dynamodb = aws.client("dynamodb")
    dynamodb.meta.events.register(
        "before-parse.dynamodb.Query", _keep_items_unparsed, unique_id="feedback-collector-unparsed-items"
    )
    while True:
        _unparsed.active = True
        try:
            response = dynamodb.query(**query)
        finally:
            _unparsed.active = False
        for item in response.get("Items", []):
            yield decode_item(item)
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


_END = object()


def read_ahead(items: Iterator[T], depth: int = 2000) -> Iterator[T]:
    """`items` produced by a worker thread up to `depth` ahead of the reader, so several Queries (one per
    shard of a day) wait on the network at once instead of one after the other. The worker's error is raised
    to the reader; a reader that stops early stops the worker. Written by hand: concurrent.futures has no
    bounded producer/consumer iterator."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(value: object) -> bool:
        """Put `value` once there is room; False when the reader has stopped meanwhile."""
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_END)
        except BaseException as error:  # handed to the reader, which raises it
            offer(error)

    worker = threading.Thread(target=produce, name="query-read-ahead", daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


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
