"""Fault injection at the botocore layer: errors, lost responses, partial batches, crashes, on some calls.

`FaultInjector` registers first on a client's `before-send.<service>.<Operation>` event, which botocore emits
once per HTTP attempt, and answers the chosen attempts with an `AWSResponse` carrying the service's own error
body. Everything after the "network" then runs for real: botocore's error parsing (modeled fields such as a
cancelled transaction's `CancellationReasons` included), its standard-mode retry handler (backoff and retry
quota), and the app's handling of whatever finally surfaces.

Two granularities, because they exercise different code:
- `per="attempt"`: each HTTP attempt is faulted independently, so botocore's retries absorb most faults.
- `per="call"`: a chosen API call fails on every attempt, so botocore gives up and the app's own retries
  (cancelled transactions, the queue's redelivery) must cope.

moto is itself a `before-send` handler and botocore calls every handler of an event, so an injected fault
also decides whether moto sees the request: by default it is pointed at an address moto does not serve
(the service never received it, as with throttling); `reach_service=True` lets moto process it and the
client still gets the error (the response was lost after the service acted: the ambiguous 5xx).

`PartialBatch` makes DynamoDB's batch operations process only part of a request and hand the rest back as
`UnprocessedItems`/`UnprocessedKeys`; `Crash` raises a `BaseException` at a chosen call to simulate the
Lambda runtime dying (nothing in the app catches it, so no partial batch response is returned).

Every choice is deterministic: every n-th call, or a `random.Random(seed)` draw under a lock.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Literal

from botocore.awsrequest import AWSPreparedRequest, AWSResponse

# Requests the injector answers are sent here instead: moto serves no such host, so it returns None and
# leaves the answer to the injector (it never processes the request).
BLACKHOLE_URL = "https://fault-injection.invalid/"
CONTEXT_KEY = "fault-injection"

Responder = Callable[[str, dict[str, Any]], dict[str, Any] | None]


class _RawBody(BytesIO):
    """The raw stream an `AWSResponse` reads its body from."""

    def stream(self, **_: Any) -> Any:
        yield self.read()


def json_response(url: str, status: int, body: dict[str, Any], protocol: str = "1.0") -> AWSResponse:
    """An HTTP response of a JSON-protocol AWS service (DynamoDB 1.0, Comprehend 1.1, SQS 1.0)."""
    headers = {"content-type": f"application/x-amz-json-{protocol}", "x-amzn-requestid": "fault-injection"}
    return AWSResponse(url, status, headers, _RawBody(json.dumps(body).encode()))


@dataclass(frozen=True)
class Fault:
    """An error answer: HTTP status, the service's error code, modeled extras (e.g. CancellationReasons)."""

    status: int
    code: str
    message: str = "injected fault"
    extra: dict[str, Any] = field(default_factory=dict)
    reach_service: bool = False

    def response(self, request: AWSPreparedRequest, protocol: str) -> AWSResponse:
        body = {"__type": self.code, "message": self.message, **self.extra}
        return json_response(request.url, self.status, body, protocol)


