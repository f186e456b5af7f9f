"""`sources add|list|show|rotate|remove|resume|pull`: webhook, mail and pull sources and their secrets."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pydantic import ValidationError

from chalicelib.channels import sources
from chalicelib.channels.pull.registry import PULL_TYPES, platform_for
from chalicelib.channels.registry import CHANNELS
from chalicelib.cli.common import pairs

# Sources that receive mail (channels/email/receiving.py), not webhooks: no secrets, a `recipients` setting.
EMAIL_TYPE = "email"


def _webhook_url(args: argparse.Namespace, source_id: str) -> str:
    local_api = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    base = args.api_url or (local_api if args.local else "https://<your-api>/api")
    return f"{base.rstrip('/')}/webhooks/{source_id}"


def _print_source(args: argparse.Namespace, source: sources.SourceConfig, reveal: bool = False) -> None:
    secret_values = sources.read_secrets(source.source_id)
    print(f"source_id:  {source.source_id}")
    print(f"type:       {source.type}")
    print(f"name:       {source.name}")
    if source.type == EMAIL_TYPE:
        print(f"mail to:    {source.settings.get('recipients', '(no recipients setting)')}")
    elif source.type in PULL_TYPES:
        _print_pull_state(source)
    else:
        print(f"webhook:    {_webhook_url(args, source.source_id)}")
    if source.default_language:
        print(f"language:   {source.default_language} (default)")
    for key, value in sorted(source.settings.items()):
        print(f"setting:    {key}={value}")
    for name in secret_values.names():
        value = secret_values.current(name) or ""
        print(f"secret:     {name}={value if reveal else sources.mask(value)}")


def _print_pull_state(source: sources.SourceConfig) -> None:
    from chalicelib.channels.pull import state as pull_state

    current = pull_state.load(source.source_id)
    every = int(pull_state.poll_interval(source.settings).total_seconds() // 60)
    print(f"pulls:      every {every} minutes (the schedule runs every 5)")
    if current.paused_reason:
        print(f"paused:     since {current.paused_at:%Y-%m-%d %H:%M} UTC: {current.paused_reason}")
        print(f"            fix the credentials or settings, then `sources resume {source.source_id}`")
    if current.last_run_at:
        print(f"last run:   {current.last_run_at:%Y-%m-%d %H:%M} UTC, {current.last_reviews} reviews")
    if current.last_error:
        print(f"last error: {current.last_error}")
    if current.next_run_at and not current.paused_reason:
        # After a quota answer that said how long to wait, this is later than the interval alone.
        print(f"next run:   {current.next_run_at:%Y-%m-%d %H:%M} UTC, at the schedule's first run after it")
    if current.since:
        print(f"checkpoint: reviews since {current.since.isoformat()}")
    if current.reconciled_at:
        print(
            f"reconcile:  {current.reconciled_at:%Y-%m-%d %H:%M} UTC, {len(current.seen)} reviews tracked in "
            f"the window, {current.last_deleted} deletions recorded by the last reconcile"
        )


def _secret_value(value: str) -> str:
    """A secret as given, or a file's content for `@path` (a service-account key file, a .p8 key)."""
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as file:
            return file.read().strip()
    return value


def _new_source(args: argparse.Namespace, settings: dict[str, str]) -> sources.SourceConfig | None:
    """The source `sources add` describes, or None after printing each field it refuses as its flag."""
    try:
        return sources.SourceConfig(
            source_id=args.source_id or sources.new_source_id(args.type),
            type=args.type,
            name=args.name,
            settings=settings,
            default_language=args.default_language,
        )
    except ValidationError as error:
        for issue in error.errors():
            field = str(issue["loc"][0]) if issue["loc"] else ""
            print(f"error: --{field.replace('_', '-')}: {issue['msg']}", file=sys.stderr)
        return None


def _given_secrets(args: argparse.Namespace) -> dict[str, str] | None:
    """The --secret NAME=VALUE pairs, `@file` values read; None (said on stderr) when a file cannot be."""
    try:
        return {name: _secret_value(value) for name, value in pairs(args.secret, "--secret").items()}
    except OSError as error:
        print(f"error: --secret: cannot read {error.filename}", file=sys.stderr)
        return None


