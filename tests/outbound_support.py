"""Helpers for the outbound webhook tests: a loopback receiver that verifies with the official Standard
Webhooks library, stream records as DynamoDB would send them, and a fake-clock queue that replays the retry
schedule the way SQS visibility would, without waiting; and a loopback port that answers something other
than HTTP."""

from __future__ import annotations

import heapq
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib.models import StoredFeedback
from chalicelib.outbound import delivery
from chalicelib.outbound.delivery import QueuedDelivery
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from tools.webhook_receiver import Received, Receiver, running_receiver

__all__ = ["FakeQueue", "Received", "Receiver", "not_http_port", "running_receiver", "stream_record"]


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


class _SshBanner(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(65_536)
        self.request.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")


@contextmanager
def not_http_port() -> Iterator[int]:
    """A loopback port answering an SSH banner to whatever it is sent (a URL pointing at the wrong port)."""
    with socketserver.TCPServer(("127.0.0.1", 0), _SshBanner) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
