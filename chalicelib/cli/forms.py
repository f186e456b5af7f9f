"""`forms create|update|list`: the feedback forms marketing teams embed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chalicelib.forms import admin
from chalicelib.forms import records as form_store
from chalicelib.forms.appearance import Position
from chalicelib.forms.config import MAX_LABEL_CHARS, MAX_QUESTION_CHARS, FormConfig, new_form_id
from chalicelib.models import RatingScale
from chalicelib.store.config_records import VersionConflict

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
    "accent_color": "--accent-color",
    "button_label": "--button-label",
    "position": "--position",
    "logo_url": "--logo-url",
    "intro": "--intro",
    "privacy_note": "--privacy-note",
    "privacy_url": "--privacy-url",
    "strings": "--string",
    "follow_up": "--follow-up",
    "csat_style": "--csat-style",
    "delay_seconds": "--delay",
    "scroll_percent": "--scroll",
    "exit_intent": "--exit-intent",
    "include_urls": "--include-url",
    "exclude_urls": "--exclude-url",
    "sample_percent": "--sample",
    "snooze_days": "--snooze-days",
}
# Branding and display options: (FormConfig group, field); an empty text value clears the field.
_BRANDING = ("accent_color", "button_label", "position", "logo_url", "intro", "privacy_note", "privacy_url")
_DISPLAY = ("delay_seconds", "scroll_percent", "exit_intent", "sample_percent", "snooze_days")
_DISPLAY_LISTS = ("include_urls", "exclude_urls")
# Options whose empty value means "none of the form's own" (the scale's wording, no default language).
_TEXT_FIELDS = ("question", "low_label", "high_label", "default_language")


def _print_form(form: FormConfig, version: int | None = None) -> None:
    # The form with the wording people see (its scale's where it sets none), and the version it is stored as
    # (what `forms update --if-version` and HTTP's If-Match compare with).
    shown = {**form.model_dump(mode="json"), **form.texts._asdict()}
    if version is not None:
        shown["version"] = version
    print(json.dumps(shown, indent=2, ensure_ascii=False))


def _refuse(error: admin.ConfigRefused) -> int:
    for path, message in error.fields.items():
        # The option is named after the deepest model field (branding.accent_color → --accent-color).
        names = [part for part in path.split(".") if part in _OPTIONS]
        field = names[-1] if names else path
        print(f"error: {_OPTIONS.get(field, field)}: {message}", file=sys.stderr)
    return 2


class UsageError(ValueError):
    """An option's value is malformed before the form checks it (exit 2, naming the option)."""


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values or []:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"error: {option}: expected KEY=TEXT, got {value[:60]!r}")
        pairs.append((key.strip(), text))
    return pairs


def _appearance(args: argparse.Namespace, form: dict[str, Any]) -> dict[str, Any]:
    """The branding, strings, follow-up and display changes the options ask for, merged into `form`'s."""
    changes: dict[str, Any] = {}
    branding = dict(form.get("branding") or {})
    for field in _BRANDING:
        value = getattr(args, field, None)
        if value is not None:
            branding[field] = value if value.strip() else None
    changes["branding"] = {key: value for key, value in branding.items() if value is not None}
    display = dict(form.get("display") or {})
    for field in _DISPLAY:
        if getattr(args, field, None) is not None:
            display[field] = getattr(args, field)
    for field in _DISPLAY_LISTS:
        if getattr(args, field, None) is not None:
            display[field] = [pattern for pattern in getattr(args, field) if pattern.strip()]
    changes["display"] = display
    follow_up = dict(form.get("follow_up") or {})
    for band, question in _pairs(args.follow_up, "--follow-up"):
        follow_up[band] = question
        if not question.strip():
            del follow_up[band]
    changes["follow_up"] = follow_up
    strings = {language: dict(texts) for language, texts in (form.get("strings") or {}).items()}
    for target, text in _pairs(args.string, "--string"):
        language, dot, key = target.partition(".")
        if not dot:
            raise UsageError(f"error: --string: expected LANG.KEY=TEXT, got {target[:60]!r}")
        texts = strings.setdefault(language.strip().lower(), {})
        texts[key.strip()] = text
        if not text.strip():
            del texts[key.strip()]
    changes["strings"] = {language: texts for language, texts in strings.items() if texts}
    if args.csat_style is not None:
        changes["csat_style"] = args.csat_style
    return changes


