"""tools/bench/lambda_imports.py: the per-function import ratios on the Lambda layout with Python 3.13, before
and after the package's bytecode, their report lines and Targets rows, and the skip without a Python 3.13."""

from __future__ import annotations

import pytest

from infra import package
from tools.bench import lambda_imports
from tools.bench.cold_start import FUNCTION_IMPORTS, TARGET_IMPORT_RATIO
from tools.bench.lambda_imports import LambdaLayout, LayoutImports, Pairs

LAYOUT = LambdaLayout(
    interpreter="/opt/python3.13/bin/python3.13",
    runs=5,
    functions=(
        LayoutImports("API handler", Pairs((900.0,), (300.0,)), Pairs((450.0,), (250.0,))),
        LayoutImports(
            "analyze",
            Pairs((1500.0, 1500.0), (300.0, 300.0)),
            # A load spike slowed the 4th pair's both sides: its ratio stays that of the others.
            Pairs((500.0, 520.0, 480.0, 1000.0, 505.0), (250.0, 260.0, 240.0, 500.0, 250.0)),
        ),
    ),
    compiled_modules=1017,
)


def test_the_ratio_is_the_median_of_the_pairs_ratios_and_the_spread_their_interquartile_range():
    api, analyze = LAYOUT.functions
    assert (api.before_ratio, api.after_ratio) == (3.0, 1.8)
    assert api.after.spread == (1.8, 1.8)
    assert (analyze.before_ratio, analyze.after_ratio) == (5.0, 2.0)
    assert analyze.after.spread == (2.0, 2.0)
    assert (analyze.after.cpu_ms, analyze.after.bare_cpu_ms) == (505.0, 250.0)
    drifting = Pairs((100.0, 110.0, 130.0, 160.0, 100.0), (100.0, 100.0, 100.0, 100.0, 100.0))
    assert drifting.ratio == 1.1 and drifting.spread == (1.0, 1.3)
    assert Pairs((120.0, 150.0), (100.0, 100.0)).spread == (1.2, 1.5)  # under four pairs: the extremes


def test_the_section_shows_before_and_after_and_the_targets_judge_after_with_the_spread():
    lines = lambda_imports.lambda_layout_section(LAYOUT)
    assert "| API handler | 900 ms / 300 ms | 3.00 | 450 ms / 250 ms | **1.80** | 1.80 to 1.80 | 1 |" in lines
    assert any("1017 modules compiled" in line and "`python3.13`" in line for line in lines)
    checks = lambda_imports.lambda_layout_checks(LAYOUT, TARGET_IMPORT_RATIO)
    assert [(check.measured, check.ok) for check in checks] == [
        ("1.80 (pairs' IQR 1.80 to 1.80)", True),
        ("2.00 (pairs' IQR 2.00 to 2.00)", False),
    ]


def test_pairs_alternate_which_side_goes_first_and_rotate_the_functions(monkeypatch: pytest.MonkeyPatch):
    calls: list[str] = []

    def cpu_ms(interpreter, project, provided, modules, handler="app.app"):
        calls.append("bare" if modules == lambda_imports.BARE else handler)
        return 100.0 if modules == lambda_imports.BARE else 170.0

    monkeypatch.setattr(lambda_imports, "_cpu_ms", cpu_ms)
    found = lambda_imports._paired(None, None, None, runs=2)  # type: ignore[arg-type]

    assert calls[4:] == [
        *("bare", "app.app", "bare", "app.analyze", "bare", "app.nightly_export"),
        *("app.analyze", "bare", "app.nightly_export", "bare", "app.app", "bare"),
    ]
    ratios = {function: pairs.ratio for function, pairs in found.items()}
    assert ratios == dict.fromkeys(FUNCTION_IMPORTS, 1.7)


def test_a_wide_spread_asks_for_more_rounds_up_to_the_cap(monkeypatch: pytest.MonkeyPatch):
    sides = iter([100.0, 150.0, 100.0, 200.0] * 100)  # pair ratios 1.5 and 2.0 in turn: always wide
    monkeypatch.setattr(lambda_imports, "_cpu_ms", lambda *args, **kwargs: next(sides))
    narrow_sides = iter([100.0] * 1000)

    wide = lambda_imports._paired(None, None, None, runs=3, widen=True)  # type: ignore[arg-type]
    assert {len(pairs.ratios) for pairs in wide.values()} == {lambda_imports.MAX_ROUNDS_FACTOR * 3}
    monkeypatch.setattr(lambda_imports, "_cpu_ms", lambda *args, **kwargs: next(narrow_sides))
    narrow = lambda_imports._paired(None, None, None, runs=3, widen=True)  # type: ignore[arg-type]
    assert {len(pairs.ratios) for pairs in narrow.values()} == {3}


def test_without_a_python313_the_measure_is_skipped_and_says_so(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(package, "lambda_interpreter", lambda: None)
    skipped = lambda_imports.measure_lambda_layout(runs=1)
    assert skipped == LambdaLayout(interpreter=None)
    [blank, line] = lambda_imports.lambda_layout_section(skipped)
    assert blank == "" and "skipped" in line and package.NO_BYTECODE_WARNING in line
    assert lambda_imports.lambda_layout_checks(skipped, TARGET_IMPORT_RATIO) == []


def test_every_function_of_the_bench_has_a_handler_and_an_import_set():
    from app import EVENT_HANDLERS
    from tools.bench.cold_start import FUNCTION_HANDLERS

    assert set(FUNCTION_HANDLERS) == set(FUNCTION_IMPORTS)
    assert {FUNCTION_HANDLERS["analyze"], FUNCTION_HANDLERS["export"]} <= EVENT_HANDLERS
    assert FUNCTION_HANDLERS["API handler"] not in EVENT_HANDLERS
