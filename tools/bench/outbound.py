"""Outbound webhooks: deliveries per stored item and subscribed event (target: exactly one), and the AWS
requests each delivery costs, through the real path on moto: items stored by the analyze write path, the
table's stream read into the fan-out function, the delivery worker posting to a loopback receiver that
verifies every signature with the official Standard Webhooks library.

The items are stored twice (a platform's redelivery): the second write stores nothing, so it must send
nothing. Requests are counted per function: the fan-out's own (SendMessageBatch, the cached subscription
Query), the worker's own (the delivery log PutItem, the cached SSM secret read), and apart from them what
Lambda's event sources do for the functions (GetRecords, ReceiveMessage, DeleteMessageBatch).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tools.bench.counting import RequestCounter

OUTBOUND_ITEMS = 200
# Delivery latency on the local stack: items stored one at a time, this far apart, while the stream poller
# and the delivery worker run in their own threads as under `make run`.
LATENCY_ITEMS = 40
LATENCY_PACE_SECONDS = 0.2
LATENCY_WAIT_SECONDS = 30.0  # how long the last deliveries may take before the run gives up on them
NEGATIVE_SHARE = 4  # every 4th item is NEGATIVE
FANOUT, DELIVER, EVENT_SOURCE = "fan-out", "deliver", "event sources"
# Targets (BENCHMARKS.md): exactly one delivery per subscribed event; at most this many of our own AWS
# requests per delivery (one log write, plus a share of the batched sends and cached reads).
TARGET_REQUESTS_PER_DELIVERY = 1.5


@dataclass(frozen=True)
class DeliveryLatency:
    """Seconds from an item's stored write returning to its delivery reaching the receiver."""

    stored: int
    delivered: int
    p50: float
    p95: float
    slowest: float


@dataclass(frozen=True)
class OutboundFigures:
    items: int
    expected_deliveries: int  # (stored event, subscription that wants it) pairs
    accepted: int  # 2xx answers the receiver gave, verified
    unique_ids: int  # distinct webhook-ids among them
    unverified: int
    requests: dict[str, Counter[str]]  # phase → "service Operation" → requests
    latency: DeliveryLatency | None = None  # measured on a stack of its own (measure_delivery_latency)

    @property
    def deliveries_per_event(self) -> float:
        return self.accepted / self.expected_deliveries if self.expected_deliveries else 0.0

    def requests_per_delivery(self, phase: str) -> float:
        return sum(self.requests[phase].values()) / self.accepted if self.accepted else 0.0

    @property
    def own_requests_per_delivery(self) -> float:
        return self.requests_per_delivery(FANOUT) + self.requests_per_delivery(DELIVER)


def measure_outbound(items: int = OUTBOUND_ITEMS) -> OutboundFigures:
    """The measurement on its own moto stack."""
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        boto3.setup_default_session()
        provision_stack()
        figures = measure_in_stack(boto3.DEFAULT_SESSION.events, items)
    reset_process_caches()
    return dataclasses.replace(figures, latency=measure_delivery_latency())


def measure_delivery_latency(
    count: int = LATENCY_ITEMS, pace_seconds: float = LATENCY_PACE_SECONDS
) -> DeliveryLatency:
    """The latency on the local stack as `make run` serves it: its moto server (DynamoDB requests serialized,
    so the pollers' threads and the writes can run at once), on a free port; the environment is restored."""
    import logging
    import os

    from chalicelib.local.moto_server import LocalMotoServer
    from chalicelib.local.smtp_server import free_port
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    saved, werkzeug_log = dict(os.environ), logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # as `make run` does: no line per request
    prepare_environment()
    server = LocalMotoServer("127.0.0.1", free_port())
    server.start()
    try:
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{server.port}"
        with contextlib.redirect_stdout(io.StringIO()):
            provision_stack()
            return measure_latency_in_stack(count, pace_seconds)
    finally:
        server.stop()
        werkzeug_log.setLevel(level)
        os.environ.clear()
        os.environ.update(saved)
        reset_process_caches()


