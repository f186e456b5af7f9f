"""The local stack's log lines name the invocation that wrote them (chalicelib/local/log_keys.py): locally
every function is a thread of one process, sharing the app's one Logger."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.local.lambda_runtime import SqsPoller, lambda_context
from chalicelib.local.log_keys import PerThreadKeysFormatter, keep_keys_per_thread
from chalicelib.observability import logger


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The app's logger writing INFO lines to a buffer (tests log warnings only); restored after."""
    handler = logger.registered_handler
    formatter, stream, level = handler.formatter, handler.stream, logger.log_level
    buffer = io.StringIO()
    handler.setStream(buffer)
    logger.setLevel("INFO")
    try:
        yield buffer
    finally:
        logger.setLevel(level)
        handler.setStream(stream)
        handler.setFormatter(formatter)


def _two_invocations_side_by_side() -> None:
    """A pull's invocation starts, an analyze invocation runs and logs meanwhile, then the pull logs: each in
    a thread of its own, as `make run` runs them."""
    pull_started, analyze_done = threading.Event(), threading.Event()

    @logger.inject_lambda_context(clear_state=True)
    def pull_reviews(event: dict[str, Any], context: Any) -> None:
        pull_started.set()
        analyze_done.wait(5)
        logger.info("pull run")

    @logger.inject_lambda_context(clear_state=True)
    def analyze(event: dict[str, Any], context: Any) -> None:
        pull_started.wait(5)
        logger.info("batch processed")
        analyze_done.set()

    threads = [
        threading.Thread(target=pull_reviews, args=({}, lambda_context("pull_reviews", 256))),
        threading.Thread(target=analyze, args=({}, lambda_context("analyze"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def _names(buffer: io.StringIO) -> dict[str, str | None]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return {line["message"]: line.get("function_name") for line in lines}


def test_an_invocations_lines_name_its_own_function_when_another_runs_beside_it(log_lines):
    """A pull's "pull run" line came out as `function_name: analyze` (and the analyze batch's request id):
    Powertools keeps the keys an invocation appends for the whole process."""
    keep_keys_per_thread(logger)
    assert isinstance(logger.registered_formatter, PerThreadKeysFormatter)

    _two_invocations_side_by_side()

    assert _names(log_lines) == {"pull run": "pull_reviews", "batch processed": "analyze"}


def test_a_thread_starts_from_the_keys_the_app_appended_at_import(log_lines):
    logger.append_keys(deployment="local-probe")
    try:
        keep_keys_per_thread(logger)
        thread = threading.Thread(target=logger.info, args=("from a thread",))
        thread.start()
        thread.join(5)
        line = json.loads(log_lines.getvalue().splitlines()[-1])
        assert line["message"] == "from a thread" and line["deployment"] == "local-probe"
        assert line["service"] == "feedback-collector"
    finally:
        logger.remove_keys(["deployment"])


def test_a_queue_poller_invokes_as_the_function_its_queue_triggers(stack):
    seen: list[str] = []
    poller = SqsPoller(
        stack.queue_url,
        lambda event, context: seen.append(context.function_name) or {},
        function_name="sync_crm",
    )
    aws.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody="{}")

    assert poller.poll_once().received == 1
    assert seen == ["sync_crm"]
