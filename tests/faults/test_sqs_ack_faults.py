"""SQS failing on the ack path: a 503 with Retry-After, never a 2xx for a delivery that was not queued."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from chalicelib import aws
from chalicelib.ingest.queue import decode_events
from tests.faults.harness import (
    QueueDriver,
    assert_unavailable,
    check_exactly_once,
    create_webhook_source,
    form_feedback_id,
    form_responses,
    peek_queue,
    post_webhook,
    submit_forms,
    webhook_feedback_id,
)
from tests.faults.injection import SQS_INTERNAL, Chooser, Fault, FaultInjector

SQS_THROTTLED = Fault(400, "com.amazonaws.sqs#RequestThrottled", "Request is throttled.")
SEND_OPERATIONS = ("SendMessage", "SendMessageBatch")


def queued_ids(queue_url: str) -> Counter[str]:
    return Counter(e.feedback_id for body in peek_queue(queue_url) for e in decode_events(body))


def test_an_sqs_outage_answers_503_and_every_2xx_is_queued(client, stack, tap):
    from app import analyze

    create_webhook_source()
    sqs = aws.client("sqs")
    responses = form_responses(120, seed=5)
    webhooks = [(f"msg_ack_{n}", [{"id": f"ack-{n}", "text": "Fast and helpful"}]) for n in range(30)]
    # 25% of sends fail on every attempt (botocore gives up: the app must answer 503); 30% of the other
    # attempts are throttled once, which botocore's retries absorb (the client sees a 202).
    # Injectors are asked in the order they were entered: the throttles fall on the calls the outage spared.
    with (
        FaultInjector(
            sqs, SEND_OPERATIONS, SQS_INTERNAL, chooser=Chooser(rate=0.25, seed=5), per="call"
        ) as outage,
        FaultInjector(sqs, SEND_OPERATIONS, SQS_THROTTLED, chooser=Chooser(rate=0.3, seed=6)) as blips,
    ):
        forms = submit_forms(client, responses)
        hooks = [
            (delivery, objects, post_webhook(client, delivery, objects)) for delivery, objects in webhooks
        ]

    accepted = list(forms.accepted) + [
        webhook_feedback_id(objects[0]["id"]) for _, objects, answer in hooks if answer.status_code == 200
    ]
    refused = list(forms.refused) + [answer for _, _, answer in hooks if answer.status_code != 200]
    for answer in refused:
        assert_unavailable(answer)
    queued = queued_ids(stack.queue_url)
    # Every 2xx was queued, once; nothing refused was.
    assert sorted(queued.elements()) == sorted(accepted)
    assert outage.stats.surfaced > 0
    assert len(refused) == outage.stats.surfaced + blips.stats.surfaced
    # Most throttles were absorbed; once the outage has drained botocore's retry quota (standard mode),
    # a throttle fails at once and is answered 503 too.
    assert blips.stats.surfaced < blips.stats.injected

    # The senders retry after Retry-After (the same response ids and webhook ids), now that SQS is back.
    refused_forms = {form_feedback_id(r) for r in responses} - set(forms.accepted)
    retried = submit_forms(client, [r for r in responses if form_feedback_id(r) in refused_forms])
    assert not retried.refused
    accepted += retried.accepted
    for delivery, objects, answer in hooks:
        if answer.status_code != 200:
            assert post_webhook(client, delivery, objects).status_code == 200
            accepted.append(webhook_feedback_id(objects[0]["id"]))
    assert len(accepted) == 150

    drained = QueueDriver(stack.queue_url, analyze).drain()
    outcome = check_exactly_once(accepted, stack.resources.dlq_url, tap.events)
    assert (outcome.stored, outcome.in_dlq) == (150, 0)
    print(
        f"\nSQS outage on the ack path: {len(responses) + len(webhooks)} deliveries, {len(refused)} answered "
        f"503 + Retry-After ({outage.stats.injected} failed attempts, {outage.stats.retries} retries), "
        f"{blips.stats.injected} throttled attempts ({blips.stats.surfaced} got 503: retry quota spent); "
        f"after the senders' retries "
        f"{len(accepted)} accepted, {outcome.stored} stored once, {drained.invocations} invocations"
    )


def test_a_send_whose_response_was_lost_is_refused_yet_stored_once(client, stack, tap):
    from app import analyze

    sqs = aws.client("sqs")
    responses = form_responses(60, seed=8)
    # SQS queued the message but the answer never arrived, on every attempt: botocore's retries queue it
    # again each time, and the sender still gets a 503 (the app cannot know it was queued).
    lost = replace(SQS_INTERNAL, reach_service=True)
    with FaultInjector(sqs, "SendMessage", lost, chooser=Chooser(rate=0.2, seed=8), per="call") as injector:
        first = submit_forms(client, responses)
    for answer in first.refused:
        assert_unavailable(answer)
    queued = queued_ids(stack.queue_url)
    assert first.refused and set(first.accepted) <= set(queued)
    # Each refused send was queued once per attempt botocore made (fewer once its retry quota is spent).
    assert sum(queued.values()) == len(first.accepted) + injector.stats.injected
    assert {form_feedback_id(r) for r in responses} == set(queued)

    retried = submit_forms(client, [r for r in responses if form_feedback_id(r) not in set(first.accepted)])
    accepted = first.accepted + retried.accepted
    assert not retried.refused and len(accepted) == 60

    drained = QueueDriver(stack.queue_url, analyze).drain()
    outcome = check_exactly_once(accepted, stack.resources.dlq_url, tap.events)
    assert (outcome.stored, outcome.in_dlq) == (60, 0)
    assert drained.received == sum(queued.values()) + len(retried.accepted)
    print(
        f"\nSQS response lost after queueing: {len(first.refused)} of {len(responses)} answered 503 although "
        f"queued (up to {max(queued.values())} copies); after retries {len(accepted)} accepted, "
        f"{drained.received} messages processed, {outcome.stored} stored once"
    )
