"""`backfill`: re-run analysis over stored feedback, resumable."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.cli.common import day_argument, progress_bar
from chalicelib.config import settings


def backfill(args: argparse.Namespace) -> int:
    """Run an analyzer again over the items stored between two UTC days, resumably."""
    from chalicelib.operations import backfill as job

    mode = job.Mode.RESUME if args.resume else job.Mode.RESTART if args.restart else job.Mode.NEW
    analyzer = args.analyzer or settings().analyzer.value
    try:
        plan = job.prepare(args.from_day, args.to_day, analyzer, mode)
    except job.UnfinishedJob as unfinished:
        checkpoint = unfinished.checkpoint
        print(
            f"error: job {checkpoint.job_id} stopped at {checkpoint.position} after {checkpoint.counts.done} "
            "item(s); add --resume to continue or --restart to begin again",
            file=sys.stderr,
        )
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    checkpoint = plan.checkpoint
    print(
        f"backfill {checkpoint.from_day}..{checkpoint.to_day} with {analyzer}: {plan.total} item(s) in range "
        f"(job {checkpoint.job_id})"
    )
    if plan.resumed:
        print(f"resuming at {checkpoint.position}, {checkpoint.counts.done} item(s) done before")
    elif mode is job.Mode.RESUME:
        print("no unfinished checkpoint: starting from the beginning")
    with progress_bar(args, max(plan.total, checkpoint.counts.done), "item", checkpoint.counts.done) as bar:
        totals = checkpoint.counts

        def progress(counts: job.Counts) -> None:
            bar.update(counts.done)
            bar.set_postfix(updated=totals.updated, skipped=totals.skipped, failed=totals.failed)

        result = job.run(plan, job.analyzer_named(analyzer), args.batch_size, progress)
    counts = result.counts
    print(
        f"done: {counts.updated} updated, {counts.skipped} skipped (already {analyzer}), "
        f"{counts.failed} failed"
        + (f"; job total {totals.updated} updated, {totals.skipped} skipped" if plan.resumed else "")
    )
    for feedback_id, reason in sorted(result.failed_ids.items())[:20]:
        print(f"  failed {feedback_id}: {reason}")
    if counts.failed:
        print("failed items keep their previous analysis; run the same command again to retry them")
    return 1 if counts.failed else 0


def _batch_size(value: str) -> int:
    size = int(value)
    if not 1 <= size <= 1000:
        raise argparse.ArgumentTypeError("expected 1 to 1000")
    return size


def add_backfill_command(
    groups: Any, common: argparse.ArgumentParser, quiet: argparse.ArgumentParser
) -> None:
    from chalicelib.config import AnalyzerBackend

    backfilling = groups.add_parser(
        "backfill", parents=[common, quiet], help="run the analyzer again on stored items (resumable)"
    )
    # Both ends of the range are required UTC days, read the same way.
    for flag, dest, help_text in (
        ("--from", "from_day", "first UTC day stored"),
        ("--to", "to_day", "last UTC day (inclusive)"),
    ):
        backfilling.add_argument(
            flag, dest=dest, type=day_argument, required=True, metavar="YYYY-MM-DD", help=help_text
        )
    backfilling.add_argument(
        "--analyzer", choices=[a.value for a in AnalyzerBackend], help="default: the stage's ANALYZER"
    )
    resuming = backfilling.add_mutually_exclusive_group()
    resuming.add_argument("--resume", action="store_true", help="continue from the job's checkpoint")
    resuming.add_argument("--restart", action="store_true", help="ignore the checkpoint, begin again")
    backfilling.add_argument(
        "--batch-size",
        type=_batch_size,
        default=25,
        metavar="N",
        help="items read and analyzed per page (default 25)",
    )
    backfilling.set_defaults(run=backfill)
