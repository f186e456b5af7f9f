"""moto's TransactWriteItems made fit for this suite: isolated under threads, and rolled back per item.

moto 5.2 runs a transaction's actions one after the other with no lock, so two threads' transactions can
both pass the same `attribute_not_exists` check before either writes: real DynamoDB isolates transactions
(serializable), moto does not, and the storm test would then measure moto. A lock around the backend's
transaction call (and nothing else: the app's threads, clients, reads and queue calls stay concurrent)
gives DynamoDB's isolation back.

moto also backs a transaction up by deep-copying the whole table once per action, so the cost of a write
grows with the table (a 75-action transaction on a 2,000-item table copies 150,000 items). The backup here
is the touched items only, taken before the call and restored if it is cancelled: the same answer and the
same rollback, at the cost of the transaction's own items.

moto's SQS is not thread-safe either: a delete rebuilds the queue's message list, so two threads deleting
at once can bring a deleted message back. Real SQS is consistent here, so `thread_safe_sqs` also serializes
moto's message operations (send, receive, delete, visibility) with one lock.

moto's SQS also costs O(queue length) per message: every send and every received message reads the
queue's attributes (for content-based deduplication, for the retention period), which counts the visible,
delayed and in-flight messages each time, building datetimes for each (its clock supports frozen time,
unused here). With 3,000 queued messages that is most of the storm's run time, so within the block the
attributes are computed when read, one at a time, and the clock is read with `time.time()`.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from moto.core.utils import camelcase_to_underscores
from moto.dynamodb import models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.sqs import models as sqs_models


class _TablesNotCopied:
    """The `copy` module as moto's transact_write_items sees it: a table "copy" is the table itself (the
    per-item backup below replaces it); everything else is copied as usual."""

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key_of(table: Table, op: dict[str, Any]) -> dict[str, Any]:
    if "Key" in op:
        return op["Key"]
    return {attr: op["Item"][attr] for attr in (table.hash_key_attr, table.range_key_attr) if attr}


def _restore(table: Table, key: dict[str, Any], item: Any) -> None:
    hash_value = DynamoType(key[table.hash_key_attr])
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    range_value = DynamoType(key[table.range_key_attr])
    if item is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item


@contextmanager
def isolated_transactions() -> Iterator[None]:
    """Within the block, moto's TransactWriteItems is serialized and backed up per touched item."""
    stock = models.DynamoDBBackend.transact_write_items
    lock = threading.Lock()

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            backup = []
            for action in transact_items:
                op = next(iter(action.values()))
                table = self.tables.get(op.get("TableName"))
                if table is not None:
                    key = _key_of(table, op)
                    backup.append((table, key, copy.deepcopy(self.get_item(op["TableName"], key))))
            models.copy = _TablesNotCopied()  # type: ignore[assignment]
            try:
                return stock(self, transact_items)
            except Exception:
                for table, key, item in reversed(backup):
                    _restore(table, key, item)
                raise
            finally:
                models.copy = copy  # type: ignore[assignment]

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = stock  # type: ignore[method-assign]


class _LazyQueueAttributes(Mapping[str, Any]):
    """A queue's attributes as moto's `Queue.attributes` returns them, each computed when read."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        names += queue.FIFO_ATTRIBUTES if queue.fifo_queue else []
        names += queue.KMS_ATTRIBUTES if queue.kms_master_key_id else []
        names += ["Policy"] if queue.policy else []
        names += ["RedrivePolicy"] if queue.redrive_policy else []
        self.names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        if name == "Policy":
            return self.queue.policy
        if name == "RedrivePolicy":
            return json.dumps(self.queue.redrive_policy)
        value = getattr(self.queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


SQS_MESSAGE_OPERATIONS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
)


@contextmanager
def thread_safe_sqs() -> Iterator[None]:
    """Within the block, moto's SQS reads the clock with `time.time()` (seconds and milliseconds) and its
    message operations hold one lock."""
    stock = sqs_models.unix_time, sqs_models.unix_time_millis
    backend = sqs_models.SQSBackend
    methods = {name: getattr(backend, name) for name in SQS_MESSAGE_OPERATIONS}
    lock = threading.RLock()  # re-entrant: the batch operations call the single ones

    def serialized(method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return call

    for name, method in methods.items():
        setattr(backend, name, serialized(method))
    stock_attributes = sqs_models.Queue.attributes
    sqs_models.Queue.attributes = property(_LazyQueueAttributes)  # type: ignore[assignment,method-assign]

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else stock[0](dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    sqs_models.unix_time, sqs_models.unix_time_millis = unix_time, unix_time_millis  # type: ignore[assignment]
    try:
        yield
    finally:
        sqs_models.unix_time, sqs_models.unix_time_millis = stock
        for name, method in methods.items():
            setattr(backend, name, method)
        sqs_models.Queue.attributes = stock_attributes  # type: ignore[method-assign]
