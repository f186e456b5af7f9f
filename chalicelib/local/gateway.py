"""API Gateway's own answers, as the deployment gives them, for everything that serves the app locally.

Some requests are answered by API Gateway before any of our code runs: no `Authorization` header on a
bearer route, an unknown path, a denied authorizer. Chalice's LocalGateway (behind `make run` and the fuzz
gateway in tests/fuzz/) answers those with its own bodies (`{"message": "Unauthorized"}` …); the deployment
replaces them with gateway responses in the product's JSON error shape (infra/gateway.py, `RESPONSES`).
This module gives the same answers locally, read from that file's source so the two cannot drift
(importing it would start the CDK's node runtime).
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    InvalidAuthorizerError,
    LocalGatewayException,
    NotAuthorizedError,
)

GATEWAY_MODULE = Path(__file__).resolve().parents[2] / "infra" / "gateway.py"
# The challenge chalicelib.auth sends with its own 401s (RFC 6750); the deployment adds it too.
WWW_AUTHENTICATE = 'Bearer realm="feedback"'

GatewayAnswer = tuple[int, dict[str, str], bytes]


@functools.cache
def deployed_gateway_responses() -> dict[str, tuple[str | None, str, str | None]]:
    """infra/gateway.py's RESPONSES (response type → status, code, message), read without importing CDK."""
    tree = ast.parse(GATEWAY_MODULE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "RESPONSES":
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise LookupError("RESPONSES not found in infra/gateway.py")


def gateway_answer(response_type: str, fallback_status: int) -> GatewayAnswer:
    """The deployed API's answer of one gateway response type: (status, headers, JSON body)."""
    status, code, message = deployed_gateway_responses()[response_type]
    body = {"error": {"code": code, "message": message or "The gateway refused the request."}}
    headers = {"Content-Type": "application/json"}
    if response_type == "UNAUTHORIZED":
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return int(status or fallback_status), headers, json.dumps(body).encode()


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


class DeployedGatewayRequestHandler(ChaliceRequestHandler):
    """`chalice local`'s request handler, answering gateway errors as the deployed API does."""

    def _send_error_response(self, error: LocalGatewayException) -> None:
        status, headers, body = answer_for(error)
        self._send_http_response(status, dict(headers), body)