def _texts(args: argparse.Namespace) -> dict[str, str | None]:
    # An empty value goes back to the scale's wording.
    given = {field: getattr(args, field) for field in _TEXT_FIELDS if getattr(args, field) is not None}
    return {field: value if value.strip() else None for field, value in given.items()}


def forms_create(args: argparse.Namespace) -> int:
    """Create a form and print it; an existing id is refused (exit 1, nothing changed) unless --replace, as
    `PUT /forms/{id}` needs If-Match: its follow-ups, strings and branding are never wiped unseen."""
    fields = {
        "form_id": args.form_id or new_form_id(),
        "name": args.name,
        "rating_scale": args.scale,
        "allowed_origins": args.origin or [],
        "require_email": args.require_email,
    }
    try:
        form = admin.validated({**fields, **_texts(args), **_appearance(args, {})})
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except admin.ConfigRefused as error:
        return _refuse(error)
    if args.replace:
        version = form_store.save(form)
    else:
        try:
            version = form_store.write(form, 0)  # conditional: only if no form has the id
        except VersionConflict:
            named = form.form_id[:64]
            print(
                f"error: form {named!r} exists: change it with `forms update {named}`, "
                "or pass --replace to replace its whole configuration",
                file=sys.stderr,
            )
            return 1
    _print_form(form, version)
    return 0


def forms_update(args: argparse.Namespace) -> int:
    """Change what the options name on an existing form; everything else stays (a concurrent change by
    someone else is read and kept: the options apply on top of it). With --if-version, only if the form is
    still at that version, as HTTP's If-Match: a change someone made since is never overwritten unseen."""
    changes: dict[str, Any] = _texts(args)
    if args.name is not None:
        changes["name"] = args.name
    if args.scale is not None:
        changes["rating_scale"] = args.scale
    if args.origin is not None:
        changes["allowed_origins"] = [origin for origin in args.origin if origin.strip()]
    if args.require_email is not None:
        changes["require_email"] = args.require_email

    def edit(current: dict[str, Any]) -> dict[str, Any]:
        return {**current, **changes, **_appearance(args, current)}

    try:
        updated = admin.change(args.form_id, edit, expected_version=args.if_version)
    except admin.UnknownForm:
        print(f"error: no form {args.form_id[:64]!r}", file=sys.stderr)
        return 1
    except VersionConflict:
        print(
            f"error: form {args.form_id[:64]!r} changed since version {args.if_version}; "
            "read it again (forms show) and repeat the update",
            file=sys.stderr,
        )
        return 1
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except admin.ConfigRefused as error:
        return _refuse(error)
    _print_form(updated.form, updated.version)
    return 0


def forms_show(args: argparse.Namespace) -> int:
    """Print one form as stored now, with its version."""
    stored = form_store.get_fresh(args.form_id)
    if stored is None:
        print(f"error: no form {args.form_id[:64]!r}", file=sys.stderr)
        return 1
    _print_form(stored.form, stored.version)
    return 0


def forms_list(args: argparse.Namespace) -> int:
    """Print every form."""
    forms = list(form_store.list_all())
    # The id column as wide as the longest id (up to 64 characters), so the scales stay in one column.
    width = max((len(form.form_id) for form in forms), default=0)
    for form in forms:
        origins = ", ".join(form.allowed_origins) or "any origin"
        print(f"{form.form_id:{width}}  {form.rating_scale:6} {form.name}  ({origins})")
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


