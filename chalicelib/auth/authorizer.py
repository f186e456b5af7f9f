"""The Chalice built-in authorizer `bearer` and `@requires_scope`, which check bearer tokens (tokens.py).

`bearer` never denies: it allows every route it guards and puts its verdict in the request context, and
`@requires_scope` answers 401/403 in the product's JSON shape or runs the view, so the answers are the same
under chalice.test.Client, `make run` and API Gateway. Why, and what Chalice requires of it: README, "How a
token is checked". tests/test_auth.py fails if a route has the authorizer without `@requires_scope`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest, Request

from chalicelib.auth.tokens import (
    TOKEN_PREFIX,
    Principal,
    Scope,
    TokenRejected,
    known_scopes,
    note_use,
    verify,
)
from chalicelib.http import ApiError, Forbidden, ServiceUnavailable
from chalicelib.observability import logger

# Registered by app.py: an authorizer must be declared in a Blueprint the app registers (aws/chalice#1759).
auth_api = Blueprint(__name__)

# API Gateway must not cache the authorizer's answer, or revocation would take its TTL on top of ours.
AUTHORIZER_TTL_SECONDS = 0
MAX_HEADER_LENGTH = 512
ANONYMOUS = "anonymous"


class InsufficientScope(Forbidden):
    """403: a valid token without the route's scope."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(f"This token does not have the {scope.value!r} scope.", code="insufficient_scope")
        self.headers = {
            "WWW-Authenticate": f'Bearer realm="feedback", error="insufficient_scope", scope="{scope}"'
        }


def bearer_token(header: str | None) -> str:
    """The token in an `Authorization: Bearer …` header value, or 401 unauthorized."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_HEADER_LENGTH:
        raise TokenRejected(f"Send the token as `Authorization: Bearer {TOKEN_PREFIX}_…`.")
    return token


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
    try:
        note_use(principal.token_id)
    except Exception:
        # Bookkeeping only: the caller holds a valid token whether or not its use could be written.
        logger.warning("token use not recorded", exc_info=True)
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
        token_id=context.get("token_id", ""), scopes=known_scopes(context.get("scopes", "").split())
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
