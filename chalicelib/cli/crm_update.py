"""`crm update <id>`: change what a connection syncs and how it names the fields (its name, sources,
channels, thresholds, field map, Salesforce Account) without `crm remove` and `crm add` again: the
credentials, the status and the links to what it synced stay."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import ValidationError

from chalicelib.cli.common import pairs, print_invalid, unknown_origins
from chalicelib.crm import connections
from chalicelib.crm.connections import FIELDS_NAMED, CrmConnection

# (option that sets, option that clears, settings field): given together they contradict each other.
CLEARABLE = (
    ("--source", "--all-sources", "sources"),
    ("--channel", "--all-channels", "channels"),
    ("--map", "--default-names", "field_map"),
)


def _changes(args: argparse.Namespace) -> dict[str, Any] | str:
    """The settings fields the options change, or why they cannot."""
    changes: dict[str, Any] = {}
    given = {"sources": args.source, "channels": args.channel, "field_map": args.map}
    cleared = {"sources": args.all_sources, "channels": args.all_channels, "field_map": args.default_names}
    for setting, clearing, field in CLEARABLE:
        if given[field] is not None and cleared[field]:
            return f"{setting} and {clearing} contradict each other: give one"
        if cleared[field]:
            changes[field] = {} if field == "field_map" else []
        elif given[field] is not None:
            changes[field] = pairs(given[field], "--map") if field == "field_map" else given[field]
    for field in ("min_sentiment_score", "min_rating", "account_id"):
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    return changes


def crm_update(args: argparse.Namespace) -> int:
    from chalicelib.cli.crm import SETTING_OPTIONS, _existing, _foreign_options, _print

    connection = _existing(args.connection_id)
    if connection is None:
        return 1
    if _foreign_options(args, connection.type) or unknown_origins("--source", args.source):
        return 2
    changes = _changes(args)
    if isinstance(changes, str):
        print(f"error: {changes}", file=sys.stderr)
        return 2
    if not changes and args.name is None:
        print("error: nothing to change: give the settings to change (crm update --help)", file=sys.stderr)
        return 2
    fields = connection.model_dump(mode="json")
    fields["settings"] = {**fields["settings"], **changes}
    if args.name is not None:
        fields["name"] = args.name
    try:
        updated = CrmConnection.model_validate(fields)
    except ValidationError as error:
        print_invalid(error, SETTING_OPTIONS)
        return 2
    connections.save(updated)  # no secrets given: the credentials in SSM stay as they are
    _print(updated)
    if updated.settings.field_map != connection.settings.field_map:
        print(
            f"\nNext: `crm setup {updated.connection_id}` creates each {FIELDS_NAMED[updated.type]} the map "
            "names now. A contact gets them at its next sync (`crm sync` to write them now); the fields "
            "named before keep the values last written."
        )
    return 0


def add_crm_update_command(commands: Any, common: argparse.ArgumentParser) -> None:
    updating = commands.add_parser(
        "update", parents=[common], help="change a connection's settings (its credentials stay)"
    )
    updating.add_argument("connection_id")
    updating.add_argument("--name", help="what `crm list` calls it")
    updating.add_argument(
        "--source", action="append", metavar="ID", help="sync only these (repeat; replaces)"
    )
    updating.add_argument("--all-sources", action="store_true", help="sync every source and form again")
    updating.add_argument(
        "--channel", action="append", metavar="CHANNEL", help="only these (repeat; replaces)"
    )
    updating.add_argument("--all-channels", action="store_true", help="sync every channel again")
    updating.add_argument("--min-sentiment-score", type=float, help="skip items scored below (-1 to 1)")
    updating.add_argument("--min-rating", type=int, help="skip items rated below")
    updating.add_argument(
        "--map", action="append", metavar="FIELD=PROPERTY", help="the field map (repeat; replaces it whole)"
    )
    updating.add_argument("--default-names", action="store_true", help="drop the field map: default names")
    updating.add_argument("--account-id", help="salesforce: the Account (001…) new contacts belong to")
    updating.set_defaults(run=crm_update)
