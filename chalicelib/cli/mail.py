"""`mail failures|replay`: the mails whose receive_email invocation failed every retry."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.channels.email import failures
from chalicelib.cli.common import bounded

# make run's SMTP server hands a mail to the handler while the sender waits: a failure is answered 451 and
# the sender retries, so nothing waits in a queue (on AWS, SES invokes the function asynchronously).
NO_LOCAL_QUEUE = (
    "error: the local stack has no mail failures queue: its SMTP server answers a mail it could not receive "
    "with 451 and the sender retries (make run's log names the error)"
)


def _local(args: argparse.Namespace) -> bool:
    if args.local:
        print(NO_LOCAL_QUEUE, file=sys.stderr)
    return bool(args.local)


def mail_failures(args: argparse.Namespace) -> int:
    if _local(args):
        return 2
    found = failures.list_failures(args.limit)
    for failed in found:
        ids = ", ".join(failed.ses_message_ids) or "-"
        print(
            f"{failed.record_id}  {failed.failed_at}  {failed.condition} after {failed.attempts}  "
            f"{failed.error or '-'}  SES message {ids}"
        )
    print(f"{len(found)} failed invocation(s)")
    return 0


def mail_replay(args: argparse.Namespace) -> int:
    if _local(args):
        return 2
    report = failures.replay_failures(args.limit)
    print(
        f"replayed {len(report.replayed)} mail(s); {len(report.failed)} failed again; "
        f"{len(report.unreadable)} unreadable record(s) left in the queue"
    )
    for record_id, error in report.failed.items():
        print(f"  {record_id}: {error}")
    return 1 if report.failed else 0


def add_mail_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    mail = groups.add_parser("mail", help="received mail whose handling failed every retry")
    commands = mail.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("failures", parents=[common], help="list the mail failures queue")
    listing.add_argument("--limit", type=bounded(1), default=100)
    listing.set_defaults(run=mail_failures)
    replaying = commands.add_parser(
        "replay", parents=[common], help="run the failed mails through the handler again (raw mail from S3)"
    )
    replaying.add_argument("--limit", type=bounded(1), default=1_000)
    replaying.set_defaults(run=mail_replay)
