"""`crm dlq list|show|delete` and `subscriptions dlq list|show|delete`: another queue's dead-letter queue read
and pruned as `dlq` does the ingest queue's (operations/dlq.py), with that queue's own check and routing
facts. Replay stays each group's own command (`crm replay`, `subscriptions replay`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from chalicelib.cli.common import clip, time_text
from chalicelib.operations.dlq import DeadLetterQueue, ListedMessage, RoutedSummary, UnknownMessage, masked

QueueFactory = Callable[[], DeadLetterQueue]


def _facts(summary: RoutedSummary) -> str:
    return " ".join(f"{name}={clip(value, 60)}" for name, value in summary.facts.items()) or "-"


def _list(make: QueueFactory, label: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        summaries = make().list()
        if args.json:
            for summary in summaries:
                print(json.dumps(summary.as_json()))
            return 0
        print(f"{'message_id':36}  {'sent_at':19}  {'recv':>4}  {'bytes':>6}  routing")
        for s in summaries:
            print(
                f"{s.message_id:36}  {time_text(s.sent_at):19}  {s.receive_count:>4}  {s.size:>6}  "
                f"{_facts(s)}" + (f"  [unreplayable: {s.problem}]" if s.problem else "")
            )
        print(f"{len(summaries)} message(s) in the {label}")
        return 0

    return run


def _show(make: QueueFactory, label: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        queue = make()
        try:
            message = queue.find(args.message_id)
        except UnknownMessage:
            print(f"error: no message {args.message_id!r} in the {label}", file=sys.stderr)
            return 2
        shown = {
            **ListedMessage.of(message).listed_json(),
            "problem": queue.problem(message),
            "message": masked(message.envelope if message.envelope is not None else message.body),
        }
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0

    return run


def delete_command(
    make: QueueFactory, label: str, facts: Callable[[Any], str] | None = None
) -> Callable[[argparse.Namespace], int]:
    """`… dlq delete`: delete messages by id for good, saying what each was (`facts` of its listing line,
    routing only: by default the routing facts its room names)."""
    facts = facts or _facts

    def run(args: argparse.Namespace) -> int:
        try:
            report = make().delete(args.message_ids)
        except UnknownMessage as error:
            print(f"error: not in the {label} (nothing deleted): {error}", file=sys.stderr)
            return 2
        for s in report.deleted:
            print(
                f"deleted {s.message_id}: {facts(s)}, sent {time_text(s.sent_at)}, "
                f"received {s.receive_count} time(s)" + (f" [unreplayable: {s.problem}]" if s.problem else "")
            )
        for message_id, reason in sorted(report.failed.items()):
            print(f"  not deleted {message_id}: {reason} (still in the {label})")
        print(f"deleted {len(report.deleted)} message(s) from the {label}; {len(report.failed)} failed")
        return 1 if report.failed else 0

    return run


def add_dead_letter_commands(
    commands: Any, common: argparse.ArgumentParser, make: QueueFactory, label: str
) -> None:
    """`dlq list|show|delete` under a command group, on the DLQ `make` returns (`label` names it)."""
    group = commands.add_parser("dlq", help=f"the {label}: list, show, delete").add_subparsers(
        dest="dlq_command", required=True
    )
    listing = group.add_parser("list", parents=[common], help="messages: ids, times, routing (no content)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_list(make, label))
    showing = group.add_parser("show", parents=[common], help="one message (secret-looking values masked)")
    showing.add_argument("message_id")
    showing.set_defaults(run=_show(make, label))
    deleting = group.add_parser(
        "delete", parents=[common], help="delete messages for good (a poison message no replay can fix)"
    )
    deleting.add_argument("message_ids", nargs="+", metavar="message-id")
    deleting.set_defaults(run=delete_command(make, label))