def _pull_source_add(args: argparse.Namespace) -> int:
    """A pull source: its platform's secrets (`@file` reads a key file) and settings, checked first."""
    platform = platform_for(args.type)
    given = _given_secrets(args)
    if given is None:
        return 2
    settings = pairs(args.setting, "--setting")
    missing = [name for name in platform.secret_names if not given.get(name)]
    missing_settings = [name for name in platform.required_settings if not settings.get(name)]
    numbers = platform.number_settings()
    unknown = sorted(set(settings) - set(platform.setting_help) - set(numbers))
    if missing or missing_settings or unknown or set(given) - set(platform.secret_names):
        known = {
            **platform.setting_help,
            **{name: f"{number.help}, {number.low} to {number.high}" for name, number in numbers.items()},
        }
        print(
            f"error: a {args.type} source needs --secret for {', '.join(platform.secret_names)} and "
            f"--setting for {', '.join(platform.required_settings)}; it knows only: "
            + "; ".join(f"{name} ({meaning})" for name, meaning in known.items()),
            file=sys.stderr,
        )
        return 2
    if errors := platform.setting_errors(settings) + platform.secret_errors(given):
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return 2
    source = _new_source(args, settings)
    if source is None:
        return 2
    sources.save(source, given)
    _print_source(args, source)
    print(f"\nIn the platform's console: {platform.console_help}")
    print(f"Check it now with `sources pull {source.source_id}`.")
    return 0


def sources_add(args: argparse.Namespace) -> int:
    """Create a source: its secrets go to SSM (generated where this product chooses them)."""
    # `--id` of an existing source would replace it and its secrets (the platform's copy no longer matches).
    if args.source_id and any(s.source_id == args.source_id for s in sources.list_all()):
        print(
            f"error: --id: a source {args.source_id!r} exists; choose another id, or `sources remove` it"
            " first (`sources rotate` changes its secrets)",
            file=sys.stderr,
        )
        return 2
    if args.type == EMAIL_TYPE:
        return _email_source_add(args)
    if args.type in PULL_TYPES:
        return _pull_source_add(args)
    return _channel_source_add(args)


def _channel_source_add(args: argparse.Namespace) -> int:
    """A webhook channel's source: its secrets given or generated, its settings checked by the channel."""
    channel = CHANNELS[args.type]  # argparse already refused unknown types
    given = pairs(args.secret, "--secret")
    generated = {
        name: channel.generate_secret(name) for name in channel.generated_secrets if name not in given
    }
    missing = [name for name in channel.secret_names if name not in given and name not in generated]
    if missing:
        print(f"error: a {args.type} source needs --secret for: {', '.join(missing)}", file=sys.stderr)
        return 2
    settings = pairs(args.setting, "--setting")
    errors = channel.source_errors(settings, given)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 2
    source = _new_source(args, settings)
    if source is None:
        return 2
    sources.save(source, {**given, **generated})
    _print_source(args, source)
    for name, value in generated.items():
        # Shown once, in full: it has to be pasted into the platform's console.
        print(f"generated:  {name}={value}   (shown once; `sources show --reveal` shows it again)")
    if channel.console_help:
        print(f"\nIn the platform's console: {channel.console_help}")
    return 0


def _email_source_add(args: argparse.Namespace) -> int:
    """An `email` source: which recipients are its feedback, and which SES verdicts it lets through."""
    from chalicelib.channels.email.receiving import RECIPIENTS, SETTING_HELP, setting_errors

    settings = pairs(args.setting, "--setting")
    unknown = sorted(set(settings) - set(SETTING_HELP))
    if args.secret or RECIPIENTS not in settings or unknown:
        print(
            "error: an email source takes no --secret, needs --setting recipients=… and knows only: "
            + "; ".join(f"{name} ({meaning})" for name, meaning in SETTING_HELP.items()),
            file=sys.stderr,
        )
        return 2
    errors = setting_errors(settings)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 2
    source = _new_source(args, settings)
    if source is None:
        return 2
    sources.save(source, {})
    _print_source(args, source)
    print(
        "\nMail to these recipients must reach SES's receipt rule: deploy with -c email_recipients=… "
        "(README, E-mail)."
    )
    return 0


