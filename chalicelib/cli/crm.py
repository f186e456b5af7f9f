"""`crm add|list|show|test|rotate|pause|resume|setup|remove` (and `update`, cli/crm_update.py): CRM
connections (HubSpot, Salesforce), their credentials and what they sync."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chalicelib import jws
from chalicelib.channels.sources import mask
from chalicelib.cli.common import pairs, print_invalid, unknown_origins, waiting_aloud
from chalicelib.cli.crm_sync import add_crm_sync_commands
from chalicelib.cli.crm_update import add_crm_update_command
from chalicelib.crm import connections
from chalicelib.crm.connections import (
    CREDENTIALS_NAMED,
    CRM_TYPES,
    FIELDS_NAMED,
    PAUSED_BY_OPERATOR,
    CrmConnection,
    CrmSettings,
    Status,
)
from chalicelib.crm.exceptions import CredentialsRejected, CrmError
from chalicelib.crm.salesforce_api import forget_sessions
from chalicelib.crm.sync import target_for

TOKEN_ENVIRONMENT = "CRM_TOKEN"  # noqa: S105 - the variable's name, not a token
CLIENT_SECRET_ENVIRONMENT = "CRM_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret


def _token(args: argparse.Namespace) -> str:
    """The token from --token, else $CRM_TOKEN, else asked for without echo (kept out of shell history)."""
    token = args.token or os.environ.get(TOKEN_ENVIRONMENT)
    if not token and sys.stdin.isatty():
        token = getpass.getpass("HubSpot private-app access token: ")
    return (token or "").strip()


# The options of one CRM type that another refuses: type → (option, argparse dest) it must not be given.
_SALESFORCE_ONLY = (
    ("--client-id", "client_id"),
    ("--client-secret", "client_secret"),
    ("--private-key-file", "private_key_file"),
    ("--username", "username"),
    ("--account-id", "account_id"),
)
TYPE_OPTIONS = {"hubspot": _SALESFORCE_ONLY, "salesforce": (("--token", "token"),)}

# The connection settings' fields whose option is not their name.
SETTING_OPTIONS = {"sources": "--source", "channels": "--channel", "field_map": "--map"}


def _salesforce_secrets(args: argparse.Namespace) -> dict[str, str] | str:
    """A Salesforce connected app's secrets: --client-id with a client secret (--client-secret, else
    $CRM_CLIENT_SECRET, else asked without echo), or with --private-key-file and --username (JWT bearer
    flow); else why not."""
    if not args.client_id:
        return "a salesforce connection needs --client-id (the connected app's consumer key)"
    if args.private_key_file:
        return _jwt_secrets(args)
    secret = args.client_secret or os.environ.get(CLIENT_SECRET_ENVIRONMENT)
    if not secret and sys.stdin.isatty():
        secret = getpass.getpass("Salesforce connected app consumer secret: ")
    if not (secret or "").strip():
        return f"give --client-secret (or ${CLIENT_SECRET_ENVIRONMENT}) or --private-key-file and --username"
    return {"client_id": args.client_id, "client_secret": (secret or "").strip()}


def _jwt_secrets(args: argparse.Namespace) -> dict[str, str] | str:
    if not args.username:
        return "the JWT bearer flow (--private-key-file) needs --username"
    try:
        key = Path(args.private_key_file).read_text(encoding="utf-8").strip()
    except OSError as error:
        return f"cannot read {args.private_key_file}: {error.strerror}"
    if "PRIVATE KEY-----" not in key:
        return f"{args.private_key_file} is not a PEM private key"
    try:
        # Signed once as each session will be: a key that cannot sign would fail every sync instead.
        jws.rs256_jwt({"typ": "JWT"}, {}, key)
    except (jws.KeyInvalid, ValueError, KeyError, TypeError) as error:
        reason = str(error) if isinstance(error, jws.KeyInvalid) else type(error).__name__
        return (
            f"{args.private_key_file} is not a PEM private key Salesforce's JWT bearer flow takes: {reason}"
        )
    return {"client_id": args.client_id, "private_key": key, "username": args.username}


def _foreign_options(args: argparse.Namespace, crm_type: str) -> bool:
    """Another type's options would be stored or ignored without a word (a HubSpot "account: 001…"): say
    which, and refuse."""
    foreign = [option for option, dest in TYPE_OPTIONS[crm_type] if getattr(args, dest, None) is not None]
    if foreign:
        print(f"error: {', '.join(foreign)}: not an option of a {crm_type} connection", file=sys.stderr)
    return bool(foreign)


def crm_add(args: argparse.Namespace) -> int:
    # `--id` of an existing connection would replace it, its credentials and its CRM (api_url) at once.
    if args.connection_id and connections.get(args.connection_id) is not None:
        print(
            f"error: --id: a CRM connection {args.connection_id!r} exists; choose another id, or "
            "`crm remove` it first",
            file=sys.stderr,
        )
        return 2
    if _foreign_options(args, args.type) or unknown_origins("--source", args.source):
        return 2
    if args.type == "salesforce":
        secrets = _salesforce_secrets(args)
        if isinstance(secrets, str):
            print(f"error: {secrets}", file=sys.stderr)
            return 2
    else:
        token = _token(args)
        if not token:
            print(
                f"error: a {args.type} connection needs a token (--token or ${TOKEN_ENVIRONMENT})",
                file=sys.stderr,
            )
            return 2
        secrets = {"token": token}
    try:
        connection = CrmConnection(
            connection_id=args.connection_id or connections.new_connection_id(args.type),
            type=args.type,
            name=args.name,
            settings=CrmSettings(
                sources=args.source or [],
                channels=args.channel or [],
                min_sentiment_score=args.min_sentiment_score,
                min_rating=args.min_rating,
                field_map=pairs(args.map, "--map"),
                api_url=args.api_url,
                account_id=getattr(args, "account_id", None),
            ),
        )
    except ValidationError as error:
        print_invalid(error, SETTING_OPTIONS)
        return 2
    connections.save(connection, secrets)
    _print(connection)
    print(
        "\nNext: `crm test` to check the credentials, then `crm setup` to create the fields the sync needs."
    )
    return 0


def _print(connection: CrmConnection) -> None:
    rules = connection.settings
    print(f"connection: {connection.connection_id}")
    print(f"type:       {connection.type}")
    print(f"name:       {connection.name}")
    status = connection.status.value + (f" ({connection.paused_reason})" if connection.paused_reason else "")
    print(f"status:     {status}")
    print(f"sources:    {', '.join(rules.sources) or 'all'}")
    print(f"channels:   {', '.join(rules.channels) or 'all'}")
    if rules.min_sentiment_score is not None:
        print(f"minimum sentiment score: {rules.min_sentiment_score}")
    if rules.min_rating is not None:
        print(f"minimum rating: {rules.min_rating}")
    for field, name in sorted(rules.field_map.items()):
        print(f"field:      {field} -> {name}")
    if rules.api_url:
        print(f"api:        {rules.api_url}")
    if rules.account_id:
        print(f"account:    {rules.account_id}")
    if connection.type == "salesforce":
        client_id = connections.secret(connection.connection_id, "client_id", fresh=True)
        print(f"client id:  {mask(client_id) if client_id else '(none)'}")
        username = connections.secret(connection.connection_id, "username", fresh=True)
        print(f"flow:       {f'JWT bearer as {username}' if username else 'client credentials'}")
        return
    token = connections.secret(connection.connection_id, "token", fresh=True)
    print(f"token:      {mask(token) if token else '(none)'}")


def _existing(connection_id: str) -> CrmConnection | None:
    found = connections.get(connection_id)
    if found is None:
        print(f"error: no CRM connection {connection_id!r}", file=sys.stderr)
    return found


def crm_list(args: argparse.Namespace) -> int:
    for connection in sorted(connections.list_all(), key=lambda c: c.connection_id):
        status = connection.status.value
        print(f"{connection.connection_id:28} {connection.type:10} {status:7} {connection.name}")
    return 0


def crm_show(args: argparse.Namespace) -> int:
    connection = _existing(args.connection_id)
    if connection is None:
        return 1
    _print(connection)
    return 0


def crm_test(args: argparse.Namespace) -> int:
    """Check the credentials against the CRM; a paused connection whose credentials work again is resumed."""
    connection = _existing(args.connection_id)
    if connection is None:
        return 1
    connections.clear_cache()  # the credentials just rotated in SSM must be the ones tried
    try:
        print(target_for(connection, waiting_aloud).check())
    except CredentialsRejected as error:
        connections.set_status(connection.connection_id, Status.PAUSED, error.reason)
        credentials = CREDENTIALS_NAMED[connection.type]
        print(
            f"error: {connection.type} refused the {credentials} ({error.reason}); the connection is paused",
            file=sys.stderr,
        )
        return 1
    except CrmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if connection.status is not Status.ACTIVE:
        connections.set_status(connection.connection_id, Status.ACTIVE)
        print("connection resumed")
    return 0


def crm_rotate(args: argparse.Namespace) -> int:
    """Replace a connection's credentials (a token revoked or expiring, a consumer secret or key rotated):
    the new ones are checked against the CRM first, saved only if it accepts them, and a paused connection
    resumes; the connection's id, settings and everything it synced stay as they are."""
    connection = _existing(args.connection_id)
    if connection is None:
        return 1
    if _foreign_options(args, connection.type):
        return 2
    kept = connection.connection_id
    if connection.type == "salesforce":
        # The consumer key and the user stay unless given: a rotated secret or key is the usual change.
        args.client_id = args.client_id or connections.secret(kept, "client_id", fresh=True)
        if args.private_key_file:
            args.username = args.username or connections.secret(kept, "username", fresh=True)
        secrets: dict[str, str] | str = _salesforce_secrets(args)
    else:
        token = _token(args)
        secrets = {"token": token} if token else f"give the new token (--token or ${TOKEN_ENVIRONMENT})"
    if isinstance(secrets, str):
        print(f"error: {secrets}", file=sys.stderr)
        return 2
    forget_sessions()  # a session the old credentials opened must not answer for the new ones
    credentials = CREDENTIALS_NAMED[connection.type]
    try:
        print(target_for(connection, waiting_aloud, secrets).check())
    except CredentialsRejected as error:
        print(
            f"error: {connection.type} refused the new {credentials} ({error.reason}); nothing changed",
            file=sys.stderr,
        )
        return 1
    except CrmError as error:
        print(
            f"error: the new {credentials} could not be checked ({error}); nothing changed", file=sys.stderr
        )
        return 1
    connections.replace_secrets(connection.connection_id, secrets)
    print(f"saved the new {credentials} of {connection.connection_id}")
    if connection.status is not Status.ACTIVE:
        connections.set_status(connection.connection_id, Status.ACTIVE)
        print("connection resumed (`crm replay` sends what waited in the CRM DLQ)")
    return 0


