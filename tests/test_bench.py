"""The bench's counting pieces: Comprehend billed units, the request counter, the Stubber stand-in (batch
calls and DetectPiiEntities), the redactor tally, the synthetic input, the throughput worker's encoding, and
the command line."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.analysis.base import Document
from chalicelib.analysis.comprehend import ComprehendAnalyzer
from chalicelib.analysis.language import LanguageGuess
from chalicelib.analysis.redaction import ComprehendPiiRedactor
from chalicelib.models import Sentiment
from chalicelib.store.customers import summarize
from tools.bench.checks import throughput_checks
from tools.bench.comprehend import (
    ComprehendResponder,
    TallyingRedactor,
    billed_units,
    pii_entities,
    sentiment_for,
)
from tools.bench.counting import RequestCounter, event_key
from tools.bench.moto_speedups import fast_dynamodb_read_encoding, one_rollback_copy_per_transaction
from tools.bench.pipeline import export_days
from tools.bench.synthetic import (
    EMAIL_SHARE,
    REPEAT_SHARE,
    SyntheticCustomer,
    distinct_emails,
    profile_item,
    synthetic_responses,
    synthetic_stored,
)
from tools.bench.throughput import ThroughputResult, in_id_order, seed_day

DETECT = "BatchDetectDominantLanguage"
SENTIMENT = "BatchDetectSentiment"
PII = "DetectPiiEntities"


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


def _table(dynamodb: Any) -> None:
    """A table "t" with a pk/sk key, for the counter tests that query or fetch items."""
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def test_counter_sums_scanned_count_of_queries(session):
    counter = RequestCounter()
    counter.attach(session.events)
    dynamodb = session.client("dynamodb")
    _table(dynamodb)
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
        # Every text reported unsure by local detection, so all 30 reach BatchDetectDominantLanguage.
        unsure = ComprehendAnalyzer(client, lambda text: LanguageGuess(None, False), workers=1)
        results = unsure.analyze(documents)

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


def test_pii_entities_finds_emails_and_phones_with_code_point_offsets():
    text = "Café ☕ — write to anna.k12@mail.example.org or call +1 415 555 0134, thanks"
    entities = pii_entities(text)

    assert [(e["Type"], text[e["BeginOffset"] : e["EndOffset"]]) for e in entities] == [
        ("EMAIL", "anna.k12@mail.example.org"),
        ("PHONE", "+1 415 555 0134"),
    ]


@pytest.mark.parametrize(
    "text",
    ["I waited 3 days for an answer.", "Order #48213 still shows as pending.", "Paid $25 for shipping.", ""],
)
def test_pii_entities_leaves_harmless_digits_alone(text):
    assert pii_entities(text) == []


def test_counter_counts_items_fetched_by_key_and_time_inside_calls(session):
    counter = RequestCounter()
    counter.attach(session.events)
    dynamodb = session.client("dynamodb")
    _table(dynamodb)
    for sk in "123":
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": sk}})
    keys = [{"pk": {"S": "a"}, "sk": {"S": sk}} for sk in "1239"]  # "9" does not exist

    with counter.phase_of("export"):
        dynamodb.batch_get_item(RequestItems={"t": {"Keys": keys}})
        dynamodb.get_item(TableName="t", Key=keys[3])

    assert counter.items_got["export"] == 3
    assert counter.requests("export") == Counter(
        {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "GetItem"): 1}
    )
    assert set(counter.seconds["export"]) == {"dynamodb"}  # time inside calls, by service


def test_responder_answers_detect_pii_entities_for_the_redactor_and_bills_each_request(session):
    counter = RequestCounter(stubbed_services={"comprehend"})
    counter.attach(session.events)
    client = session.client("comprehend")
    phone = "Call me back on +1 415 555 0134 please, the order is still missing"  # 66 characters
    email = "Escríbeme a maria.g7@mail.example.org, " + "gracias " * 40  # over 300 characters
    documents = [
        Document(key="phone", text=phone, language="en-US"),
        Document(key="email", text=email, language="es"),
        Document(key="french", text="Appelez le 06 12 34 56 78", language="fr"),  # patterns only
        Document(key="blank", text="  ", language="en"),
    ]
    # Every English/Spanish text sent (what the pre-filter keeps back: tests/test_pii_comprehend.py).
    redactor = TallyingRedactor(ComprehendPiiRedactor(client=client, prefilter=False))

    with ComprehendResponder(client) as responder, counter.phase_of("analyze"):
        results = redactor.redact(documents)

    assert counter.requests("analyze") == Counter({("comprehend", PII): 2})
    usage = responder.usage
    assert usage.documents == Counter({PII: 2})
    assert usage.units == Counter({PII: billed_units(phone) + billed_units(email)})
    assert billed_units(phone) == 3  # the minimum: each request is charged at least 3 units
    assert usage.minimum_charged == Counter({PII: 1})
    assert usage.entities == Counter({"PHONE": 1, "EMAIL": 1})
    assert usage.violations == []
    assert results["phone"].text.startswith("Call me back on [PHONE] please")
    assert results["email"].text.startswith("Escríbeme a [EMAIL],")
    assert "[PHONE]" in results["french"].text
    tally = redactor.tally
    assert (tally.documents, tally.eligible, tally.other_language, tally.blank) == (4, 2, 1, 1)
    assert tally.redacted == 3
    assert tally.types == Counter({"PHONE": 2, "EMAIL": 1})
    responder.stubber.assert_no_pending_responses()


def test_responder_flags_detect_pii_entities_outside_the_documented_limits(session):
    client = session.client("comprehend")

    with ComprehendResponder(client) as responder:
        client.detect_pii_entities(Text="Appelez le 06 12 34 56 78", LanguageCode="fr")
        client.detect_pii_entities(Text="x" * 100_001, LanguageCode="en")

    assert responder.usage.violations == [
        f"{PII}: unsupported LanguageCode 'fr'",
        f"{PII}: a 100001-byte document (max 100,000)",
    ]


def test_synthetic_responses_have_emails_with_repeat_customers_and_some_pii():
    responses = synthetic_responses(1000)

    with_email, distinct = distinct_emails(responses)
    assert abs(with_email - 1000 * EMAIL_SHARE) < 50
    assert abs(distinct - with_email * (1 - REPEAT_SHARE)) < 50
    assert synthetic_responses(1000) == responses  # deterministic
    comments = [r["comment"] for r in responses if "comment" in r]
    assert 20 < sum("@" in c or "+1 415" in c or "07700" in c or "020 7946" in c for c in comments) < 80
    assert 50 < sum(any(char.isdigit() for char in c) for c in comments) < 250


def test_profile_item_reads_like_the_analyze_paths_profile():
    import random
    from datetime import UTC, datetime

    rng = random.Random(3)
    customer = SyntheticCustomer("cus_0123456789abcdef01234567", "shopper1@example.net", "Shopper 1")
    at = datetime(2026, 11, 21, 12, tzinfo=UTC)
    items = [synthetic_stored(rng, f"day-{n}", at, customer) for n in range(5)]

    profile = profile_item(customer, items, at)

    assert all(item.customer_id == customer.customer_id for item in items)
    assert all(item.author.email == customer.email for item in items)
    summary = summarize(profile)
    assert summary["feedback_count"] == 5
    assert summary["emails"] == [customer.email]
    assert sum(summary["feedback_by_channel"].values()) == 5
    assert sum(summary["sentiment_counts"].values()) == 5
    assert profile["pk"] == f"CUSTOMER#{customer.customer_id}"


def test_throughput_result_survives_the_trip_through_json():
    result = ThroughputResult(
        items=10, exported=10, requests=Counter({("dynamodb", "Query"): 8}), counts={"feedback": 10}
    )

    assert ThroughputResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_fast_read_encoding_answers_exactly_what_motos_serializer_answers(session):
    dynamodb = session.client("dynamodb")
    _table(dynamodb)
    item = {
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "n": {"N": "12.50"},
        "m": {"M": {"x": {"S": "é ☕"}, "l": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
        "ss": {"SS": ["b", "a"]},
        "ns": {"NS": ["1", "2"]},
    }
    dynamodb.put_item(TableName="t", Item=item)
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "b"}, "sk": {"S": "1"}, "bin": {"B": b"\x00\xff"}})

    def reads():
        query = dynamodb.query(
            TableName="t", KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}}
        )
        keys = [{"pk": {"S": "a"}, "sk": {"S": "1"}}, {"pk": {"S": "b"}, "sk": {"S": "1"}}]
        got = dynamodb.batch_get_item(RequestItems={"t": {"Keys": keys}})
        binary = dynamodb.query(
            TableName="t", KeyConditionExpression="pk = :b", ExpressionAttributeValues={":b": {"S": "b"}}
        )
        answers = [query, got, binary]
        for answer in answers:
            answer.pop("ResponseMetadata")
        return answers

    stock = reads()
    with fast_dynamodb_read_encoding() as used:
        fast = reads()

    assert fast == stock
    assert stock[0]["Items"] == [item]
    assert stock[2]["Items"][0]["bin"] == {"B": b"\x00\xff"}
    # The binary item cannot be written by json.dumps: those two responses fell back to moto's serializer.
    assert used == Counter({"Query": 1})


def test_in_id_order_hands_the_same_times_out_in_feedback_id_order():
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(5)
    midnight = datetime(2026, 11, 21, tzinfo=UTC)
    stored = [
        synthetic_stored(rng, f"d{n}", midnight + timedelta(seconds=rng.randrange(86_400))) for n in range(30)
    ]

    moved = in_id_order(stored)

    assert sorted(i.stored_at for i in moved) == sorted(i.stored_at for i in stored)
    assert [i.feedback_id for i in moved] == sorted(i.feedback_id for i in stored)
    assert [i.stored_at for i in moved] == sorted(i.stored_at for i in moved)
    before = {i.feedback_id: i for i in stored}
    for item in moved:
        original = before[item.feedback_id]
        assert item.stored_at - item.occurred_at == original.stored_at - original.occurred_at
        assert item.text == original.text


def test_a_seeded_day_exports_whole_with_its_customers(stack):
    from datetime import date

    items, customers = seed_day(date(2026, 11, 20), 60)

    exported, s3_objects, counts = export_days([date(2026, 11, 20)])

    assert (items, exported, counts["feedback"]) == (60, 60, 60)
    assert 0 < customers < 60
    assert s3_objects >= 2  # at least one file and the manifest
    assert stack.table_item_count("PROFILE") == customers


def test_one_rollback_copy_per_transaction_still_commits_and_rolls_back(session):
    from botocore.exceptions import ClientError

    dynamodb = session.client("dynamodb")
    _table(dynamodb)
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "taken"}, "sk": {"S": "1"}})

    def put(pk):
        return {
            "Put": {
                "TableName": "t",
                "Item": {"pk": {"S": pk}, "sk": {"S": "1"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    with one_rollback_copy_per_transaction() as copies:
        dynamodb.transact_write_items(TransactItems=[put("a"), put("b"), put("c")])
        with pytest.raises(ClientError) as cancelled:
            dynamodb.transact_write_items(TransactItems=[put("d"), put("taken"), put("e")])

    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed", "None"]
    keys = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName="t")["Items"])
    assert keys == ["a", "b", "c", "taken"]  # "d" and "e" were rolled back
    assert copies == Counter({"made": 2, "saved": 4})
    from moto.dynamodb import models

    assert models.copy.__name__ == "copy"  # the module is back


def test_a_failed_or_short_throughput_run_misses_its_targets():
    failed = throughput_checks(ThroughputResult(items=100, error="worker exited 1: MemoryError"))
    short = throughput_checks(ThroughputResult(items=100, exported=99, items_scanned=100))
    whole = throughput_checks(ThroughputResult(items=100, exported=100, items_scanned=100, seconds=2.0))

    assert [c.ok for c in failed] == [False]
    assert [c.ok for c in short] == [False, False]
    assert [c.ok for c in whole] == [True, True]
    assert ThroughputResult(items=100, exported=100, seconds=2.0).items_per_minute == 3000
    assert throughput_checks(None) == []


def test_pii_quality_section_reports_both_redactors_per_entity_type():
    from tools.bench.pii_quality import measure_pii_quality, pii_quality_section

    quality = measure_pii_quality()
    lines = pii_quality_section(quality)
    address_rows = [line for line in lines if line.startswith("| ADDRESS |")]

    assert quality.texts >= 300 and quality.labelled > 100
    assert 0 < quality.comprehend_requests < quality.texts
    assert len(address_rows) == 2  # one table per backend
    assert all(row.count("|") == 9 for row in address_rows)
    assert sum(line.startswith("| all types |") for line in lines) == 2
    [prefilter] = [line for line in lines if line.startswith("The pre-filter keeps")]
    assert quality.comprehend.total.caught == quality.every_text.total.caught
    assert quality.comprehend_requests < quality.every_text_requests
    assert f"{quality.comprehend_requests} requests" in prefilter


def test_the_cli_describes_the_bench_with_the_package_summary(capsys):
    import tools.bench
    from tools.bench.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the description
    assert text.startswith("usage: python -m tools.bench")
    assert " ".join(tools.bench.__doc__.splitlines()[0].split()) in text
    assert "--quick" in text and "--write" in text and "--prices" in text
    assert "--throughput-worker" not in text  # the worker's own option stays hidden


def test_bedrock_responder_answers_converse_and_reports_usage_with_the_prefix_cached(session):
    from chalicelib.analysis.themes.bedrock import BedrockTagger, taxonomy_prompt
    from chalicelib.themes import records
    from tools.bench.bedrock import BedrockResponder, tokens

    client = session.client("bedrock-runtime")
    taxonomy = records.starter()
    tagger = BedrockTagger(client, "amazon.nova-micro-v1:0")
    batch = [Document("a", "The courier was late again", "en"), Document("b", "Lovely staff", "en")]
    prefix = tokens(taxonomy_prompt(taxonomy))
    assert prefix >= 1000  # the starter taxonomy's prefix is long enough for Nova to cache it

    with BedrockResponder(client) as responder:
        responder.taxonomy = taxonomy
        first = tagger.tag(batch, taxonomy)
        tagger.tag(batch, taxonomy)

    assert {match.id for match in first["a"]} == {"delivery-speed"}
    assert [match.id for match in first["b"]] == ["staff"]
    usage = responder.usage
    assert (usage.requests, usage.items) == (2, 4)
    assert (usage.cache_write_tokens, usage.cache_read_tokens) == (prefix, prefix)
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.violations == []
    responder.stubber.assert_no_pending_responses()


def test_bedrock_responder_scores_the_items_flagged_for_their_sentiment_only(session):
    from chalicelib.analysis.themes.bedrock import BedrockTagger
    from chalicelib.themes import records
    from tools.bench.bedrock import BedrockResponder

    client = session.client("bedrock-runtime")
    taxonomy = records.starter()
    batch = [Document("en", "Great staff", "en"), Document("nl", "Great, maar de app is slow", "nl")]

    with BedrockResponder(client) as responder:
        responder.taxonomy = taxonomy
        themes, sentiments = BedrockTagger(client, "m").tag_and_score(batch, taxonomy, {"nl"})

    assert set(themes) == {"en", "nl"}
    assert sentiments == {"nl": "MIXED"}
    assert (responder.usage.requests, responder.usage.items) == (1, 2)  # no item asked again


def test_bedrock_responder_flags_a_request_over_the_backends_bound(session):
    from tools.bench.bedrock import BedrockResponder

    client = session.client("bedrock-runtime")
    items = [{"item": i, "text": "fine"} for i in range(26)]
    message = "Task: the themes of each item.\n" + json.dumps({"items": items})
    with BedrockResponder(client) as responder:
        client.converse(modelId="m", messages=[{"role": "user", "content": [{"text": message}]}])

    assert responder.usage.violations == ["Converse: 26 items in one request"]
    # No cachePoint: the prefix is plain input.
    assert responder.usage.cache_read_tokens == responder.usage.cache_write_tokens == 0


def test_comment_batches_follow_the_analyze_phases_batches():
    from tools.bench.pipeline import comment_batches

    responses = [{"response_id": f"r{i}", "comment": f"c{i}"} for i in range(5)] + [{"response_id": "r5"}]
    batches = comment_batches(responses, [2, 3])

    assert [[key for key, _, _ in batch] for batch in batches] == [["r0", "r1"], ["r2", "r3", "r4"], ["r5"]]
    assert batches[2] == [("r5", "", None)]


def test_the_analyze_steps_requests_per_batch_are_stated_for_each_setup():
    from collections import Counter
    from types import SimpleNamespace

    from tools.bench.report import _per_batch_line

    handler = Counter({("comprehend", "BatchDetectSentiment"): 4, ("dynamodb", "TransactWriteItems"): 4})
    usage = SimpleNamespace(requests=4)
    result = SimpleNamespace(
        counter=SimpleNamespace(requests=lambda phase: handler if phase == "analyze" else Counter()),
        analyze=SimpleNamespace(invocations=[25, 25, 25, 5], bedrock={"themes": usage, "analysis": usage}),
    )

    (_, line) = _per_batch_line(result)

    assert "(4 batches of 20.0 records on average), with Comprehend" in line
    assert "BatchDetectSentiment 1.00, TransactWriteItems 1.00." in line
    assert "THEME_TAGGER=bedrock adds 1.00 Converse request per batch" in line
    assert _per_batch_line(SimpleNamespace(analyze=SimpleNamespace(invocations=[]))) == []


def test_theme_quality_targets_name_the_weakest_language_and_fail_below_the_issues_floors():
    from tools.bench.theme_quality import theme_quality_section, theme_quality_targets
    from tools.themes_eval import Counts, Report

    report = Report()
    for language, (hits, predicted, labelled, right) in {
        "all": (17, 20, 20, 15),
        "en": (10, 10, 10, 9),
        "pt": (7, 10, 10, 6),
    }.items():
        report.items[language] = labelled
        report.exact[language] = Counts(hits, predicted, labelled, right)
        report.parent[language] = Counts(hits, predicted, labelled, right)

    rows = {name: (measured, met) for name, measured, _, met in theme_quality_targets(report)}

    assert rows["themes (keywords): F1 on the labelled set"] == ("0.850", True)
    assert rows["themes (keywords): lowest language's F1"] == ("0.700 (pt)", False)
    assert rows["themes (keywords): lowest language's per-theme sentiment accuracy"] == ("0.857 (pt)", True)
    assert "| pt | 10 | 0.700 | 0.700 | 0.700 | 0.700 | 0.857 |" in theme_quality_section(report)
    assert theme_quality_targets(None) == []