def _add_appearance_options(parser: argparse.ArgumentParser) -> None:
    """Branding, translations, follow-up questions, CSAT style and display rules ('' clears a text)."""
    look = parser.add_argument_group("branding ('' = none)")
    look.add_argument("--accent-color", dest="accent_color", help="CSS hex colour, e.g. #e4572e")
    look.add_argument("--button-label", dest="button_label", help="the floating button's label (≤ 40)")
    look.add_argument("--position", choices=[p.value for p in Position], help="floating corner or inline")
    look.add_argument("--logo-url", dest="logo_url", help="https address of the hosted page's logo")
    look.add_argument("--intro", help="text above the question (≤ 500)")
    look.add_argument("--privacy-note", dest="privacy_note", help="note beside the email field (≤ 200)")
    look.add_argument("--privacy-url", dest="privacy_url", help="https link of the privacy note")
    texts = parser.add_argument_group("texts")
    texts.add_argument(
        "--string", action="append", metavar="LANG.KEY=TEXT", help="override a string (repeat; '' drops it)"
    )
    texts.add_argument(
        "--follow-up",
        dest="follow_up",
        action="append",
        metavar="BAND=QUESTION",
        help="question after a score in BAND (nps: detractor/passive/promoter; csat, stars: "
        "negative/neutral/positive); repeat; QUESTION '' drops it",
    )
    texts.add_argument(
        "--csat-style",
        dest="csat_style",
        choices=["numbers", "faces"],
        help="a CSAT form's 1-5 as numbers or faces",
    )
    rules = parser.add_argument_group("display rules (the widget on host pages)")
    rules.add_argument("--delay", dest="delay_seconds", type=int, help="seconds before it shows")
    rules.add_argument("--scroll", dest="scroll_percent", type=int, help="scroll depth (%%) before it shows")
    rules.add_argument(
        "--exit-intent",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="open when the pointer leaves through the top of the window (desktop)",
    )
    rules.add_argument("--include-url", dest="include_urls", action="append", help="glob (repeat; '' = all)")
    rules.add_argument("--exclude-url", dest="exclude_urls", action="append", help="glob (repeat; '' = none)")
    rules.add_argument("--sample", dest="sample_percent", type=float, help="%% of visitors who see it")
    rules.add_argument("--snooze-days", dest="snooze_days", type=int, help="hidden N days after answer/close")


def add_forms_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """`forms create | update | list`."""
    forms = groups.add_parser("forms", help="feedback forms").add_subparsers(dest="command", required=True)
    scales = [scale.value for scale in RatingScale]

    creating = forms.add_parser("create", parents=[common], help="create a form")
    creating.add_argument(
        "--name", required=True, help="the form's name, as the dashboard and exports show it"
    )
    creating.add_argument(
        "--scale",
        choices=scales,
        default="nps",
        help="nps 0-10, csat 1-5 or stars 1-5 (default: %(default)s)",
    )
    creating.add_argument("--origin", action="append", help="allowed origin (repeat); none = any")
    creating.add_argument("--require-email", action="store_true", help="refuse a response without an email")
    creating.add_argument(
        "--id", dest="form_id", help="choose the id: 3-64 of A-Z a-z 0-9 _ - (default: generated)"
    )
    creating.add_argument(
        "--replace",
        action="store_true",
        help="with --id: replace the whole configuration of that existing form",
    )
    _add_text_options(creating)
    _add_appearance_options(creating)
    creating.set_defaults(run=forms_create)

    updating = forms.add_parser(
        "update", parents=[common], help="change a form (an empty --question/--…-label: the scale's wording)"
    )
    updating.add_argument("form_id", help="the form's id (forms list)")
    updating.add_argument("--name", help="the form's name")
    updating.add_argument("--scale", choices=scales, help="nps 0-10, csat 1-5 or stars 1-5")
    updating.add_argument(
        "--origin", action="append", help="allowed origins, replacing the list (repeat; --origin '' = any)"
    )
    updating.add_argument(
        "--require-email",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse a response without an email, or no longer",
    )
    updating.add_argument(
        "--if-version",
        type=int,
        metavar="N",
        help="change the form only if it is still at version N (as printed by the last create/update)",
    )
    _add_text_options(updating)
    _add_appearance_options(updating)
    updating.set_defaults(run=forms_update)

    forms.add_parser("list", parents=[common], help="list forms").set_defaults(run=forms_list)
    showing = forms.add_parser("show", parents=[common], help="print a form as stored, with its version")
    showing.add_argument("form_id", help="the form's id (forms list)")
    showing.set_defaults(run=forms_show)
