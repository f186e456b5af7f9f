"""`forms create|update|list`: the feedback forms marketing teams embed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import ValidationError

from chalicelib.forms import records as form_store
from chalicelib.forms.config import MAX_LABEL_CHARS, MAX_QUESTION_CHARS, FormConfig, new_form_id
from chalicelib.models import RatingScale

# FormConfig field → the option that sets it, for error messages.
_OPTIONS = {
    "form_id": "--id",
    "name": "--name",
    "rating_scale": "--scale",
    "allowed_origins": "--origin",
    "question": "--question",
    "low_label": "--low-label",
    "high_label": "--high-label",
    "default_language": "--default-language",
}
# Options whose empty value means "none of the form's own" (the scale's wording, no default language).
_TEXT_FIELDS = ("question", "low_label", "high_label", "default_language")


def _print_form(form: FormConfig) -> None:
    # The form with the wording people see (its scale's where it sets none).
    print(json.dumps({**form.model_dump(mode="json"), **form.texts._asdict()}, indent=2, ensure_ascii=False))


def _refuse(error: ValidationError) -> int:
    for issue in error.errors():
        field = str(issue["loc"][0]) if issue["loc"] else ""
        print(f"error: {_OPTIONS.get(field, field)}: {issue['msg']}", file=sys.stderr)
    return 2


def _texts(args: argparse.Namespace) -> dict[str, str | None]:
    # An empty value goes back to the scale's wording.
    given = {field: getattr(args, field) for field in _TEXT_FIELDS if getattr(args, field) is not None}
    return {field: value if value.strip() else None for field, value in given.items()}


def forms_create(args: argparse.Namespace) -> int:
    """Create (or replace) a form and print it."""
    try:
        form = FormConfig(
            form_id=args.form_id or new_form_id(),
            name=args.name,
            rating_scale=RatingScale(args.scale),
            allowed_origins=args.origin or [],
            require_email=args.require_email,
            **_texts(args),
        )
    except ValidationError as error:
        return _refuse(error)
    form_store.save(form)
    _print_form(form)
    return 0


def forms_update(args: argparse.Namespace) -> int:
    """Change what the options name on an existing form; everything else stays."""
    form = form_store.get_cached(args.form_id)
    if form is None:
        print(f"error: no form {args.form_id[:64]!r}", file=sys.stderr)
        return 1
    changes: dict[str, Any] = _texts(args)
    if args.name is not None:
        changes["name"] = args.name
    if args.scale is not None:
        changes["rating_scale"] = args.scale
    if args.origin is not None:
        changes["allowed_origins"] = [origin for origin in args.origin if origin.strip()]
    if args.require_email is not None:
        changes["require_email"] = args.require_email
    try:
        updated = FormConfig.model_validate({**form.model_dump(), **changes})
    except ValidationError as error:
        return _refuse(error)
    form_store.save(updated)
    _print_form(updated)
    return 0


def forms_list(args: argparse.Namespace) -> int:
    """Print every form."""
    for form in form_store.list_all():
        origins = ", ".join(form.allowed_origins) or "any origin"
        print(f"{form.form_id:20} {form.rating_scale:6} {form.name}  ({origins})")
    return 0


def _add_text_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--question", help=f"what the form asks (≤ {MAX_QUESTION_CHARS} characters; default: the scale's)"
    )
    parser.add_argument(
        "--low-label", help=f"label of the scale's lowest end (≤ {MAX_LABEL_CHARS} characters)"
    )
    parser.add_argument(
        "--high-label", help=f"label of the scale's highest end (≤ {MAX_LABEL_CHARS} characters)"
    )
    parser.add_argument(
        "--default-language",
        help="ISO 639-1 code of the language most responses are in (en, es …), used where a comment is too "
        "short to tell; '' = none",
    )


def add_forms_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """`forms create | update | list`."""
    forms = groups.add_parser("forms", help="feedback forms").add_subparsers(dest="command", required=True)
    scales = [scale.value for scale in RatingScale]

    creating = forms.add_parser("create", parents=[common], help="create or replace a form")
    creating.add_argument("--name", required=True)
    creating.add_argument("--scale", choices=scales, default="nps")
    creating.add_argument("--origin", action="append", help="allowed origin (repeat); none = any")
    creating.add_argument("--require-email", action="store_true")
    creating.add_argument("--id", dest="form_id", help="choose the id (default: generated)")
    _add_text_options(creating)
    creating.set_defaults(run=forms_create)

    updating = forms.add_parser(
        "update", parents=[common], help="change a form (an empty --question/--…-label: the scale's wording)"
    )
    updating.add_argument("form_id")
    updating.add_argument("--name")
    updating.add_argument("--scale", choices=scales)
    updating.add_argument(
        "--origin", action="append", help="allowed origins, replacing the list (repeat; --origin '' = any)"
    )
    updating.add_argument("--require-email", action=argparse.BooleanOptionalAction, default=None)
    _add_text_options(updating)
    updating.set_defaults(run=forms_update)

    forms.add_parser("list", parents=[common], help="list forms").set_defaults(run=forms_list)
