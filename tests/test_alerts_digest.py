"""A burst of detractors: each gets its own alert.triggered event, Slack and e-mail get the first few one by
one and the rest in one digest after the window; a replayed stream batch sends nothing again; Slack's 429
folds into the digest without waiting, and the digest itself waits out Retry-After."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.alerts import detractors, evaluator
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.rules import DetractorRule, Notify
from chalicelib.config import settings
from chalicelib.local.outbound import create_delivery_queues
from chalicelib.models import Channel, RatingScale, Sentiment
from chalicelib.outbound import subscriptions
from chalicelib.store import feedback_write
from chalicelib.store.identities import Resolution
from tests.alerts_support import Recorder, feedback
from tests.outbound_support import stream_record
from tools.webhook_receiver import Receiver, running_receiver

NOW = datetime(2027, 5, 5, 14, 23, tzinfo=UTC)  # the 14:20-14:30 window of a 10-minute rule
AFTER_THE_WINDOW = datetime(2027, 5, 5, 14, 32, 5, tzinfo=UTC)  # its end and the 2-minute grace passed
BURST = 200


@dataclass
class Channels:
    """Slack (a loopback receiver), the alerts SNS topic (read through an SQS subscription), the outbound
    delivery queue with one subscription to alert.triggered."""

    slack: Receiver
    mail_inbox: str
    delivery_queue: str

    def mails(self) -> list[str]:
        sqs, bodies = aws.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.mail_inbox, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=self.mail_inbox, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def events(self) -> list[dict[str, Any]]:
        sqs, events = aws.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.delivery_queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                events.append(json.loads(json.loads(message["Body"])["body"]))
                sqs.delete_message(QueueUrl=self.delivery_queue, ReceiptHandle=message["ReceiptHandle"])
        return events


@pytest.fixture
def channels(stack, monkeypatch) -> Iterator[Channels]:
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("DASHBOARD_URL", "https://feedback.example.com/api/dashboard")
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="alert-mail")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic)
    _, delivery_queue = create_delivery_queues()
    monkeypatch.setenv("DELIVERY_QUEUE_URL", delivery_queue)
    settings.cache_clear()
    subscriptions.clear_cache()
    subscriptions.create("http://127.0.0.1:9/alerts", ["alert.triggered"])
    with running_receiver(Receiver(), path="/services/T0/B0/x") as slack:
        yield Channels(slack, inbox, delivery_queue)
    subscriptions.clear_cache()
    rule_store.clear_cache()
    settings.cache_clear()


def detractor_rule(slack_url: str, **fields: Any) -> DetractorRule:
    rule = DetractorRule(
        rule_id=rule_store.new_rule_id(), notify=Notify(webhook=True, slack=True, email=True), **fields
    )
    rule_store.save(rule)
    rule_store.set_slack_url(rule.rule_id, slack_url)
    rule_store.clear_cache()
    return rule


def stored_burst() -> list[dict[str, Any]]:
    """BURST detractors stored (so the digest finds its samples), as one stream batch's records: 150 NPS
    scores of 0-6 on the demo form, 50 CSAT 1-2 on a webhook source; and a promoter, which is not one."""
    items = [
        feedback(
            NOW - timedelta(seconds=n),
            rating=(RatingScale.NPS, n % 7),
            text=f"Slow checkout, attempt {n}",
            themes=["checkout"],
        )
        for n in range(150)
    ]
    items += [
        feedback(
            NOW - timedelta(seconds=n),
            source="src_hook",
            channel=Channel.WEBHOOK,
            rating=(RatingScale.CSAT, 1 + n % 2),
            text=f"Refund refused {n}",
            sentiment=Sentiment.NEGATIVE,
        )
        for n in range(50)
    ]
    items.append(feedback(NOW, rating=(RatingScale.NPS, 10), text="Love it"))
    feedback_write.save_feedback(items, Resolution(), {})
    return [stream_record(item) for item in items]


def test_a_burst_of_200_detractors_costs_four_slack_messages_four_mails_and_200_events(channels):
    rule = detractor_rule(channels.slack.url)
    batch = {"Records": stored_burst()}

    assert len(detractors.judge(detractors.stored_items(batch["Records"]), [rule], now=NOW)) == BURST
    # The stream batch retried (a later record failed, the function timed out): nothing is sent again.
    assert detractors.handle_stream_batch(batch) == 0

    # One by one: the first three of the window, on Slack and by e-mail; every detractor its own event.
    assert [json.loads(r.body)["text"][:14] for r in channels.slack.received] == ["Detractor: NPS"] * 3
    assert len(channels.mails()) == 3
    events = channels.events()
    assert len(events) == BURST and {e["type"] for e in events} == {"alert.triggered"}
    assert len({e["data"]["alert_id"] for e in events}) == BURST
    assert {e["data"]["dimension"] for e in events} == {"form", "source"}

    # Before the window (14:20-14:30) and its grace end, no digest; after, one per channel, once.
    assert evaluator.run(NOW + timedelta(minutes=8)).digests == []
    first = evaluator.run(AFTER_THE_WINDOW)
    again = evaluator.run(AFTER_THE_WINDOW + timedelta(minutes=5))
    assert len(first.digests) == 2 and again.digests == []
    assert len(channels.slack.received) == 4
    [mail] = channels.mails()
    assert channels.events() == [], "a digest is no alert.triggered event: each detractor had its own"

    digest = json.loads(channels.slack.received[3].body)
    summary = (
        "…and 197 more detractors in the 10 minutes to 14:30 UTC (200 in all, 3 with a message of their own)"
    )
    assert digest["text"] == summary
    blocks = json.dumps(digest["blocks"], ensure_ascii=False)
    assert "Detractor: all feedback" in blocks
    assert "*Why*\\nNPS: 150\\nCSAT: 50\\nsource demo: 150\\nsource src_hook: 50" in blocks
    assert "• checkout (150)" in blocks and blocks.count("Slow checkout") + blocks.count("Refund") == 3
    [button] = next(b for b in digest["blocks"] if b["type"] == "actions")["elements"]
    assert button["url"] == "https://feedback.example.com/api/dashboard?from=2027-05-05&to=2027-05-05"
    assert mail.startswith(summary) and "Why: NPS (150), CSAT (50)" in mail
    assert detractors.handle_stream_batch(batch) == 0 and len(channels.slack.received) == 4


def test_slack_answering_429_folds_the_rest_into_the_digest_which_waits_out_retry_after(channels):
    # Slack takes the first message, then answers 429 (Retry-After: 30) twice, then takes everything.
    def behaviour(n: int, webhook_id: str) -> tuple[int, dict[str, str], float]:
        return (429, {"retry-after": "30"}, 0.0) if n in (2, 3) else (200, {}, 0.0)

    channels.slack.behaviour = behaviour
    rule = detractor_rule(channels.slack.url, sources=["demo"])
    records = stored_burst()

    detractors.judge(detractors.stored_items(records), [rule], now=NOW)

    # Slack: one sent, one refused and no more tried in the batch; e-mail: its three.
    assert [r.answered for r in channels.slack.received] == [200, 429]
    assert len(channels.mails()) == 3
    refused = evaluator.run(AFTER_THE_WINDOW)  # the Slack digest refused (429): released until 14:32:35
    assert [r.answered for r in channels.slack.received] == [200, 429, 429]
    [mail] = channels.mails()
    assert mail.startswith("…and 147 more detractors")
    assert "(150 in all, 3 with a message of their own)" in mail
    assert "source=demo&rating=nps%3Adetractor" in mail, "the link filters to what every one of them shares"
    assert len(refused.digests) == 2
    assert evaluator.run(AFTER_THE_WINDOW + timedelta(seconds=20)).digests == []  # Retry-After not passed
    later = evaluator.run(AFTER_THE_WINDOW + timedelta(seconds=40))
    assert len(later.digests) == 1 and channels.mails() == []
    assert [r.answered for r in channels.slack.received] == [200, 429, 429, 200]
    digest = json.loads(channels.slack.received[-1].body)
    assert digest["text"].startswith("…and 149 more detractors"), "the two Slack did not take are in it"
    assert "Detractor: source demo" in json.dumps(digest["blocks"])


def test_a_batch_out_of_time_sends_nothing_one_by_one_and_the_digest_carries_all(stack, monkeypatch):
    monkeypatch.setattr(detractors, "INDIVIDUAL_SECONDS", -1.0)
    rule = DetractorRule(rule_id=rule_store.new_rule_id(), notify=Notify(webhook=False, slack=True))
    rule_store.save(rule)
    rule_store.clear_cache()
    recorder = Recorder()
    items = [feedback(NOW, rating=(RatingScale.STARS, 1), text=f"Broken {n}") for n in range(12)]
    feedback_write.save_feedback(items, Resolution(), {})

    assert len(detractors.judge(items, [rule], recorder.factory, now=NOW)) == 12
    assert recorder.sent == []
    [digest] = evaluator.run(AFTER_THE_WINDOW, recorder.factory).digests
    assert recorder.sent == [("slack", digest)]
    assert digest.count == 12 and digest.breakdown == [("Stars", 12), ("source demo", 12)]
    assert digest.summary.endswith("(12 in all, 0 with a message of their own)")
    rule_store.clear_cache()