def crm_setup(args: argparse.Namespace) -> int:
    """Create the fields the sync needs (HubSpot: a property group and contact properties; Salesforce:
    custom fields and their field-level security), leaving what exists alone."""
    connection = _existing(args.connection_id)
    if connection is None:
        return 1
    try:
        created = target_for(connection, waiting_aloud).setup()
    except CrmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name in created:
        print(f"created {name}")
    if not created:
        print(f"nothing to create: every {FIELDS_NAMED[connection.type]} exists")
    return 0


def crm_pause(args: argparse.Namespace) -> int:
    """Stop syncing (CRM maintenance, a mapping to change): the work queued meanwhile waits in the CRM DLQ
    for `crm resume` and `crm replay`; erasures still go (the credentials work)."""
    connection = _existing(args.connection_id)
    if connection is None:
        return 1
    connections.set_status(connection.connection_id, Status.PAUSED, PAUSED_BY_OPERATOR)
    print(
        f"paused {connection.connection_id}: nothing is synced until `crm resume` (erasures still go); what "
        "is stored meanwhile waits in the CRM DLQ for `crm replay` (kept 14 days)"
    )
    return 0


def crm_remove(args: argparse.Namespace) -> int:
    if _existing(args.connection_id) is None:
        return 1
    connections.remove(args.connection_id)
    print(f"removed {args.connection_id} (what it synced stays in the CRM)")
    return 0