def measure_latency_in_stack(
    count: int = LATENCY_ITEMS, pace_seconds: float = LATENCY_PACE_SECONDS
) -> DeliveryLatency:
    """Store `count` items one at a time while the local stack's stream poller and delivery worker run in
    their threads with `make run`'s timing (chalicelib/local/outbound.py: the stream read every second, the
    worker long-polling its queue), and time each item from its write returning to its `feedback.stored`
    delivery reaching a verifying receiver on loopback."""
    import json
    import os
    import statistics
    import time

    from chalicelib import aws
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.local.outbound import StreamPoller, create_delivery_queues, enable_stream
    from chalicelib.outbound import delivery, fanout, subscriptions
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution
    from tools.webhook_receiver import Receiver, running_receiver

    aws.reset_clients()
    os.environ["OUTBOUND_ALLOW_LOOPBACK"] = "1"
    _, queue_url = create_delivery_queues()
    os.environ["DELIVERY_QUEUE_URL"] = queue_url
    subscriptions.clear_cache()
    arrived: dict[str, float] = {}  # webhook-id → when the receiver got it

    def answer(n: int, webhook_id: str) -> tuple[int, dict[str, str], float]:
        arrived.setdefault(webhook_id, time.monotonic())
        return 204, {}, 0.0

    receiver = Receiver(behaviour=answer)
    stored: dict[str, float] = {}  # feedback id → when its write returned
    stream = worker = None
    try:
        with running_receiver(receiver):
            _, receiver.secret = subscriptions.create(receiver.url, ["feedback.stored"])
            subscriptions.clear_cache()
            stream = StreamPoller(enable_stream(), fanout.handle_stream_batch)
            worker = SqsPoller(queue_url, delivery.handle_sqs_batch, batch_size=10)
            stream.start()
            worker.start()
            for item in _items(count):
                feedback_write.save_feedback([item], Resolution(), {})
                stored[item.feedback_id] = time.monotonic()
                time.sleep(pace_seconds)
            deadline = time.monotonic() + LATENCY_WAIT_SECONDS
            while len(receiver.accepted_ids()) < count and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        if stream is not None and worker is not None:
            stream.stop()
            worker.stop()
        os.environ.pop("OUTBOUND_ALLOW_LOOPBACK", None)
        os.environ.pop("DELIVERY_QUEUE_URL", None)
        subscriptions.clear_cache()
    latencies = sorted(
        arrived[r.webhook_id] - stored[json.loads(r.body)["data"]["feedback_id"]]
        for r in receiver.received
        if r.verified and r.webhook_id in arrived
    )
    if not latencies:
        return DeliveryLatency(stored=count, delivered=0, p50=0.0, p95=0.0, slowest=0.0)
    cuts = (
        statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    )
    return DeliveryLatency(
        stored=count, delivered=len(latencies), p50=cuts[49], p95=cuts[94], slowest=latencies[-1]
    )


def measure_in_stack(events: Any, count: int) -> OutboundFigures:
    import os

    from chalicelib import aws
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.local.outbound import StreamPoller, create_delivery_queues, enable_stream
    from chalicelib.models import Sentiment
    from chalicelib.outbound import delivery, fanout, subscriptions
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution
    from tools.webhook_receiver import Receiver, running_receiver

    counter = RequestCounter()
    counter.attach(events)
    aws.reset_clients()
    os.environ["OUTBOUND_ALLOW_LOOPBACK"] = "1"
    _, queue_url = create_delivery_queues()
    os.environ["DELIVERY_QUEUE_URL"] = queue_url
    subscriptions.clear_cache()
    items = _items(count)
    negatives = sum(1 for item in items if item.sentiment is Sentiment.NEGATIVE)
    receiver = Receiver()
    try:
        with running_receiver(receiver):
            everything, receiver.secret = subscriptions.create(receiver.url, ["feedback.stored"])
            stream = StreamPoller(enable_stream(), _counted(counter, FANOUT, fanout.handle_stream_batch))
            worker = SqsPoller(
                queue_url, _counted(counter, DELIVER, delivery.handle_sqs_batch), batch_size=10
            )
            for start in range(0, count, 25):  # as the analyze step stores its batches
                feedback_write.save_feedback(items[start : start + 25], Resolution(), {})
            feedback_write.save_feedback(items[:25], Resolution(), {})  # a redelivery: nothing new
            negative_only, negative_secret = subscriptions.create(
                receiver.url + "/negative", ["feedback.negative"], {"sentiments": ["NEGATIVE"]}
            )
            subscriptions.clear_cache()
            del everything, negative_only  # subscribed before the stream is read: both get their events
            with counter.phase_of(EVENT_SOURCE):
                while stream.poll_once():
                    pass
                worker.drain()
    finally:
        os.environ.pop("OUTBOUND_ALLOW_LOOPBACK", None)
        os.environ.pop("DELIVERY_QUEUE_URL", None)
        subscriptions.clear_cache()
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    verified = []
    for received in receiver.received:
        secret = (
            negative_secret if received.body.startswith(b'{"type":"feedback.negative"') else receiver.secret
        )
        try:
            Webhook(secret).verify(received.body, received.headers)
            verified.append(received)
        except WebhookVerificationError:
            pass
    accepted = [r for r in verified if 200 <= r.answered < 300]
    return OutboundFigures(
        items=count,
        expected_deliveries=count + negatives,
        accepted=len(accepted),
        unique_ids=len({r.webhook_id for r in accepted}),
        unverified=len(receiver.received) - len(verified),
        requests={
            phase: Counter({f"{service} {op}": n for (service, op), n in counter.requests(phase).items()})
            for phase in (FANOUT, DELIVER, EVENT_SOURCE)
        },
    )


