"""The analyze function: idempotent storage, partial batch failures, retries and the DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from chalicelib import aws
from chalicelib.analysis.comprehend import ComprehendAnalyzer
from chalicelib.config import settings
from chalicelib.ingest import processing
from chalicelib.ingest.batch import BatchFailed, QueueRecord, partial_batch_response
from chalicelib.ingest.queue import encode_events
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import Channel, FeedbackEvent, Kind
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from tests.factories import form_event

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m{index}",
                "receiptHandle": f"rh{index}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:feedback-ingest-test",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def body_of(*events: FeedbackEvent) -> str:
    [body] = encode_events(list(events))
    return body


def test_a_batch_is_analyzed_and_stored(client, stack):
    event = sqs_event(body_of(form_event("a", "Love it")), body_of(form_event("b", "Hate it")))

    response = client.lambda_.invoke("analyze", event)

    assert response.payload == {"batchItemFailures": []}
    stored = feedback_store.get(form_event("a").feedback_id)
    assert stored.sentiment == "POSITIVE"
    assert stored.analyzer == "lexicon"
    assert stored.author.email == "a@example.com"
    assert feedback_store.get(form_event("b").feedback_id).sentiment == "NEGATIVE"


def test_the_same_message_delivered_twice_stores_one_item(client, stack):
    event = sqs_event(body_of(form_event("dup")))

    client.lambda_.invoke("analyze", event)
    first = feedback_store.get(form_event("dup").feedback_id)
    second_response = client.lambda_.invoke("analyze", event)

    assert second_response.payload == {"batchItemFailures": []}
    assert stack.table_item_count() == 1
    assert feedback_store.get(form_event("dup").feedback_id).stored_at == first.stored_at


def test_duplicates_inside_one_batch_store_one_item(client, stack):
    body = body_of(form_event("same"))

    response = client.lambda_.invoke(
        "analyze", sqs_event(body, body, body_of(form_event("same"), form_event("x")))
    )

    assert response.payload == {"batchItemFailures": []}
    assert stack.table_item_count() == 2


def test_comprehend_throttling_fails_only_its_records_and_the_retry_stores_them(client, stack, monkeypatch):
    comprehend = boto3.client("comprehend", region_name="us-east-1")
    monkeypatch.setattr(processing, "configured_analyzer", lambda: ComprehendAnalyzer(comprehend))
    english, german = form_event("en1", "Good", "en"), form_event("de1", "Gut", "de")
    event = sqs_event(body_of(english), body_of(german))
    sentiment = {
        "Sentiment": "POSITIVE",
        "SentimentScore": {"Positive": 0.9, "Negative": 0.0, "Neutral": 0.1, "Mixed": 0.0},
    }

    with Stubber(comprehend) as stubber:
        stubber.add_response(
            "batch_detect_sentiment",
            {"ResultList": [{"Index": 0, **sentiment}], "ErrorList": []},
            {"TextList": ["Gut"], "LanguageCode": "de"},
        )
        stubber.add_client_error(
            "batch_detect_sentiment",
            "ThrottlingException",
            http_status_code=400,
            expected_params={"TextList": ["Good"], "LanguageCode": "en"},
        )
        first = client.lambda_.invoke("analyze", event)
        # The queue redelivers only the failed record.
        stubber.add_response(
            "batch_detect_sentiment",
            {"ResultList": [{"Index": 0, **sentiment}], "ErrorList": []},
            {"TextList": ["Good"], "LanguageCode": "en"},
        )
        retry = client.lambda_.invoke("analyze", sqs_event(body_of(english)))

    assert first.payload == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert retry.payload == {"batchItemFailures": []}
    assert feedback_store.get(english.feedback_id).sentiment == "POSITIVE"
    assert feedback_store.get(german.feedback_id).sentiment == "POSITIVE"
    assert stack.table_item_count() == 2


def test_a_malformed_message_fails_alone(client, stack):
    response = client.lambda_.invoke("analyze", sqs_event("not json", body_of(form_event("ok"))))

    assert response.payload == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert stack.table_item_count() == 1


def test_unprocessed_items_are_retried_until_written(stack, monkeypatch):
    dynamodb = aws.client("dynamodb")
    real_batch_write = dynamodb.batch_write_item
    calls = []

    def flaky_batch_write(RequestItems):
        calls.append(sum(len(v) for v in RequestItems.values()))
        if len(calls) == 1:
            # DynamoDB wrote the first two and handed back the rest, as it does under throttling.
            [(table, requests)] = RequestItems.items()
            real_batch_write(RequestItems={table: requests[:2]})
            return {"UnprocessedItems": {table: requests[2:]}}
        return real_batch_write(RequestItems=RequestItems)

    monkeypatch.setattr(dynamodb, "batch_write_item", flaky_batch_write)
    items = [{"pk": f"T#{i}", "sk": "T", "record_type": "T"} for i in range(5)]

    dynamo.batch_write(settings().table_name, [dynamo.put_request(item) for item in items])

    assert calls == [5, 3]
    assert stack.table_item_count("T") == 5


def test_unprocessed_items_that_never_clear_raise(stack, monkeypatch):
    dynamodb = aws.client("dynamodb")
    monkeypatch.setattr(dynamodb, "batch_write_item", lambda RequestItems: {"UnprocessedItems": RequestItems})

    with pytest.raises(RuntimeError, match="unprocessed"):
        dynamo.batch_write(settings().table_name, [dynamo.put_request({"pk": "T#1", "sk": "T"})])


def test_cancelled_transactions_retry_conflicts_and_drop_items_a_concurrent_writer_stored(stack, monkeypatch):
    dynamodb = aws.client("dynamodb")
    real_transact = dynamodb.transact_write_items
    real_prefetch = processing.feedback_write.prefetch
    attempts = []
    racer = form_event("racer")

    def prefetch_then_lose_the_race(events):
        found = real_prefetch(events)
        monkeypatch.setattr(processing.feedback_write, "prefetch", real_prefetch)
        # Another invocation stores the same feedback after this one looked.
        processing.analyze_and_store([body_of(racer)], analyzer=_lexicon())
        return found

    def conflicting_once(TransactItems):
        attempts.append(len(TransactItems))
        if len(attempts) == 1:
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (len(TransactItems) - 1)
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return real_transact(TransactItems=TransactItems)

    monkeypatch.setattr(processing.feedback_write, "prefetch", prefetch_then_lose_the_race)
    monkeypatch.setattr(dynamodb, "transact_write_items", conflicting_once)

    report = processing.analyze_and_store([body_of(form_event("n1"), form_event("n2"), racer)], _lexicon())

    assert report.errors == [None]
    assert (report.stored, report.duplicates) == (2, 1)
    # 2 actions an item (its Put and the profile update, whose key is the author's identity: no action of
    # its own) and 2 a transaction (the day's and the hour's counters). The racer's write meets the injected
    # conflict and goes again (4, 4); ours then holds the racer's Put, which fails its condition (8), so the
    # racer is dropped and the rest written (6).
    assert attempts == [4, 4, 8, 6]
    assert stack.table_item_count() == 3
    assert customers_profile_count(racer) == 1


def customers_profile_count(event: FeedbackEvent) -> int:
    from chalicelib.store import customers

    return customers.get_profile(feedback_store.get(event.feedback_id).customer_id)["feedback_count"]


def test_stored_items_are_recognised_before_they_cost_an_analysis(stack):
    class CountingLexicon:
        name = "lexicon"

        def __init__(self):
            self.analyzed: list[str] = []

        def analyze(self, documents):
            self.analyzed += [d.key for d in documents]
            return _lexicon().analyze(documents)

    first, second = form_event("seen"), form_event("fresh")
    processing.analyze_and_store([body_of(first)], _lexicon())
    analyzer = CountingLexicon()

    report = processing.analyze_and_store([body_of(first), body_of(second)], analyzer)

    assert analyzer.analyzed == [second.feedback_id]
    assert (report.stored, report.duplicates, report.errors) == (1, 1, [None, None])


def test_a_record_that_always_fails_ends_in_the_dlq_with_its_payload(stack, monkeypatch):
    comprehend = boto3.client("comprehend", region_name="us-east-1")
    analyzer = ComprehendAnalyzer(comprehend)
    body = body_of(form_event("doomed", "Good", "en"))
    sqs = aws.client("sqs")
    # Failed messages come straight back instead of after the visibility timeout.
    sqs.set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    poller = SqsPoller(
        stack.queue_url, lambda event, context: processing.handle_sqs_batch(event, context, analyzer)
    )

    with Stubber(comprehend) as stubber:
        for _ in range(10):
            stubber.add_client_error(
                "batch_detect_sentiment",
                "ThrottlingException",
                http_status_code=400,
                expected_params={"TextList": ANY, "LanguageCode": "en"},
            )
        results = [poller.poll_once() for _ in range(7)]

    # Received once per poll until maxReceiveCount (5); then SQS moves it to the DLQ.
    assert [r.received for r in results] == [1, 1, 1, 1, 1, 0, 0]
    assert [r.failed for r in results] == [1, 1, 1, 1, 1, 0, 0]
    assert stack.queue_depth() == 0
    dlq = aws.client("sqs").receive_message(QueueUrl=stack.resources.dlq_url, MaxNumberOfMessages=10)
    assert [m["Body"] for m in dlq["Messages"]] == [body]
    assert stack.table_item_count() == 0


def test_form_submission_flows_through_the_queue_to_the_table(client, stack):
    from app import analyze

    response = client.http.post(
        "/forms/demo/responses",
        headers={"content-type": "application/json"},
        body=json.dumps({"rating": 2, "comment": "Checkout keeps crashing, awful"}).encode(),
    )
    feedback_id = json.loads(response.body)["feedback_id"]

    drained = SqsPoller(stack.queue_url, analyze).drain()

    assert (drained.received, drained.deleted) == (1, 1)
    stored = feedback_store.get(feedback_id)
    assert (stored.sentiment, stored.rating, stored.channel) == ("NEGATIVE", 2, "form")


def _lexicon():
    from chalicelib.analysis.lexicon import LexiconAnalyzer

    return LexiconAnalyzer()


def test_pii_in_the_text_is_masked_before_storage(stack):
    from chalicelib.analysis.redaction import PatternRedactor

    leaky = form_event(
        "pii", "Call me on +44 20 7946 0958 or write to bob@example.com, card 4111 1111 1111 1111"
    )
    report = processing.analyze_and_store([body_of(leaky)], _lexicon(), PatternRedactor())

    assert report.errors == [None]
    stored = feedback_store.get(leaky.feedback_id)
    assert stored.text == "Call me on [PHONE] or write to [EMAIL], card [CARD]"
    assert stored.pii_redacted is True
    assert stored.pii_types == ["CREDIT_DEBIT_NUMBER", "EMAIL", "PHONE"]
    # The author's own contact stays where identities live.
    assert stored.author.email == "pii@example.com"


def test_a_form_can_turn_redaction_off(stack):
    from chalicelib.forms import records as form_store
    from chalicelib.forms.config import FormConfig

    form_store.save(FormConfig(form_id="raw-form", name="Internal", redact_pii=False))
    event = FeedbackEvent.create(
        source_id="raw-form",
        external_id="r1",
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text="Reach me at bob@example.com",
        occurred_at=NOW,
        received_at=NOW,
    )

    processing.analyze_and_store([body_of(event)], _lexicon())

    stored = feedback_store.get(event.feedback_id)
    assert (stored.text, stored.pii_redacted) == ("Reach me at bob@example.com", False)


def test_the_analyze_step_reads_a_forms_redaction_flag_as_the_form_model_does(stack):
    # processing.redaction_wanted reads the cached record's flag (forms/cached.py), not the FormConfig model.
    from chalicelib.forms import cached as cached_forms
    from chalicelib.forms import records as form_store
    from chalicelib.forms.config import FormConfig
    from chalicelib.store.config_records import FORMS

    form_store.save(FormConfig(form_id="raw-form", name="Internal", redact_pii=False))
    form_store.save(FormConfig(form_id="masked-form", name="Masked", redact_pii=True))
    form_store.save(FormConfig(form_id="default-form", name="Default"))
    # A form stored before the flag existed: the model's default (on) applies.
    older = FormConfig(form_id="older-form", name="Older").model_dump(mode="json", exclude_none=True)
    del older[cached_forms.REDACT_PII]
    FORMS.save_versioned("older-form", older, 0)

    for form_id in ("raw-form", "masked-form", "default-form", "older-form"):
        assert cached_forms.redacts_pii(form_id) is form_store.get_cached(form_id).redact_pii, form_id
    assert [cached_forms.redacts_pii(f) for f in ("raw-form", "older-form")] == [False, True]
    # No such form, or an id no form can have (no lookup): redaction stays on.
    assert cached_forms.redacts_pii("no-such-form") is True
    assert cached_forms.redacts_pii("x" * 2000) is True


def test_a_source_can_turn_redaction_off_and_the_analyze_step_reads_the_setting_as_sources_does(stack):
    # processing.redaction_wanted reads the cached record's setting (channels/cached.py), not SourceConfig.
    from chalicelib.analysis.redaction import PatternRedactor
    from chalicelib.channels import cached as cached_sources
    from chalicelib.channels import sources

    for source_id, options in (("raw-source", {"redact_pii": "off"}), ("kept-source", {"page_id": "1"})):
        source = sources.SourceConfig(source_id=source_id, type="webhook", name="S", settings=options)
        sources.save(source, {})
    for source_id in ("raw-source", "kept-source", "no-such-source", "x" * 2000):
        source = sources.get_cached(source_id)
        expected = source.settings.get("redact_pii") if source else None
        assert cached_sources.setting(source_id, "redact_pii") == expected, source_id
    raw, kept = (
        FeedbackEvent.create(
            source_id=source_id,
            external_id="w1",
            channel=Channel.WEBHOOK,
            kind=Kind.COMMENT,
            text="Reach me at bob@example.com",
            occurred_at=NOW,
            received_at=NOW,
        )
        for source_id in ("raw-source", "kept-source")
    )

    processing.analyze_and_store([body_of(raw), body_of(kept)], _lexicon(), PatternRedactor())

    assert feedback_store.get(raw.feedback_id).text == "Reach me at bob@example.com"
    assert feedback_store.get(kept.feedback_id).text == "Reach me at [EMAIL]"


def test_a_failed_redaction_never_stores_the_raw_text(stack):
    from chalicelib.analysis.base import AnalysisFailed

    class Throttled:
        def redact(self, documents):
            return {d.key: AnalysisFailed("comprehend call failed: ThrottlingException") for d in documents}

    leaky = form_event("pii2", "Mail me at bob@example.com")
    report = processing.analyze_and_store([body_of(leaky)], _lexicon(), Throttled())

    assert report.errors == ["comprehend call failed: ThrottlingException"]
    assert feedback_store.get(leaky.feedback_id) is None


# --- the whole batch at once: the partial batch response --------------------------------------------------


def test_the_handler_gets_the_whole_batch_once_and_the_response_names_the_records_that_failed():
    batches: list[list[str]] = []

    def decide(records: list[QueueRecord]) -> list[str | None]:
        batches.append([record.body for record in records])
        return [None, "throttled", None, "malformed"]

    response = partial_batch_response(sqs_event("a", "b", "c", "d"), decide)

    assert batches == [["a", "b", "c", "d"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}


def test_a_batch_whose_every_record_failed_raises_so_the_queue_redelivers_it_whole():
    with pytest.raises(BatchFailed, match="all 2 records failed"):
        partial_batch_response(sqs_event("a", "b"), lambda records: ["throttled"] * len(records))


def test_a_handler_that_does_not_decide_every_record_is_an_error_not_a_success():
    with pytest.raises(ValueError, match="decided 1 of 2 records"):
        partial_batch_response(sqs_event("a", "b"), lambda records: [None])


@pytest.mark.parametrize("event", [{}, {"Records": []}])
def test_an_event_without_records_is_an_error(event):
    with pytest.raises(ValueError, match="without records"):
        partial_batch_response(event, lambda records: [None] * len(records))


def test_the_analyze_handler_analyzes_and_stores_a_batch_in_one_call(stack, monkeypatch):
    calls: list[list[str]] = []
    real = processing.analyze_and_store

    def recorded(bodies, analyzer, redactor=None, **guard):
        calls.append(list(bodies))
        return real(bodies, analyzer, redactor, **guard)

    monkeypatch.setattr(processing, "analyze_and_store", recorded)
    bodies = [body_of(form_event("w1")), "not json", body_of(form_event("w2"))]

    response = processing.handle_sqs_batch(sqs_event(*bodies), None, _lexicon())

    assert calls == [bodies]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert stack.table_item_count("FEEDBACK") == 2