def add_crm_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    group = groups.add_parser("crm", help="CRM connections (HubSpot, Salesforce)")
    commands = group.add_subparsers(dest="command", required=True)

    adding = commands.add_parser("add", parents=[common], help="create a connection")
    adding.add_argument("--type", required=True, choices=CRM_TYPES, help="the CRM")
    adding.add_argument("--name", required=True, help="what `crm list` calls it")
    adding.add_argument(
        "--token", help=f"hubspot: the private-app token (default: ${TOKEN_ENVIRONMENT}, else asked)"
    )
    adding.add_argument("--id", dest="connection_id", help="choose the id (default: generated)")
    adding.add_argument(
        "--source", action="append", metavar="ID", help="sync only this source or form (repeat)"
    )
    adding.add_argument(
        "--channel", action="append", metavar="CHANNEL", help="sync only this channel (repeat)"
    )
    adding.add_argument("--min-sentiment-score", type=float, help="skip items scored below (-1 to 1)")
    adding.add_argument("--min-rating", type=int, help="skip items rated below")
    adding.add_argument(
        "--map", action="append", metavar="FIELD=PROPERTY", help="rename a CRM field (repeat)"
    )
    adding.add_argument(
        "--api-url",
        help="the API's base URL; Salesforce: the login URL, your My Domain for client credentials "
        "(default: the vendor's; the local fake for make run)",
    )
    adding.add_argument("--client-id", help="salesforce: the connected app's consumer key")
    adding.add_argument(
        "--client-secret",
        help=f"salesforce: the consumer secret (default: ${CLIENT_SECRET_ENVIRONMENT}, else asked)",
    )
    adding.add_argument(
        "--private-key-file", help="salesforce JWT bearer flow: the PEM key whose certificate the app holds"
    )
    adding.add_argument("--username", help="salesforce JWT bearer flow: the user the sync acts as")
    adding.add_argument(
        "--account-id", help="salesforce: the Account (001…) contacts the sync creates belong to"
    )
    adding.set_defaults(run=crm_add)

    rotating = commands.add_parser(
        "rotate",
        parents=[common],
        help="replace the credentials (checked first; resumes a paused connection)",
    )
    rotating.add_argument("connection_id")
    rotating.add_argument(
        "--token", help=f"hubspot: the new private-app token (default: ${TOKEN_ENVIRONMENT}, else asked)"
    )
    rotating.add_argument("--client-id", help="salesforce: a new consumer key (default: the one kept)")
    rotating.add_argument(
        "--client-secret",
        help=f"salesforce: the new consumer secret (default: ${CLIENT_SECRET_ENVIRONMENT}, else asked)",
    )
    rotating.add_argument("--private-key-file", help="salesforce JWT bearer flow: the new PEM key")
    rotating.add_argument("--username", help="salesforce JWT bearer flow: the user (default: the one kept)")
    rotating.set_defaults(run=crm_rotate)

    commands.add_parser("list", parents=[common], help="list connections").set_defaults(run=crm_list)
    for name, run, text in (
        ("show", crm_show, "one connection, its secrets masked"),
        ("test", crm_test, "check the credentials (resumes a paused connection)"),
        ("pause", crm_pause, "stop syncing until resumed"),
        ("resume", crm_test, "check the credentials and sync again (as `crm test`)"),
        ("setup", crm_setup, "create the fields the sync needs in the CRM"),
        ("remove", crm_remove, "delete a connection and its credentials"),
    ):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("connection_id")
        command.set_defaults(run=run)
    add_crm_update_command(commands, common)
    add_crm_sync_commands(commands, common)  # sync, replay (cli/crm_sync.py)
