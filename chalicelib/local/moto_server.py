"""The local stack's moto server, made fit for concurrent clients.

moto's DynamoDB backend is not thread-safe (a Query iterating the table while another request writes raises
"dictionary changed size during iteration"), and its TransactWriteItems is not atomic against other
requests, while real DynamoDB transactions are serializable: the idempotent store relies on that. So every
DynamoDB request is served under one lock. SQS, S3 and SSM requests are not: an SQS long poll must not hold
up the rest of the stack.

Three of moto's costs grow with what the stack holds, which a burst (`make load`) turns into minutes; each
is replaced by an equivalent that does not (`install_speedups`, applied by LocalMotoServer.start):
- TransactWriteItems deep-copies the whole table once per action, to roll back on failure: an undo log of
  the items the transaction touches restores the same state.
- SQS ReceiveMessage computes every queue attribute (each counting all messages) once per message it hands
  out, to read the retention period: that is read from the queue directly. And every SendMessage, receive
  and attribute read walks all messages reading the clock once per message (a datetime round trip): the
  walks read it once.
- Every request lists moto's package directory (under the dispatcher's global lock) to find its backend:
  the list is read once.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

import moto.backends
import moto.dynamodb.models as dynamodb_models
from moto.core.utils import unix_time, unix_time_millis
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sqs.models import Message, Queue, SQSBackend
from werkzeug.serving import BaseWSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DYNAMODB_TARGET_PREFIX = "DynamoDB_"


class SerializedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time (the response is fully built inside the lock)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET_PREFIX):
            return self.app(environ, start_response)
        with self.lock:
            # Materialised under the lock: moto reads its backend while producing the body.
            return list(self.app(environ, start_response))


class LocalMotoServer:
    """moto's server on a thread (as ThreadedMotoServer), with DynamoDB requests serialized."""

    def __init__(self, ip_address: str, port: int) -> None:
        self.ip_address, self.port = ip_address, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen, and serve on a background thread."""
        install_speedups()
        app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self.ip_address, self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join()


class _NoTableCopies:
    """The `copy` module as moto's DynamoDB models see it during a transaction: a Table is not copied (the
    undo log covers it); everything else is copied as usual."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_ORIGINAL_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
_INSTALL_LOCK = threading.Lock()


def _key_of(backend: DynamoDBBackend, operation: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The table name and key an action of a transaction writes or checks, or None when it names none."""
    table_name = operation.get("TableName")
    if table_name not in backend.tables:
        return None
    if "Key" in operation:
        return table_name, operation["Key"]
    table: Table = backend.tables[table_name]
    item = operation.get("Item") or {}
    names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
    if not all(name in item for name in names):
        return None
    return table_name, {name: item[name] for name in names}


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, rolled back from an undo log instead of whole-table copies."""
    undo: list[tuple[str, dict[str, Any], Any]] = []
    for action in transact_items:
        located = _key_of(self, next(iter(action.values()), {}))
        if located is None:
            continue
        table_name, key = located
        try:
            previous = self.get_item(table_name, key)
        except Exception:  # noqa: S112 - a malformed key: moto fails that action below without writing it
            continue
        undo.append((table_name, key, copy.deepcopy(previous)))
    dynamodb_models.copy = _NoTableCopies()  # type: ignore[assignment]
    try:
        _ORIGINAL_TRANSACT_WRITE_ITEMS(self, transact_items)
    except Exception:
        # Newest first: when a key appears twice (moto then refuses the transaction), the oldest image wins.
        for table_name, key, previous in reversed(undo):
            if previous is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, previous.to_json()["Attributes"])
        raise
    finally:
        dynamodb_models.copy = copy


def _is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
    """moto's retention check, reading the one attribute it needs instead of computing all of them."""
    retention_seconds = int(self.get_queue(queue_name).message_retention_period)
    return retention_seconds + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]


def _visible_messages(self: Queue) -> list[Message]:
    """Queue.messages (visible, not delayed) with one clock read for the whole walk."""
    now = unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _count_not_visible(self: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


def _count_delayed(self: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def install_speedups() -> None:
    """Swap in the equivalents described above (idempotent; process-wide).

    The transaction undo log is only safe where DynamoDB requests are serialized (SerializedDynamoDB): the
    `copy` it swaps during a transaction is module-wide.
    """
    with _INSTALL_LOCK:
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
            _is_message_valid_based_on_retention_period
        )
        Queue.messages = property(_visible_messages)  # type: ignore[assignment,method-assign]
        Queue.approximate_number_of_messages_not_visible = property(_count_not_visible)  # type: ignore
        Queue.approximate_number_of_messages_delayed = property(_count_delayed)  # type: ignore
        if not hasattr(moto.backends.list_of_moto_modules, "cache_info"):
            listed = moto.backends.list_of_moto_modules
            moto.backends.list_of_moto_modules = functools.cache(lambda: tuple(listed()))
