"""The bench's counting pieces: Comprehend billed units, the request counter, the Stubber stand-in."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest
from moto import mock_aws

from chalicelib.analysis.base import Document
from chalicelib.analysis.comprehend import ComprehendAnalyzer
from chalicelib.models import Sentiment
from tools.bench import ComprehendResponder, RequestCounter, billed_units, event_key, sentiment_for

DETECT = "BatchDetectDominantLanguage"
SENTIMENT = "BatchDetectSentiment"


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("a" * 50, 3),
        ("a" * 250, 3),
        ("a" * 300, 3),
        ("a" * 301, 4),
        ("a" * 5000, 50),
        # Units count characters, not UTF-8 bytes.
        ("é" * 1000, 10),
    ],
)
def test_billed_units_are_100_character_units_with_a_3_unit_minimum(text, units):
    assert billed_units(text) == units


def test_event_key_is_service_and_operation():
    assert event_key("before-send.dynamodb.TransactWriteItems") == ("dynamodb", "TransactWriteItems")


def test_sentiment_for_reads_keywords():
    assert sentiment_for("I love it") == "POSITIVE"
    assert sentiment_for("So slow") == "NEGATIVE"
    assert sentiment_for("Love the look, but so slow") == "MIXED"
    assert sentiment_for("Arrived Tuesday") == "NEUTRAL"


@pytest.fixture
def session():
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_counter_counts_a_moto_backed_sqs_send_as_exactly_one_request(session):
    counter = RequestCounter()
    counter.attach(session.events)
    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName="bench-test")["QueueUrl"]  # no phase: not counted

    with counter.phase_of("ack"):
        sqs.send_message(QueueUrl=queue_url, MessageBody="hello")

    assert counter.requests("ack") == Counter({("sqs", "SendMessage"): 1})
    assert counter.calls["ack"] == Counter({("sqs", "SendMessage"): 1})
    assert set(counter.calls) == {"ack"}
    assert counter.retries("ack") == 0
    assert counter.unsent_calls() == []
    assert counter.phase is None


def test_counter_sums_scanned_count_of_queries(session):
    counter = RequestCounter()
    counter.attach(session.events)
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for pk, sk in [("a", "1"), ("a", "2"), ("a", "3"), ("b", "1")]:
        dynamodb.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": sk}})

    with counter.phase_of("export"):
        dynamodb.query(
            TableName="t",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "a"}},
        )

    assert counter.items_scanned["export"] == 3
    assert counter.items_returned["export"] == 3
    assert counter.requests("export") == Counter({("dynamodb", "Query"): 1})


def test_responder_answers_whatever_the_analyzer_sends_and_records_billed_units(session):
    counter = RequestCounter(stubbed_services={"comprehend"})
    counter.attach(session.events)
    client = session.client("comprehend")
    texts = ["I love this shop, " + "x" * 32] * 25 + ["Checkout is slow " + "y" * 233] * 4 + ["z" * 450]
    documents = [Document(key=f"d{i}", text=text) for i, text in enumerate(texts)]
    documents.append(Document(key="empty", text="   "))

    with ComprehendResponder(client) as responder, counter.phase_of("analyze"):
        results = ComprehendAnalyzer(client).analyze(documents)

    # 30 texts without a language: two detection batches (25 + 5), then two English sentiment batches.
    assert counter.requests("analyze") == Counter({("comprehend", DETECT): 2, ("comprehend", SENTIMENT): 2})
    usage = responder.usage
    assert usage.documents == Counter({DETECT: 30, SENTIMENT: 30})
    # 29 documents of 50 or 250 characters at the 3-unit minimum, one of 450 characters: 5 units.
    assert usage.units == Counter({DETECT: 29 * 3 + 5, SENTIMENT: 29 * 3 + 5})
    assert usage.minimum_charged == Counter({DETECT: 25, SENTIMENT: 25})
    assert usage.violations == []
    assert results["d0"].sentiment is Sentiment.POSITIVE
    assert results["d25"].sentiment is Sentiment.NEGATIVE
    assert results["d29"].language == "en"
    assert results["empty"].skipped_reason == "empty_text"
    responder.stubber.assert_no_pending_responses()


def test_responder_flags_a_request_over_the_documented_limits(session):
    client = session.client("comprehend")

    with ComprehendResponder(client) as responder:
        response = client.batch_detect_sentiment(TextList=["fine"] * 26, LanguageCode="en")

    assert len(response["ResultList"]) == 26
    assert responder.usage.violations == [f"{SENTIMENT}: 26 documents in one request (max 25)"]
