"""moto 5.x made fit for concurrent clients and for stores holding thousands of items, for the local stack's
moto server, the fault suite and every test's in-process moto (development only: nothing the Lambda handlers
import imports this module).

`serialized_dynamodb()` serves one DynamoDB request at a time: moto's backend is not thread-safe (a Query
iterating a table while another thread writes raises "dictionary changed size during iteration"), and the
product's own threads (the CLI's day workers, a Query's read-ahead) share it in a test as the local stack's
clients share its server. `fit_for_threads()` applies it and the patches below (each says what moto does and
why it matters) and puts moto's originals back when the last user leaves. README, "Load test", says why the
local stack needs them.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import moto.backends
import moto.dynamodb.models as dynamodb_models
from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.sqs import models as sqs_models
from moto.sqs.models import Queue, SQSBackend

SQS_MESSAGE_OPERATIONS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
)

_TRANSACTIONS = threading.Lock()
# Re-entrant: blocks of serialized_dynamodb() may nest (a test's stack inside fit_for_threads, or around it).
_DYNAMODB = threading.RLock()
# Re-entrant: the batch operations call the single ones. A condition: a long poll waits on it.
_SQS = threading.Condition(threading.RLock())


# moto parses an UpdateExpression by recursion, several frames per clause: an ADD of 160 day counters
# (DynamoDB takes any number that fits its 4 KB expression) passes Python's default depth of 1,000.
PARSER_RECURSION_LIMIT = 10_000


@contextmanager
def deep_update_expressions() -> Iterator[None]:
    """Within the block, moto parses update expressions as long as DynamoDB accepts; process-wide."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, PARSER_RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


@contextmanager
def serialized_dynamodb() -> Iterator[None]:
    """Within the block, moto serves one DynamoDB request at a time (the module docstring says why);
    process-wide. SQS, S3 and SSM requests are not serialized: an SQS long poll must not hold up the rest."""
    stock = DynamoHandler.call_action

    @functools.wraps(stock)
    def call_action(self: DynamoHandler) -> Any:
        with _DYNAMODB:
            return stock(self)

    with mock.patch.object(DynamoHandler, "call_action", call_action):
        yield


class _Installation:
    """The patches in place, shared by every open fit_for_threads() block (nested or merely overlapping)."""

    lock = threading.Lock()
    users = 0
    patches: ExitStack | None = None


@contextmanager
def fit_for_threads() -> Iterator[None]:
    """Within the block, moto is fit for concurrent clients (see the module docstring); process-wide.

    Blocks may overlap, in any order: the patches go in when the first opens and come out when the last
    closes, restoring moto's originals.
    """
    with _Installation.lock:
        if _Installation.users == 0:
            _Installation.patches = _install()
        _Installation.users += 1
    try:
        yield
    finally:
        with _Installation.lock:
            _Installation.users -= 1
            if _Installation.users == 0 and _Installation.patches is not None:
                _Installation.patches.close()
                _Installation.patches = None


def _install() -> ExitStack:
    with ExitStack() as patches:  # a failure part way puts back what was already replaced
        _replace_all(patches)
        return patches.pop_all()


def _replace_all(patches: ExitStack) -> None:
    """Each replacement described in the module docstring, entered on `patches` (which puts moto back)."""

    def replace(owner: object, name: str, new: Any) -> None:
        patches.enter_context(mock.patch.object(owner, name, new))

    patches.enter_context(deep_update_expressions())
    patches.enter_context(serialized_dynamodb())
    replace(DynamoDBBackend, "transact_write_items", _undo_logged(DynamoDBBackend.transact_write_items))
    for name in SQS_MESSAGE_OPERATIONS:
        replace(SQSBackend, name, _serialized(getattr(SQSBackend, name)))
    replace(Queue, "wait_for_messages", _wait_for_messages)
    replace(Queue, "attributes", property(_LazyQueueAttributes))
    stock_unix_time = sqs_models.unix_time
    replace(sqs_models, "unix_time", lambda dt=None: time.time() if dt is None else stock_unix_time(dt))
    replace(sqs_models, "unix_time_millis", lambda dt=None: sqs_models.unix_time(dt) * 1000.0)
    modules = tuple(moto.backends.list_of_moto_modules())
    replace(moto.backends, "list_of_moto_modules", lambda: modules)


# DynamoDB: serialized transactions, rolled back from an undo log. moto runs a transaction's actions with no
# lock (two can pass the same attribute_not_exists check; real DynamoDB transactions are serializable) and
# deep-copies every named table per action to roll back (150,000 item copies for 75 actions on 2,000 items).


class _NoTableCopies:
    """The `copy` module as moto's DynamoDB models see it during a transaction: a Table "copy" is the table
    itself (the undo log replaces it); everything else is copied as usual."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_Image = tuple[Table, DynamoType, DynamoType | None, Item | None]


def _images(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Image]:
    """A copy of every item the transaction names, as it is before the transaction (None where absent)."""
    images: list[_Image] = []
    for action in transact_items:
        operation = next(iter(action.values()), None)
        if not isinstance(operation, dict):
            continue
        try:
            table = backend.get_table(operation.get("TableName", ""))
            key = operation.get("Key") or {
                name: operation["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
            }
            hash_value, range_value = backend.get_keys_value(table, key)
            previous = table.get_item(hash_value, range_value)
        except Exception:  # noqa: S112 - no table or a malformed key: moto fails that action without a write
            continue
        images.append((table, hash_value, range_value, copy.deepcopy(previous)))
    return images


def _restore(table: Table, hash_value: DynamoType, range_value: DynamoType | None, item: Item | None) -> None:
    """Put an item image back as it was (or remove the item, when it was absent), directly in the table."""
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
    elif item is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item


def _undo_logged(stock: Callable[[DynamoDBBackend, list[dict[str, Any]]], None]) -> Callable[..., None]:
    @functools.wraps(stock)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _TRANSACTIONS:
            images = _images(self, transact_items)
            # Module-wide, but only transactions (serialized here) deep-copy a Table.
            dynamodb_models.copy = _NoTableCopies()  # type: ignore[assignment]
            try:
                stock(self, transact_items)
            except Exception:
                # Newest first: where a key is named twice (moto then refuses the lot), the oldest image wins.
                for image in reversed(images):
                    _restore(*image)
                raise
            finally:
                dynamodb_models.copy = copy

    return transact_write_items


# SQS: serialized message operations, lazy attributes. moto's SQS is not thread-safe (two deletes at once can
# bring a message back) and computes every queue attribute, walking all messages, whenever one is read.


def _serialized(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _SQS:
            try:
                return operation(*args, **kwargs)
            finally:
                _SQS.notify_all()  # a long poll may now find messages

    return serialized


def _wait_for_messages(self: Queue, timeout: int) -> None:
    """moto's long-poll wait, with the SQS lock released while it waits (receive_message holds it)."""
    with _SQS:
        _SQS.wait_for(lambda: self.messages, timeout=timeout)


class _LazyQueueAttributes(Mapping[str, Any]):
    """What moto's `Queue.attributes` returns, each attribute computed when read."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        names = list(queue.BASE_ATTRIBUTES)  # includes Policy and RedrivePolicy
        names += queue.FIFO_ATTRIBUTES if queue.fifo_queue else []
        names += queue.KMS_ATTRIBUTES if queue.kms_master_key_id else []
        self.names = list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        value = getattr(self.queue, camelcase_to_underscores(name))
        if name == "RedrivePolicy" and value:
            return json.dumps(value)
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)
