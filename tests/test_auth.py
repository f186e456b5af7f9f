"""Bearer tokens: creation, hashed storage, verification, revocation, the CLI, and the built-in authorizer."""

from __future__ import annotations

import importlib
import json
import re
from datetime import datetime, timedelta

import pytest
from aws_lambda_powertools.utilities.parameters import base as powertools_parameters
from chalice.app import ChaliceAuthorizer

from chalicelib import aws, cli
from chalicelib.auth import authorizer, tokens
from chalicelib.config import settings
from chalicelib.http import ApiError
from chalicelib.store import dynamo

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/exports/2026-11-21"


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    tokens.clear_cache()
    yield
    tokens.clear_cache()


def rejected(token: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        tokens.verify(token)
    return caught.value


def raw_table() -> str:
    """Every item in the table, as DynamoDB returned it, as one string."""
    return json.dumps(aws.client("dynamodb").scan(TableName=settings().table_name)["Items"])


def authorizer_event(header: str) -> dict:
    return {"type": "TOKEN", "authorizationToken": header, "methodArn": METHOD_ARN}


# --- tokens ---------------------------------------------------------------------------------------------


def test_create_returns_a_token_and_stores_only_its_hash(stack):
    token, info = tokens.create_token("BI nightly", ["export", "read", "export"], description="Tableau")

    match = re.fullmatch(r"fbk_([0-9a-f]{12})_([A-Za-z0-9_-]+)", token)
    assert match is not None
    assert match.group(1) == info.token_id
    assert len(match.group(2)) >= 43  # 32 random bytes, base64url
    assert info.scopes == (tokens.Scope.EXPORT, tokens.Scope.READ)
    assert info.last4 == token[-4:]

    item = dynamo.get_item(settings().table_name, {"pk": "TOKEN", "sk": info.token_id})
    assert item["token_hash"] == tokens.token_hash(token)
    assert item["scopes"] == ["export", "read"]
    assert item["name"] == "BI nightly"
    assert item["description"] == "Tableau"
    assert item["record_type"] == "TOKEN"
    assert "revoked_at" not in item
    table = raw_table()
    assert token not in table
    assert match.group(2) not in table


def test_two_tokens_differ(stack):
    first, _ = tokens.create_token("a", ["read"])
    second, _ = tokens.create_token("b", ["read"])
    assert first != second


@pytest.mark.parametrize("scopes", [[], ["root"], ["read", "write"]])
def test_create_refuses_unknown_or_no_scopes(stack, scopes):
    with pytest.raises(ValueError, match="scope"):
        tokens.create_token("x", scopes)


def test_verify_accepts_the_token(stack):
    token, info = tokens.create_token("BI", ["read", "export"])
    principal = tokens.verify(token)
    assert principal.token_id == info.token_id
    assert principal.scopes == {tokens.Scope.READ, tokens.Scope.EXPORT}


def test_verify_refuses_a_wrong_secret_or_unknown_id(stack):
    token, _ = tokens.create_token("BI", ["read"])
    prefix, token_id, secret = token.split("_", 2)
    wrong_secret = f"{prefix}_{token_id}_{'A' * len(secret)}"
    unknown_id = f"{prefix}_{'0' * 12}_{secret}"

    for attempt in (wrong_secret, unknown_id):
        error = rejected(attempt)
        assert (error.status, error.code) == (401, "invalid_token")
        assert error.message == "The token is not valid."  # the same answer whether the id exists or not


@pytest.mark.parametrize(
    "token",
    ["", "fbk_", "fbk_abc_def", "xyz_0123456789ab_" + "A" * 43, "fbk_0123456789AB_" + "A" * 43, "A" * 60],
)
def test_verify_refuses_malformed_tokens(stack, token):
    error = rejected(token)
    assert (error.status, error.code) == (401, "unauthorized")


def test_token_ids_that_cannot_be_ours_cost_no_read(stack):
    """Item 19: an id of the wrong shape is refused before any AWS call, and never repeated."""
    reads: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb", lambda event_name, **kw: reads.append(event_name)
    )
    long_secret = "fbk_0123456789ab_" + "A" * 44
    non_ascii = "fbk_0123456789ab_" + "\u00e9" * 43

    for token in (long_secret, non_ascii, "fbk_" + "0" * 3000 + "_" + "A" * 43):
        error = rejected(token)
        assert (error.status, error.code) == (401, "unauthorized")
        assert token not in error.message
    assert tokens.revoke_token("x" * 3000) is None
    assert tokens.revoke_token("0123456789AB") is None
    assert reads == []


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic dXNlcjpwYXNz", "fbk_x_y"])
def test_bearer_token_requires_the_bearer_scheme(header):
    with pytest.raises(ApiError) as caught:
        authorizer.bearer_token(header)
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_bearer_token_reads_the_header():
    assert authorizer.bearer_token("Bearer fbk_a_b") == "fbk_a_b"
    assert authorizer.bearer_token("bearer   fbk_a_b ") == "fbk_a_b"


