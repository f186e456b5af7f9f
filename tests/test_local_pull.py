"""`make run`'s demo pull source: the fake Google Play with its reviews, the schedule run like the other
pollers, and the reviews stored through the analyze function."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.channels.pull import credentials
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.local.pull import DEMO_PULL_SOURCE_ID, DEMO_REVIEWS, start_demo_pull


def test_the_demo_pull_source_brings_the_fakes_reviews_in(stack: Any, monkeypatch: pytest.MonkeyPatch):
    from app import analyze, pull_reviews

    monkeypatch.setenv("LOCAL_PULL_SECONDS", "0.2")
    credentials.clear_tokens()
    demo = start_demo_pull(pull_reviews)
    try:
        deadline = time.monotonic() + 30
        while stack.queue_depth() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        demo.stop()
    assert demo.source.source_id == DEMO_PULL_SOURCE_ID
    SqsPoller(stack.queue_url, analyze).drain()
    assert stack.table_item_count() == len(DEMO_REVIEWS)  # the later runs found nothing new to store
