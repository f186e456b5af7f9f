"""The call-counting botocore hooks: AWS API calls and HTTP requests per phase, service and operation."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

PER = 1000  # figures are normalised to this many items

Key = tuple[str, str]  # (service endpoint prefix, OperationName)


def event_key(event_name: str) -> Key:
    """(service, operation) from a botocore event name such as `before-send.dynamodb.Query`."""
    parts = event_name.split(".")
    return parts[1], parts[2]


class RequestCounter:
    """Counts AWS API calls and HTTP requests per phase, service and operation through botocore events.

    * `before-send` fires once per HTTP request, retries included; it is what AWS bills and throttles.
      botocore calls every `before-send` handler (moto answers from one), and this one runs first anyway.
    * `before-call` fires once per API call. It is the only trace of a call that a `Stubber` answers (the
      Stubber returns its response from `before-call`, so no HTTP request is ever built): for services named
      in `stubbed_services`, each API call counts as one request.
    * `after-call.dynamodb` reads `ScannedCount`/`Count` of every Query and Scan response (items read
      through a key condition), and the items GetItem/BatchGetItem returned (items fetched by key).
    * `before-call` → `after-call`/`after-call-error`: seconds spent inside API calls per service (for moto,
      the mock's own work), summed over threads.

    Nothing is counted while `phase` is None (setup and seeding).
    """

    def __init__(self, stubbed_services: Iterable[str] = ()) -> None:
        self.stubbed_services = frozenset(stubbed_services)
        self.phase: str | None = None
        self.calls: defaultdict[str, Counter[Key]] = defaultdict(Counter)
        self.sends: defaultdict[str, Counter[Key]] = defaultdict(Counter)
        self.items_scanned: Counter[str] = Counter()
        self.items_returned: Counter[str] = Counter()
        self.items_got: Counter[str] = Counter()
        self.seconds: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._started = threading.local()

    def attach(self, events: Any) -> None:
        """Register on a session's (or client's) event system; clients created afterwards inherit it."""
        suffix = str(id(self))
        # Registered at full depth and first: botocore calls handlers of deeper event names before shallower
        # ones, and `before-call` stops at the first handler that answers (a Stubber's, on `before-call.*.*`).
        events.register_first("before-call.*.*", self._on_call, unique_id=f"bench-call-{suffix}")
        events.register_first("before-send.*.*", self._on_send, unique_id=f"bench-send-{suffix}")
        events.register("after-call.dynamodb.*", self._on_dynamodb_result, unique_id=f"bench-read-{suffix}")
        events.register("after-call.*.*", self._on_call_end, unique_id=f"bench-end-{suffix}")
        events.register("after-call-error.*.*", self._on_call_end, unique_id=f"bench-error-{suffix}")

    @contextmanager
    def phase_of(self, phase: str | None) -> Iterator[None]:
        """Attribute every request made inside the block to `phase` (None: count nothing)."""
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous

    def _starts(self) -> list[float]:
        starts = getattr(self._started, "stack", None)
        if starts is None:
            starts = self._started.stack = []
        return starts

    def _on_call(self, event_name: str, **kwargs: Any) -> None:
        if self.phase is not None:
            self.calls[self.phase][event_key(event_name)] += 1
            self._starts().append(time.perf_counter())

    def _on_call_end(self, event_name: str, **kwargs: Any) -> None:
        # A call that failed before `after-call` (a Stubber refusal) leaves its start below the newer ones;
        # calls do not nest, so the newest start is always the current call's.
        starts = self._starts()
        if self.phase is not None and starts:
            self.seconds[self.phase][event_key(event_name)[0]] += time.perf_counter() - starts.pop()

    def _on_send(self, event_name: str, **kwargs: Any) -> None:
        if self.phase is not None:
            self.sends[self.phase][event_key(event_name)] += 1

    def _on_dynamodb_result(self, event_name: str, parsed: dict[str, Any], **kwargs: Any) -> None:
        if self.phase is None:
            return
        operation = event_key(event_name)[1]
        if operation in {"Query", "Scan"}:
            self.items_scanned[self.phase] += int(parsed.get("ScannedCount", 0))
            self.items_returned[self.phase] += int(parsed.get("Count", 0))
        elif operation == "BatchGetItem":
            self.items_got[self.phase] += sum(len(items) for items in parsed.get("Responses", {}).values())
        elif operation == "GetItem":
            self.items_got[self.phase] += "Item" in parsed

    def requests(self, phase: str) -> Counter[Key]:
        """Requests by (service, operation): HTTP requests, or API calls for a stubbed service."""
        result: Counter[Key] = Counter()
        for key, count in self.calls[phase].items():
            if key[0] in self.stubbed_services:
                result[key] += count
        for key, count in self.sends[phase].items():
            if key[0] not in self.stubbed_services:
                result[key] += count
        return result

    def unsent_calls(self) -> list[str]:
        """API calls of a non-stubbed service that no `before-send` matched (the counter missed a request)."""
        missing = []
        for phase, calls in self.calls.items():
            for key, count in calls.items():
                if key[0] not in self.stubbed_services and self.sends[phase][key] < count:
                    missing.append(f"{phase}: {key[0]} {key[1]} ({self.sends[phase][key]}/{count})")
        return missing

    def retries(self, phase: str) -> int:
        """HTTP requests beyond one per API call (botocore retries) for the non-stubbed services."""
        calls = sum(
            n for (service, _), n in self.calls[phase].items() if service not in self.stubbed_services
        )
        sends = sum(
            n for (service, _), n in self.sends[phase].items() if service not in self.stubbed_services
        )
        return sends - calls


def per_thousand(count: float, items: int) -> float:
    """`count` scaled to PER items."""
    return count * PER / items


def service_total(requests: Counter[Key], service: str, operations: Iterable[str] | None = None) -> int:
    """Requests to one service (optionally only some operations)."""
    wanted = None if operations is None else set(operations)
    return sum(n for (svc, op), n in requests.items() if svc == service and (wanted is None or op in wanted))
