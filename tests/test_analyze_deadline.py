"""The analyze batch's deadline guard: a short invocation hands back the records it has not started, stores
the rest exactly once, and the redelivered records store fine."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.ingest import ANALYZE_BATCH_SIZE, deadline
from chalicelib.ingest.batch import partial_batch_response
from chalicelib.ingest.processing import handle_sqs_batch
from chalicelib.ingest.queue import encode_events
from chalicelib.store import feedback as feedback_store
from tests.factories import form_event

PLENTY_MS = 60_000


class FakeContext:
    """A Lambda context whose remaining time is read from `remaining` in turn (the last value repeats)."""

    def __init__(self, *remaining: int) -> None:
        self.remaining = list(remaining)
        self.reads = 0

    def get_remaining_time_in_millis(self) -> int:
        self.reads += 1
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


class CountingLexicon(LexiconAnalyzer):
    """The lexicon analyzer, remembering which documents it was asked to analyze."""

    def __init__(self) -> None:
        super().__init__()
        self.analyzed: list[str] = []

    def analyze(self, documents):
        self.analyzed += [document.key for document in documents]
        return super().analyze(documents)


def sqs_event(names: Iterable[str], receive_counts: dict[str, int] | None = None) -> dict:
    """One record per name (message id = the name), each carrying one form response."""
    counts = receive_counts or {}
    records = []
    for name in names:
        [body] = encode_events([form_event(name, f"Great service {name}")])
        records.append(
            {
                "messageId": name,
                "receiptHandle": f"rh-{name}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": str(counts.get(name, 1))},
                "eventSource": "aws:sqs",
            }
        )
    return {"Records": records}


def failed_ids(response: dict) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def stored(names: Iterable[str]) -> set[str]:
    return {name for name in names if feedback_store.get(form_event(name).feedback_id) is not None}


NAMES = [f"r{index:02d}" for index in range(40)]


def test_too_little_time_before_sentiment_defers_all_but_the_first_chunk_and_they_store_on_redelivery(stack):
    analyzer = CountingLexicon()
    short = FakeContext(deadline.STAGE_RESERVE_MS["sentiment"] - 1)

    response = handle_sqs_batch(sqs_event(NAMES), short, analyzer=analyzer)

    first, rest = NAMES[: deadline.FIRST_CHUNK_RECORDS], NAMES[deadline.FIRST_CHUNK_RECORDS :]
    assert failed_ids(response) == rest
    assert stored(NAMES) == set(first)
    assert stack.table_item_count() == len(first)
    # The deferred records were never analyzed: nothing was spent on them.
    assert sorted(analyzer.analyzed) == sorted(form_event(name).feedback_id for name in first)

    # SQS redelivers the deferred records (received twice now); this invocation has the time.
    redelivered = handle_sqs_batch(
        sqs_event(rest, dict.fromkeys(rest, 2)), FakeContext(PLENTY_MS), analyzer=LexiconAnalyzer()
    )

    assert failed_ids(redelivered) == []
    assert stored(NAMES) == set(NAMES)
    assert stack.table_item_count() == len(NAMES)


def test_too_little_time_before_the_write_stores_the_first_chunk_once_and_the_rest_on_redelivery(stack):
    # Time enough for sentiment and themes, too little for the write (the guard reads once per stage).
    context = FakeContext(PLENTY_MS, PLENTY_MS, deadline.STAGE_RESERVE_MS["write"] - 1)
    analyzer = CountingLexicon()

    response = handle_sqs_batch(sqs_event(NAMES), context, analyzer=analyzer)

    first, rest = NAMES[: deadline.FIRST_CHUNK_RECORDS], NAMES[deadline.FIRST_CHUNK_RECORDS :]
    assert len(analyzer.analyzed) == len(NAMES)  # analyzed, but only the first chunk written
    assert context.reads == 3
    assert failed_ids(response) == rest
    assert stored(NAMES) == set(first)

    # The whole batch again (a redelivery of everything): the first chunk is recognised, the rest stored.
    again = handle_sqs_batch(sqs_event(NAMES, dict.fromkeys(NAMES, 2)), FakeContext(PLENTY_MS))

    assert failed_ids(again) == []
    assert stack.table_item_count() == len(NAMES)


def test_the_records_received_most_often_go_on_so_a_deferral_cannot_repeat_until_the_dlq(stack):
    # The last ten records were deferred before: they lead the first chunk now.
    veterans = NAMES[-10:]
    short = FakeContext(deadline.STAGE_RESERVE_MS["sentiment"] - 1)

    response = handle_sqs_batch(
        sqs_event(NAMES, dict.fromkeys(veterans, 3)), short, analyzer=LexiconAnalyzer()
    )

    kept = veterans + NAMES[: deadline.FIRST_CHUNK_RECORDS - len(veterans)]
    assert stored(NAMES) == set(kept)
    assert set(failed_ids(response)) == set(NAMES) - set(kept)


def test_with_time_enough_nothing_is_deferred_and_the_context_is_read_once_per_stage(stack):
    context = FakeContext(PLENTY_MS)

    response = handle_sqs_batch(sqs_event(NAMES), context, analyzer=LexiconAnalyzer())

    assert failed_ids(response) == []
    assert stack.table_item_count() == len(NAMES)
    assert context.reads == 3  # sentiment, themes, write


def test_a_batch_no_bigger_than_the_first_chunk_is_never_deferred(stack):
    names = NAMES[: deadline.FIRST_CHUNK_RECORDS]

    response = handle_sqs_batch(sqs_event(names), FakeContext(0), analyzer=LexiconAnalyzer())

    assert failed_ids(response) == []
    assert stored(names) == set(names)


def test_without_a_context_there_is_no_deadline():
    assert deadline.from_context(None) is None
    assert deadline.from_context(object()) is None
    assert deadline.from_context(FakeContext(10)).short_before("write") is True
    assert deadline.from_context(FakeContext(PLENTY_MS)).short_before("sentiment") is False


@pytest.mark.parametrize(
    ("counts", "size", "expected"),
    [
        ([1, 1, 1, 1], 2, {0, 1}),  # the queue's order among equals
        ([1, 3, 1, 2], 2, {1, 3}),  # the most received first
        ([5], 25, {0}),
    ],
)
def test_first_chunk_takes_the_records_received_most_often(counts, size, expected):
    assert deadline.first_chunk(counts, size) == expected


def test_the_receive_count_is_read_from_the_record_and_defaults_to_one():
    seen: list[int] = []

    def handle(records):
        seen.extend(record.receive_count for record in records)
        return [None] * len(records)

    records = [
        {"messageId": "a", "body": "", "attributes": {"ApproximateReceiveCount": "4"}},
        {"messageId": "b", "body": ""},
        {"messageId": "c", "body": "", "attributes": {"ApproximateReceiveCount": "many"}},
    ]
    partial_batch_response({"Records": records}, handle)

    assert seen == [4, 1, 1]


def test_the_event_source_and_the_local_poller_take_the_one_batch_size():
    import inspect

    from app import app
    from chalicelib.local.lambda_runtime import SqsPoller

    [analyze] = [source for source in app.event_sources if source.name == "analyze"]
    assert analyze.batch_size == ANALYZE_BATCH_SIZE
    # SQS takes more than 10 records a batch only with a batching window.
    assert ANALYZE_BATCH_SIZE <= 10 or analyze.maximum_batching_window_in_seconds >= 1
    assert inspect.signature(SqsPoller).parameters["batch_size"].default == ANALYZE_BATCH_SIZE
    assert ANALYZE_BATCH_SIZE > deadline.FIRST_CHUNK_RECORDS
