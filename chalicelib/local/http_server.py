"""`make run`'s HTTP server: waitress in front of the Chalice app (through chalicelib/local/gateway.py's
ChaliceWsgi), answering every request as the deployed API (API Gateway REST API in front of Lambda) does.

waitress, not `chalice local`'s http.server handler: waitress frames HTTP/1.1 properly (keep-alive, chunked
bodies buffered and handed on whole, Content-Length checked, a body cut short by the client never handed to
the app, leading blank lines skipped, header and body limits), where http.server answered HTML errors,
tracebacks and desynchronized keep-alive connections (werkzeug's development server, installed with moto,
closes every connection after one answer and answers malformed requests in HTML too). What waitress refuses
itself it answers here in the product's JSON error shape (JsonErrorTask); the limits are API Gateway's
quotas for a regional REST API:
- URL: 10,240 characters (414); request line and header values together: 10,240 bytes (431);
- payload: 10 MB at the gateway (413, the body is not read) and Lambda's 6 MB (413, see gateway.py).

The request log names the route template (`POST /forms/{form_id}/responses 202`), never the path or query
as sent: paths and queries carry identifiers (emails, customer ids, source ids).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from chalice import Chalice
from chalice.local import LocalChalice
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import Error, RequestEntityTooLarge, RequestHeaderFieldsTooLarge

from chalicelib.local.gateway import ROUTE_KEY, ChaliceWsgi, GatewayAnswer, gateway_answer, json_error

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# API Gateway's quotas for a regional REST API (infra/gateway.py makes the deployed endpoint regional).
MAX_URL_CHARS = 10_240
MAX_REQUEST_LINE_AND_HEADER_BYTES = 10_240
GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024
# waitress's own limit on the request line plus headers: past it the request is refused unread. Above the
# gateway's quota so that quota is checked on what was received, and answered with 414 or 431 as it applies.
SERVER_HEADER_BYTES = 64 * 1024
HTTP_WORKER_THREADS = 16
# Methods are tokens; a log line shows at most this much of one.
LOGGED_METHOD_CHARS = 16

request_log = logging.getLogger("feedback.local.requests")


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def headers_too_large() -> GatewayAnswer:
    message = "The request line and headers are larger than the API accepts."
    return json_error(431, "headers_too_large", message)


def answer_for_unparsed(error: Error) -> GatewayAnswer:
    """The JSON answer to a request waitress refused before any application saw it."""
    if isinstance(error, RequestHeaderFieldsTooLarge):
        return headers_too_large()
    if isinstance(error, RequestEntityTooLarge):
        return gateway_answer("REQUEST_TOO_LARGE", 413)
    # Everything else is malformed framing: an invalid Content-Length or chunk, an unsupported
    # Transfer-Encoding (waitress says 501; a client's mistake is a 4xx here), a bad request line or header.
    # waitress quotes the offending input after its reason; the answer keeps only the reason.
    reason = str(error.body).split('"', 1)[0].strip().rstrip(":") or "malformed request"
    return json_error(400, "bad_request", f"The request is not valid HTTP/1.1 ({reason}).")


class JsonErrorTask(ErrorTask):
    """waitress's error task, answering in the product's JSON error shape (and closing, as waitress does:
    after a framing error the rest of the connection cannot be trusted)."""

    def execute(self) -> None:
        status, headers, body = answer_for_unparsed(self.request.error)
        request_log.info('"- (unparsed request)" %s', status)
        self.status = _status_line(status)
        self.response_headers.extend(headers.items())
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class GatewayChannel(HTTPChannel):
    error_task_class = JsonErrorTask


class GatewayServer(TcpWSGIServer):
    channel_class = GatewayChannel


def _request_line_and_header_bytes(environ: dict[str, Any]) -> int:
    request_line = f"{environ['REQUEST_METHOD']} {environ.get('REQUEST_URI', '')} HTTP/1.1"
    values = [value for key, value in environ.items() if key.startswith("HTTP_")]
    values += [environ.get("CONTENT_TYPE") or "", environ.get("CONTENT_LENGTH") or ""]
    return sum(len(text.encode("latin-1", "replace")) for text in [request_line, *values])


class DeployedLimits:
    """WSGI middleware: API Gateway's URL and header quotas (414, 431), checked before routing."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = None
        if len(environ.get("REQUEST_URI", "")) > MAX_URL_CHARS:
            answer = json_error(414, "uri_too_long", "The URL is longer than the API accepts.")
        elif _request_line_and_header_bytes(environ) > MAX_REQUEST_LINE_AND_HEADER_BYTES:
            answer = headers_too_large()
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        start_response(_status_line(status), list(headers.items()))
        return [body]


class RequestLog:
    """WSGI middleware: one log line per request, naming the route template and never the path or query."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        statuses: list[str] = []

        def recording_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            statuses.append(status.split(" ", 1)[0])
            return start_response(status, headers, *args)

        body = list(self.app(environ, recording_start_response))
        method = str(environ.get("REQUEST_METHOD", "-"))[:LOGGED_METHOD_CHARS]
        route = environ.get(ROUTE_KEY) or "(no route)"
        elapsed_ms = (time.perf_counter() - started) * 1000
        request_log.info('"%s %s" %s %.0fms', method, route, statuses[0] if statuses else "-", elapsed_ms)
        return body


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is when a record is emitted (test capture swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def _log_requests_to_stderr() -> None:
    if not request_log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        request_log.addHandler(handler)
        request_log.setLevel(logging.INFO)
        request_log.propagate = False


def _current_request_per_thread(app: Chalice) -> type:
    """Make `app.current_request` thread-local, as `chalice local` does (requests are served concurrently);
    returns the app's class before, to put back."""
    original = type(app)
    if not isinstance(app, LocalChalice):
        app.__class__ = type(f"Local{original.__name__}", (LocalChalice, original), {})
    return original


class LocalApiServer:
    """The Chalice app served over HTTP on host:port, as the deployed API answers."""

    def __init__(self, app: Chalice, host: str, port: int, threads: int = HTTP_WORKER_THREADS) -> None:
        self.app = app
        self._original_class = _current_request_per_thread(app)
        _log_requests_to_stderr()
        logging.getLogger("waitress").setLevel(logging.WARNING)
        # "Task queue depth is 1": a request waited for a free worker thread, routine under a burst.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._server = GatewayServer(
            RequestLog(DeployedLimits(ChaliceWsgi(app))),
            host=host,
            port=port,
            threads=threads,
            max_request_header_size=SERVER_HEADER_BYTES,
            # waitress refuses a body of max_request_body_size bytes or more; the gateway takes 10 MB.
            max_request_body_size=GATEWAY_PAYLOAD_BYTES + 1,
            # Pass X-Forwarded-* through as API Gateway does, instead of dropping them.
            clear_untrusted_proxy_headers=False,
            ident="",
        )
        self.port = int(self._server.effective_port)
        self.url = f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until stop() is called from another thread, or Ctrl-C / SIGTERM (as KeyboardInterrupt);
        then put the app's class back."""
        try:
            self._server.run()
        finally:
            self.app.__class__ = self._original_class

    def stop(self) -> None:
        """Make serve_forever() return (from another thread)."""
        # The server's loop closes itself: closing its sockets from this thread would race with it.
        self._server.trigger.pull_trigger(self._server.close)
