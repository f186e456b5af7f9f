"""DynamoDB failing under the analyze function: throughput errors, lost responses, cancelled transactions,
and batch operations that hand part of the request back."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from chalicelib import aws
from tests.faults.harness import (
    QueueDriver,
    accept_forms_and_webhooks,
    check_exactly_once,
    check_people_joined_once,
    split_people_then_queue_their_joins,
)
from tests.faults.injection import (
    DYNAMODB_INTERNAL,
    DYNAMODB_THROUGHPUT,
    Chooser,
    Fault,
    FaultInjector,
    PartialBatch,
    transaction_cancelled,
)

RETRYABLE_REASONS = ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")


def cancelled_by_contention(seed: int) -> Any:
    """A TransactionCanceledException naming one action as the culprit (a conflict or throttle), the others
    `None`: what DynamoDB answers when another writer touched one of the transaction's items."""
    rng = random.Random(seed)

    def fault(operation: str, params: dict[str, Any]) -> Fault:
        actions = len(params["TransactItems"])
        codes = ["None"] * actions
        codes[rng.randrange(actions)] = rng.choice(RETRYABLE_REASONS)
        return transaction_cancelled(codes)

    return fault


def test_throughput_errors_lost_responses_and_cancellations_store_each_item_once(client, stack, tap):
    from app import analyze

    webhooks = {
        f"msg_ddb_{delivery}": [
            {"id": f"ddb-{delivery}-{n}", "text": "Helpful team", "author": {"id": f"u{n}"}}
            for n in range(10)
        ]
        for delivery in range(10)
    }
    accepted = accept_forms_and_webhooks(client, forms=200, seed=21, deliveries=webhooks)

    dynamodb = aws.client("dynamodb")
    writes = "TransactWriteItems"
    # Entered first, asked first: each attempt meets at most one fault.
    with (
        # Every 10th transaction is throttled on every attempt: botocore gives up, save_feedback retries.
        FaultInjector(dynamodb, writes, DYNAMODB_THROUGHPUT, chooser=Chooser(every=10), per="call") as outage,
        # A commit whose response is lost (a 500 after DynamoDB applied it): botocore's retry meets the
        # committed items' conditions and is cancelled; the profile must not count them twice.
        FaultInjector(
            dynamodb,
            writes,
            replace(DYNAMODB_INTERNAL, reach_service=True),
            chooser=Chooser(rate=0.15, seed=2),
        ) as lost,
        # A quarter of the attempts are cancelled by contention on one of their items.
        FaultInjector(
            dynamodb, writes, cancelled_by_contention(3), chooser=Chooser(rate=0.25, seed=3)
        ) as cancel,
        # Reads and writes throttled on 30% of attempts: botocore's retries absorb most of them; a read that
        # still fails fails the invocation, and the batch comes back.
        FaultInjector(
            dynamodb, ("BatchGetItem", writes), DYNAMODB_THROUGHPUT, chooser=Chooser(rate=0.3, seed=4)
        ) as throttle,
    ):
        # Batches of 10 records: more, smaller transactions for the faults to fall on.
        result = QueueDriver(stack.queue_url, analyze, batch_size=10).drain()

    outcome = check_exactly_once(accepted, stack.resources.dlq_url, tap.events)
    assert (outcome.stored, outcome.in_dlq) == (300, 0)
    assert outage.stats.surfaced > 0 and lost.stats.injected > 0 and cancel.stats.surfaced > 0
    assert throttle.stats.retries > 0
    print(
        f"\nDynamoDB faults: {len(accepted)} accepted, {outcome.stored} stored, {outcome.in_dlq} in DLQ;",
        f"throughput outage on every 10th transaction: {outage.stats.injected} attempts,",
        f"{outage.stats.surfaced} given up by botocore; {lost.stats.injected} commits with a lost response;",
        f"{cancel.stats.injected} transactions cancelled by contention; {throttle.stats.injected} throttled",
        f"attempts of {throttle.stats.attempts} ({throttle.stats.surfaced} surfaced); {result.invocations}",
        f"invocations, {result.failed_records} records retried through the queue, {result.crashes} crashes",
    )


def test_unprocessed_items_and_keys_are_retried_while_customers_merge(client, stack, tap):
    from app import analyze

    people = 30
    accepted = split_people_then_queue_their_joins(client, stack, people)
    # The merges move the absorbed customers' feedback and identities with BatchWriteItem while half of every
    # other batch request (reads included) comes back unprocessed.
    dynamodb = aws.client("dynamodb")
    with PartialBatch(dynamodb, ["BatchWriteItem", "BatchGetItem"], Chooser(every=2)) as partial:
        result = QueueDriver(stack.queue_url, analyze).drain()

    outcome = check_people_joined_once(accepted, people, stack, tap)
    assert partial.stats.injected > people
    print(
        f"\nUnprocessedItems/UnprocessedKeys: {partial.stats.injected} of {partial.stats.calls} batch "
        f"requests half handed back; {outcome.stored} stored once, {people} customer merges complete, "
        f"{result.invocations} invocations"
    )
