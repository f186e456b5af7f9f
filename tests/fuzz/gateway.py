"""API Gateway in process: a WSGI app over Chalice's LocalGateway, so schemathesis (and werkzeug's test
client) can drive the real app without a socket or a server thread.

Chalice is not WSGI; `chalice.local.LocalGateway` is what `chalice local`, `make run` and chalice.test.Client
put in front of the app (routing, the built-in `bearer` authorizer, the Lambda event); like API Gateway and
`chalice local`, the adapter gives a response without a Content-Type `application/json`. This adapter feeds it
the raw request path, as `make run`'s HTTP server does, so a percent-encoded `/` in a path parameter stays
inside that parameter.

Where the deployed API answers before our code runs, the local gateway uses its own bodies
(`{"message": "Unauthorized"}` …). The deployment replaces those with gateway responses in the product's JSON
error shape (infra/gateway.py, `RESPONSES`); the adapter answers the same, read from that file's source so the
two cannot drift (importing it would start the CDK's node runtime). A method a path does not have is
answered as API Gateway does (its MISSING_AUTHENTICATION_TOKEN response), not with Chalice's 405.
"""

from __future__ import annotations

import ast
import base64
import json
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
)

GATEWAY_MODULE = Path(__file__).resolve().parents[2] / "infra" / "gateway.py"
WWW_AUTHENTICATE = 'Bearer realm="feedback"'

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def deployed_gateway_responses() -> dict[str, tuple[str | None, str, str | None]]:
    """infra/gateway.py's RESPONSES (response type → status, code, message), read without importing CDK."""
    tree = ast.parse(GATEWAY_MODULE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "RESPONSES":
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise LookupError("RESPONSES not found in infra/gateway.py")


class ChaliceWsgi:
    """A WSGI application answering like the deployed API Gateway in front of `app`."""

    def __init__(self, app: Chalice) -> None:
        self.app = app
        config = Config.create(
            chalice_stage="test", app_name=app.app_name, lambda_timeout=10, lambda_memory_size=256
        )
        self.gateway = LocalGateway(app, config)
        self.gateway_responses = deployed_gateway_responses()

    def _gateway_answer(self, response_type: str, fallback_status: int) -> tuple[int, dict[str, str], bytes]:
        status, code, message = self.gateway_responses[response_type]
        body = {"error": {"code": code, "message": message or "The gateway refused the request."}}
        headers = {"Content-Type": "application/json"}
        if response_type == "UNAUTHORIZED":
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        return int(status or fallback_status), headers, json.dumps(body).encode()

    def _from_gateway_error(self, error: LocalGatewayException) -> tuple[int, dict[str, str], bytes]:
        if isinstance(error, NotAuthorizedError):
            return self._gateway_answer("UNAUTHORIZED", 401)
        if isinstance(error, InvalidAuthorizerError):
            return self._gateway_answer("AUTHORIZER_CONFIGURATION_ERROR", 500)
        if (
            isinstance(error, ForbiddenError)
            and error.headers.get("x-amzn-ErrorType") == "AccessDeniedException"
        ):
            return self._gateway_answer("ACCESS_DENIED", 403)
        # LocalGateway's "no route matched" (API Gateway's 403 Missing Authentication Token).
        return self._gateway_answer("MISSING_AUTHENTICATION_TOKEN", 404)

    def _has_method(self, path: str, method: str) -> bool:
        try:
            route = self.gateway.event_converter._route_matcher.match_route(path).route
        except ValueError:
            return True  # LocalGateway answers an unknown path itself
        return method in self.app.routes[route]

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request through the gateway: (status, headers, body)."""
        if not self._has_method(raw_path, method):
            return self._gateway_answer("MISSING_AUTHENTICATION_TOKEN", 404)
        try:
            response = self.gateway.handle_request(method=method, path=raw_path, headers=headers, body=body)
        except LocalGatewayException as error:
            return self._from_gateway_error(error)
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
        # The raw path (RAW_URI, as servers give it) keeps an encoded "/" inside its segment; the query
        # comes from QUERY_STRING, which werkzeug's test client does not always repeat in RAW_URI.
        raw_path = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").split("?", 1)[0]
        raw_path = raw_path or quote(environ.get("PATH_INFO", "/"))
        query = environ.get("QUERY_STRING", "")
        raw_uri = raw_path + (f"?{query}" if query else "")
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            headers["content-length"] = length
        body = environ["wsgi.input"].read(int(length)) if length and length.isdigit() else b""
        status, out_headers, data = self.handle(environ["REQUEST_METHOD"], raw_uri, headers, body)
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        start_response(f"{status} {reason}", list(out_headers.items()))
        return [data]
