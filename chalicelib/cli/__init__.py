"""Admin CLI: `python -m chalicelib.cli <group> <command> [--local]`; one module per command group.

Without `--local` it works against AWS with the usual credentials and the stage's settings from the
environment (TABLE_NAME, EXPORT_BUCKET …); with `--local` against the stack `make run` started.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from chalicelib import aws
from chalicelib.cli.alerts import add_alerts_commands
from chalicelib.cli.analysis import add_analysis_commands
from chalicelib.cli.backfill import add_backfill_command
from chalicelib.cli.common import CREDENTIAL_ERRORS, is_permission_error
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
        add_subscriptions_commands,
        add_alerts_commands,
        add_crm_commands,
        add_mail_commands,
    ):
        add(groups, common)
    add_dlq_commands(groups, common, quiet)
    add_backfill_command(groups, common, quiet)
    add_counters_commands(groups, common, quiet)
    return parser


# What a shell reports for a command killed by SIGPIPE (128 + 13): the exit of a listing piped into `head`.
BROKEN_PIPE_EXIT = 141


@contextmanager
def _product_logs_aside() -> Iterator[None]:
    """While a command runs, the product's Powertools logs (JSON lines for CloudWatch, INFO by default, on
    stdout) show at WARNING and above, on stderr: the command's output is only what the command says, and a
    warning still reaches the operator. Restored after, for the process (tests, the local stack) shares it."""
    from chalicelib.observability import logger

    handler = logger.registered_handler
    level, stream = logger.log_level, getattr(handler, "stream", None)
    logger.setLevel(max(level, logging.WARNING))
    if stream is not None:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        logger.setLevel(level)
        if stream is not None:
            handler.setStream(stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI."""
    try:
        try:
            with _product_logs_aside():
                return _run(argv)
        finally:
            # Inside the try (argparse's --help exits too): a closed pipe often shows only at the last flush.
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) has what it wanted: stop quietly, as a Unix tool does, instead of a traceback
        # (Python's documented recipe: stdout pointed at devnull so the interpreter's final flush is silent).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT


POINT_AT_A_STAGE = (
    "Point the CLI at a stage: credentials for its account, then "
    'eval "$(.venv/bin/python -m infra.outputs <stage>)" (README, Deploy to AWS, step 5); '
    "or add --local for the stack `make run` started."
)
# AWS error codes by what the operator does about them.
_MISSING = {
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchBucket",
    "ParameterNotFound",
}


def _hint(code: str) -> str:
    if code in _MISSING:
        return f"  A resource of the stage is not where the CLI looked. {POINT_AT_A_STAGE}"
    if code in CREDENTIAL_ERRORS:
        return (
            "  Your AWS credentials are expired or not valid for this account: renew them and run it again."
        )
    if is_permission_error(code):
        return "  Your role lacks that permission: README names what each operator command needs."
    return "  Nothing was changed by the refused request; run it again once the cause is fixed."


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.local:
        from chalicelib.local.environment import use_local_stack

        use_local_stack()
    try:
        try:
            return args.run(args)
        except GetParameterError as error:
            # Powertools wraps what SSM answered (AWS unreachable, no credentials …): said as AWS's own error.
            cause = error.__cause__ or error.__context__
            if isinstance(cause, Exception):
                raise cause from None
            raise
    except EndpointConnectionError as error:
        hint = " Is `make run` running?" if args.local else ""
        print(f"error: cannot reach AWS at {error.kwargs.get('endpoint_url')}.{hint}", file=sys.stderr)
        return 2
    except (NoRegionError, NoCredentialsError) as error:
        print(f"error: {error} {POINT_AT_A_STAGE}", file=sys.stderr)
        return 2
    except ClientError as error:
        # What AWS refused, in one line: the operator's mistake (a stage not set, a missing permission,
        # expired credentials) is not a crash, and the traceback would only repeat AWS's own message.
        detail = error.response.get("Error", {})
        code = detail.get("Code", "")
        print(f"error: AWS refused {error.operation_name}: {aws.refusal(error)}", file=sys.stderr)
        print(_hint(code), file=sys.stderr)
        return 1
