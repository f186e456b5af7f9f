"""Bearer tokens for the read API: creation, hashed storage, verification, scopes, and the Chalice built-in
authorizer that checks them.

Tokens
    `fbk_<id>_<secret>`: `id` is 12 hex characters, public (listed and revoked by it); `secret` is 32 random
    bytes, base64url. A token is shown once, when it is created. The table keeps, under `pk = TOKEN,
    sk = <id>`, the SHA-256 of the whole token, its scopes, name, description, created_at, revoked_at and its
    last 4 characters for display; never the token itself.

Scopes
    `read` (GET /feedback, GET /customers …), `export` (GET /exports/{date}), `erase`
    (DELETE /customers/{id}).
    No scope implies another: a token gets exactly the scopes it was created with (repeat --scope). An
    auditor reading `tokens list` then sees exactly what each token can do, and adding an implication later
    would be backwards compatible where removing one would not.

Revocation
    Each Lambda keeps token records in memory for CONFIG_CACHE_SECONDS (Powertools max_age), and API
    Gateway does not cache the authorizer's answer (ttl_seconds=0), so a revoked token stops working within
    CONFIG_CACHE_SECONDS on every warm Lambda (immediately in the process that revoked it).

How a request is checked (the same under chalice.test.Client, `chalice local`/`make run` and API Gateway)
    Routes declare `authorizer=bearer` and are decorated with `@requires_scope("…")` under `@json_errors`:

        @exports_api.route("/exports/{date}", methods=["GET"], authorizer=bearer)
        @json_errors
        @requires_scope("export")
        def get_export(date): ...

    1. No Authorization header at all: the gateway answers 401 before any of our code runs, API Gateway
       and Chalice's local gateway alike, with their own body `{"message": "Unauthorized"}` (on AWS a
       Gateway Response of type UNAUTHORIZED can give it our JSON shape; that is infrastructure).
    2. Otherwise `bearer` runs. It never denies: it returns an Allow policy for every route it guards
       (`routes=["*"]`) and puts the outcome in the context: `authenticated` "true"/"false", the token id,
       its scopes (space-separated: API Gateway only passes flat string values through), or an error code.
    3. `@requires_scope` reads `current_request.context["authorizer"]` and answers 401 (no valid token) or
       403 `insufficient_scope` in our JSON error shape, or runs the view.

    Why not deny in the authorizer (or return only the routes the token's scopes allow)? Because a denial
    never reaches our code: Chalice's local gateway answers 403 `{"Message": "User is not authorized …"}`
    and a raised exception is not turned into a 401 locally at all; API Gateway answers with its own bodies
    too. Allowing and deciding in the route gives one JSON shape in all three environments and one code
    path to test. The cost: the scope check lives in the route, not in API Gateway, so a route with
    `authorizer=bearer` but no `@requires_scope` would be open. tests/test_auth.py fails if any such route
    exists (and if a route with `@requires_scope` has no authorizer). A request with a bad token also costs
    one route invocation that a denial would have saved.

Chalice details this relies on (chalice 1.34, chalice/app.py and chalice/local.py)
    * Blueprints support built-in authorizers; the authorizer must be declared in a Blueprint that is
      registered to the app (otherwise its config is never set and deploy fails, aws/chalice#1759), and
      routes in other Blueprints may use it: app.py registers `auth_api`.
    * The authorizer's Lambda handler is `<module>.<decorated function name>` (handler_string), so it must
      be declared with the decorator under the same name it is exported as (`bearer` here); wrapping a
      function under another name would deploy a handler that does not exist.
    * Locally the Authorization header is always the one read; `header=` only changes API Gateway.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest, Request

from chalicelib.http import ApiError, Forbidden, ServiceUnavailable, Unauthorized
from chalicelib.models import utc_now
from chalicelib.observability import logger
from chalicelib.store.config_records import ConfigRecords

auth_api = Blueprint(__name__)

TOKEN_PREFIX = "fbk"  # noqa: S105 - a public prefix, not a secret
TOKEN_ID_BYTES = 6  # 12 hex characters: short enough to type, random enough never to collide in practice
TOKEN_SECRET_BYTES = 32
# API Gateway must not cache the authorizer's answer, or revocation would take its TTL on top of ours.
AUTHORIZER_TTL_SECONDS = 0
MAX_HEADER_LENGTH = 512
_TOKEN_ID_PATTERN = re.compile(rf"[0-9a-f]{{{TOKEN_ID_BYTES * 2}}}")
# The secret is token_urlsafe(TOKEN_SECRET_BYTES): exactly 43 characters.
_TOKEN_PATTERN = re.compile(rf"{TOKEN_PREFIX}_(?P<id>[0-9a-f]{{{TOKEN_ID_BYTES * 2}}})_[A-Za-z0-9_-]{{43}}")
ANONYMOUS = "anonymous"

_tokens = ConfigRecords("TOKEN")


class Scope(StrEnum):
    READ = "read"
    EXPORT = "export"
    ERASE = "erase"


_SCOPE_NAMES = frozenset(s.value for s in Scope)


def _known_scopes(values: Iterable[str]) -> frozenset[Scope]:
    return frozenset(Scope(v) for v in values if v in _SCOPE_NAMES)


class TokenRejected(Unauthorized):
    """401 with the RFC 6750 challenge header."""

    def __init__(self, message: str, code: str = "unauthorized") -> None:
        super().__init__(message, code=code)
        error = "" if code == "unauthorized" else ', error="invalid_token"'
        self.headers = {"WWW-Authenticate": f'Bearer realm="feedback"{error}'}


class InsufficientScope(Forbidden):
    """403: a valid token without the route's scope."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(f"This token does not have the {scope.value!r} scope.", code="insufficient_scope")
        self.headers = {
            "WWW-Authenticate": f'Bearer realm="feedback", error="insufficient_scope", scope="{scope}"'
        }


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is stored about a token (never the token)."""

    token_id: str
    name: str
    scopes: tuple[Scope, ...]
    created_at: str
    last4: str
    description: str | None = None
    revoked_at: str | None = None

    @classmethod
    def from_fields(cls, token_id: str, fields: dict[str, Any]) -> TokenInfo:
        return cls(
            token_id=token_id,
            name=fields.get("name", ""),
            scopes=tuple(sorted(_known_scopes(fields.get("scopes", [])))),
            created_at=fields.get("created_at", ""),
            last4=fields.get("last4", ""),
            description=fields.get("description"),
            revoked_at=fields.get("revoked_at"),
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a valid token identifies."""

    token_id: str
    scopes: frozenset[Scope]