def _items(count: int) -> list[Any]:
    """Form responses as the analyze step stores them; every NEGATIVE_SHARE-th one NEGATIVE."""
    from datetime import UTC, datetime

    from chalicelib.models import (
        Analysis,
        Author,
        Channel,
        FeedbackEvent,
        Kind,
        Sentiment,
        SentimentScores,
        StoredFeedback,
    )

    now = datetime.now(UTC)
    items = []
    for n in range(count):
        negative = n % NEGATIVE_SHARE == 0
        event = FeedbackEvent.create(
            source_id="demo",
            external_id=f"bench-out-{n}",
            channel=Channel.FORM,
            kind=Kind.FORM_RESPONSE,
            text=f"Outbound bench response {n}",
            language="en",
            author=Author(email=f"bench-out-{n}@example.com"),
            occurred_at=now,
            received_at=now,
        )
        scores = (0.05, 0.9) if negative else (0.9, 0.05)
        analysis = Analysis(
            sentiment=Sentiment.NEGATIVE if negative else Sentiment.POSITIVE,
            scores=SentimentScores(positive=scores[0], negative=scores[1], neutral=0.05, mixed=0.0),
            language="en",
            analyzer="lexicon",
            analyzed_at=now,
        )
        items.append(StoredFeedback.from_event(event, analysis, now))
    return items


def _counted(counter: RequestCounter, phase: str, handler: Any) -> Any:
    def run(event: dict[str, Any], context: Any) -> Any:
        with counter.phase_of(phase):
            return handler(event, context)

    return run


def outbound_section(figures: OutboundFigures | None) -> list[str]:
    """The BENCHMARKS.md lines."""
    if figures is None:
        return ["Not measured in this run."]
    lines = [
        f"{figures.items} items stored through the write path (then 25 of them again, a redelivery), two "
        "subscriptions (every `feedback.stored`; `feedback.negative` of NEGATIVE items), the table's stream "
        "into the fan-out, the delivery worker posting to a loopback receiver verifying with the official "
        "Standard Webhooks library.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| deliveries per stored item per subscribed event | {figures.deliveries_per_event:.3f} "
        f"({figures.accepted} of {figures.expected_deliveries}, {figures.unique_ids} distinct ids) "
        "| exactly 1 |",
        f"| deliveries failing verification | {figures.unverified} | 0 |",
        f"| our AWS requests per delivery (fan-out + worker) | {figures.own_requests_per_delivery:.2f} | "
        f"≤ {TARGET_REQUESTS_PER_DELIVERY} |",
        f"| of which the fan-out | {figures.requests_per_delivery(FANOUT):.2f} | |",
        f"| of which the delivery worker | {figures.requests_per_delivery(DELIVER):.2f} | |",
        f"| Lambda's event sources per delivery (GetRecords, ReceiveMessage, DeleteMessageBatch) | "
        f"{figures.requests_per_delivery(EVENT_SOURCE):.2f} | |",
    ]
    if figures.latency is not None:
        latency = figures.latency
        lines += [
            f"| delivery latency, store → receiver, p50 / p95 (local stack; {latency.delivered} of "
            f"{latency.stored} items) | {latency.p50 * 1000:.0f} ms / {latency.p95 * 1000:.0f} ms "
            f"(slowest {latency.slowest * 1000:.0f} ms) | |",
        ]
    lines += [
        "",
        f"Delivery latency: items stored one at a time, {LATENCY_PACE_SECONDS * 1000:.0f} ms apart, with "
        "the local stack's stream poller (reading the stream every second, as `make run` does) and delivery "
        "worker (long-polling its queue) in their own threads; "
        "from the write returning to the receiver getting the POST. On AWS, Lambda's event sources poll the "
        "stream and the queue on their own schedules: these are the local stack's figures, not a deployed "
        "stack's.",
        "",
        "Requests by operation:",
        "",
    ]
    for phase in (FANOUT, DELIVER, EVENT_SOURCE):
        operations = ", ".join(f"{op} {n}" for op, n in sorted(figures.requests[phase].items()))
        lines.append(f"- {phase}: {operations or 'none'}")
    return lines


if __name__ == "__main__":
    print("\n".join(outbound_section(measure_outbound())))


def outbound_checks(figures: OutboundFigures | None) -> list[Any]:
    """Exactly one verified delivery per subscribed event; our requests per delivery within the target."""
    from tools.bench.checks import Check

    if figures is None:
        return []
    exact = figures.accepted == figures.unique_ids == figures.expected_deliveries and not figures.unverified
    latency = (
        [
            Check(
                "outbound webhooks: items of the latency run delivered (local stack)",
                f"{figures.latency.delivered}/{figures.latency.stored}",
                "all",
                figures.latency.delivered == figures.latency.stored,
            )
        ]
        if figures.latency is not None
        else []
    )
    return [
        *latency,
        Check(
            "outbound webhooks: verified deliveries per stored item per subscribed event (distinct ids)",
            f"{figures.deliveries_per_event:.3f} ({figures.unique_ids})",
            "= 1",
            exact,
        ),
        Check(
            "outbound webhooks: our AWS requests per delivery (fan-out + delivery worker)",
            f"{figures.own_requests_per_delivery:.2f}",
            f"≤ {TARGET_REQUESTS_PER_DELIVERY}",
            0 < figures.own_requests_per_delivery <= TARGET_REQUESTS_PER_DELIVERY,
        ),
    ]
