"""Redelivery storm: 1,000 deliveries each queued three times, analyzed by concurrent invocations, some of
them on the very same batch → exactly 1,000 items and profile counts equal to a recount."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import aws
from tests.faults.harness import QueueDriver, check_exactly_once, form_responses, submit_forms

DELIVERIES = 1_000
COPIES = 3
WORKERS = 4
TWIN_EVERY = 4  # every 4th invocation is run twice at once, as when SQS hands a batch to two consumers


def test_every_delivery_sent_three_times_is_stored_once(client, stack, tap):
    from app import analyze

    # One response in three leaves one of 100 email addresses: a customer writes three times or so. (Each
    # profile update costs moto far more than a feedback put, so the rest stay anonymous.)
    responses = form_responses(DELIVERIES, seed=11, customers=100, email_every=3)
    first = submit_forms(client, responses)
    assert len(first.accepted) == DELIVERIES and len(tap.bodies) == DELIVERIES

    # Every delivery queued twice more (a sender's retries, an SQS duplicate), shuffled, from threads.
    copies = tap.bodies * (COPIES - 1)
    random.Random(11).shuffle(copies)
    sqs = aws.client("sqs")

    def send(chunk: list[str]) -> int:
        response = sqs.send_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        assert not response.get("Failed")
        return len(chunk)

    with ThreadPoolExecutor(WORKERS) as pool:
        sent = sum(pool.map(send, [copies[i : i + 10] for i in range(0, len(copies), 10)]))
    assert sent + DELIVERIES == stack.queue_depth() == DELIVERIES * COPIES

    invocations = 0
    twins = 0
    lock = threading.Lock()

    def invoke(event: dict[str, Any], context: Any) -> Any:
        nonlocal invocations, twins
        with lock:
            invocations += 1
            twin = invocations % TWIN_EVERY == 0
            twins += twin
        if not twin:
            return analyze(event, context)
        with ThreadPoolExecutor(2) as pair:
            results = list(pair.map(lambda _: analyze(event, context), range(2)))
        # The batch is deleted only if both invocations stored everything; otherwise it comes back.
        failed = {f["itemIdentifier"] for r in results for f in r["batchItemFailures"]}
        return {"batchItemFailures": [{"itemIdentifier": i} for i in sorted(failed)]}

    driver = QueueDriver(stack.queue_url, invoke)

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while driver.poll_once():
                pass
        except BaseException as error:  # a thread's failure must fail the test, not vanish
            errors.append(error)

    threads = [threading.Thread(target=worker, name=f"analyze-{n}") for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    driver.drain()  # what a worker's failures sent back after the others had stopped
    assert errors == []

    outcome = check_exactly_once(first.accepted, stack.resources.dlq_url, tap.events)
    assert (outcome.stored, outcome.in_dlq) == (DELIVERIES, 0)
    assert stack.queue_depth() == 0
    assert driver.result.received >= DELIVERIES * COPIES
    assert twins > 0
    print(
        f"\nredelivery storm: {DELIVERIES} deliveries x {COPIES} = {DELIVERIES * COPIES} messages, "
        f"{driver.result.received} received by {invocations} invocations on {WORKERS} threads "
        f"({twins} batches analyzed twice at once), {driver.result.failed_records} records retried; "
        f"{outcome.stored} stored, {outcome.customers} customer profiles equal to a recount"
    )