def token_hash(token: str) -> str:
    """SHA-256 of the whole token, hex.

    A fast hash is right here: the token carries 256 random bits, so there is nothing to brute-force that a
    slow password hash (bcrypt, scrypt) would protect, and the check runs on every request.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(values: Iterable[str]) -> tuple[Scope, ...]:
    """Validated, de-duplicated, sorted scopes; ValueError on an unknown name or none at all."""
    scopes = set()
    for value in values:
        try:
            scopes.add(Scope(value))
        except ValueError as error:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {value!r} (known: {known})") from error
    if not scopes:
        raise ValueError("a token needs at least one scope")
    return tuple(sorted(scopes))


def create_token(name: str, scopes: Iterable[str], description: str | None = None) -> tuple[str, TokenInfo]:
    """Create a token; returns it (the only time it exists in clear) with what was stored."""
    chosen = parse_scopes(scopes)
    token_id = secrets.token_hex(TOKEN_ID_BYTES)
    while _tokens.get(token_id, force_fetch=True):  # a collision is ~impossible; never overwrite one
        token_id = secrets.token_hex(TOKEN_ID_BYTES)
    token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(TOKEN_SECRET_BYTES)}"
    info = TokenInfo(
        token_id=token_id,
        name=name,
        scopes=chosen,
        created_at=utc_now().isoformat(),
        last4=token[-4:],
        description=description,
    )
    _tokens.save(token_id, {**_fields(info), "token_hash": token_hash(token)})
    return token, info


def _fields(info: TokenInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "scopes": [s.value for s in info.scopes],
        "created_at": info.created_at,
        "last4": info.last4,
        "description": info.description,
        "revoked_at": info.revoked_at,
    }


def list_tokens() -> list[TokenInfo]:
    """Every token (revoked ones too), oldest first, read fresh."""
    infos = [TokenInfo.from_fields(token_id, f) for token_id, f in _tokens.list_fresh().items()]
    return sorted(infos, key=lambda info: (info.created_at, info.token_id))


def revoke_token(token_id: str) -> TokenInfo | None:
    """Mark a token revoked (kept for the audit trail); None if there is no such token. Idempotent."""
    if not _TOKEN_ID_PATTERN.fullmatch(token_id):
        return None  # cannot be one of ours: no read
    fields = _tokens.get(token_id, force_fetch=True)
    if not fields:
        return None
    if not fields.get("revoked_at"):
        fields = {**fields, "revoked_at": utc_now().isoformat()}
        _tokens.save(token_id, fields)
    return TokenInfo.from_fields(token_id, fields)


def clear_cache() -> None:
    """Forget cached token records (tests; the CLI's own writes clear it already)."""
    _tokens.clear_cache()


def bearer_token(header: str | None) -> str:
    """The token in an `Authorization: Bearer …` header value, or 401 unauthorized."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_HEADER_LENGTH:
        raise TokenRejected(f"Send the token as `Authorization: Bearer {TOKEN_PREFIX}_…`.")
    return token


def verify(token: str) -> Principal:
    """The principal a token identifies, or 401 (unauthorized, invalid_token, token_revoked).

    The record comes from memory when fresh (see Revocation in the module docstring); an unknown id is
    cached too, so repeating a bad token costs no reads. Revocation is only reported to a caller who holds
    the real token: anyone else learns nothing about an id they do not own.
    """
    match = _TOKEN_PATTERN.fullmatch(token)
    if match is None:
        raise TokenRejected(f"This is not a {TOKEN_PREFIX}_ token.")
    token_id = match.group("id")
    fields = _tokens.get_cached(token_id)
    if not fields or not hmac.compare_digest(str(fields.get("token_hash", "")), token_hash(token)):
        raise TokenRejected("The token is not valid.", code="invalid_token")
    if fields.get("revoked_at"):
        raise TokenRejected(f"The token was revoked at {fields['revoked_at']}.", code="token_revoked")
    return Principal(token_id=token_id, scopes=_known_scopes(fields.get("scopes", [])))


@auth_api.authorizer(name="bearer", ttl_seconds=AUTHORIZER_TTL_SECONDS)
def bearer(auth_request: AuthRequest) -> AuthResponse:
    """The built-in authorizer: always Allow, with the verdict in the context (see the module docstring)."""
    try:
        principal = verify(bearer_token(auth_request.token))
    except ApiError as error:
        logger.info("token refused", extra={"error_code": error.code})
        return AuthResponse(
            routes=["*"],
            principal_id=ANONYMOUS,
            context={"authenticated": "false", "error_code": error.code, "error_message": error.message},
        )
    except Exception:
        # The table could not be read: the route answers 503 in our shape rather than the gateway a 500.
        logger.exception("token check failed")
        context = {"authenticated": "false", "error_code": "unavailable", "error_message": ""}
        return AuthResponse(routes=["*"], principal_id=ANONYMOUS, context=context)
    context: dict[str, str] = {
        "authenticated": "true",
        "token_id": principal.token_id,
        "scopes": " ".join(sorted(principal.scopes)),
    }
    return AuthResponse(routes=["*"], principal_id=principal.token_id, context=context)


def principal_of(request: Request) -> Principal:
    """The principal the authorizer established for this request, or the ApiError to answer with."""
    context = (request.context or {}).get("authorizer") or {}
    if context.get("authenticated") != "true":
        code = context.get("error_code", "unauthorized")
        if code == "unavailable":
            raise ServiceUnavailable("Tokens cannot be checked right now; try again shortly.")
        message = context.get("error_message") or "This route needs a bearer token."
        raise TokenRejected(message, code=code)
    return Principal(
        token_id=context.get("token_id", ""), scopes=_known_scopes(context.get("scopes", "").split())
    )


def requires_scope(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view (under @json_errors) so it runs only for a valid token with `scope`.

    The route must also declare `authorizer=bearer`; without it there is no authorizer context and every
    request gets 401 (fail closed). The wrapper carries `required_scope` for the route-table tests.
    """
    required = Scope(scope)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = principal_of(auth_api.current_request)
            if required not in principal.scopes:
                raise InsufficientScope(required)
            return view(*args, **kwargs)

        wrapper.required_scope = required  # type: ignore[attr-defined]
        return wrapper

    return decorate
