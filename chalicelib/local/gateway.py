"""API Gateway in front of the Chalice app, as the deployment gives it, for everything that serves the app
locally: `make run`'s HTTP server (chalicelib/local/http_server.py) and the fuzz suite (tests/fuzz/).

Chalice is not WSGI; `chalice.local.LocalGateway` is what `chalice local` and chalice.test.Client put in front
of the app (routing, the built-in `bearer` authorizer, the Lambda event). ChaliceWsgi is a WSGI application
over it, fed the raw request path (a percent-encoded `/` in a path parameter stays inside that parameter).

Some requests are answered by API Gateway before any of our code runs: a path or method no route has, no
`Authorization` header on a bearer route, a denied authorizer, a body over the Lambda payload limit.
LocalGateway answers those with its own bodies (`{"message": "Unauthorized"}`, Chalice's 405 …) or raises
(a non-ASCII `Authorization` header on an unknown path); the deployment replaces them with gateway responses
in the product's JSON error shape (infra/gateway.py, `RESPONSES`). This module gives the same answers, read
from that file's source so the two cannot drift (importing it would start the CDK's node runtime).
"""

from __future__ import annotations

import ast
import base64
import functools
import json
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chalice import Chalice
from chalice.config import Config
from chalice.local import (
    ForbiddenError,
    InvalidAuthorizerError,
    LocalGateway,
    LocalGatewayException,
    NotAuthorizedError,
    RouteMatcher,
)

from chalicelib.observability import logger

GATEWAY_MODULE = Path(__file__).resolve().parents[2] / "infra" / "gateway.py"
# The challenge chalicelib.auth sends with its own 401s (RFC 6750); the deployment adds it too.
WWW_AUTHENTICATE = 'Bearer realm="feedback"'
# Lambda's synchronous invocation payload quota (6 MB): a larger request never reaches the function, and API
# Gateway answers 413 (its REQUEST_TOO_LARGE response). The event's envelope is not counted here.
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
# The WSGI environ key under which ChaliceWsgi leaves the matched route template, for a request log line
# that names the route without the identifiers in the path.
ROUTE_KEY = "feedback.route"

GatewayAnswer = tuple[int, dict[str, str], bytes]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@functools.cache
def deployed_gateway_responses() -> dict[str, tuple[str | None, str, str | None]]:
    """infra/gateway.py's RESPONSES (response type → status, code, message), read without importing CDK."""
    tree = ast.parse(GATEWAY_MODULE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "RESPONSES":
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise LookupError("RESPONSES not found in infra/gateway.py")


def json_error(status: int, code: str, message: str) -> GatewayAnswer:
    """An answer in the product's one error shape: (status, headers, JSON body)."""
    body = {"error": {"code": code, "message": message}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def gateway_answer(response_type: str, fallback_status: int) -> GatewayAnswer:
    """The deployed API's answer of one gateway response type: (status, headers, JSON body)."""
    status, code, message = deployed_gateway_responses()[response_type]
    answer_status, headers, body = json_error(
        int(status or fallback_status), code, message or "The gateway refused the request."
    )
    if response_type == "UNAUTHORIZED":
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return answer_status, headers, body


def answer_for(error: LocalGatewayException) -> GatewayAnswer:
    """What the deployed API answers where Chalice's LocalGateway raised `error`."""
    if isinstance(error, NotAuthorizedError):
        return gateway_answer("UNAUTHORIZED", 401)
    if isinstance(error, InvalidAuthorizerError):
        return gateway_answer("AUTHORIZER_CONFIGURATION_ERROR", 500)
    if isinstance(error, ForbiddenError) and error.headers.get("x-amzn-ErrorType") == "AccessDeniedException":
        return gateway_answer("ACCESS_DENIED", 403)
    # LocalGateway's "no route matched" (API Gateway's 403 Missing Authentication Token).
    return gateway_answer("MISSING_AUTHENTICATION_TOKEN", 404)


def no_such_route() -> GatewayAnswer:
    """API Gateway's answer to a path or a method no route has (REST APIs answer both alike, never 405)."""
    return gateway_answer("MISSING_AUTHENTICATION_TOKEN", 404)


class ChaliceWsgi:
    """A WSGI application answering like the deployed API Gateway in front of `app`."""

    def __init__(self, app: Chalice) -> None:
        self.app = app
        config = Config.create(
            chalice_stage="local", app_name=app.app_name, lambda_timeout=10, lambda_memory_size=256
        )
        self.gateway = LocalGateway(app, config)
        self.routes = RouteMatcher(list(app.routes))

    def route_for(self, raw_path: str) -> str | None:
        """The route template `raw_path` matches (e.g. `/forms/{form_id}`), or None."""
        try:
            return self.routes.match_route(raw_path).route
        except ValueError:
            return None

    def _has_method(self, route: str, method: str) -> bool:
        views = self.app.routes[route]
        # Chalice deploys a preflight OPTIONS method beside the views that have CORS, and nothing else.
        return method in views or (method == "OPTIONS" and any(view.cors for view in views.values()))

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request through the gateway: (status, headers, body)."""
        route = self.route_for(raw_path)
        # Answered here, before LocalGateway: it answers a method with Chalice's own 405 and fails on an
        # unknown path with a non-ASCII Authorization header.
        if route is None or not self._has_method(route, method):
            return no_such_route()
        if len(body) > LAMBDA_PAYLOAD_BYTES:
            return gateway_answer("REQUEST_TOO_LARGE", 413)
        try:
            response = self.gateway.handle_request(
                method=method, path=raw_path, headers=headers, body=body or None
            )
        except LocalGatewayException as error:
            return answer_for(error)
        payload = response.get("body") or ""
        if response.get("isBase64Encoded"):
            data = base64.b64decode(payload)
        else:
            data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        out_headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[str(name)] = ", ".join(str(v) for v in values)
        if data and not any(name.lower() == "content-type" for name in out_headers):
            # API Gateway and `chalice local` both default a proxy response's content type to JSON.
            out_headers["Content-Type"] = "application/json"
        return int(response["statusCode"]), out_headers, data

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # The raw path (RAW_URI or REQUEST_URI, as servers give it) keeps an encoded "/" inside its segment;
        # the query comes from QUERY_STRING, which werkzeug's test client does not always repeat in RAW_URI.
        raw_path = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").split("?", 1)[0]
        raw_path = raw_path or quote(environ.get("PATH_INFO", "/"))
        environ[ROUTE_KEY] = self.route_for(raw_path)
        query = environ.get("QUERY_STRING", "")
        raw_uri = raw_path + (f"?{query}" if query else "")
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() and int(length) else b""
        if not length.isdigit():
            answer = json_error(400, "bad_request", "The Content-Length header is not a whole number.")
        elif len(body) < int(length):
            answer = json_error(400, "bad_request", "The body is shorter than its Content-Length.")
        else:
            if environ.get("CONTENT_LENGTH"):
                headers["content-length"] = length
            answer = self._handle_safely(environ["REQUEST_METHOD"], raw_uri, headers, body)
        status, out_headers, data = answer
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        start_response(f"{status} {reason}", list(out_headers.items()))
        return [data]

    def _handle_safely(
        self, method: str, raw_uri: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            return self.handle(method, raw_uri, headers, body)
        except Exception as error:
            # A defect on our side, not the client's. Logged by type and frames only: the path and the error's
            # message may hold what the client sent (an email, an id).
            frames = "".join(traceback.format_tb(error.__traceback__))
            logger.error("local gateway failed", extra={"error_type": type(error).__name__, "frames": frames})
            return gateway_answer("DEFAULT_5XX", 500)