def test_revoke_refuses_the_token_and_keeps_the_record(stack):
    token, info = tokens.create_token("BI", ["read"])
    tokens.verify(token)  # cached in this process

    revoked = tokens.revoke_token(info.token_id)

    assert revoked is not None
    assert revoked.revoked_at
    error = rejected(token)
    assert (error.status, error.code) == (401, "token_revoked")
    assert tokens.revoke_token(info.token_id).revoked_at == revoked.revoked_at  # idempotent
    assert tokens.revoke_token("0" * 12) is None
    [listed] = tokens.list_tokens()
    assert listed.revoked_at == revoked.revoked_at


def test_revocation_elsewhere_takes_effect_within_the_cache_window(stack, monkeypatch):
    """Another process (the CLI) revokes: a warm Lambda keeps its cached record for CONFIG_CACHE_SECONDS."""
    token, info = tokens.create_token("BI", ["read"])
    tokens.verify(token)
    item = dynamo.get_item(settings().table_name, {"pk": "TOKEN", "sk": info.token_id})
    revoked = {**item, "revoked_at": "2026-11-21T00:00"}
    dynamo.batch_write(settings().table_name, [dynamo.put_request(revoked)])

    assert tokens.verify(token).token_id == info.token_id  # still cached

    window = settings().config_cache_seconds

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=window + 1)

    monkeypatch.setattr(powertools_parameters, "datetime", Later)  # the cache window has passed
    assert rejected(token).code == "token_revoked"


def test_a_token_given_an_expiry_is_refused_once_it_has_passed(stack, monkeypatch):
    token, info = tokens.create_token("Contractor BI", ["read"], expires_in_days=30)
    assert tokens.verify(token).token_id == info.token_id
    created = datetime.fromisoformat(info.created_at)
    assert datetime.fromisoformat(info.expires_at) - created == timedelta(days=30)

    monkeypatch.setattr(tokens, "utc_now", lambda: created + timedelta(days=30, seconds=1))

    error = rejected(token)
    assert (error.status, error.code) == (401, "token_expired")
    assert info.expires_at in error.message
    [listed] = tokens.list_tokens()
    assert listed.expired


def test_an_expiry_out_of_range_creates_no_token(stack):
    for days in (0, -1, tokens.MAX_EXPIRY_DAYS + 1):
        with pytest.raises(ValueError, match="expires in 1 to"):
            tokens.create_token("x", ["read"], expires_in_days=days)
    assert tokens.list_tokens() == []


# --- CLI ------------------------------------------------------------------------------------------------


