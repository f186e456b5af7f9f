"""The analyze batch's deadline guard: before each expensive stage, a batch that cannot finish in the time the
invocation has left hands back the records it has not started, so SQS redelivers those alone instead of the
whole batch after a timeout.

Lambda's context says how long the invocation has left (`get_remaining_time_in_millis`). Before a stage, when
that is less than what the stage and the ones after it need at worst (`STAGE_RESERVE_MS`), only the batch's
first chunk goes on; the other records are returned as `batchItemFailures`. The write is idempotent (a
conditional put per item), so a record deferred after its analysis is stored once, on its next delivery.

A deferred record's receive counts towards the queue's maxReceiveCount like a failure's, so the records
received most often form the first chunk, and the first chunk always goes on: a record deferred once ranks
above every first delivery on its next one, and only a run of batches that each hold a full chunk of records
received at least as often as it (and all short of time) can send it to the DLQ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

Stage = Literal["sentiment", "themes", "write"]

# Records that go on whatever the time: one Comprehend or Bedrock batch (25 texts), so every invocation makes
# progress however slow the services are.
FIRST_CHUNK_RECORDS = 25
# What each stage and the ones after it need at worst, in ms of the invocation's time (60 s): a Converse
# request for 25 items writes its answer for up to about 20 s, and the batch's requests run concurrently
# (with ANALYZER=bedrock the themes come with the sentiment, so the themes stage asks nothing more); the
# write is a handful of transactions. With THEME_TAGGER=bedrock: sentiment (~1 s with Comprehend, ~20 s with
# Bedrock), themes ~20 s, write ~5 s.
STAGE_RESERVE_MS: dict[Stage, int] = {"sentiment": 45_000, "themes": 25_000, "write": 5_000}


# A plain slotted class (chalicelib/records.py says why); read-only by convention.
class Deadline:
    """How long the invocation has left, read from its Lambda context."""

    __slots__ = ("remaining_ms",)

    def __init__(self, remaining_ms: Callable[[], int]) -> None:
        self.remaining_ms = remaining_ms

    def short_before(self, stage: Stage) -> bool:
        """Whether what remains is less than `stage` and the stages after it need at worst."""
        return self.remaining_ms() < STAGE_RESERVE_MS[stage]


def from_context(context: Any) -> Deadline | None:
    """The invocation's deadline; None when the context cannot tell (a test's or a CLI's call: no limit)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return Deadline(remaining) if callable(remaining) else None


def first_chunk(receive_counts: Sequence[int], size: int = FIRST_CHUNK_RECORDS) -> frozenset[int]:
    """The indexes of the records that go on whatever the time: the `size` received most often, earlier
    records first among equals (the queue's order)."""
    ranked = sorted(range(len(receive_counts)), key=lambda index: -receive_counts[index])
    return frozenset(ranked[:size])


def deferred_reason(stage: Stage) -> str:
    """A deferred record's error, as logged with the batch (never the record's data)."""
    return f"deferred: too little time left before {stage}"
