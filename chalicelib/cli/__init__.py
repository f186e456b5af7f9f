"""Admin CLI: `python -m chalicelib.cli <group> <command> [--local]`; one module per command group.

Without `--local` it works against AWS with the usual credentials and the stage's settings from the
environment (TABLE_NAME, EXPORT_BUCKET …); with `--local` against the stack `make run` started.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botocore.exceptions import EndpointConnectionError

from chalicelib.cli.alerts import add_alerts_commands
from chalicelib.cli.analysis import add_analysis_commands
from chalicelib.cli.backfill import add_backfill_command
from chalicelib.cli.counters import add_counters_commands
from chalicelib.cli.crm import add_crm_commands
from chalicelib.cli.customers import add_customers_commands
from chalicelib.cli.dlq import add_dlq_commands
from chalicelib.cli.doctor import add_doctor_command
from chalicelib.cli.feedback import add_feedback_commands
from chalicelib.cli.forms import add_forms_commands
from chalicelib.cli.mail import add_mail_commands
from chalicelib.cli.sources import add_sources_commands
from chalicelib.cli.subscriptions import add_subscriptions_commands
from chalicelib.cli.themes import add_themes_commands
from chalicelib.cli.tokens import add_tokens_commands


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--local",
        action="store_true",
        help="use the stack `make run` started (MOTO_PORT, default 5000; its URLs: PORT, default 8000)",
    )
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "--no-progress", action="store_true", help="no progress bar (off anyway without a TTY)"
    )

    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)

    for add in (
        add_feedback_commands,
        add_forms_commands,
        add_sources_commands,
        add_tokens_commands,
        add_customers_commands,
        add_analysis_commands,
        add_doctor_command,
        add_themes_commands,
        add_counters_commands,
        add_subscriptions_commands,
        add_alerts_commands,
        add_crm_commands,
        add_mail_commands,
    ):
        add(groups, common)
    add_dlq_commands(groups, common, quiet)
    add_backfill_command(groups, common, quiet)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI."""
    args = build_parser().parse_args(argv)
    if args.local:
        from chalicelib.local.environment import use_local_stack

        use_local_stack()
    try:
        return args.run(args)
    except EndpointConnectionError as error:
        hint = " Is `make run` running?" if args.local else ""
        print(f"error: cannot reach AWS at {error.kwargs.get('endpoint_url')}.{hint}", file=sys.stderr)
        return 2
