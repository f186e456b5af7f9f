"""API Gateway in process: a WSGI app over Chalice's LocalGateway, so schemathesis (and werkzeug's test
client) can drive the real app without a socket or a server thread.

Chalice is not WSGI; `chalice.local.LocalGateway` is what `chalice local`, `make run` and chalice.test.Client
put in front of the app (routing, the built-in `bearer` authorizer, the Lambda event); like API Gateway and
`chalice local`, the adapter gives a response without a Content-Type `application/json`. This adapter feeds it
the raw request path, as `make run`'s HTTP server does, so a percent-encoded `/` in a path parameter stays
inside that parameter.

Where the deployed API answers before our code runs, the adapter answers as the deployment does
(chalicelib/local/gateway.py, shared with `make run`). A method a path does not have is
answered as API Gateway does (its MISSING_AUTHENTICATION_TOKEN response), not with Chalice's 405.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from chalice import Chalice
from chalice.config import Config
from chalice.local import LocalGateway, LocalGatewayException

from chalicelib.local.gateway import answer_for, gateway_answer

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class ChaliceWsgi:
    """A WSGI application answering like the deployed API Gateway in front of `app`."""

    def __init__(self, app: Chalice) -> None:
        self.app = app
        config = Config.create(
            chalice_stage="test", app_name=app.app_name, lambda_timeout=10, lambda_memory_size=256
        )
        self.gateway = LocalGateway(app, config)

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
            return gateway_answer("MISSING_AUTHENTICATION_TOKEN", 404)
        try:
            response = self.gateway.handle_request(method=method, path=raw_path, headers=headers, body=body)
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
