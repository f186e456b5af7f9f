"""Fixtures of the fault-injection suite: botocore's retry backoff without the wait, and a queue tap."""

from __future__ import annotations

import types
from collections.abc import Iterator

import botocore.endpoint
import pytest

from chalicelib.local.moto_patches import fit_for_threads
from tests.faults.harness import QueueTap


@pytest.fixture(autouse=True)
def moto_fit_for_faults() -> Iterator[None]:
    """moto as the suite's threads need it: serializable transactions rolled back per item, thread-safe SQS
    message operations, SQS costs that do not grow with the queue (see chalicelib/local/moto_patches.py)."""
    with fit_for_threads():
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
