"""`tokens create|list|revoke`: API bearer tokens (read, export, erase, admin)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from chalicelib.cli.common import clip


def tokens_create(args: argparse.Namespace) -> int:
    """Create an API token and print it once, in full."""
    from chalicelib.auth import tokens

    try:
        token, info = tokens.create_token(
            args.name, args.scope, description=args.description, expires_in_days=args.expires_in
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"token_id:   {info.token_id}")
    print(f"name:       {info.name}")
    print(f"scopes:     {' '.join(info.scopes)}")
    print(f"expires:    {info.expires_at[:19] if info.expires_at else 'never (until revoked)'}")
    print(f"token:      {token}")
    print("\nShown once: only its hash is stored. Send it as `Authorization: Bearer <token>`.")
    return 0


def tokens_list(args: argparse.Namespace) -> int:
    """Print every token (never the token itself: its last 4 characters)."""
    from chalicelib.auth import tokens

    print(
        f"{'token_id':12}  {'name':24} {'scopes':18} {'created':20} {'revoked':20} {'expires':28} "
        f"{'last used':17} last4"
    )
    for info in tokens.list_tokens():
        revoked = info.revoked_at[:19] if info.revoked_at else "-"
        expires = "never"
        if info.expires_at:
            expires = info.expires_at[:19] + (" (expired)" if info.expired else "")
        # Written at most once an hour (tokens.LAST_USE_RESOLUTION): a later use may follow within that hour.
        last_used = info.last_used_at[:16].replace("T", " ") if info.last_used_at else "-"
        print(
            f"{info.token_id:12}  {clip(info.name, 24):24} {','.join(info.scopes):18} "
            f"{info.created_at[:19]:20} {revoked:20} {expires:28} {last_used:17} …{info.last4}"
        )
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    """Revoke a token by id (kept, marked revoked)."""
    from chalicelib.auth import tokens

    # Someone revoking a leaked token pastes the token itself: its id is the part after the prefix, and the
    # secret is never echoed back.
    whole_token = re.fullmatch(rf"{tokens.TOKEN_PREFIX}_([0-9a-f]+)_\S+", args.token_id)
    token_id = whole_token.group(1) if whole_token else args.token_id
    info = tokens.revoke_token(token_id)
    if info is None:
        shown = "that token" if token_id.startswith(f"{tokens.TOKEN_PREFIX}_") else repr(token_id)
        print(f"error: no token with the id of {shown} (tokens list shows the ids)", file=sys.stderr)
        return 1
    print(f"revoked {info.token_id} ({info.name}) at {info.revoked_at}")
    print("Every API process refuses it within CONFIG_CACHE_SECONDS.")
    return 0


def add_tokens_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    from chalicelib.auth.tokens import Scope

    group = groups.add_parser("tokens", help="API bearer tokens")
    commands = group.add_subparsers(dest="command", required=True)

    creating = commands.add_parser("create", parents=[common], help="create a token (shown once)")
    creating.add_argument(
        "--scope", action="append", required=True, choices=[s.value for s in Scope], help="repeat for several"
    )
    creating.add_argument("--name", required=True, help="who or what uses it, e.g. 'BI nightly pull'")
    creating.add_argument("--description", help="a note kept with the token")
    creating.add_argument(
        "--expires-in",
        type=int,
        metavar="DAYS",
        help="refused after this many days (default: until revoked); e.g. 90 for a contractor's BI pull",
    )
    creating.set_defaults(run=tokens_create)

    commands.add_parser("list", parents=[common], help="list tokens").set_defaults(run=tokens_list)

    revoking = commands.add_parser("revoke", parents=[common], help="revoke a token by id")
    revoking.add_argument("token_id", help="the token's id (tokens list), or the whole fbk_ token")
    revoking.set_defaults(run=tokens_revoke)
