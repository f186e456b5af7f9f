"""The bench's outbound webhook figures as floors: through moto's stream and a real loopback receiver, every
subscribed event is delivered, verified, exactly once, for about one AWS request of our own per delivery."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter

import boto3

from tools.bench.outbound import (
    DELIVER,
    EVENT_SOURCE,
    FANOUT,
    TARGET_REQUESTS_PER_DELIVERY,
    OutboundFigures,
    measure_delivery_latency,
    measure_in_stack,
    outbound_checks,
    outbound_section,
)

PHASES = (FANOUT, DELIVER, EVENT_SOURCE)


def test_exactly_one_verified_delivery_per_subscribed_event_for_about_one_request(stack):
    boto3.setup_default_session()
    figures = measure_in_stack(boto3.DEFAULT_SESSION.events, 40)

    # 40 stored items, every 4th NEGATIVE: 40 feedback.stored + 10 feedback.negative, the redelivered 25 none.
    assert figures.expected_deliveries == 50
    assert figures.accepted == figures.unique_ids == 50 and figures.unverified == 0
    assert figures.deliveries_per_event == 1.0
    assert figures.requests[DELIVER]["dynamodb PutItem"] == 50, "one delivery log write per delivery"
    assert figures.requests[FANOUT]["sqs SendMessageBatch"] <= 50 / 10 + 4, "sent in batches of ten"
    assert 1.0 <= figures.own_requests_per_delivery <= TARGET_REQUESTS_PER_DELIVERY
    assert all(check.ok for check in outbound_checks(figures))
    assert any("exactly 1" in line for line in outbound_section(figures))


def test_the_delivery_latency_is_timed_per_item_from_its_write_to_the_receiver():
    """On the local stack's moto server, the pollers in their threads as under `make run`: every item's
    delivery is timed, once, and the process's environment is left as it was."""
    before = dict(os.environ)
    latency = measure_delivery_latency(count=6, pace_seconds=0.01)
    assert dict(os.environ) == before

    assert (latency.stored, latency.delivered) == (6, 6)
    assert 0 < latency.p50 <= latency.p95 <= latency.slowest
    figures = OutboundFigures(
        items=0, expected_deliveries=0, accepted=0, unique_ids=0, unverified=0, requests={}, latency=latency
    )
    section = outbound_section(dataclasses.replace(figures, requests={p: Counter() for p in PHASES}))
    assert any("p50 / p95" in line and f"{latency.p50 * 1000:.0f} ms" in line for line in section)
    (check,) = [check for check in outbound_checks(figures) if "latency" in check.name]
    assert check.ok
    missed = dataclasses.replace(figures, latency=dataclasses.replace(latency, delivered=5))
    (check,) = [check for check in outbound_checks(missed) if "latency" in check.name]
    assert not check.ok
