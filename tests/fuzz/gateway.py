"""API Gateway in process for the fuzz suite: chalicelib/local/gateway.py's ChaliceWsgi, the WSGI application
`make run` serves too, so schemathesis (and werkzeug's test client) drive the real app, with the deployed
gateway's answers (no route or method, no token, …), without a socket or a server thread."""

from __future__ import annotations

from chalicelib.local.gateway import ChaliceWsgi

__all__ = ["ChaliceWsgi"]