def test_cli_create_prints_the_token_once(stack, capsys):
    assert cli.main(["tokens", "create", "--scope", "export", "--scope", "read", "--name", "BI pull"]) == 0
    out = capsys.readouterr().out
    [token] = re.findall(r"fbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43,}", out)
    assert tokens.verify(token).scopes == {tokens.Scope.EXPORT, tokens.Scope.READ}
    assert "Shown once" in out

    assert cli.main(["tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert token not in listing
    assert token.split("_", 2)[2] not in listing
    [row] = listing.splitlines()[1:]
    assert token.split("_")[1] in row
    assert "BI pull" in row
    assert "export,read" in row
    assert row.endswith(token[-4:])
    assert " - " in row  # not revoked
    assert " never " in row  # no expiry


def test_cli_creates_a_token_that_expires_and_lists_when(stack, capsys, monkeypatch):
    assert cli.main(["tokens", "create", "--scope", "read", "--name", "Agency", "--expires-in", "90"]) == 0
    out = capsys.readouterr().out
    [info] = tokens.list_tokens()
    assert f"expires:    {info.expires_at[:19]}" in out

    cli.main(["tokens", "list"])
    [row] = capsys.readouterr().out.splitlines()[1:]
    assert info.expires_at[:19] in row and "(expired)" not in row

    later = datetime.fromisoformat(info.expires_at) + timedelta(minutes=1)
    monkeypatch.setattr(tokens, "utc_now", lambda: later)
    cli.main(["tokens", "list"])
    [row] = capsys.readouterr().out.splitlines()[1:]
    assert f"{info.expires_at[:19]} (expired)" in row

    assert cli.main(["tokens", "create", "--scope", "read", "--name", "x", "--expires-in", "0"]) == 2
    assert "expires in 1 to" in capsys.readouterr().err
    assert len(tokens.list_tokens()) == 1


def test_cli_revoke(stack, capsys):
    token, info = tokens.create_token("BI", ["read"])

    assert cli.main(["tokens", "revoke", info.token_id]) == 0
    assert f"revoked {info.token_id}" in capsys.readouterr().out
    assert rejected(token).code == "token_revoked"

    cli.main(["tokens", "list"])
    [row] = capsys.readouterr().out.splitlines()[1:]
    [revoked] = tokens.list_tokens()
    assert revoked.revoked_at and f" {revoked.revoked_at[:19]} " in row

    assert cli.main(["tokens", "revoke", "0" * 12]) == 1
    assert "no token" in capsys.readouterr().err


def test_cli_revoke_takes_the_leaked_token_itself_and_never_echoes_it(stack, capsys):
    # Someone revoking a token that leaked pastes the token: it failed, printing the secret back.
    token, info = tokens.create_token("Leaked", ["read"])

    assert cli.main(["tokens", "revoke", token]) == 0
    out, err = capsys.readouterr()
    assert f"revoked {info.token_id} (Leaked)" in out
    assert rejected(token).code == "token_revoked"

    unknown = "fbk_" + "0" * 12 + "_" + "s" * 43
    assert cli.main(["tokens", "revoke", unknown]) == 1
    out, err = capsys.readouterr()
    assert "no token" in err
    assert unknown not in out + err
    assert "s" * 43 not in out + err


@pytest.mark.parametrize(
    "argv",
    [
        ["tokens", "create", "--name", "x"],  # no scope
        ["tokens", "create", "--scope", "root", "--name", "x"],
        ["tokens", "create", "--scope", "read"],  # no name
    ],
)
def test_cli_create_refuses_bad_arguments(stack, argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert tokens.list_tokens() == []


def test_cli_mints_the_admin_scope_and_it_implies_no_other(stack, capsys):
    assert cli.main(["tokens", "create", "--scope", "admin", "--name", "form editor"]) == 0
    printed = capsys.readouterr().out.splitlines()
    token = next(line.split()[-1] for line in printed if line.startswith("token:"))

    principal = tokens.verify(token)

    assert principal.scopes == {tokens.Scope.ADMIN}


# --- the built-in authorizer ----------------------------------------------------------------------------


def test_authorizer_allows_a_valid_token_with_its_scopes_in_the_context(stack):
    token, info = tokens.create_token("BI", ["read", "export"])

    result = authorizer.bearer(authorizer_event(f"Bearer {token}"), None)

    assert result["principalId"] == info.token_id
    assert result["context"] == {"authenticated": "true", "token_id": info.token_id, "scopes": "export read"}
    # API Gateway passes only flat string/number/boolean context values through.
    assert all(isinstance(value, str) for value in result["context"].values())
    [statement] = result["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abc123/api/*/*"]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("", "unauthorized"),
        ("Basic dXNlcjpwYXNz", "unauthorized"),
        ("Bearer fbk_nope", "unauthorized"),
        ("Bearer fbk_0123456789ab_" + "A" * 43, "invalid_token"),
    ],
)
def test_authorizer_passes_a_refusal_to_the_route(stack, header, code):
    """A refused token is allowed through with the verdict in the context, so the route answers in our JSON
    shape (a denial would get the gateway's own body; see chalicelib/auth/tokens.py)."""
    result = authorizer.bearer(authorizer_event(header), None)

    assert result["principalId"] == "anonymous"
    assert result["context"]["authenticated"] == "false"
    assert result["context"]["error_code"] == code
    assert "token_id" not in result["context"]


def test_authorizer_reports_an_unreadable_table_as_unavailable(stack, monkeypatch):
    token, _ = tokens.create_token("BI", ["read"])
    tokens.clear_cache()

    def broken(*args, **kwargs):
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(dynamo, "get_item", broken)
    result = authorizer.bearer(authorizer_event(f"Bearer {token}"), None)
    assert result["context"]["error_code"] == "unavailable"


def test_the_authorizer_deploys_as_a_handler_that_exists():
    """Chalice deploys the authorizer Lambda with handler `<module>.<function name>`: it must resolve to the
    ChaliceAuthorizer itself, or API Gateway would call a function that does not exist."""
    from app import app

    [config] = [c for c in app.builtin_auth_handlers if c.name == "bearer"]
    module_name, _, attribute = config.handler_string.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(handler, ChaliceAuthorizer)
    assert handler is authorizer.bearer
    assert config.ttl_seconds == 0  # API Gateway must not cache answers past a revocation
    assert config.header == "Authorization"


def test_every_route_behind_the_authorizer_checks_a_scope():
    """The authorizer never denies (the route answers 401/403 in our JSON shape), so a route with
    authorizer=bearer but no @requires_scope would be open to anyone: fail here instead."""
    from app import app

    guarded = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            authorizer = entry.authorizer
            has_authorizer = isinstance(authorizer, ChaliceAuthorizer) and authorizer.name == "bearer"
            scope = getattr(entry.view_function, "required_scope", None)
            assert has_authorizer == (scope is not None), f"{method} {path}: authorizer and @requires_scope"
            if has_authorizer:
                guarded.append((method, path))
    assert ("GET", "/exports/{date}") in guarded


def test_requires_scope_refuses_an_unknown_scope_at_import_time():
    with pytest.raises(ValueError):
        authorizer.requires_scope("root")
