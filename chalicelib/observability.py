"""Powertools Logger, Metrics and Tracer shared by every function.

What the logs, metrics and traces may hold: ids we made (feedback, form, source, token ids; a hash of an
erased customer's id), counts, error codes, dates. Never an email, a name, a handle, customer text, a token,
a customer id (it is derived from an email) or a query string; tests/test_log_privacy.py runs
representative requests and checks their logs. Three settings keep it so whatever a message or the
environment says:
- exception logs carry the exception's type and frames, not its message (IdentifierFreeFormatter);
- app.py pins Powertools' `log_event` (the whole request: body and Authorization header) off and
  `trace_invocation` pins the tracer's `capture_error` (the exception object as trace metadata) off, so
  `POWERTOOLS_LOGGER_LOG_EVENT` or `POWERTOOLS_TRACER_CAPTURE_ERROR` in a function's environment cannot turn
  them on; responses are not captured either (`capture_response=False`);
- metrics have one dimension, the stage.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "feedback-collector"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


@contextmanager
def cold_start_imports() -> Iterator[None]:
    """The imports a handler makes on its first invocation, treated as app.py treats its own at INIT: no
    cyclic garbage collector passes meanwhile, and what they built frozen out of later passes (gc.freeze).
    On a warm invocation nothing is imported, so nothing is frozen."""
    modules_before = len(sys.modules)
    collector_was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) > modules_before:
            gc.freeze()
        if collector_was_on:
            gc.enable()


def describe_exception(error: BaseException) -> str:
    """An exception's qualified type, plus the code and operation of an AWS error (AWS defines those)."""
    name = f"{type(error).__module__}.{type(error).__qualname__}".removeprefix("builtins.")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "unknown")
        return f"{name}: {code} ({error.operation_name})"
    return name


class IdentifierFreeFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with exceptions logged by type and frames, never by message.

    A message may quote the data that caused it (pydantic quotes the input, botocore's parameter check
    quotes the value, a KeyError is the key), and that data may be an email, a name or a customer's words.
    The type and the frames (file, line, function, source line) are enough to find the bug; the message is
    dropped, with `exception_notes` and the serialized stack trace (which repeats the message).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(serialize_stacktrace=False, **kwargs)

    def formatException(self, ei: ExcInfo) -> str:
        error = ei[1]
        chain: list[BaseException] = []
        while error is not None and error not in chain:
            chain.append(error)
            error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        parts = []
        for link in reversed(chain):
            frames = "".join(traceback.format_list(traceback.extract_tb(link.__traceback__)))
            parts.append(f"Traceback (most recent call last):\n{frames}{describe_exception(link)}")
        return "\n\nwhich led to\n\n".join(parts)

    def serialize(self, log: dict[str, Any]) -> str:
        log.pop("exception_notes", None)
        return super().serialize(log)


logger = Logger(service=SERVICE, logger_formatter=IdentifierFreeFormatter())
metrics = Metrics(service=SERVICE, namespace="FeedbackCollector")
# Every metric also names its stage, so dev and prod in one account alarm on their own figures.
metrics.set_default_dimensions(stage=os.environ.get("STAGE", "local"))


def tracing_active() -> bool:
    """Whether X-Ray tracing is on: in Lambda (not SAM's or Chalice's local emulation) unless
    POWERTOOLS_TRACE_DISABLED says otherwise; the rule Powertools' Tracer applies itself."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return False
    emulated = os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV)
    return bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV)) and not emulated


@cache
def tracer() -> Tracer | None:
    """The Powertools Tracer, built on the first traced invocation and only when tracing is active: the X-Ray
    SDK's recorder it brings (about 130 ms and 18 MiB, two clients built at import) is no cold start's cost
    where nothing is traced."""
    if not tracing_active():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def trace_invocation(handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler` in an X-Ray subsegment when tracing is active, else `handler` itself; Chalice's
    ConvertToMiddleware calls this once per invocation, so the Tracer is created by the first one."""
    active = tracer()
    if active is None:
        return handler
    return active.capture_lambda_handler(handler, capture_response=False, capture_error=False)