def sources_list(args: argparse.Namespace) -> int:
    """Print every source (secrets masked)."""
    listed = sorted(sources.list_all(), key=lambda s: s.source_id)
    # Each column as wide as its longest value (`google_business`), so the names stay in one column.
    id_width = max((len(source.source_id) for source in listed), default=0)
    type_width = max((len(source.type) for source in listed), default=0)
    for source in listed:
        names = ", ".join(sources.read_secrets(source.source_id).names())
        print(f"{source.source_id:{id_width}}  {source.type:{type_width}}  {source.name}  [secrets: {names}]")
    return 0


def _existing(source_id: str) -> sources.SourceConfig | None:
    found = next((s for s in sources.list_all() if s.source_id == source_id), None)
    if found is None:
        print(f"error: no source {source_id!r}", file=sys.stderr)
    return found


def sources_show(args: argparse.Namespace) -> int:
    """Print one source; secrets masked unless --reveal."""
    source = _existing(args.source_id)
    if source is None:
        return 1
    _print_source(args, source, reveal=args.reveal)
    return 0


def _rotate_pull(args: argparse.Namespace, source: sources.SourceConfig) -> int:
    """A platform's key or token: the new one replaces it at once (nothing signs with the old one), once
    it parses: a key refused here would pause the source at its next run."""
    platform = platform_for(source.type)
    new_values = _given_secrets(args)
    if new_values is None:
        return 2
    unknown = sorted(set(new_values) - set(platform.secret_names))
    if unknown or args.generate:
        print(f"error: a {source.type} source has secrets {platform.secret_names}", file=sys.stderr)
        return 2
    if errors := platform.secret_errors(new_values):
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return 2
    sources.rotate(source.source_id, new_values, keep_previous=False)
    _print_source(args, source)
    return 0


def sources_rotate(args: argparse.Namespace) -> int:
    """Replace secrets (the previous value stays accepted until --drop-previous), or end a rotation."""
    source = _existing(args.source_id)
    if source is None:
        return 1
    if source.type in PULL_TYPES:
        return _rotate_pull(args, source)
    if source.type not in CHANNELS:
        print(f"error: a {source.type} source has no secrets to rotate", file=sys.stderr)
        return 2
    channel = CHANNELS[source.type]
    new_values = pairs(args.secret, "--secret")
    for name in args.generate or []:
        new_values[name] = channel.generate_secret(name)
    unknown = sorted(set(new_values) - set(channel.secret_names))
    errors = [f"a {source.type} source has no secret named {', '.join(unknown)}"] if unknown else []
    errors += channel.secret_errors(new_values)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 2
    if new_values:
        sources.rotate(source.source_id, new_values, keep_previous=not args.no_keep_previous)
    if args.drop_previous:
        sources.drop_previous(source.source_id)
    _print_source(args, source)
    for name in args.generate or []:
        print(f"generated:  {name}={new_values[name]}   (shown once)")
    return 0


def _existing_pull(source_id: str) -> sources.SourceConfig | None:
    source = _existing(source_id)
    if source is not None and source.type not in PULL_TYPES:
        print(f"error: {source_id} is a {source.type} source, not a pull source", file=sys.stderr)
        return None
    return source


def sources_resume(args: argparse.Namespace) -> int:
    """Unpause a pull source its platform refused, once its credentials or settings are fixed."""
    from chalicelib.channels.pull import scheduler
    from chalicelib.channels.pull import state as pull_state

    source = _existing_pull(args.source_id)
    if source is None:
        return 1
    current = pull_state.load(source.source_id)
    if current.paused_reason is None:
        # Not paused: nothing to resume, and its schedule is left as it is (resuming would make it due now).
        when = "at the next run"
        if current.next_run_at:
            when = f"next at {current.next_run_at:%Y-%m-%d %H:%M} UTC"
        print(f"{source.source_id} is not paused: nothing to resume (it is pulled on its schedule, {when})")
        return 0
    scheduler.resume(source.source_id)
    print(f"resumed {source.source_id}: it is pulled at the next run of the schedule")
    return 0


