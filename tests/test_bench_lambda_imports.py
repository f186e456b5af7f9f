"""tools/bench/lambda_imports.py: the per-function import ratios on the Lambda layout with Python 3.13, before
and after the package's bytecode, their report lines and Targets rows, and the skip without a Python 3.13."""

from __future__ import annotations

import pytest

from infra import package
from tools.bench import lambda_imports
from tools.bench.cold_start import FUNCTION_IMPORTS, TARGET_IMPORT_RATIO
from tools.bench.lambda_imports import LambdaLayout, LayoutImports

LAYOUT = LambdaLayout(
    interpreter="/opt/python3.13/bin/python3.13",
    runs=5,
    functions=(
        LayoutImports("API handler", 900.0, 300.0, 450.0, 250.0),
        LayoutImports("analyze", 1500.0, 300.0, 500.0, 250.0),
    ),
    compiled_modules=1017,
)


def test_the_ratios_are_each_sides_import_set_over_its_bare_imports():
    api, analyze = LAYOUT.functions
    assert (api.before_ratio, api.after_ratio) == (3.0, 1.8)
    assert (analyze.before_ratio, analyze.after_ratio) == (5.0, 2.0)


def test_the_section_shows_before_and_after_and_the_targets_judge_after():
    lines = lambda_imports.lambda_layout_section(LAYOUT)
    assert "| API handler | 900 ms / 300 ms | 3.00 | 450 ms / 250 ms | **1.80** |" in lines
    assert any("1017 modules compiled" in line and "`python3.13`" in line for line in lines)
    checks = lambda_imports.lambda_layout_checks(LAYOUT, TARGET_IMPORT_RATIO)
    assert [(check.measured, check.ok) for check in checks] == [("1.80", True), ("2.00", False)]


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
