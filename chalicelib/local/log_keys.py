"""The local stack's log lines carry the keys of the invocation that wrote them.

Locally every function runs as a thread of one process and shares the app's one Logger. Powertools keeps the
keys an invocation appends (`inject_lambda_context`: function_name, function_request_id, cold_start…) on the
formatter, for the whole process, so a pull's lines came out stamped with the analyze batch running beside
it. On Lambda each invocation has a process of its own. Here each thread keeps its own keys: a thread starts
from the keys the main thread holds (what the app appended at import) and changes only its own.
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.observability import IdentifierFreeFormatter


class PerThreadKeysFormatter(IdentifierFreeFormatter):
    """The app's formatter with `log_format` (the appended keys) kept per thread."""

    def __init__(self, **kwargs: Any) -> None:
        self._threads = threading.local()
        self._main_keys: dict[str, Any] = {}
        super().__init__(**kwargs)

    @property  # type: ignore[override]
    def log_format(self) -> dict[str, Any]:
        keys = getattr(self._threads, "keys", None)
        if keys is None:
            keys = self._threads.keys = dict(self._main_keys)
        return keys

    @log_format.setter
    def log_format(self, keys: dict[str, Any]) -> None:
        self._threads.keys = keys
        if threading.current_thread() is threading.main_thread():
            self._main_keys = keys


def keep_keys_per_thread(logger: Logger) -> None:
    """Give `logger` a formatter that keeps each thread's keys, starting from what it holds now."""
    current = logger.registered_formatter
    if isinstance(current, PerThreadKeysFormatter):
        return
    formatter = PerThreadKeysFormatter()
    formatter.log_format = dict(current.log_format)
    logger.registered_handler.setFormatter(formatter)
