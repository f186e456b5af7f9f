"""Erasure rewrites never hold up the nightly export: the nightly run exports its day first, and every
invocation rewrites one day at a time (each a checkpoint) only while its remaining time holds another."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

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

    assert first == {"rewritten": [day.isoformat() for day in ERASED_DAYS[:2]]}
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
