"""The bench's outbound webhook figures as floors: through moto's stream and a real loopback receiver, every
subscribed event is delivered, verified, exactly once, for about one AWS request of our own per delivery."""

from __future__ import annotations

import boto3

from tools.bench.outbound import (
    DELIVER,
    FANOUT,
    TARGET_REQUESTS_PER_DELIVERY,
    measure_in_stack,
    outbound_checks,
    outbound_section,
)


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
