"""`python -m tools.bench`: its options, the report printed and written, the exit status."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import tools.bench
from tools.bench.checks import checks
from tools.bench.cost_inputs import measured_counts
from tools.bench.listings import DAY_COUNTS
from tools.bench.pipeline import HISTORY_ITEMS, QUICK_HISTORY_ITEMS
from tools.bench.report import render
from tools.bench.run import run
from tools.bench.throughput import THROUGHPUT_ITEMS, throughput_worker
from tools.cost.markdown import bedrock_usd
from tools.cost.model import SETUPS, compare_setups, monthly_cost
from tools.cost.prices import PRICES_PATH, load_prices


def _summary() -> str:
    """The package docstring's first line: what `--help` says the bench does."""
    return (tools.bench.__doc__ or "").splitlines()[0]


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Run, print the report, optionally write it; 1 if any target is missed."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=_summary())
    parser.add_argument("--items", type=int, default=1000, help="form responses to push through")
    parser.add_argument(
        "--history",
        type=int,
        help=f"items of other days in the table (default {HISTORY_ITEMS:,}, --quick {QUICK_HISTORY_ITEMS:,})",
    )
    parser.add_argument(
        "--throughput-items",
        type=int,
        default=THROUGHPUT_ITEMS,
        help="items on the one day the throughput run exports (0: skip it)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="for development: fewer history items, no throughput run"
    )
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import timing")
    parser.add_argument("--write", type=Path, help="write the report to this markdown file")
    parser.add_argument(
        "--prices",
        type=Path,
        default=PRICES_PATH,
        help="unit prices and assumptions of the cost section (default tools/unit_prices.toml)",
    )
    parser.add_argument("--throughput-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.throughput_worker:
        return throughput_worker(args.throughput_worker, args.throughput_items)
    history = (
        args.history if args.history is not None else QUICK_HISTORY_ITEMS if args.quick else HISTORY_ITEMS
    )
    throughput_items = 0 if args.quick else args.throughput_items
    result = run(args.items, history, args.import_runs, throughput_items, (7,) if args.quick else DAY_COUNTS)
    command = "python -m tools.bench" + (" --quick" if args.quick else "")
    command += f" --prices {args.prices}" if args.prices != PRICES_PATH else ""
    command += f" --write {args.write}" if args.write else ""
    report = render(result, command, args.prices)
    out(report)
    with contextlib.suppress(KeyError, ValueError, TypeError, OSError):
        priced = monthly_cost(measured_counts(result), load_prices(args.prices))
        out(
            f"COST: ${priced.total:,.2f} a month for {priced.items_per_month:,} items "
            f"(${priced.per_thousand_items:,.4f} per 1,000 items; prices as of {priced.table.as_of})"
        )
        for setup, setup_cost in compare_setups(measured_counts(result), load_prices(args.prices)).items():
            per_million = 1_000_000 / setup_cost.items_per_month
            out(
                f"COST {SETUPS[setup][0]}: ${setup_cost.total * per_million:,.2f} per 1M "
                f"items (Bedrock ${bedrock_usd(setup_cost) * per_million:,.2f})"
            )
    if args.write:
        args.write.write_text(report, encoding="utf-8")
    missed = [c for c in checks(result) if not c.ok]
    for check in missed:
        out(f"TARGET MISSED: {check.name}: measured {check.measured}, target {check.target}")
    return 1 if missed else 0
