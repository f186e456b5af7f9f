"""`feedback list|get|rekey` and `export`: stored items, the per-day index's layout, and day exports."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from chalicelib import aws
from chalicelib.cli.common import (
    add_day_workers_argument,
    begun_day_argument,
    clip,
    day_argument,
    days_between,
    say,
    walk_days,
)
from chalicelib.config import settings
from chalicelib.export.day import export_day, previous_utc_day
from chalicelib.models import StoredFeedback, utc_now
from chalicelib.store import feedback as feedback_store
from chalicelib.store import feedback_rekey


def _print_feedback_table(items: Sequence[StoredFeedback]) -> None:
    """One line an item, each column as wide as its longest value (`google_business`, `10/stars` and a
    skipped reason are longer than the headers)."""
    header = ("stored_at", "channel", "sentiment", "rating", "feedback_id", "text")
    rows = [
        (
            f"{item.stored_at:%Y-%m-%d %H:%M:%S}",
            str(item.channel),
            item.sentiment or f"({item.skipped_reason})",
            "" if item.rating is None else f"{item.rating}/{item.rating_scale}",
            item.feedback_id,
            clip(item.text, 60),
        )
        for item in items
    ]
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header) - 1)]
    for row in (header, *rows):
        # The rating right-aligned, as numbers are; the text last, unpadded.
        cells = [
            cell.rjust(width) if column == 3 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        print("  ".join(cells), row[-1])
    print(f"{len(items)} item(s)")


def feedback_list(args: argparse.Namespace) -> int:
    """Print the items stored on a UTC day (today by default)."""
    items = list(feedback_store.list_day(args.date or utc_now().date()))
    if args.json:
        for item in items:
            print(item.model_dump_json(exclude_none=True))
    else:
        _print_feedback_table(items)
    return 0


def feedback_get(args: argparse.Namespace) -> int:
    """Print one stored item as JSON."""
    item = feedback_store.get(args.feedback_id)
    if item is None:
        print(f"no feedback {args.feedback_id}", file=sys.stderr)
        return 1
    print(item.model_dump_json(indent=2, exclude_none=True))
    return 0


def rekey(args: argparse.Namespace) -> int:
    """Move a range of days' items from the per-day index's old layout to its channel partitions
    (store/day_layout.py), day by day; resumable: run it again, or from the day it stopped at."""
    from chalicelib.store import counters

    if args.to_day < args.from_day:
        print("error: --to is before --from", file=sys.stderr)
        return 2

    def rekey_one(day: date) -> tuple[int, int, int, int]:
        moved, left = feedback_rekey.rekey_day(day)
        remaining = feedback_rekey.count_legacy(day)
        return moved, left, remaining, counters.settle_keyed(day) if remaining == 0 else 0

    unfinished = []
    for day, outcome in walk_days(args, days_between(args.from_day, args.to_day), rekey_one):
        if isinstance(outcome, Exception):
            unfinished.append(day)
            say(f"{day.isoformat()}: failed: {outcome}")
            continue
        moved, left, remaining, settled = outcome
        if remaining == 0:
            say(f"{day.isoformat()}: {moved} re-keyed, none left in the old layout (ck +{settled})")
        else:
            unfinished.append(day)
            say(f"{day.isoformat()}: {moved} re-keyed, {left} changed meanwhile, {remaining} still old")
    if unfinished:
        print(
            f"{len(unfinished)} day(s) to run again, from {unfinished[0].isoformat()} (a failed day: its "
            "error above; a day still old: the index may be catching up); a re-key is idempotent"
        )
        return 1
    print("done")
    return 0


def export(args: argparse.Namespace) -> int:
    """Run a day's export (yesterday by default) and optionally download its files."""
    day = args.date or previous_utc_day()
    today = utc_now().date()
    # An export stands for a whole day (BI tools and the CRM files take it as one): a day not over yet would
    # be exported empty or partial, and look complete.
    if day > today:
        print(
            f"error: {day.isoformat()} has not begun yet (UTC today is {today.isoformat()}): not exported",
            file=sys.stderr,
        )
        return 2
    if day == today and not args.partial:
        print(
            f"error: {day.isoformat()} has not ended yet (UTC): its export would miss what is still to come; "
            "the nightly run exports it after midnight UTC (--partial exports what is stored so far)",
            file=sys.stderr,
        )
        return 2
    manifest = export_day(day)
    print(json.dumps(manifest, indent=2))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        s3 = aws.client("s3")
        keys = [f["key"] for f in manifest["files"]] + [f"exports/dt={day.isoformat()}/manifest.json"]
        for key in keys:
            target = out / key.rsplit("/", 1)[-1]
            s3.download_file(settings().bucket_name, key, str(target))
            print(f"downloaded {target}")
    return 0


def add_feedback_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """`feedback list|get` and `export`."""
    feedback = groups.add_parser("feedback", help="stored feedback").add_subparsers(
        dest="command", required=True
    )
    listing = feedback.add_parser("list", parents=[common], help="items stored on a UTC day")
    listing.add_argument("--date", type=day_argument, help="YYYY-MM-DD (default: today, UTC)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=feedback_list)
    getting = feedback.add_parser("get", parents=[common], help="one item as JSON")
    getting.add_argument("feedback_id")
    getting.set_defaults(run=feedback_get)
    rekeying = feedback.add_parser(
        "rekey",
        parents=[common],
        help="move a range of UTC days' items to the per-day index's channel partitions (after an upgrade)",
    )
    rekeying.add_argument(
        "--from", dest="from_day", type=begun_day_argument, required=True, help="first UTC day"
    )
    rekeying.add_argument("--to", dest="to_day", type=begun_day_argument, required=True, help="last UTC day")
    add_day_workers_argument(rekeying)
    rekeying.add_argument(
        "--no-progress", action="store_true", help="no progress bar (off anyway without a TTY)"
    )
    rekeying.set_defaults(run=rekey)

    exporting = groups.add_parser("export", parents=[common], help="run a day export")
    exporting.add_argument("--date", type=day_argument, help="YYYY-MM-DD (default: yesterday, UTC)")
    exporting.add_argument("--out", help="download the files to this folder")
    exporting.add_argument(
        "--partial",
        action="store_true",
        help="export today (UTC) so far: the nightly run replaces it with the whole day",
    )
    exporting.set_defaults(run=export)
