"""`counters rebuild --from --to`: recount the day counters `/stats` reads from the stored items, after a
backfill or a taxonomy change (store/counters.py)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from chalicelib.cli.common import day_argument


def rebuild_command(args: argparse.Namespace) -> int:
    from chalicelib.models import utc_now
    from chalicelib.store import counters
    from chalicelib.store import feedback as feedback_store
    from chalicelib.themes import records as taxonomy_records

    if args.to_day < args.from_day:
        print("--to is before --from")
        return 2
    parents = taxonomy_records.current_fresh().parents()
    day, total = args.from_day, 0
    while day <= args.to_day:
        counts = counters.rebuild_day(day, feedback_store.list_day(day, every_partition=True), parents)
        items = sum(n for name, n in counts.items() if name.startswith("s|"))
        total += items
        print(f"{day.isoformat()}: {items} items counted")
        day += timedelta(days=1)
    print(f"done: {total} items counted")
    if counters.mark_complete(args.from_day, args.to_day, utc_now().date()):
        print(f"filtered listings now skip the days from {args.from_day.isoformat()} the counters rule out")
    return 0


def add_counters_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """Register `counters rebuild`."""
    group = groups.add_parser("counters", help="the day counters GET /stats reads")
    commands = group.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser(
        "rebuild", parents=[common], help="recount a range of UTC days from the stored items (idempotent)"
    )
    rebuild.add_argument("--from", dest="from_day", type=day_argument, required=True, help="first UTC day")
    rebuild.add_argument("--to", dest="to_day", type=day_argument, required=True, help="last UTC day")
    rebuild.set_defaults(run=rebuild_command)
