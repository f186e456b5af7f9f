"""The analyze function killed mid-batch: the same messages come back and every item is stored once."""

from __future__ import annotations

from chalicelib import aws
from tests.faults.harness import (
    QueueDriver,
    assert_people_joined,
    check_exactly_once,
    create_webhook_source,
    form_responses,
    join_people,
    post_webhook,
    split_people,
    submit_forms,
    webhook_feedback_id,
)
from tests.faults.injection import Chooser, Crash

EVENTS_PER_WEBHOOK = 10


def test_killed_after_some_transactions_of_a_batch_committed(client, stack, tap):
    from app import analyze

    create_webhook_source()
    forms = submit_forms(client, form_responses(150, seed=3))
    accepted = list(forms.accepted)
    # Batched webhooks: a 25-message batch then holds 100+ events and needs several transactions, so a
    # kill lands between the writes of one batch.
    for delivery in range(20):
        objects = [
            {
                "id": f"wh-{delivery}-{n}",
                "text": "Great support, fast answers" if n % 2 else "The export is broken again",
                "author": {"id": f"user-{(delivery * EVENTS_PER_WEBHOOK + n) % 40}"},
            }
            for n in range(EVENTS_PER_WEBHOOK)
        ]
        assert post_webhook(client, f"msg_{delivery}", objects).status_code == 200
        accepted += [webhook_feedback_id(o["id"]) for o in objects]
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

    create_webhook_source()
    people = 12
    accepted = split_people(client, people)
    QueueDriver(stack.queue_url, analyze).drain()
    accepted += join_people(client, people)

    # Killed after a merge moved the aggregates to the surviving profile (one transaction) and before it
    # moved the absorbed customer's feedback and identities (BatchWriteItem): the new feedback is stored,
    # so the redelivery must still see that the merge is unfinished.
    dynamodb = aws.client("dynamodb")
    driver = QueueDriver(stack.queue_url, analyze, batch_size=5)
    with Crash(dynamodb, "BatchWriteItem", Chooser(every=3, limit=4), when="before-call") as crash:
        result = driver.drain()

    assert crash.kills > 0
    outcome = check_exactly_once(accepted, stack.resources.dlq_url, tap.events)
    assert (outcome.stored, outcome.in_dlq) == (people * 4, 0)
    assert_people_joined(people)
    print(
        f"\nkilled mid-merge: {crash.kills} kills between a merge's aggregates and its moves; "
        f"{outcome.stored} stored once, {people} customers joined after {result.invocations} invocations"
    )
