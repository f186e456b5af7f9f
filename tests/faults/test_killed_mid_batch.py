"""The analyze function killed mid-batch: the same messages come back and every item is stored once."""

from __future__ import annotations

from chalicelib import aws
from tests.faults.harness import (
    QueueDriver,
    accept_forms_and_webhooks,
    check_exactly_once,
    check_people_joined_once,
    split_people_then_queue_their_joins,
)
from tests.faults.injection import Chooser, Crash

EVENTS_PER_WEBHOOK = 10


def test_killed_after_some_transactions_of_a_batch_committed(client, stack, tap):
    from app import analyze

    # Batched webhooks: a 25-message batch then holds 100+ events and needs several transactions, so a
    # kill lands between the writes of one batch.
    webhooks = {
        f"msg_{delivery}": [
            {
                "id": f"wh-{delivery}-{n}",
                "text": "Great support, fast answers" if n % 2 else "The export is broken again",
                "author": {"id": f"user-{(delivery * EVENTS_PER_WEBHOOK + n) % 40}"},
            }
            for n in range(EVENTS_PER_WEBHOOK)
        ]
        for delivery in range(20)
    }
    accepted = accept_forms_and_webhooks(client, forms=150, seed=3, deliveries=webhooks)
    assert len(accepted) == 350

    dynamodb = aws.client("dynamodb")
    driver = QueueDriver(stack.queue_url, analyze)
    # Killed right after DynamoDB committed a transaction (work done, never acknowledged), and once before
    # the batch's first read: Lambda returns no partial batch response, so the whole batch comes back.
    with (
        Crash(dynamodb, "TransactWriteItems", Chooser(every=2, limit=5)) as after_commit,
        Crash(dynamodb, "BatchGetItem", Chooser(every=4, limit=2), when="before-call") as before_read,
    ):
        result = driver.drain()

    outcome = check_exactly_once(accepted, stack.resources.dlq_url, tap.events)
    assert after_commit.kills >= 3 and before_read.kills == 2
    assert result.crashes == after_commit.kills + before_read.kills
    # The killed invocations' messages were delivered again, and all were then processed.
    assert driver.killed and all(driver.receive_counts[m] >= 2 for m in driver.killed)
    assert (outcome.stored, outcome.in_dlq) == (350, 0)
    assert stack.queue_depth() == 0
    print(
        f"\nkilled mid-batch: {len(accepted)} accepted, {outcome.stored} stored, {outcome.in_dlq} in DLQ; "
        f"{result.crashes} kills, {len(driver.killed)} messages redelivered after a kill, "
        f"{result.invocations} invocations, {outcome.customers} customer profiles"
    )


def test_killed_during_a_customer_merge_the_redelivery_finishes_it(client, stack, tap):
    from app import analyze

    people = 12
    accepted = split_people_then_queue_their_joins(client, stack, people)

    # Killed after a merge moved the aggregates to the surviving profile (one transaction) and before it
    # moved the absorbed customer's feedback and identities (BatchWriteItem): the new feedback is stored,
    # so the redelivery must still see that the merge is unfinished.
    dynamodb = aws.client("dynamodb")
    driver = QueueDriver(stack.queue_url, analyze, batch_size=5)
    with Crash(dynamodb, "BatchWriteItem", Chooser(every=3, limit=4), when="before-call") as crash:
        result = driver.drain()

    assert crash.kills > 0
    outcome = check_people_joined_once(accepted, people, stack, tap)
    print(
        f"\nkilled mid-merge: {crash.kills} kills between a merge's aggregates and its moves; "
        f"{outcome.stored} stored once, {people} customers joined after {result.invocations} invocations"
    )
