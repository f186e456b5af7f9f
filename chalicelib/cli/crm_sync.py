"""`crm sync --from --to [--connection]` (push history, resumable), `crm replay` (the CRM DLQ sent again) and
`crm dlq list|show|delete` (the CRM DLQ read and pruned): the CRM commands about what is synced, beside
`cli/crm.py`'s commands about connections."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.cli.common import begun_day_argument, bounded, waiting_aloud
from chalicelib.cli.dead_letters import add_dead_letter_commands
from chalicelib.crm import backfill, queue
from chalicelib.operations.dlq import DeadLetterQueue


def crm_sync(args: argparse.Namespace) -> int:
    try:
        job, resumed = backfill.prepare(args.from_day, args.to_day, args.connection, restart=args.restart)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if resumed:
        print(f"resuming job {job.job_id} ({job.counts.synced} synced so far)")
    try:
        counts = backfill.run(job, sleep=waiting_aloud)
    except backfill.Stopped as error:
        print(f"stopped: {error}; run the same command again to resume", file=sys.stderr)
        return 1
    print(
        f"synced {counts.synced}, skipped {counts.skipped}, queued for retry {counts.queued}"
        f" (job {job.job_id} finished)"
    )
    for reason, count in counts.reasons.most_common():
        print(f"  {count} item(s): {reason}")
    return 0


def crm_replay(args: argparse.Namespace) -> int:
    report = queue.replay_dead_letters(limit=args.limit)
    print(f"replayed {report.replayed} message(s) from the CRM DLQ")
    if report.not_deleted:
        print(f"warning: {report.not_deleted} replayed message(s) are still in the DLQ", file=sys.stderr)
    for message_id, why in sorted(report.unreadable.items()):
        print(
            f"error: {message_id}: {why} (left in the CRM DLQ: `crm dlq show` it, `crm dlq delete` it)",
            file=sys.stderr,
        )
    return 1 if report.unreadable else 0


def crm_dead_letters() -> DeadLetterQueue:
    """The CRM DLQ, read with the CRM queue's own check and routing facts."""
    return DeadLetterQueue(
        queue.queue_url(dead_letters=True), queue.queue_url(), check=queue.problem, describe=queue.describe
    )


def add_crm_sync_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    syncing = commands.add_parser(
        "sync", parents=[common], help="push stored feedback of a date range (resumable)"
    )
    syncing.add_argument(
        "--from",
        dest="from_day",
        type=begun_day_argument,
        required=True,
        metavar="YYYY-MM-DD",
        help="first UTC day",
    )
    syncing.add_argument(
        "--to",
        dest="to_day",
        type=begun_day_argument,
        required=True,
        metavar="YYYY-MM-DD",
        help="last UTC day",
    )
    syncing.add_argument("--connection", metavar="ID", help="only this connection (default: every one)")
    syncing.add_argument("--restart", action="store_true", help="ignore the job's checkpoint, begin again")
    syncing.set_defaults(run=crm_sync)
    replaying = commands.add_parser(
        "replay", parents=[common], help="send the CRM DLQ's messages again (after `crm test`)"
    )
    replaying.add_argument("--limit", type=bounded(1), default=10_000, help="at most this many messages")
    replaying.set_defaults(run=crm_replay)
    add_dead_letter_commands(commands, common, crm_dead_letters, "CRM DLQ")
