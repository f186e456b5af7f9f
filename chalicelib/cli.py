"""Admin CLI: `python -m chalicelib.cli <group> <command> [--local]`.

Without `--local` it works against AWS with the usual credentials and the stage's settings from the
environment (TABLE_NAME, EXPORT_BUCKET …); with `--local` against the stack `make run` started.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from botocore.exceptions import EndpointConnectionError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export.day import export_day, previous_utc_day
from chalicelib.forms.config import FormConfig, new_form_id
from chalicelib.models import RatingScale, StoredFeedback, utc_now
from chalicelib.store import feedback as feedback_store
from chalicelib.store import forms as form_store

Command = Callable[[argparse.Namespace], int]


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from error


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _print_feedback_table(items: Sequence[StoredFeedback]) -> None:
    print(f"{'stored_at':20} {'channel':9} {'sentiment':9} {'rating':>6}  {'feedback_id':35} text")
    for item in items:
        rating = "" if item.rating is None else f"{item.rating}/{item.rating_scale}"
        sentiment = item.sentiment or f"({item.skipped_reason})"
        print(
            f"{item.stored_at:%Y-%m-%d %H:%M:%S}  {item.channel:9} {sentiment:9} {rating:>6}  "
            f"{item.feedback_id:35} {_clip(item.text, 60)}"
        )
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


def export(args: argparse.Namespace) -> int:
    """Run a day's export (yesterday by default) and optionally download its files."""
    day = args.date or previous_utc_day()
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


def forms_create(args: argparse.Namespace) -> int:
    """Create (or replace) a form and print its id."""
    form = FormConfig(
        form_id=args.form_id or new_form_id(),
        name=args.name,
        rating_scale=RatingScale(args.scale),
        allowed_origins=args.origin or [],
        require_email=args.require_email,
    )
    form_store.save(form)
    print(form.model_dump_json(indent=2))
    return 0


def forms_list(args: argparse.Namespace) -> int:
    """Print every form."""
    for form in form_store.list_all():
        origins = ", ".join(form.allowed_origins) or "any origin"
        print(f"{form.form_id:20} {form.rating_scale:6} {form.name}  ({origins})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--local", action="store_true", help="use the stack started by `make run`")

    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)

    feedback = groups.add_parser("feedback", help="stored feedback").add_subparsers(
        dest="command", required=True
    )
    listing = feedback.add_parser("list", parents=[common], help="items stored on a UTC day")
    listing.add_argument("--date", type=_day, help="YYYY-MM-DD (default: today, UTC)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=feedback_list)
    getting = feedback.add_parser("get", parents=[common], help="one item as JSON")
    getting.add_argument("feedback_id")
    getting.set_defaults(run=feedback_get)

    exporting = groups.add_parser("export", parents=[common], help="run a day export")
    exporting.add_argument("--date", type=_day, help="YYYY-MM-DD (default: yesterday, UTC)")
    exporting.add_argument("--out", help="download the files to this folder")
    exporting.set_defaults(run=export)

    forms = groups.add_parser("forms", help="feedback forms").add_subparsers(dest="command", required=True)
    creating = forms.add_parser("create", parents=[common], help="create or replace a form")
    creating.add_argument("--name", required=True)
    creating.add_argument("--scale", choices=[s.value for s in RatingScale], default="nps")
    creating.add_argument("--origin", action="append", help="allowed origin (repeat); none = any")
    creating.add_argument("--require-email", action="store_true")
    creating.add_argument("--id", dest="form_id", help="choose the id (default: generated)")
    creating.set_defaults(run=forms_create)
    forms.add_parser("list", parents=[common], help="list forms").set_defaults(run=forms_list)
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


if __name__ == "__main__":
    sys.exit(main())
