"""Helpers for the outbound webhook tests: a loopback receiver that verifies with the official Standard
Webhooks library, stream records as DynamoDB would send them, and a fake-clock queue that replays the retry
schedule the way SQS visibility would, without waiting."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from chalicelib.models import StoredFeedback
from chalicelib.outbound import delivery
from chalicelib.outbound.delivery import QueuedDelivery
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store


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


def stream_record(item: StoredFeedback, event_name: str = "INSERT") -> dict[str, Any]:
    """The DynamoDB stream record (NEW_IMAGE) of a stored feedback item."""
    image = dynamo.serialize(feedback_store.to_item(item))
    return {"eventName": event_name, "dynamodb": {"NewImage": image, "SequenceNumber": "1"}}


@dataclass
class FakeQueue:
    """SQS as the delivery worker sees it, on a fake clock: a failed attempt's message comes back after the
    delay the worker asked for; one that ran out of attempts goes to the DLQ."""

    clock: float = 0.0
    pending: list[tuple[float, int, int, QueuedDelivery]] = field(default_factory=list)
    dead: list[QueuedDelivery] = field(default_factory=list)
    attempts: list[tuple[float, str, int]] = field(default_factory=list)  # (clock, webhook id, attempt)
    _order: int = 0

    def put(self, message: QueuedDelivery, at: float = 0.0, receive_count: int = 0) -> None:
        self._order += 1
        heapq.heappush(self.pending, (at, self._order, receive_count, message))

    def run(self, until: float = float("inf"), on_attempt: Callable[[FakeQueue], None] | None = None) -> None:
        while self.pending and self.pending[0][0] <= until:
            due, _, receive_count, message = heapq.heappop(self.pending)
            self.clock = due
            attempt = receive_count + 1
            self.attempts.append((due, message.webhook_id, attempt))
            outcome = delivery.attempt(message, attempt)
            if on_attempt:
                on_attempt(self)
            if outcome.retry_in is None:
                continue
            if attempt >= delivery.MAX_ATTEMPTS:
                self.dead.append(message)
            else:
                self.put(message, due + outcome.retry_in, attempt)
