"""Fixtures of the fault-injection suite: botocore's retry backoff without the wait, and a queue tap."""

from __future__ import annotations

import types
from collections.abc import Iterator

import botocore.endpoint
import pytest

from tests.faults.harness import QueueTap
from tests.faults.moto_support import isolated_transactions, thread_safe_sqs


@pytest.fixture(autouse=True)
def moto_fit_for_faults() -> Iterator[None]:
    """moto's transactions isolated under threads and backed up per item, and its SQS clock cheap (see
    moto_support)."""
    with isolated_transactions(), thread_safe_sqs():
        yield


@pytest.fixture(autouse=True)
def botocore_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry handler still computes and "sleeps" its backoff, recorded here instead of waited
    (standard mode waits up to 20 s a retry, far beyond this suite's budget)."""
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=delays.append))
    return delays


@pytest.fixture
def tap(stack) -> Iterator[QueueTap]:
    with QueueTap() as recorder:
        yield recorder
