"""Outbound webhook reliability against a real loopback receiver, the retry schedule on a fake clock: every
event arrives exactly once by `webhook-id` after an outage, a timeout is retried, a removed subscription gets
nothing more, a redirect is not followed, private targets are refused on AWS, a dead endpoint is paused."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib import aws
from chalicelib.local.outbound import create_delivery_queues
from chalicelib.models import Sentiment, SentimentScores
from chalicelib.outbound import deliveries, delivery, fanout, subscriptions, transport
from chalicelib.outbound.delivery import QueuedDelivery
from tests.factories import form_event, stored_positive
from tests.outbound_support import FakeQueue, Receiver, running_receiver, stream_record

HOUR = 3600.0


@pytest.fixture
def outbound(stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The delivery queues, loopback allowed (the local stack's rule); yields the delivery queue URL."""
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    _, queue_url = create_delivery_queues()
    monkeypatch.setenv("DELIVERY_QUEUE_URL", queue_url)
    subscriptions.clear_cache()
    yield queue_url
    subscriptions.clear_cache()


def test_the_local_delivery_queues_are_the_deployed_ones(stack):
    """Named as the CLI finds them, redriving after MAX_ATTEMPTS receives, kept as infra/outbound.py keeps
    them (4 days the queue, 14 the DLQ): what `make run` replays from behaves as on AWS."""
    dlq_url, queue_url = create_delivery_queues(visibility_timeout_seconds=30)
    sqs = aws.client("sqs")
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert queue_url.endswith("/feedback-webhooks-test") and dlq_url.endswith("/feedback-webhooks-test-dlq")
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq["QueueArn"],
        "maxReceiveCount": delivery.MAX_ATTEMPTS,
    }
    assert (queue["VisibilityTimeout"], queue["MessageRetentionPeriod"]) == ("30", str(4 * 24 * 3600))
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600) and "RedrivePolicy" not in dlq


def stored_items(count: int, negative_every: int = 2) -> list:
    items = []
    for n in range(count):
        item = stored_positive(form_event(f"resp-{n}", text=f"Response number {n}"))
        if n % negative_every == 0:
            item.sentiment = Sentiment.NEGATIVE
            item.sentiment_scores = SentimentScores(positive=0.05, negative=0.9, neutral=0.05, mixed=0.0)
        items.append(item)
    return items


def queued_from_stream(items: list, queue_url: str) -> list[QueuedDelivery]:
    """Run the stream function on the items' INSERT records and take what it queued off the queue."""
    fanout.handle_stream_batch({"Records": [stream_record(item) for item in items]})
    sqs, found = aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        found += [QueuedDelivery.model_validate_json(m["Body"]) for m in messages]
    return found


def test_an_outage_of_an_hour_ends_with_every_event_received_exactly_once(outbound):
    queue = FakeQueue()
    receiver = Receiver(behaviour=lambda n, webhook_id: (500 if queue.clock < HOUR else 200, {}, 0.0))
    with running_receiver(receiver):
        subscription, secret = subscriptions.create(receiver.url, ["feedback.stored", "feedback.negative"])
        receiver.secret = secret
        items = stored_items(4)
        queued = queued_from_stream(items, outbound)
        # 4 stored + 2 negative: one delivery per subscribed event, no more.
        assert Counter(q.event_type for q in queued) == {"feedback.stored": 4, "feedback.negative": 2}
        for message in queued:
            queue.put(message)
        queue.run()

    expected = {q.webhook_id for q in queued}
    assert len(expected) == 6
    accepted = receiver.accepted_ids()
    assert sorted(accepted) == sorted(expected), "every event accepted exactly once"
    assert all(r.verified for r in receiver.received), "every attempt verifies with the official library"
    # Attempts at 0, 5 s, 305 s, 2105 s failed (before the hour); the fifth, at 2 h 35 min 5 s, succeeded.
    assert {at for at, _, attempt in queue.attempts if attempt == 5} == {5 + 300 + 1800 + 7200}
    assert Counter(webhook_id for _, webhook_id, _ in queue.attempts) == dict.fromkeys(expected, 5)
    assert not queue.dead
    log = deliveries.recent(subscription.subscription_id)
    assert {entry["status"] for entry in log} == {"delivered"} and {e["attempts"] for e in log} == {5}
    bodies = {r.webhook_id: json.loads(r.body) for r in receiver.received}
    stored = next(b for b in bodies.values() if b["type"] == "feedback.stored")
    assert stored["version"] == 1 and stored["data"]["feedback_id"] in {i.feedback_id for i in items}


def test_the_same_stored_item_always_yields_the_same_webhook_ids(outbound):
    with running_receiver(Receiver()) as receiver:
        subscriptions.create(receiver.url, ["feedback.stored"])
        item = stored_items(1)[0]
        first = queued_from_stream([item], outbound)
        again = queued_from_stream([item], outbound)  # the stream batch retried
        assert [q.webhook_id for q in first] == [q.webhook_id for q in again]
        assert [q.body for q in first] == [q.body for q in again]
        modified = fanout.handle_stream_batch({"Records": [stream_record(item, "MODIFY")]})
        assert modified == {"events": 0, "queued": 0}, "a re-analysis or a merge move is not a new item"


