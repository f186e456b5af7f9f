"""`make run`'s HTTP server at the socket level: raw bytes over TCP to the server class `python -m
chalicelib.local` serves (chalicelib/local/http_server.py), started in process on a free port against moto.

Every answer is the deployed API's: JSON in the one error shape, never a 5xx for a client's request, never a
truncated body handed to the app; the connection stays usable after an answer the framing allows, and is
closed after one it does not (a malformed Content-Length or chunk, a header block past the server's limit).
Nothing reaches stderr as a traceback, and the request log names routes, never identifiers.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from chalicelib.ingest.queue import decode_events
from chalicelib.local.http_server import LocalApiServer
from chalicelib.local.provision import create_local_read_token
from chalicelib.observability import SERVICE

FORM = b"/forms/demo"
RESPONSES = b"/forms/demo/responses"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, str]:
        """The JSON error, checked to be exactly the one shape."""
        assert self.headers["content-type"].startswith("application/json"), self.headers
        document = json.loads(self.body)
        assert list(document) == ["error"], document
        assert set(document["error"]) == {"code", "message"}, document
        assert all(isinstance(value, str) and value for value in document["error"].values()), document
        return document["error"]


class Connection:
    """One TCP connection to the server: send raw bytes, read answers, tell whether the server closed it."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.rfile: io.BufferedReader = self.sock.makefile("rb")

    def send(self, raw: bytes) -> Connection:
        self.sock.sendall(raw)
        return self

    def half_close(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def read(self) -> Answer | None:
        """The next answer, or None when the server closed the connection without one."""
        status_line = self.rfile.readline()
        if not status_line:
            return None
        _, status, _ = status_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, value = line.decode("latin-1").split(":", 1)
            headers[name.strip().lower()] = value.strip()
        assert "transfer-encoding" not in headers, headers
        return Answer(int(status), headers, self.rfile.read(int(headers.get("content-length", "0"))))

    def answer(self, raw: bytes) -> Answer:
        self.send(raw)
        answer = self.read()
        assert answer is not None, "the server closed the connection without answering"
        assert answer.status < 500, (answer.status, answer.body)
        return answer

    def closed_by_server(self) -> bool:
        self.sock.settimeout(2)
        try:
            return self.rfile.read(1) == b""
        except ConnectionResetError:  # closed with our unread bytes still queued
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


def request(method: bytes, target: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def json_post(body: bytes, *headers: bytes) -> bytes:
    return request(
        b"POST",
        RESPONSES,
        b"Content-Type: application/json",
        *headers,
        body=body,
    )


COMMENT = b'{"rating": 9, "comment": "The whole comment, not a part of it"}'


@pytest.fixture
def server(stack) -> Iterator[LocalApiServer]:
    from app import app

    local = LocalApiServer(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=local.serve_forever, daemon=True)
    thread.start()
    yield local
    local.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.fixture
def connect(server) -> Iterator:
    opened: list[Connection] = []

    def open_connection() -> Connection:
        opened.append(Connection(server.port))
        return opened[-1]

    yield open_connection
    for connection in opened:
        connection.close()


@pytest.fixture(autouse=True)
def no_traceback_reaches_stderr(capfd) -> Iterator[None]:
    yield
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out


def assert_still_usable(connection: Connection) -> None:
    follow_up = connection.answer(request(b"GET", FORM))
    assert follow_up.status == 200, follow_up.body
    assert json.loads(follow_up.body)["form_id"] == "demo"


# --- methods ----------------------------------------------------------------------------------------------


def test_a_method_no_route_has_is_the_gateways_404_and_the_connection_stays_usable(connect):
    connection = connect()

    # The response endpoint has POST and OPTIONS only (the form's own address also has PUT and PATCH).
    for method in (b"DELETE", b"PUT", b"PATCH", b"TRACE", b"PROPFIND", b"HEAD"):
        answer = connection.answer(request(method, RESPONSES))

        assert answer.status == 404, method
        if method != b"HEAD":  # a HEAD answer has no body
            assert answer.error()["code"] == "not_found", method
        assert_still_usable(connection)


def test_a_lower_case_method_is_a_json_400_not_an_html_501(connect):
    connection = connect()

    answer = connection.answer(request(b"get", FORM))

    assert (answer.status, answer.error()["code"]) == (400, "bad_request")


def test_a_cors_preflight_on_the_form_route_is_still_answered(connect):
    answer = connect().answer(
        request(
            b"OPTIONS",
            RESPONSES,
            b"Origin: https://shop.example.com",
            b"Access-Control-Request-Method: POST",
        )
    )

    assert answer.status in (200, 204), answer.body
    assert "access-control-allow-methods" in answer.headers


# --- framing ----------------------------------------------------------------------------------------------


def test_a_malformed_content_length_is_a_json_400_and_the_connection_is_closed(connect, stack):
    for length_headers in (
        [b"Content-Length: abc"],
        [b"Content-Length: 1e3"],
        [b"Content-Length: -5"],
        [b"Content-Length: 2", b"Content-Length: 3"],
        [b"Content-Length: 65, 65"],
    ):
        connection = connect()

        answer = connection.answer(json_post(COMMENT, *length_headers))

        assert (answer.status, answer.error()["code"]) == (400, "bad_request"), length_headers
        assert connection.closed_by_server(), length_headers
    assert stack.queue_depth() == 0


def test_a_body_cut_short_by_a_half_close_is_never_handed_to_the_app(connect, stack):
    connection = connect()
    connection.send(json_post(COMMENT[:30], b"Content-Length: %d" % len(COMMENT)))

    connection.half_close()

    assert connection.read() is None  # closed: the request never completed
    assert stack.queue_depth() == 0


def test_a_chunked_post_on_a_kept_alive_connection_is_stored_whole_and_framing_stays_in_step(connect, stack):
    connection = connect()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (COMMENT[:20], COMMENT[20:]))

    # The chunked POST and the next request in one write: the second must be read as a request of its own.
    connection.send(json_post(chunks + b"0\r\n\r\n", b"Transfer-Encoding: chunked") + request(b"GET", FORM))
    accepted, follow_up = connection.read(), connection.read()

    assert accepted is not None and accepted.status == 202, accepted
    assert follow_up is not None and follow_up.status == 200, follow_up
    events = [event for body in stack.queued_bodies() for event in decode_events(body)]
    assert [event.text for event in events] == ["The whole comment, not a part of it"]


def test_bad_transfer_framing_is_a_json_400_and_nothing_is_queued(connect, stack):
    for raw in (
        json_post(b"zz\r\n" + COMMENT + b"\r\n0\r\n\r\n", b"Transfer-Encoding: chunked"),  # chunk size
        json_post(COMMENT, b"Transfer-Encoding: gzip"),  # a transfer coding waitress does not take
    ):
        connection = connect()

        answer = connection.answer(raw)

        assert (answer.status, answer.error()["code"]) == (400, "bad_request"), raw
        assert connection.closed_by_server(), raw
    assert stack.queue_depth() == 0


def test_blank_lines_before_the_request_line_are_skipped(connect):
    connection = connect()

    answer = connection.answer(b"\r\n\r\n" + request(b"GET", FORM))

    assert answer.status == 200
    assert_still_usable(connection)


# --- headers ----------------------------------------------------------------------------------------------


def test_a_non_ascii_bearer_token_gets_a_json_answer(connect):
    connection = connect()

    for token in ("Bearer \u00e9t\u00e9".encode("latin-1"), "Bearer \u00e9t\u00e9".encode()):
        unknown_route = connection.answer(request(b"GET", b"/no/such/route", b"Authorization: " + token))
        bearer_route = connection.answer(request(b"GET", b"/feedback", b"Authorization: " + token))

        assert (unknown_route.status, unknown_route.error()["code"]) == (404, "not_found"), token
        assert (bearer_route.status, bearer_route.error()["code"]) == (401, "unauthorized"), token
    assert_still_usable(connection)


def test_a_url_past_the_gateways_quota_is_a_json_414(connect):
    connection = connect()

    answer = connection.answer(request(b"GET", b"/forms/" + b"a" * 10_300))

    assert (answer.status, answer.error()["code"]) == (414, "uri_too_long")
    assert_still_usable(connection)


def test_headers_past_the_gateways_quota_are_a_json_431(connect):
    connection = connect()

    answer = connection.answer(request(b"GET", FORM, b"X-Padding: " + b"a" * 11_000))

    assert (answer.status, answer.error()["code"]) == (431, "headers_too_large")
    assert_still_usable(connection)


def test_a_header_block_past_the_servers_limit_is_refused_unread_with_a_json_431(connect):
    for raw in (
        request(b"GET", FORM, b"X-Padding: " + b"a" * 70_000),
        request(b"GET", b"/forms/" + b"a" * 70_000),
    ):
        connection = connect()

        answer = connection.answer(raw)

        assert (answer.status, answer.error()["code"]) == (431, "headers_too_large")
        assert connection.closed_by_server()


# --- body size --------------------------------------------------------------------------------------------


def test_a_body_over_the_gateways_10_mb_is_a_json_413_before_it_is_read(connect, stack):
    connection = connect()

    answer = connection.answer(json_post(b"", b"Content-Length: %d" % (10 * 1024 * 1024 + 1)))

    assert (answer.status, answer.error()["code"]) == (413, "payload_too_large")
    assert connection.closed_by_server()
    assert stack.queue_depth() == 0


def test_a_body_over_lambdas_6_mb_payload_is_a_json_413(connect, stack):
    body = b'{"rating": 9, "comment": "' + b"a" * (6 * 1024 * 1024) + b'"}'
    connection = connect()

    answer = connection.answer(json_post(body, b"Content-Length: %d" % len(body)))

    assert (answer.status, answer.error()["code"]) == (413, "payload_too_large")
    assert stack.queue_depth() == 0
    assert_still_usable(connection)


def test_a_well_formed_post_is_accepted_and_the_connection_kept_alive(connect, stack):
    connection = connect()

    answer = connection.answer(json_post(COMMENT, b"Content-Length: %d" % len(COMMENT)))

    assert answer.status == 202, answer.body
    assert stack.queue_depth() == 1
    assert_still_usable(connection)


# --- the request log --------------------------------------------------------------------------------------

EMAIL = "log.probe+1@example.com"


def test_the_request_log_names_routes_and_keeps_identifiers_out(connect, capfd):
    token = create_local_read_token().encode()
    connection = connect()
    encoded = quote(EMAIL, safe="").encode()

    for target in (
        b"/customers?email=" + encoded,
        b"/customers?email=" + EMAIL.encode(),
        b"/customers/" + encoded,
        b"/no/such/" + encoded,
    ):
        connection.answer(request(b"GET", target, b"Authorization: Bearer " + token))
    connect().answer(b"GET /customers?email=" + EMAIL.encode() + b" HTTP/1.1 trailing-garbage\r\n\r\n")

    log = "".join(capfd.readouterr())
    assert '"GET /customers"' in log  # the log was captured: a route line is there
    assert '"GET /customers/{customer_id}"' in log
    for trace in (EMAIL, quote(EMAIL, safe=""), quote(EMAIL), "log.probe", "example.com"):
        assert trace not in log


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_failure_inside_the_gateway_is_a_json_500_logged_without_what_the_client_sent(stack, monkeypatch):
    from werkzeug.test import Client

    from app import app
    from chalicelib.local.gateway import ChaliceWsgi

    gateway = ChaliceWsgi(app)
    logged = Records()
    service_logger = logging.getLogger(SERVICE)
    # Only this handler: the logger's own stream is whatever stdout was when the app was first imported.
    monkeypatch.setattr(service_logger, "handlers", [logged])

    def fail(**request: object) -> None:
        raise ValueError(f"cannot handle {request['path']}")

    monkeypatch.setattr(gateway.gateway, "handle_request", fail)

    response = Client(gateway).get(f"/forms/{quote(EMAIL, safe='')}")

    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    [record] = [record for record in logged.records if record.getMessage() == "local gateway failed"]
    assert record.error_type == "ValueError"
    assert "in fail" in record.frames  # where it failed is logged …
    assert "log.probe" not in str(vars(record))  # … and not what the client sent
