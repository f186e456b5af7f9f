"""A Standard Webhooks receiver on 127.0.0.1 for tests and the bench: verifies every request with the official
library, answers as told (status, headers, a stall), and keeps what it was sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    body: bytes
    headers: dict[str, str]
    verified: bool
    answered: int


# (request number, webhook id) → (status, extra headers, seconds to stall before answering)
Behaviour = Callable[[int, str], tuple[int, dict[str, str], float]]


@dataclass
class Receiver:
    """A Standard Webhooks receiver on 127.0.0.1; answers as `behaviour` says and keeps every request."""

    secret: str = ""
    behaviour: Behaviour = lambda n, webhook_id: (200, {}, 0.0)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def accepted_ids(self) -> list[str]:
        """The webhook ids of the verified requests this receiver answered 2xx, in order."""
        return [r.webhook_id for r in self.received if r.verified and 200 <= r.answered < 300]


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(receiver.secret).verify(body, headers)
                verified = True
            except (WebhookVerificationError, EmptyWebhookSecretError):
                verified = False
            webhook_id = headers.get("webhook-id", "")
            status, extra, stall = receiver.behaviour(len(receiver.received) + 1, webhook_id)
            receiver.received.append(Received(webhook_id, body, headers, verified, status))
            if stall:
                time.sleep(stall)
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except BrokenPipeError:
                pass  # the sender gave up waiting (the timeout test)

        def log_message(self, *args: Any) -> None:
            return

    return Handler


@contextmanager
def running_receiver(receiver: Receiver, path: str = "/hooks") -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
