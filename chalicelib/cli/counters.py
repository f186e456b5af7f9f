"""`counters rebuild --from --to`: recount the day counters `/stats` reads from the stored items, after a
backfill or a taxonomy change (store/counters.py)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from chalicelib.cli.common import bounded, day_argument, progress_bar

# Days recounted at once: each day already reads its partitions concurrently (store/feedback.list_day), so a
# few days in flight keep the table busy without a thundering herd; a long range (an upgrade's rebuild from
# years back) then takes minutes rather than hours.
DEFAULT_WORKERS = 4
MAX_WORKERS = 16


def rebuild_command(args: argparse.Namespace) -> int:
    from chalicelib import aws
    from chalicelib.models import utc_now
    from chalicelib.store import counters
    from chalicelib.store import feedback as feedback_store
    from chalicelib.themes import records as taxonomy_records

    if args.to_day < args.from_day:
        print("error: --to is before --from", file=sys.stderr)
        return 2
    parents = taxonomy_records.current_fresh().parents()
    days = [args.from_day + timedelta(days=n) for n in range((args.to_day - args.from_day).days + 1)]
    aws.client("dynamodb")  # built once here: boto3 does not build clients safely from several threads

    def recount(day: date) -> Counter[str] | Exception:
        try:
            return counters.rebuild_day(day, feedback_store.list_day(day, every_partition=True), parents)
        except Exception as error:  # reported with its day; the other days go on (a rerun is idempotent)
            return error

    print(
        f"recounting {len(days)} day(s), {args.workers} at a time (progress and time left on stderr)",
        file=sys.stderr,
        flush=True,
    )
    total, failed = 0, []
    with progress_bar(args, len(days), "day") as bar, ThreadPoolExecutor(args.workers) as pool:
        # map yields in day order whatever order the days finish in, so the lines read as a calendar.
        for day, outcome in zip(days, pool.map(recount, days), strict=True):
            bar.update(1)
            if isinstance(outcome, Exception):
                failed.append(day)
                bar.write(f"{day.isoformat()}: failed: {outcome}", file=sys.stdout)
                continue
            items = sum(n for name, n in outcome.items() if name.startswith("s|"))
            total += items
            bar.write(f"{day.isoformat()}: {items} items counted", file=sys.stdout)
    if failed:
        print(
            f"{len(failed)} day(s) failed, {total} items counted on the others: run the same command again "
            f"(or from {failed[0].isoformat()}); a recount is idempotent",
            file=sys.stderr,
        )
        return 1
    print(f"done: {total} items counted")
    if counters.mark_complete(args.from_day, args.to_day, utc_now().date()):
        print(f"filtered listings now skip the days from {args.from_day.isoformat()} the counters rule out")
    return 0


def add_counters_commands(
    groups: Any, common: argparse.ArgumentParser, quiet: argparse.ArgumentParser
) -> None:
    """Register `counters rebuild`."""
    group = groups.add_parser("counters", help="the day counters GET /stats reads")
    commands = group.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser(
        "rebuild",
        parents=[common, quiet],
        help="recount a range of UTC days from the stored items (idempotent)",
    )
    rebuild.add_argument("--from", dest="from_day", type=day_argument, required=True, help="first UTC day")
    rebuild.add_argument("--to", dest="to_day", type=day_argument, required=True, help="last UTC day")
    rebuild.add_argument(
        "--workers",
        type=bounded(1, MAX_WORKERS),
        default=DEFAULT_WORKERS,
        help=f"days recounted at once (default {DEFAULT_WORKERS}, at most {MAX_WORKERS})",
    )
    rebuild.set_defaults(run=rebuild_command)
