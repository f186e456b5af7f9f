"""Erasure rewrites never hold up the nightly export: the nightly run exports its day first and hands the
pending days to an invocation of their own; every invocation rewrites one day at a time (each a checkpoint)
only while its remaining time holds another, then hands the rest on."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from botocore.stub import Stubber

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import day as export
from chalicelib.export import rewrite

NIGHT = datetime(2026, 11, 22, 2, 15, tzinfo=UTC)
YESTERDAY = date(2026, 11, 21)
ERASED_DAYS = [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]


def scheduled_event() -> dict:
    return {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def exports(stack, monkeypatch):
    """Every export_day call as (day, rewrite), in order; the erased days exported and marked pending."""
    monkeypatch.setattr(export, "utc_now", lambda: NIGHT)
    for day in ERASED_DAYS:
        export.export_day(day)
    rewrite.mark_pending(ERASED_DAYS)
    calls: list[tuple[date, bool]] = []
    real_export_day = rewrite.export_day

    def recorded(day: date, rewrite: bool = False) -> dict:
        calls.append((day, rewrite))
        return real_export_day(day, rewrite=rewrite)

    monkeypatch.setattr(rewrite, "export_day", recorded)
    return calls


def test_the_nightly_run_exports_its_day_before_any_rewrite(exports):
    manifest = rewrite.run_export_function(scheduled_event(), remaining_ms=lambda: 800_000)

    assert manifest["date"] == YESTERDAY.isoformat()
    assert exports == [(YESTERDAY, False)] + [(day, True) for day in ERASED_DAYS]
    assert rewrite.pending_days() == []


def test_the_nightly_run_without_time_for_a_rewrite_still_exports_and_leaves_the_days_marked(exports):
    manifest = rewrite.run_export_function(
        scheduled_event(), remaining_ms=lambda: int(rewrite.REWRITE_RESERVE_SECONDS * 1000) - 1
    )

    assert manifest["date"] == YESTERDAY.isoformat()
    assert exports == [(YESTERDAY, False)]
    assert rewrite.pending_days() == [day.isoformat() for day in ERASED_DAYS]


def test_a_rewrite_invocation_stops_at_its_time_budget_and_the_next_one_resumes(exports):
    remaining = iter([300_000, 200_000, 59_000])
    event = rewrite.rewrite_event(ERASED_DAYS)

    first = rewrite.run_export_function(event, remaining_ms=lambda: next(remaining))

    # Nothing to invoke here (no EXPORT_FUNCTION_NAME): the day left waits, marked, for the next invocation.
    assert first == {
        "rewritten": [day.isoformat() for day in ERASED_DAYS[:2]],
        "handed_on": [ERASED_DAYS[2].isoformat()],
        "dispatch": "nightly",
    }
    assert rewrite.pending_days() == [ERASED_DAYS[2].isoformat()]  # the days rewritten are checkpointed
    second = rewrite.run_export_function(event, remaining_ms=lambda: 300_000)
    assert second == {"rewritten": [ERASED_DAYS[2].isoformat()]}
    assert exports == [(day, True) for day in ERASED_DAYS]
    assert rewrite.pending_days() == []


def test_a_slow_rewrite_keeps_time_for_one_more_of_its_length(exports, monkeypatch):
    """The reserve grows to 1.5 times the longest rewrite so far: after a 100 s rewrite, 140 s left is not
    enough for another."""
    clock = iter([0.0, 100.0, 100.0, 101.0])
    monkeypatch.setattr(rewrite.time, "monotonic", lambda: next(clock))
    remaining = iter([400_000, 140_000])

    result = rewrite.rewrite_pending(remaining_ms=lambda: next(remaining))

    assert result == [ERASED_DAYS[0].isoformat()]
    assert rewrite.pending_days() == [day.isoformat() for day in ERASED_DAYS[1:]]


def test_only_the_lambda_runtime_clock_bounds_the_rewrites(monkeypatch):
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 1234

    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert rewrite.remaining_time(Context()) is None
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "feedback-collector-prod-nightly_export")
    clock = rewrite.remaining_time(Context())
    assert clock is not None and clock() == 1234
    assert rewrite.remaining_time(object()) is None


class Invocations:
    """The export function's asynchronous Invokes: each event recorded, each answer stubbed."""

    def __init__(self, stubber: Stubber) -> None:
        self.stubber = stubber
        self.events: list[dict] = []

    def accept(self, count: int) -> None:
        for _ in range(count):
            self.stubber.add_response("invoke", {"StatusCode": 202})


@pytest.fixture
def invoked(exports, monkeypatch):
    """EXPORT_FUNCTION_NAME set as the stack sets it; each asynchronous Invoke's event recorded (Stubber)."""
    monkeypatch.setenv("EXPORT_FUNCTION_NAME", "feedback-collector-test-nightly_export")
    settings.cache_clear()
    lambda_client = aws.client("lambda")
    invocations = Invocations(Stubber(lambda_client))

    def record(params: dict, **kwargs) -> None:
        assert params["InvocationType"] == "Event"
        invocations.events.append(json.loads(params["Payload"]))

    lambda_client.meta.events.register("provide-client-params.lambda.Invoke", record)
    with invocations.stubber:
        yield invocations
        invocations.stubber.assert_no_pending_responses()
    settings.cache_clear()


