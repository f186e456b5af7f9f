"""`backfill`: re-run analysis over stored feedback, or re-tag its themes (`--themes`), resumable."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from chalicelib.cli.common import begun_day_argument, progress_bar
from chalicelib.config import settings

# The analyzers whose service the local stack's moto does not implement.
LOCAL_UNANSWERED = {"comprehend", "bedrock"}


@dataclass(frozen=True)
class _Job:
    target: str  # what the job produces: an analyzer name or themes-v<version> (names the job)
    doing: str  # for people: "with comprehend", "re-tagging themes with keywords, taxonomy v7"
    skipped: str  # why items are skipped
    step: Any  # operations.backfill.BatchStep


def _job(args: argparse.Namespace) -> _Job:
    """The job the arguments ask for; ValueError when it cannot run."""
    from chalicelib.operations import backfill as job

    if not args.themes:
        analyzer = args.analyzer or settings().analyzer.value
        if args.local and analyzer in LOCAL_UNANSWERED:
            # Said before the job starts, rather than every item failing with moto's bare 500.
            raise ValueError(
                f"the local stack has no {analyzer} (moto does not answer it): use --analyzer lexicon, "
                "the analyzer `make run` uses"
            )
        step = job.analysis_step(job.analyzer_named(analyzer))
        return _Job(analyzer, f"with {analyzer}", f"already {analyzer}", step)
    from chalicelib.analysis.themes import configured_tagger
    from chalicelib.themes import records as taxonomy_records

    tagger = configured_tagger()
    if tagger is None:
        raise ValueError("THEME_TAGGER is none: set it (e.g. THEME_TAGGER=keywords) to re-tag themes")
    # Read now and kept for the whole job: every item of it is tagged with the same version.
    taxonomy = taxonomy_records.current_fresh()
    if not taxonomy.active():
        raise ValueError("no taxonomy to tag with: import one first (themes import FILE)")
    return _Job(
        job.themes_target(taxonomy),
        f"re-tagging themes with {tagger.name}, taxonomy v{taxonomy.version}",
        f"already tagged with taxonomy v{taxonomy.version}, or erased",
        job.retag_step(tagger, taxonomy),
    )


def backfill(args: argparse.Namespace) -> int:
    """Run an analyzer (or the theme tagger) again over the items stored between two UTC days, resumably."""
    from chalicelib.operations import backfill as job

    mode = job.Mode.RESUME if args.resume else job.Mode.RESTART if args.restart else job.Mode.NEW
    try:
        work = _job(args)
        plan = job.prepare(args.from_day, args.to_day, work.target, mode)
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
        f"backfill {checkpoint.from_day}..{checkpoint.to_day} {work.doing}: {plan.total} item(s) in range "
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

        result = job.run(plan, work.step, args.batch_size, progress)
    counts = result.counts
    print(
        f"done: {counts.updated} updated, {counts.skipped} skipped ({work.skipped}), {counts.failed} failed"
        + (f"; job total {totals.updated} updated, {totals.skipped} skipped" if plan.resumed else "")
    )
    for feedback_id, reason in sorted(result.failed_ids.items())[:20]:
        print(f"  failed {feedback_id}: {reason}")
    if counts.failed:
        print("failed items keep their previous analysis; run the same command again to retry them")
    if args.themes and counts.updated:
        print("export files keep the old themes until their days are exported again (cli export --date …)")
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
        "backfill",
        parents=[common, quiet],
        help="run the analyzer, or the theme tagger, again on stored items (resumable)",
    )
    # Both ends of the range are required UTC days, read the same way.
    for flag, dest, help_text in (
        ("--from", "from_day", "first UTC day stored"),
        ("--to", "to_day", "last UTC day (inclusive)"),
    ):
        backfilling.add_argument(
            flag, dest=dest, type=begun_day_argument, required=True, metavar="YYYY-MM-DD", help=help_text
        )
    what = backfilling.add_mutually_exclusive_group()
    what.add_argument(
        "--analyzer", choices=[a.value for a in AnalyzerBackend], help="default: the stage's ANALYZER"
    )
    what.add_argument(
        "--themes",
        action="store_true",
        help="re-tag themes with THEME_TAGGER and the taxonomy in force (no sentiment analysis)",
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
