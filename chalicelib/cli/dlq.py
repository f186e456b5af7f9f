"""`dlq list|show|replay|delete`: the ingest queue's dead-letter queue."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chalicelib.cli.common import clip, progress_bar, time_text


def dlq_list(args: argparse.Namespace) -> int:
    """Print the DLQ's messages: ids, times, receive counts, routing and size; never text or authors."""
    from chalicelib.operations.dlq import DeadLetterQueue

    summaries = DeadLetterQueue().list()
    if args.json:
        for summary in summaries:
            print(json.dumps(summary.as_json()))
        return 0
    print(
        f"{'message_id':36}  {'sent_at':19}  {'first_received':19}  {'recv':>4}  {'bytes':>6}  "
        f"{'events':>6}  {'channel':10} {'source/form':20} external_id"
    )
    for s in summaries:
        external = s.external_ids[0] if s.external_ids else "-"
        if len(s.external_ids) > 1:
            external += f" (+{len(s.external_ids) - 1})"
        print(
            f"{s.message_id:36}  {time_text(s.sent_at):19}  {time_text(s.first_received_at):19}  "
            f"{s.receive_count:>4}  {s.size:>6}  {s.events:>6}  {','.join(s.channels) or '-':10} "
            f"{clip(','.join(s.source_ids) or '-', 20):20} {clip(external, 40)}"
            + (f"  [unreplayable: {s.problem}]" if s.problem else "")
        )
    print(f"{len(summaries)} message(s)")
    return 0


def dlq_show(args: argparse.Namespace) -> int:
    """Print one DLQ message: its attributes and its envelope (secret-looking values masked)."""
    from chalicelib.operations.dlq import DeadLetterQueue, ListedMessage, UnknownMessage, masked

    try:
        message = DeadLetterQueue().find(args.message_id)
    except UnknownMessage:
        print(f"error: no message {args.message_id!r} in the DLQ", file=sys.stderr)
        return 2
    body: Any = message.envelope if message.envelope is not None else message.body
    shown = {
        **ListedMessage.of(message).listed_json(),
        "problem": message.problem(),
        "envelope": masked(body),
    }
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


def dlq_replay(args: argparse.Namespace) -> int:
    """Send DLQ messages (chosen ids, or --all) to the ingest queue, then delete them from the DLQ."""
    from chalicelib.operations.dlq import DeadLetterQueue, UnknownMessage

    if bool(args.message_ids) == args.all:
        print("error: give message ids or --all (not both)", file=sys.stderr)
        return 2
    dlq = DeadLetterQueue()
    total = len(args.message_ids) if args.message_ids else dlq.depth()
    with progress_bar(args, total, "msg") as bar:

        def progress(replayed: int, failed: int) -> None:
            bar.update(replayed + failed)

        try:
            report = dlq.replay(args.message_ids or None, progress)
        except UnknownMessage as error:
            print(f"error: not in the DLQ: {error}", file=sys.stderr)
            return 2
    print(f"replayed {len(report.replayed)} message(s) into the ingest queue; {len(report.failed)} failed")
    for message_id, reason in sorted(report.failed.items()):
        print(f"  failed {message_id}: {reason} (left in the DLQ)")
    for message_id in report.not_deleted:
        print(f"  sent but not deleted {message_id}: a later replay sends it again (stored once)")
    return 1 if report.failed or report.not_deleted else 0


def _ingest_facts(s: Any) -> str:
    """A deleted ingest message's routing: its events' channels, sources or forms and external ids."""
    routing = f"channel {','.join(s.channels) or '-'}, source/form {','.join(s.source_ids) or '-'}"
    return f"{s.events} event(s), {routing}, external id {clip(','.join(s.external_ids) or '-', 60)}"


def dlq_delete(args: argparse.Namespace) -> int:
    """Delete DLQ messages by id for good, saying what each was (routing facts, never text or authors)."""
    from chalicelib.cli.dead_letters import delete_command
    from chalicelib.operations.dlq import DeadLetterQueue

    return delete_command(DeadLetterQueue, "DLQ", _ingest_facts)(args)


def add_dlq_commands(groups: Any, common: argparse.ArgumentParser, quiet: argparse.ArgumentParser) -> None:
    commands = groups.add_parser("dlq", help="the ingest queue's dead-letter queue").add_subparsers(
        dest="command", required=True
    )
    listing = commands.add_parser("list", parents=[common], help="messages (no text or personal data)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=dlq_list)
    showing = commands.add_parser("show", parents=[common], help="one message's envelope")
    showing.add_argument("message_id")
    showing.set_defaults(run=dlq_show)
    replaying = commands.add_parser(
        "replay", parents=[common, quiet], help="send to the ingest queue, then delete from the DLQ"
    )
    replaying.add_argument("message_ids", nargs="*", metavar="message-id")
    replaying.add_argument("--all", action="store_true", help="every message in the DLQ")
    replaying.set_defaults(run=dlq_replay)
    deleting = commands.add_parser(
        "delete", parents=[common], help="delete messages for good (a poison message no replay can fix)"
    )
    deleting.add_argument("message_ids", nargs="+", metavar="message-id")
    deleting.set_defaults(run=dlq_delete)
