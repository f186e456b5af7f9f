"""`counters rebuild --from --to`: recount the day counters `/stats` reads from the stored items, after a
backfill or a taxonomy change (store/counters.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.cli.common import (
    add_day_workers_argument,
    begun_day_argument,
    days_between,
    say,
    walk_days,
)


def rebuild_command(args: argparse.Namespace) -> int:
    from chalicelib.models import utc_now
    from chalicelib.store import counters
    from chalicelib.store import feedback as feedback_store
    from chalicelib.themes import records as taxonomy_records

    if args.to_day < args.from_day:
        print("error: --to is before --from", file=sys.stderr)
        return 2
    parents = taxonomy_records.current_fresh().parents()

    def recount(day: Any) -> Any:
        return counters.rebuild_day(day, feedback_store.list_day(day, every_partition=True), parents)

    total, failed = 0, []
    for day, outcome in walk_days(args, days_between(args.from_day, args.to_day), recount):
        if isinstance(outcome, Exception):
            failed.append(day)
            say(f"{day.isoformat()}: failed: {outcome}")
            continue
        items = sum(n for name, n in outcome.items() if name.startswith("s|"))
        total += items
        say(f"{day.isoformat()}: {items} items counted")
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
    rebuild.add_argument(
        "--from", dest="from_day", type=begun_day_argument, required=True, help="first UTC day"
    )
    rebuild.add_argument("--to", dest="to_day", type=begun_day_argument, required=True, help="last UTC day")
    add_day_workers_argument(rebuild)
    rebuild.set_defaults(run=rebuild_command)
