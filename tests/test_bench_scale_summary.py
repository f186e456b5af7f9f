"""The bench's scale summary: one row per figure of issue 15 with today's value, the run's, the target and
whether it is met, read from what the other sections measured; a figure the run lacks reads "not measured"."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from tools.bench import export_scale, scale_summary
from tools.bench.cold_start import FunctionImports
from tools.bench.export_scale import ExportScale
from tools.bench.listings import ListingFigures
from tools.bench.scale_summary import NOT_MEASURED, scale_summary_section, summary_rows
from tools.bench.stats_cost import StatsRow

FIGURES = (
    "`/stats`, 93 days at 1,000 items a day: DynamoDB requests",
    "`/stats`, 93 days at 1,000 items a day: RRU",
    "`/stats`, 93 days at 33,000 items a day: DynamoDB requests",
    "`/stats`, 93 days at 33,000 items a day: RRU",
    "`GET /feedback?channel=telegram` (none in range), 90 days at 1,000 a day: DynamoDB requests, all pages",
    "`GET /feedback?channel=telegram` (none in range), 90 days at 1,000 a day: RRU, all pages",
    "export: CPU per item (µs)",
    "export: projected seconds of a 1,000,000-item day",
    "export: projected seconds of a 2,000,000-item day",
    "Comprehend: billed units per item, all request types",
    "Comprehend: units per item, BatchDetectDominantLanguage",
    "Comprehend: units per item, BatchDetectSentiment",
    "Comprehend: units per item, DetectPiiEntities",
    "import time ratio vs bare `import chalice, boto3`: API handler",
    "import time ratio vs bare `import chalice, boto3`: analyze",
    "import time ratio vs bare `import chalice, boto3`: export",
    "WRU per stored item (analyze write path, index entries included)",
    "bytes per stored item in the table (identities and profiles included)",
    "bytes per stored item in the indexes (both GSIs)",
)


def _export_scale() -> ExportScale:
    stages = (*export_scale.BEFORE_STAGES, *export_scale.AFTER_STAGES)
    cpu = dict.fromkeys(stages, 10e-6)  # 10 µs a stage
    cpu["parse: botocore"] = 200e-6  # today's parse: the projection of today's export misses the limit
    return ExportScale(items=4_000, query_pages=4, page_bytes=4_000_000, file_bytes=5_000_000, cpu=cpu)


def _result(**changes: Any) -> SimpleNamespace:
    """A run as the other sections leave it, with `changes` applied (None: a section that did not run)."""
    result = SimpleNamespace(
        items=1_000,
        stats_cost=SimpleNamespace(
            rows=[
                StatsRow(93, 1_000, Counter({"BatchGetItem": 4, "Query": 1}), 12.5),
                StatsRow(93, 33_000, Counter({"BatchGetItem": 4, "Query": 1}), 14.0),
                StatsRow(7, 1_000, Counter({"BatchGetItem": 1}), 2.0),
            ]
        ),
        listings=[
            ListingFigures("absent channel", 30, 1_000, pages=1, requests=9, read_units=3.0),
            ListingFigures("absent channel", 90, 1_000, pages=2, items=0, requests=24, read_units=8.5),
        ],
        export_scale=_export_scale(),
        analyze=SimpleNamespace(
            usage=SimpleNamespace(units=Counter({"BatchDetectSentiment": 3_160, "DetectPiiEntities": 120})),
            record_types=Counter({"FEEDBACK": 1_000}),
        ),
        imports=SimpleNamespace(
            functions=[
                FunctionImports("API handler", ("app",), 300.0, 200.0, 60.0, 40.0),
                FunctionImports("analyze", ("app",), 340.0, 200.0, 70.0, 40.0),
                FunctionImports("export", ("app",), 400.0, 200.0, 90.0, 40.0),
            ]
        ),
        capacity=SimpleNamespace(write_1kb={"analyze": {"transactional": 1_500, "standard": 2_000}}),
        inventory=SimpleNamespace(table_bytes=1_200_000, index_bytes=600_000),
    )
    for name, value in changes.items():
        setattr(result, name, value)
    return result


def _by_figure(result: SimpleNamespace) -> dict[str, scale_summary.Row]:
    return {row.figure: row for row in summary_rows(result)}


def test_every_figure_has_a_row_with_today_now_target_and_met():
    lines = scale_summary_section(_result())
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| figure")]
    assert [line.split(" | ")[0].removeprefix("| ") for line in table] == list(FIGURES)
    assert all(line.count(" | ") == 5 for line in table), table
    rows = _by_figure(_result())
    assert NOT_MEASURED not in {value for row in rows.values() for value in (row.today, row.now, row.met)}

    stats = rows[FIGURES[0]]
    assert (stats.now, stats.target, stats.met) == ("5", "≤ 10", "yes")
    # Today: 8 Queries a day over 93 days, one 1 MB page each at 1,000 a day, five at 33,000 a day.
    assert stats.today == "744"
    assert rows[FIGURES[2]].today == "3,720"
    assert rows[FIGURES[3]].today == f"{390_000 * 93 / 90:,.0f}"
    listing = rows[FIGURES[4]]
    assert (listing.now, listing.today, listing.met) == ("24", "1,440", "yes")
    assert listing.target.startswith("≤ 90 ")  # nothing returned: the 90 empty days skipped
    memory, shards = export_scale.export_memory_mb(), export_scale.day_shards()
    projected = export_scale.projection(_export_scale(), 1_000_000, export_scale.AFTER_STAGES, memory, shards)
    assert rows[FIGURES[7]].now == f"{projected['seconds']:,.0f}"
    assert (rows[FIGURES[6]].today, rows[FIGURES[6]].now) == ("230", "40")
    assert (rows[FIGURES[9]].today, rows[FIGURES[9]].now, rows[FIGURES[9]].met) == ("3.77", "3.28", "yes")
    assert rows[FIGURES[10]].now == "0.00"  # no language detection billed in this run
    assert [rows[f].now for f in FIGURES[13:16]] == ["1.50", "1.70", "2.00"]
    assert [rows[f].met for f in FIGURES[13:16]] == ["yes", "yes", "**no**"]
    wru = rows[FIGURES[16]]
    assert (wru.today, wru.now, wru.met) == ("8.09", "5.00", "yes")
    assert (rows[FIGURES[17]].now, rows[FIGURES[18]].now) == ("1,200", "600")
    assert all(row.source for row in rows.values())


def test_a_missed_target_is_marked():
    rows = _by_figure(_result(capacity=SimpleNamespace(write_1kb={"analyze": {"transactional": 3_000}})))
    assert (rows[FIGURES[16]].now, rows[FIGURES[16]].met) == ("6.00", "**no**")
    slow = _export_scale()
    slow.cpu["writers"] = 1e-3  # 1 ms an item: a 2M-item day takes over half an hour
    assert _by_figure(_result(export_scale=slow))[FIGURES[8]].met == "**no**"


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"stats_cost": None}, FIGURES[0:4]),
        ({"stats_cost": SimpleNamespace(rows=[StatsRow(30, 1_000, Counter(), 1.0)])}, FIGURES[0:4]),
        ({"listings": None}, FIGURES[4:6]),
        ({"listings": []}, FIGURES[4:6]),
        ({"export_scale": None}, FIGURES[6:9]),
        ({"export_scale": ExportScale(items=10, error="seeding failed")}, FIGURES[6:9]),
        ({"analyze": SimpleNamespace(record_types=Counter({"FEEDBACK": 1_000}))}, FIGURES[9:13]),
        ({"imports": SimpleNamespace(functions=[])}, FIGURES[13:16]),
        ({"capacity": None, "inventory": None}, FIGURES[16:19]),
        # A producer that renamed its fields: the figure is missing, the report still renders.
        ({"inventory": SimpleNamespace(bytes=1)}, FIGURES[17:19]),
    ],
)
def test_a_missing_figure_shows_as_not_measured(changes: dict[str, Any], missing: tuple[str, ...]):
    rows = _by_figure(_result(**changes))
    assert list(rows) == list(FIGURES)
    for figure, row in rows.items():
        if figure in missing:
            assert row.now == NOT_MEASURED, figure
            assert row.met in {NOT_MEASURED, "—"}, figure
        else:
            assert row.now != NOT_MEASURED, figure
    assert all(f"| {figure} |" in "\n".join(scale_summary_section(_result(**changes))) for figure in FIGURES)


def test_todays_export_figures_come_from_the_same_run_and_the_others_are_recorded():
    # Without the export section's before-stages, today's export figures cannot be known either.
    rows = _by_figure(_result(export_scale=None))
    assert {rows[f].today for f in FIGURES[6:9]} == {NOT_MEASURED}
    # The recorded ones stand whatever the run measured.
    assert rows[FIGURES[9]].today == "3.77"
    assert all(rows[f].today != NOT_MEASURED for f in (*FIGURES[0:6], *FIGURES[9:]))