def test_a_receiver_that_times_out_is_retried(outbound, monkeypatch):
    monkeypatch.setattr(delivery, "TIMEOUT_SECONDS", 0.3)
    receiver = Receiver(behaviour=lambda n, webhook_id: (200, {}, 1.0 if n == 1 else 0.0))
    with running_receiver(receiver):
        subscription, receiver.secret = subscriptions.create(receiver.url, ["feedback.stored"])
        queue = FakeQueue()
        for message in queued_from_stream(stored_items(1), outbound):
            queue.put(message)
        queue.run(until=0)
        log = deliveries.recent(subscription.subscription_id)
        assert log[0]["status"] == "retrying" and "timed out" in log[0]["last_error"]
        queue.run()
    assert [attempt for _, _, attempt in queue.attempts] == [1, 2]
    assert deliveries.recent(subscription.subscription_id)[0]["status"] == "delivered"


def test_a_subscription_removed_mid_retry_gets_nothing_more(outbound):
    receiver = Receiver(behaviour=lambda n, webhook_id: (503, {}, 0.0))
    with running_receiver(receiver):
        subscription, receiver.secret = subscriptions.create(receiver.url, ["feedback.stored"])
        queue = FakeQueue()
        for message in queued_from_stream(stored_items(1), outbound):
            queue.put(message)

        def remove_after_second(fake: FakeQueue) -> None:
            if len(fake.attempts) == 2:
                assert subscriptions.remove(subscription.subscription_id)

        queue.run(on_attempt=remove_after_second)
    assert len(receiver.received) == 2
    assert [attempt for _, _, attempt in queue.attempts] == [1, 2, 3], (
        "the third attempt finds no subscription"
    )
    assert not queue.dead and not queue.pending


def test_a_redirect_is_not_followed(outbound):
    target = Receiver()
    with running_receiver(target) as followed:
        redirecting = Receiver(behaviour=lambda n, webhook_id: (307, {"location": followed.url}, 0.0))
        with running_receiver(redirecting):
            subscription, redirecting.secret = subscriptions.create(redirecting.url, ["feedback.stored"])
            queue = FakeQueue()
            for message in queued_from_stream(stored_items(1), outbound):
                queue.put(message)
            queue.run(until=0)
    assert len(redirecting.received) == 1 and not target.received
    entry = deliveries.recent(subscription.subscription_id)[0]
    assert entry["status"] == "retrying" and "redirect" in entry["last_error"]


def test_private_targets_are_refused_on_aws(outbound, monkeypatch):
    with running_receiver(Receiver()) as receiver:
        subscription, _ = subscriptions.create(receiver.url, ["feedback.stored"])
        monkeypatch.delenv("OUTBOUND_ALLOW_LOOPBACK")  # STAGE is "test": AWS rules
        queue = FakeQueue()
        for message in queued_from_stream(stored_items(1), outbound):
            queue.put(message)
        queue.run(until=0)
        assert not receiver.received, "nothing was sent to loopback"
        assert deliveries.recent(subscription.subscription_id)[0]["last_error"].startswith("refused")
        with pytest.raises(ValueError, match="https"):
            subscriptions.create(receiver.url, ["feedback.stored"])
        with pytest.raises(ValueError, match="private"):
            subscriptions.create("https://169.254.169.254/latest", ["feedback.stored"])

    def rebinding(host: str, port: int) -> list[str]:
        return ["203.0.113.9", "10.1.2.3"]  # one public, one private: refused whole

    with pytest.raises(transport.TargetRefused):
        transport.post("https://hooks.example.com/x", b"{}", {}, allow_loopback=False, resolver=rebinding)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 (an address checked, not bound),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("127.0.0.1", False),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_only_public_addresses_are_allowed_on_aws(address, allowed):
    assert transport.allowed_address(address, allow_loopback=False) is allowed


def test_loopback_only_when_allowed():
    assert transport.allowed_address("127.0.0.1", allow_loopback=True)
    assert not transport.allowed_address("10.0.0.1", allow_loopback=True)


def test_retry_after_is_honoured_and_the_schedule_is_svix(outbound):
    receiver = Receiver(
        behaviour=lambda n, webhook_id: (429, {"retry-after": "900"}, 0.0) if n == 1 else (200, {}, 0)
    )
    with running_receiver(receiver):
        subscriptions.create(receiver.url, ["feedback.stored"])
        queue = FakeQueue()
        for message in queued_from_stream(stored_items(1), outbound):
            queue.put(message)
        queue.run()
    assert [at for at, _, _ in queue.attempts] == [0, 900], "900 s asked for, not the schedule's 5 s"
    assert delivery.RETRY_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert delivery.next_delay(1, None) == 5 and delivery.next_delay(7, None) == 36_000
    assert delivery.next_delay(2, 10 * 86_400) == delivery.MAX_VISIBILITY_SECONDS


