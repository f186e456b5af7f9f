"""Alert notifications end to end: a burst stored through the write path, one evaluator run, and what the
Slack receiver, the SNS topic and the outbound webhook queue are handed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib import aws
from chalicelib.alerts import dispatch, evaluator
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.notify import slack
from chalicelib.alerts.notify.base import Alert, Sample
from chalicelib.alerts.rules import Dimension, Metric, Notify, SpikeRule
from chalicelib.config import settings
from chalicelib.local.outbound import create_delivery_queues
from chalicelib.models import Sentiment
from chalicelib.outbound import subscriptions
from chalicelib.store import feedback_write
from chalicelib.store.identities import Resolution
from tests.alerts_support import feedback
from tests.outbound_support import not_http_port
from tools.webhook_receiver import Receiver, running_receiver

NOW = datetime(2027, 5, 5, 14, 20, tzinfo=UTC)


def test_the_slack_message_escapes_what_customers_wrote_and_keeps_within_block_kit_limits():
    alert = Alert(
        alert_id="alt_1",
        rule_id="alr_12345678",
        rule_kind="spike",
        summary="Negative spike: 80% of form demo negative",
        fired_at=NOW,
        dimension="form",
        value="demo",
        window_start=NOW - timedelta(minutes=20),
        window_end=NOW,
        count=20,
        negatives=16,
        baseline=0.1,
        top_themes=[("delivery", 9)],
        samples=[Sample(feedback_id="fb_1", text="<!channel> & <https://evil.example|click>" + "x" * 4000)],
        dashboard_url="https://example.com/dashboard?source=demo",
    )
    message = slack.message(alert)
    text = json.dumps(message)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]
    assert all(len(section) <= 3_000 for section in sections)
    assert message["blocks"][0]["type"] == "header" and len(message["blocks"][0]["text"]["text"]) <= 150
    assert message["text"].startswith("Negative spike")


def test_a_burst_reaches_slack_email_and_the_alert_triggered_webhook_once(stack, monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("DASHBOARD_URL", "https://feedback.example.com/api/dashboard")
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="alert-mail")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"}
    )
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic)
    _, delivery_queue = create_delivery_queues()
    monkeypatch.setenv("DELIVERY_QUEUE_URL", delivery_queue)
    settings.cache_clear()
    subscriptions.clear_cache()
    subscriptions.create("http://127.0.0.1:9/alerts", ["alert.triggered"])
    # A usual hour a week earlier, then twelve complaints about delivery and three other responses.
    usual = [feedback(NOW - timedelta(weeks=1, minutes=m)) for m in (5, 10, 15)]
    burst = [
        feedback(
            NOW - timedelta(minutes=15 - m),
            sentiment=Sentiment.NEGATIVE,
            text=f"Parcel {m} arrived broken",
            themes=["delivery"],
        )
        for m in range(12)
    ]
    others = [feedback(NOW - timedelta(minutes=m), text="Fine", themes=["price"]) for m in (1, 2, 3)]
    feedback_write.save_feedback(usual + burst + others, Resolution(), {})
    rule = SpikeRule(
        rule_id=rule_store.new_rule_id(),
        dimension=Dimension.FORM,
        value="demo",
        metric=Metric.NEGATIVE_SHARE,
        notify=Notify(webhook=True, slack=True, email=True),
    )
    rule_store.save(rule)

    with running_receiver(Receiver(), path="/services/T0/B0/x") as receiver:
        rule_store.set_slack_url(rule.rule_id, receiver.url)
        first = evaluator.run(NOW)
        again = evaluator.run(NOW + timedelta(minutes=5))

    assert len(first.fired) == 1 and again.fired == [] and again.cooling_down == 1
    [posted] = receiver.received
    message = json.loads(posted.body)
    blocks = json.dumps(message["blocks"], ensure_ascii=False)
    assert message["text"].startswith("Negative spike: 80% of form demo negative")
    assert "• delivery (12)" in blocks and "• price (3)" in blocks
    assert blocks.count("arrived broken") == 3, "three sample comments, the negative ones first"
    [button] = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert button["url"] == (
        "https://feedback.example.com/api/dashboard?from=2027-05-05&to=2027-05-05&source=demo&sentiment=NEGATIVE"
    )
    [mail] = sqs.receive_message(QueueUrl=inbox)["Messages"]
    assert "Parcel" in mail["Body"] and "Dashboard: https://feedback.example.com" in mail["Body"]
    [queued] = sqs.receive_message(QueueUrl=delivery_queue)["Messages"]
    event = json.loads(json.loads(queued["Body"])["body"])
    assert event["type"] == "alert.triggered"
    assert event["data"] | {"summary": "", "fired_at": "", "alert_id": "", "sample_feedback_ids": []} == {
        "alert_id": "",
        "rule_id": rule.rule_id,
        "rule_kind": "spike",
        "summary": "",
        "fired_at": "",
        "dimension": "form",
        "value": "demo",
        "window_start": "2027-05-05T14:00:00Z",
        "window_end": "2027-05-05T14:20:00Z",
        "count": 15,
        "negatives": 12,
        "baseline": 0.0,
        "threshold": 0.25,
        "top_themes": [{"theme": "delivery", "items": 12}, {"theme": "price", "items": 3}],
        "sample_feedback_ids": [],
        "dashboard_url": button["url"],
    }
    assert len(event["data"]["sample_feedback_ids"]) == 3
    subscriptions.clear_cache()
    rule_store.clear_cache()
    settings.cache_clear()


def test_a_slack_url_answering_something_other_than_http_fails_that_channel_only(monkeypatch):
    """http.client.BadStatusLine is no OSError: it used to escape dispatch and fail the whole stream batch
    (every webhook and CRM message in it queued again), once per detractor claimed."""
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    alert = Alert(
        alert_id="alt_1", rule_id="alr_12345678", rule_kind="detractor", summary="Detractor: NPS 2",
        fired_at=NOW, dimension="form", value="demo", window_start=NOW, window_end=NOW, count=1, negatives=1,
    )  # fmt: skip
    with not_http_port() as port:
        url = f"http://127.0.0.1:{port}/services/T/B/x"
        outcome = dispatch.deliver(
            "slack", [alert], alert.rule_id, lambda channel, rule_id: slack.SlackNotifier(url)
        )
    assert outcome == dispatch.Delivery("failed: BadStatusLine")
