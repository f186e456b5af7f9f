"""The bench's fanned-out export projection: a slice's share of the day, the combining step over the whole
day, and the check on the longest invocation."""

from __future__ import annotations

from collections import Counter

import pytest

from tools.bench import export_fanout, export_scale
from tools.bench.export_fanout import COMBINE_STAGES, FanoutScale, fanout_projection
from tools.bench.export_scale import AFTER_STAGES, ExportScale


def measured(read_us: float, slice_us: float, combine_us: float) -> ExportScale:
    cpu = dict.fromkeys(AFTER_STAGES, read_us / 3 / 1e6)
    fanout = FanoutScale(
        cpu={"slice writers": slice_us / 1e6, **dict.fromkeys(COMBINE_STAGES, combine_us / 4 / 1e6)},
        part_bytes=0.0,
    )
    return ExportScale(
        items=1000,
        requests=Counter({"dynamodb.BatchGetItem": 0}),
        page_bytes=0,
        cpu=cpu,
        fanout=fanout,
    )


@pytest.fixture(autouse=True)
def eight_slices(monkeypatch):
    monkeypatch.setattr(export_fanout, "day_shards", lambda: 8)
    monkeypatch.setattr(export_fanout, "export_memory_mb", lambda: 1769)


def test_a_slice_does_its_share_of_the_day_and_the_combining_step_the_whole_day():
    projected = fanout_projection(measured(read_us=200, slice_us=100, combine_us=10), 2_000_000, 8, 1769)

    assert projected["items_per_slice"] == 250_000
    assert projected["slice_seconds"] == pytest.approx(250_000 * 300e-6)  # no Query page in this fake
    assert projected["combine_seconds"] == pytest.approx(2_000_000 * 10e-6)
    # Below one vCPU the CPU stretches in proportion.
    slower = fanout_projection(measured(read_us=200, slice_us=100, combine_us=10), 2_000_000, 8, 884)
    assert slower["slice_seconds"] == pytest.approx(250_000 * 300e-6 * 1769 / 884)


def test_the_check_names_the_longest_invocation_against_the_lambda_limit():
    [fits] = export_fanout.export_fanout_checks(measured(read_us=200, slice_us=100, combine_us=10))
    [combine_too_slow] = export_fanout.export_fanout_checks(
        measured(read_us=200, slice_us=100, combine_us=500)
    )
    [slices_too_slow] = export_fanout.export_fanout_checks(
        measured(read_us=3000, slice_us=1000, combine_us=10)
    )

    assert fits.ok and fits.measured == "75 s"
    assert not combine_too_slow.ok and combine_too_slow.measured == "1,000 s"
    assert not slices_too_slow.ok
    assert export_fanout.export_fanout_checks(ExportScale(items=10, error="RuntimeError: boom")) == []


def test_the_section_projects_both_days_with_the_slice_count():
    text = "\n".join(export_fanout.export_fanout_section(measured(read_us=200, slice_us=100, combine_us=10)))

    assert "| 1,000,000 | 8 | 125,000 |" in text
    assert "| 2,000,000 | 8 | 250,000 |" in text
    assert "Assumptions" in text
    assert export_scale.PROJECTED_DAYS == (1_000_000, 2_000_000)


def test_a_busy_days_rewrite_is_projected_in_one_invocation_before_and_in_slices_now():
    result = measured(read_us=200, slice_us=100, combine_us=10)
    rewrite = export_fanout.rewrite_projection(result, 2_000_000, 8, 1769)
    fanned = fanout_projection(result, 2_000_000, 8, 1769)

    # Before: the whole day in the rewrite invocation (read and the one-invocation writers).
    assert rewrite["one_invocation_seconds"] == pytest.approx(2_000_000 * result.per_item(*AFTER_STAGES))
    assert rewrite["one_invocation_seconds"] > fanned["slice_seconds"] * 5
    assert (rewrite["slice_seconds"], rewrite["combine_seconds"]) == (
        fanned["slice_seconds"],
        fanned["combine_seconds"],
    )
    assert rewrite["start_requests"] == 10
    text = "\n".join(export_fanout.export_fanout_section(result))
    assert "| 2,000,000 | 533 | starts 8 slices (10 requests) | 75 | 20 | yes |" in text
