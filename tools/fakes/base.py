"""What the CRM fakes share: a fake is an object answering `handle(method, path, headers, body)` with an
`Answer` (status, headers, JSON payload or None); `JsonServer` serves it on 127.0.0.1 in a daemon thread;
`FakeClock` is the time they read, moved by the client's sleeps (no real waiting). `LoopbackServer` (the
server's lifecycle) and `JsonHandler` (a body in, a JSON answer out) are shared with the review-platform
fakes (review_api.py), whose fakes take a parsed request instead.

Written on the standard library's http.server: the fakes need a few routes on loopback, nothing more."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, Self

Answer = tuple[int, dict[str, str], Any]


class FakeClock:
    """Seconds that move only when told (and when the client under test sleeps on it)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Fake(Protocol):
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer: ...


class JsonHandler(BaseHTTPRequestHandler):
    """Reads a request's body and writes a JSON answer; subclasses say what to answer in `answer()`."""

    content_type = "application/json"

    def request_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_answer(self, answer: Answer) -> None:
        """The status, the headers and the payload as JSON (no body and no Content-Type for None)."""
        status, headers, payload = answer
        encoded = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def answer(self) -> Answer:
        raise NotImplementedError

    def _serve(self) -> None:
        self.send_answer(self.answer())

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and `make run` print their own summaries


class _FakeHandler(JsonHandler):
    fake: Fake

    def answer(self) -> Answer:
        return self.fake.handle(self.command, self.path, dict(self.headers), self.request_body())


class LoopbackServer:
    """`handler` served on 127.0.0.1 (port 0: any free one) in a daemon thread, from `start()` (or entering
    the context manager) until `stop()` (or leaving it)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class JsonServer(LoopbackServer):
    """A `Fake` served on loopback; `content_type` is the vendor's JSON media type."""

    content_type = "application/json"

    def __init__(self, fake: Fake, port: int = 0) -> None:
        handler = type("Handler", (_FakeHandler,), {"fake": fake, "content_type": self.content_type})
        super().__init__(handler, port)