# Faults with the error bodies the services send (codes from the botocore service models).
DYNAMODB_THROUGHPUT = Fault(
    400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "Rate exceeded"
)
DYNAMODB_INTERNAL = Fault(500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal error")
COMPREHEND_THROTTLING = Fault(400, "ThrottlingException", "Rate exceeded")
COMPREHEND_INTERNAL = Fault(500, "InternalServerException", "Internal server error")
SQS_INTERNAL = Fault(500, "com.amazonaws.sqs#InternalError", "Internal error")


def transaction_cancelled(codes: list[str]) -> Fault:
    """A TransactionCanceledException whose reasons are `codes`, one per action, as DynamoDB words it."""
    return Fault(
        400,
        "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(codes)}]",
        extra={"CancellationReasons": [{"Code": code} for code in codes]},
    )


class Chooser:
    """Which calls to fault: every `every`-th, or a seeded `rate` fraction; at most `limit` of them."""

    def __init__(
        self, rate: float = 0.0, every: int | None = None, seed: int = 0, limit: int | None = None
    ) -> None:
        self.rate, self.every, self.limit = rate, every, limit
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._seen = 0
        self.chosen = 0

    def __call__(self) -> bool:
        with self._lock:
            self._seen += 1
            if self.limit is not None and self.chosen >= self.limit:
                return False
            hit = self._seen % self.every == 0 if self.every else self._random.random() < self.rate
            self.chosen += hit
            return hit


@dataclass
class Stats:
    """What an injector saw: logical API calls, HTTP attempts, faults injected, errors the caller saw."""

    calls: int = 0
    attempts: int = 0
    injected: int = 0
    surfaced: int = 0

    @property
    def retries(self) -> int:
        """HTTP attempts beyond the first of each call: botocore's own retries."""
        return self.attempts - self.calls


class FaultInjector:
    """Answers a fraction of a client's calls to `operations` with `fault` (see the module docstring).

    `fault` may be a function of (operation, request params) returning the Fault, or None to let the call
    through. `responder(operation, params)` serves the calls that are not faulted (a service moto lacks).
    `match(operation, params)` restricts faults to some calls (e.g. one language).
    """

    def __init__(
        self,
        client: Any,
        operations: str | Iterable[str],
        fault: Fault | Callable[[str, dict[str, Any]], Fault | None] | None = None,
        *,
        chooser: Chooser | None = None,
        per: Literal["attempt", "call"] = "attempt",
        match: Callable[[str, dict[str, Any]], bool] | None = None,
        responder: Responder | None = None,
    ) -> None:
        self.client = client
        self.operations = [operations] if isinstance(operations, str) else list(operations)
        self.fault = fault
        self.chooser = chooser or Chooser()
        self.per = per
        self.match = match
        self.responder = responder
        self.stats = Stats()
        self._lock = threading.Lock()
        self._id = f"fault-injector-{id(self)}"
        service_model = client.meta.service_model
        self.service = service_model.service_id.hyphenize()
        self.protocol = service_model.metadata.get("jsonVersion", "1.0")

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def __enter__(self) -> FaultInjector:
        events = self.client.meta.events
        for operation in self.operations:
            # unique ids are per emitter, not per event: one each.
            events.register(
                f"before-call.{self.service}.{operation}",
                self._before_call,
                unique_id=f"{self._id}-bc-{operation}",
            )
            # First, so that moto (also a before-send handler) does not answer before the injector.
            events.register_first(
                f"before-send.{self.service}.{operation}",
                self._before_send,
                unique_id=f"{self._id}-bs-{operation}",
            )
            events.register(
                f"after-call.{self.service}.{operation}",
                self._after_call,
                unique_id=f"{self._id}-ac-{operation}",
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        events = self.client.meta.events
        for operation in self.operations:
            for stage, tag in (("before-call", "bc"), ("before-send", "bs"), ("after-call", "ac")):
                events.unregister(
                    f"{stage}.{self.service}.{operation}", unique_id=f"{self._id}-{tag}-{operation}"
                )

    def _before_call(self, context: dict[str, Any], **_: Any) -> None:
        self._count("calls")
        # One decision per logical call, kept in the request context that every attempt's request carries.
        context[self._id] = self.chooser() if self.per == "call" else None

    def _after_call(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        # Only the errors this injector caused (several injectors may watch one operation).
        if http_response.status_code >= 300 and context.get(f"{self._id}-hit"):
            self._count("surfaced")

    def _fault_for(self, operation: str, params: dict[str, Any]) -> Fault | None:
        if callable(self.fault):
            return self.fault(operation, params)
        return self.fault

    def _before_send(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
        self._count("attempts")
        if request.url == BLACKHOLE_URL:
            return None  # an injector entered earlier (so asked first) answered this attempt
        operation = event_name.rsplit(".", 1)[-1]
        params = json.loads(request.body or b"{}")
        decided = (request.context or {}).get(self._id)
        wanted = self.match is None or self.match(operation, params)
        hit = wanted and (decided if decided is not None else self.per == "attempt" and self.chooser())
        fault = self._fault_for(operation, params) if hit else None
        if fault is not None:
            self._count("injected")
            if request.context is not None:
                request.context[f"{self._id}-hit"] = True
            response = fault.response(request, self.protocol)
            if not fault.reach_service:
                request.url = BLACKHOLE_URL
            return response
        if self.responder is not None:
            body = self.responder(operation, params)
            if body is not None:
                request.url = BLACKHOLE_URL
                return json_response(request.url, 200, body, self.protocol)
        return None


class PartialBatch:
    """DynamoDB processing only part of a BatchWriteItem/BatchGetItem and returning the rest as unprocessed.

    On a chosen call, `before-parameter-build` withholds the second half of every table's requests (so the
    service never sees them) and `after-call` hands them back in `UnprocessedItems`/`UnprocessedKeys`, the
    way DynamoDB answers when a partition is throttled.
    """

    KEYS = {"BatchWriteItem": ("RequestItems", "UnprocessedItems"), "BatchGetItem": ("RequestItems", None)}

    def __init__(self, client: Any, operations: Iterable[str], chooser: Chooser) -> None:
        self.client, self.operations, self.chooser = client, list(operations), chooser
        self.stats = Stats()
        self._id = f"partial-batch-{id(self)}"
        self._lock = threading.Lock()

    def __enter__(self) -> PartialBatch:
        for operation in self.operations:
            self.client.meta.events.register(
                f"before-parameter-build.dynamodb.{operation}",
                self._withhold,
                unique_id=f"{self._id}-w-{operation}",
            )
            self.client.meta.events.register(
                f"after-call.dynamodb.{operation}", self._hand_back, unique_id=f"{self._id}-h-{operation}"
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        for operation in self.operations:
            self.client.meta.events.unregister(
                f"before-parameter-build.dynamodb.{operation}", unique_id=f"{self._id}-w-{operation}"
            )
            self.client.meta.events.unregister(
                f"after-call.dynamodb.{operation}", unique_id=f"{self._id}-h-{operation}"
            )

    def _withhold(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.stats.calls += 1
        if not self.chooser():
            return
        withheld: dict[str, Any] = {}
        for table, requests in params["RequestItems"].items():
            if model.name == "BatchWriteItem":
                keep = max(1, len(requests) // 2)
                if len(requests) > keep:
                    withheld[table] = copy.deepcopy(requests[keep:])
                    params["RequestItems"][table] = requests[:keep]
            else:
                keys = requests["Keys"]
                keep = max(1, len(keys) // 2)
                if len(keys) > keep:
                    withheld[table] = {**copy.deepcopy(requests), "Keys": copy.deepcopy(keys[keep:])}
                    params["RequestItems"][table] = {**requests, "Keys": keys[:keep]}
        if withheld:
            with self._lock:
                self.stats.injected += 1
            context[CONTEXT_KEY] = withheld

    def _hand_back(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        withheld = context.pop(CONTEXT_KEY, None)
        if withheld:
            name = "UnprocessedItems" if model.name == "BatchWriteItem" else "UnprocessedKeys"
            unprocessed = parsed.setdefault(name, {})
            for table, requests in withheld.items():
                if model.name == "BatchWriteItem":
                    unprocessed[table] = unprocessed.get(table, []) + requests
                else:
                    unprocessed[table] = requests


class LambdaKilled(BaseException):
    """The runtime died mid-invocation: a BaseException, so no `except Exception` in the app catches it."""


class Crash:
    """Raises LambdaKilled on chosen calls to `operation`: after the service answered (`after-call`, the
    work done but never acknowledged) or before the request is sent (`before-call`)."""

    def __init__(
        self,
        client: Any,
        operation: str,
        chooser: Chooser,
        when: Literal["after-call", "before-call"] = "after-call",
    ) -> None:
        self.client, self.operation, self.chooser, self.when = client, operation, chooser, when
        self.kills = 0
        self._id = f"crash-{id(self)}"
        self._event = f"{when}.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def __enter__(self) -> Crash:
        self.client.meta.events.register(self._event, self._maybe_die, unique_id=self._id)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.meta.events.unregister(self._event, unique_id=self._id)

    def _maybe_die(self, **kwargs: Any) -> None:
        response = kwargs.get("http_response")
        if response is not None and response.status_code >= 300:
            return  # only successful calls: the point is work done and never acknowledged
        if self.chooser():
            self.kills += 1
            raise LambdaKilled(f"killed at {self._event}")
