"""`doctor`: check a deployed stage and print the post-deploy checklist (operations/doctor.py)."""

from __future__ import annotations

import argparse
from typing import Any

from chalicelib.operations import doctor


def doctor_command(args: argparse.Namespace) -> int:
    findings = doctor.run()
    print(doctor.report(findings))
    print()
    print(doctor.CHECKLIST)
    return doctor.exit_code(findings)


def add_doctor_command(groups: Any, common: argparse.ArgumentParser) -> None:
    """Register `doctor`."""
    groups.add_parser(
        "doctor", parents=[common], help="check a deployed stage and print the post-deploy checklist"
    ).set_defaults(run=doctor_command)