# What a run's status means when its one word does not say (the other statuses explain themselves or are
# followed by the paused reason or the last error).
_PULL_STATUS_HELP = {
    "conflict": "  another run of this source (the schedule's) saved its checkpoint first and stands; the "
    "reviews this run queued are stored once. Nothing to do.",
    "quota": "  the platform answered with its quota: what was queued stays queued, and the next run goes on "
    "from the page reached (not before the time below).",
    "unfinished": "  more pages wait: the schedule's next run goes on from the page reached.",
}


def sources_pull(args: argparse.Namespace) -> int:
    """Pull a source now, as the schedule would (to check a new source's setup)."""
    from chalicelib.channels.pull import scheduler
    from chalicelib.channels.pull import state as pull_state
    from chalicelib.channels.pull.http import JsonHttp

    source = _existing_pull(args.source_id)
    if source is None:
        return 1
    http = JsonHttp()
    outcome = scheduler.pull_source(source, pull_state.load(source.source_id), http)
    print(f"{source.source_id}: {outcome.status}, {outcome.reviews} reviews queued, {http.requests} requests")
    if outcome.status in _PULL_STATUS_HELP:
        print(_PULL_STATUS_HELP[outcome.status])
    _print_pull_state(source)
    return 0 if outcome.status in ("caught_up", "unfinished") else 1


def sources_remove(args: argparse.Namespace) -> int:
    """Delete a source and its secrets."""
    found = _existing(args.source_id)
    if found is None:
        return 1
    if found.type in PULL_TYPES:
        from chalicelib.channels.pull import state as pull_state

        pull_state.remove(args.source_id)
    sources.remove(args.source_id)
    print(f"removed {args.source_id}")
    return 0


def add_sources_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument("--api-url", help="the API's base URL, to print webhook URLs")
    group = groups.add_parser("sources", help="webhook, mail and pull sources")
    commands = group.add_subparsers(dest="command", required=True)

    adding = commands.add_parser("add", parents=[common, url], help="create a source")
    adding.add_argument(
        "--type",
        required=True,
        choices=sorted([*CHANNELS, EMAIL_TYPE, *PULL_TYPES]),
        help="the platform (README: Webhook sources, E-mail, Pulled reviews)",
    )
    adding.add_argument("--name", required=True, help="what `sources list` calls it")
    adding.add_argument("--secret", action="append", metavar="NAME=VALUE", help="a secret (repeat)")
    adding.add_argument("--setting", action="append", metavar="NAME=VALUE", help="a setting (repeat)")
    adding.add_argument("--id", dest="source_id", help="choose the id (default: generated)")
    adding.add_argument(
        "--default-language",
        help="ISO 639-1 code of the language its feedback is mostly in (en, es …), for items the platform "
        "gives none",
    )
    adding.set_defaults(run=sources_add)

    commands.add_parser("list", parents=[common], help="list sources").set_defaults(run=sources_list)

    showing = commands.add_parser("show", parents=[common, url], help="one source, secrets masked")
    showing.add_argument("source_id")
    showing.add_argument("--reveal", action="store_true", help="print secrets in full")
    showing.set_defaults(run=sources_show)

    rotating = commands.add_parser("rotate", parents=[common, url], help="replace secrets")
    rotating.add_argument("source_id")
    rotating.add_argument("--secret", action="append", metavar="NAME=VALUE", help="new value (repeat)")
    rotating.add_argument("--generate", action="append", metavar="NAME", help="generate a new value")
    rotating.add_argument("--no-keep-previous", action="store_true", help="stop accepting the old value now")
    rotating.add_argument("--drop-previous", action="store_true", help="end a rotation: old values refused")
    rotating.set_defaults(run=sources_rotate)

    resuming = commands.add_parser("resume", parents=[common], help="unpause a pull source")
    resuming.add_argument("source_id")
    resuming.set_defaults(run=sources_resume)

    pulling = commands.add_parser("pull", parents=[common], help="pull a pull source now")
    pulling.add_argument("source_id")
    pulling.set_defaults(run=sources_pull)

    removing = commands.add_parser("remove", parents=[common], help="delete a source and its secrets")
    removing.add_argument("source_id")
    removing.set_defaults(run=sources_remove)