def test_a_dead_endpoint_exhausts_the_schedule_into_the_dlq_and_is_paused(outbound):
    receiver = Receiver(behaviour=lambda n, webhook_id: (500, {}, 0.0))
    with running_receiver(receiver):
        subscription, _ = subscriptions.create(receiver.url, ["feedback.stored"])
        queue = FakeQueue()
        for message in queued_from_stream(stored_items(1), outbound):
            queue.put(message)
        queue.run()
    assert len(receiver.received) == delivery.MAX_ATTEMPTS == 8
    assert queue.attempts[-1][0] == sum(delivery.RETRY_DELAYS)  # about 27.6 hours
    assert timedelta(hours=24) < timedelta(seconds=queue.attempts[-1][0]) < timedelta(hours=30)
    assert len(queue.dead) == 1
    assert deliveries.recent(subscription.subscription_id)[0]["status"] == "failed"
    paused = subscriptions.get_fresh(subscription.subscription_id)
    assert paused.paused and "retry schedule" in paused.paused_reason
    # A paused subscription is sent nothing new.
    assert not queued_from_stream(stored_items(1), outbound)


def test_one_success_in_between_keeps_a_flaky_endpoint_subscribed(outbound):
    # The second event succeeds once while the first exhausts its schedule: flaky, not dead.
    receiver = Receiver()
    with running_receiver(receiver):
        subscription, _ = subscriptions.create(receiver.url, ["feedback.stored"])
        first, second = queued_from_stream(stored_items(2), outbound)
        receiver.behaviour = lambda n, webhook_id: (200 if webhook_id == second.webhook_id else 500, {}, 0.0)
        queue = FakeQueue()
        queue.put(first)
        queue.put(second, at=10)
        queue.run()
    assert len(queue.dead) == 1
    assert not subscriptions.get_fresh(subscription.subscription_id).paused


def test_the_sqs_handler_hides_a_failed_message_until_its_next_attempt(outbound):
    receiver = Receiver(behaviour=lambda n, webhook_id: (500, {}, 0.0))
    with running_receiver(receiver):
        subscriptions.create(receiver.url, ["feedback.stored"])
        fanout.handle_stream_batch({"Records": [stream_record(stored_items(1)[0])]})
        sqs = aws.client("sqs")
        message = sqs.receive_message(QueueUrl=outbound, AttributeNames=["All"])["Messages"][0]
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message["Attributes"],
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:feedback-webhooks-test",
        }
        response = delivery.handle_sqs_batch({"Records": [record]})
    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    attributes = sqs.get_queue_attributes(QueueUrl=outbound, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert not sqs.receive_message(QueueUrl=outbound).get("Messages"), "hidden for the schedule's 5 s"


def test_a_message_that_is_no_delivery_fails_alone_and_the_batch_is_delivered_once(outbound):
    """It used to raise: the whole batch failed, so the events delivered before it were sent again."""
    receiver = Receiver()
    with running_receiver(receiver):
        subscriptions.create(receiver.url, ["feedback.stored"])
        fanout.handle_stream_batch({"Records": [stream_record(stored_items(1)[0])]})
        sqs = aws.client("sqs")
        [message] = sqs.receive_message(QueueUrl=outbound, AttributeNames=["All"])["Messages"]
        arn = "arn:aws:sqs:us-east-1:123456789012:feedback-webhooks-test"
        records = [
            {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
             "body": message["Body"], "attributes": message["Attributes"], "eventSourceARN": arn},
            {"messageId": "m-poison", "receiptHandle": "r", "body": '{"hand": "made"}', "attributes": {},
             "eventSourceARN": arn},
        ]  # fmt: skip
        response = delivery.handle_sqs_batch({"Records": records})
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-poison"}]}
    assert len(receiver.received) == 1


def test_a_rotation_sends_both_signatures_during_the_overlap(outbound):
    receiver = Receiver()
    with running_receiver(receiver):
        subscription, old_secret = subscriptions.create(receiver.url, ["feedback.stored"])
        _, new_secret = subscriptions.rotate(subscription.subscription_id, overlap=timedelta(hours=1))
        queue = FakeQueue()
        for message in queued_from_stream(stored_items(1), outbound):
            queue.put(message)
        queue.run()
        sent = receiver.received[-1]
        assert len(sent.headers["webhook-signature"].split(" ")) == 2
        for secret in (old_secret, new_secret):
            Webhook(secret).verify(sent.body, sent.headers)  # either key verifies during the overlap
        _, newest = subscriptions.rotate(subscription.subscription_id, overlap=timedelta(0))
        for message in queued_from_stream(stored_items(1), outbound):
            queue.put(message, at=queue.clock)
        queue.run()
    last = receiver.received[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    Webhook(newest).verify(last.body, last.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret).verify(last.body, last.headers)
