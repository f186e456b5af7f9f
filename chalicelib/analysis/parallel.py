"""The analyzers' requests of one batch made concurrently: a batch of 100 costs about one request's latency
(four Comprehend batches of 25, or four Bedrock Converse requests) instead of four in a row.

A small bounded thread pool (boto3's clients are thread-safe; their connection pool holds 10): what is a
matter of I/O waiting needs no more. Results come back in the order of the calls, so whoever reads them does
so in one thread and in a fixed order; one call (25 texts or fewer) or `workers=1` runs in the caller's
thread, as a test with botocore's Stubber (whose answers are queued in call order) needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

# Requests in flight per batch: a batch of 100 texts is four requests of 25.
MAX_CONCURRENT_REQUESTS = 4

T = TypeVar("T")


def run_all(calls: Sequence[Callable[[], T]], workers: int = MAX_CONCURRENT_REQUESTS) -> list[T]:
    """Every call's result, in the order of `calls`; concurrent on up to `workers` threads."""
    if len(calls) <= 1 or workers <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(workers, len(calls)), thread_name_prefix="analysis") as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]