def test_the_nightly_run_hands_the_rewrites_to_an_invocation_of_their_own(exports, invoked):
    invoked.accept(1)
    rewrite.mark_pending([], upcoming=[YESTERDAY])  # an erasure while the day was not exported yet
    all_days = [day.isoformat() for day in [*ERASED_DAYS, YESTERDAY]]

    manifest = rewrite.run_export_function(scheduled_event(), remaining_ms=lambda: 800_000)

    assert manifest["date"] == YESTERDAY.isoformat()
    assert exports == [(YESTERDAY, False)]  # no rewrite in the nightly invocation, whatever its time
    assert [event["detail"] for event in invoked.events] == [
        {"days": all_days, "just_exported": YESTERDAY.isoformat()}
    ]
    assert rewrite.is_rewrite_event(invoked.events[0])

    result = rewrite.run_export_function(invoked.events[0], remaining_ms=lambda: 800_000)

    assert result == {"rewritten": all_days}
    assert exports[1:] == [(date.fromisoformat(day), True) for day in all_days]
    assert rewrite.pending_days() == []


def test_a_nightly_run_with_nothing_pending_invokes_nothing(exports, invoked):
    rewrite.rewrite_pending()  # the erased days rewritten: nothing left marked

    rewrite.run_export_function(scheduled_event())

    assert invoked.events == []
    assert exports[-1] == (YESTERDAY, False)


def test_a_rewrite_invocation_out_of_time_hands_the_days_left_to_the_next(exports, invoked):
    invoked.accept(1)
    remaining = iter([300_000, 59_000, 300_000, 300_000])

    first = rewrite.run_export_function(rewrite.rewrite_event(ERASED_DAYS), lambda: next(remaining))

    assert first["rewritten"] == [ERASED_DAYS[0].isoformat()]
    assert rewrite.pending_days() == [day.isoformat() for day in ERASED_DAYS[1:]]  # the first checkpointed
    left = [day.isoformat() for day in ERASED_DAYS[1:]]
    assert (first["handed_on"], first["dispatch"]) == (left, "invoked")
    assert [event["detail"]["days"] for event in invoked.events] == [first["handed_on"]]

    second = rewrite.run_export_function(invoked.events[0], lambda: next(remaining))

    assert second == {"rewritten": first["handed_on"]}  # the list finished: nothing handed on
    assert len(invoked.events) == 1
    assert rewrite.pending_days() == []


def test_a_rewrite_invocation_without_time_for_a_day_hands_nothing_on(exports, invoked):
    """An invocation that could rewrite no day would only start another like it: the nightly run resumes."""
    result = rewrite.run_export_function(rewrite.rewrite_event(ERASED_DAYS), lambda: 1_000)

    assert result == {"rewritten": []}
    assert invoked.events == []
    assert rewrite.pending_days() == [day.isoformat() for day in ERASED_DAYS]


def test_a_failed_hand_off_leaves_the_nightly_run_to_rewrite_after_its_export(exports, invoked):
    invoked.stubber.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)

    manifest = rewrite.run_export_function(scheduled_event(), remaining_ms=lambda: 800_000)

    assert manifest["date"] == YESTERDAY.isoformat()
    assert exports == [(YESTERDAY, False)] + [(day, True) for day in ERASED_DAYS]
    assert rewrite.pending_days() == []


def test_the_nightly_run_marks_the_counters_complete_from_tomorrow_where_no_mark_exists(exports, monkeypatch):
    from chalicelib.store import counters

    monkeypatch.setattr(rewrite, "utc_now", lambda: NIGHT)
    assert counters.read_days_and_completeness([])[1] is None

    rewrite.run_export_function(scheduled_event(), remaining_ms=lambda: 800_000)

    # Items stored before this run may predate the counters; from tomorrow on this code stores them all.
    assert counters.read_days_and_completeness([])[1] == NIGHT.date() + timedelta(days=1)
    # A mark a rebuild moved earlier stays where it is.
    assert counters.mark_complete(date(2026, 9, 1), NIGHT.date(), NIGHT.date())
    rewrite.run_export_function(scheduled_event(), remaining_ms=lambda: 800_000)
    assert counters.read_days_and_completeness([])[1] == date(2026, 9, 1)


def test_a_failed_counters_mark_does_not_stop_the_nightly_export(exports, monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib.store import counters

    def throttled(since: date) -> bool:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    monkeypatch.setattr(counters, "mark_complete_if_unset", throttled)

    manifest = rewrite.run_export_function(scheduled_event(), remaining_ms=lambda: 800_000)

    assert manifest["date"] == YESTERDAY.isoformat()
