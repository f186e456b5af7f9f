"""`analysis pause|resume|status`: the bill's kill switch for a deployed stage (operations/)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.operations import analysis_switch

PAUSED_NOTE = (
    "Deliveries are still accepted and wait in the ingest queue (kept 14 days); nothing is analyzed\n"
    "or billed by Comprehend until `analysis resume`. The IngestBacklog alarm fires while paused."
)


def _print_state(verb: str, state: analysis_switch.TriggerState) -> None:
    print(f"analysis {verb}: trigger {state.state}, {state.queued} deliveries queued")


def analysis_command(args: argparse.Namespace) -> int:
    try:
        if args.command == "status":
            state = analysis_switch.status()
            _print_state("paused" if state.paused else "running", state)
        else:
            state = analysis_switch.switch(enabled=args.command == "resume")
            if not state.changed:  # said as it is: a resume of running analysis resumed nothing
                _print_state("was already " + ("paused" if args.command == "pause" else "running"), state)
                return 0
            _print_state("paused" if args.command == "pause" else "resumed", state)
    except analysis_switch.SwitchUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "pause":
        print(PAUSED_NOTE)
    return 0


def add_analysis_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """Register `analysis pause|resume|status`."""
    analysis = groups.add_parser("analysis", help="pause or resume analysis (the bill's kill switch)")
    commands = analysis.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("pause", "stop analyzing: deliveries wait in the queue, nothing is lost"),
        ("resume", "analyze again, starting with what waited"),
        ("status", "whether analysis runs, and the queue depth"),
    ):
        commands.add_parser(name, parents=[common], help=help_text).set_defaults(run=analysis_command)
