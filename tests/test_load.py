"""`make load` (tools/load.py): every delivery kind it sends is accepted and stored once, its store check
catches missing and duplicated items, the shared moto patches (moto_patches) keep moto's semantics and put
moto back, and the whole tool passes end to end (bounded) against a subprocess local stack."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import moto.backends
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.sqs import models as sqs_models
from moto.sqs.models import Queue, SQSBackend

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.registry import CHANNELS
from chalicelib.config import settings
from chalicelib.ingest.queue import decode_events
from chalicelib.local import moto_patches
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.local.provision import create_demo_sources
from chalicelib.models import feedback_id_for
from tools.load import Sender, check_store, retry_after_seconds
from tools.load_deliveries import BUILDERS, WEBHOOK_KINDS, Delivery, Ident, build, run_marker_prefix

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo_secrets(stack):
    """Secrets of the demo sources `make run` creates, by channel type."""
    secrets = {}
    for source in create_demo_sources():
        revealed = sources.read_secrets(source.source_id)
        secrets[source.type] = {name: revealed.current(name) or "" for name in revealed.names()}
    return secrets


def send(client, delivery: Delivery):
    path, headers = delivery.request()
    return client.http.post(path, headers=headers, body=delivery.body)


def test_each_delivery_kind_is_accepted_as_exactly_one_event_with_the_expected_id(
    client, stack, demo_secrets
):
    # One stack for all kinds (a parametrized test would provision thirteen); queued_bodies leaves what it
    # read in flight (invisible for 60 s), so each kind sees only its own message.
    for kind, builder in BUILDERS.items():
        delivery = builder(Ident(run=123456, index=7), demo_secrets.get(kind, {}))

        response = send(client, delivery)

        assert response.status_code in (200, 202), (kind, response.body)
        events = [event for body in stack.queued_bodies() for event in decode_events(body)]
        assert [(e.source_id, e.external_id, e.feedback_id) for e in events] == [
            (delivery.source_id, delivery.external_id, delivery.feedback_id)
        ], kind
        assert Ident(123456, 7).marker in events[0].text, kind
        if kind.startswith("form"):
            assert json.loads(response.body)["feedback_id"] == delivery.feedback_id
        else:
            assert json.loads(response.body) == {"status": "accepted", "events": 1}, kind


def test_every_registered_channel_is_a_delivery_kind_signed_by_its_channel(demo_secrets):
    assert set(WEBHOOK_KINDS) == set(CHANNELS), "tools/load_deliveries.py and the registry disagree"
    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    for kind in WEBHOOK_KINDS:
        delivery = BUILDERS[kind](Ident(run=1, index=1), demo_secrets[kind])
        signed = CHANNELS[kind].sign(delivery.body, demo_secrets[kind], at)
        path, headers = delivery.request(at)
        assert headers == {"Content-Type": "application/json", **signed.headers}, kind
        assert parse_qs(urlsplit(path).query) == {name: [value] for name, value in signed.query.items()}, kind


def test_deliveries_rotate_through_every_kind_with_distinct_ids(demo_secrets):
    deliveries = [build(654321, index, demo_secrets) for index in range(3 * len(BUILDERS))]

    assert {d.kind for d in deliveries[: len(BUILDERS)]} == set(BUILDERS)
    assert len({d.feedback_id for d in deliveries}) == len(deliveries)


def test_the_runs_marker_in_each_text_is_no_theme_word_of_the_starter_taxonomy():
    from chalicelib.analysis import Document
    from chalicelib.analysis.lexicon import LexiconAnalyzer
    from chalicelib.analysis.themes.keywords import KeywordTagger
    from chalicelib.themes.records import starter

    words = "The checkout was quick and the support team friendly"  # what the form deliveries say
    ident = Ident(run=3, index=17)
    text = ident.text(words)
    assert ident.marker in text and text.startswith(words) and run_marker_prefix(3) in text
    documents = [Document("marked", text, "en"), Document("unmarked", words, "en")]

    tagged = KeywordTagger(LexiconAnalyzer()).tag(documents, starter())

    themes = {key: [(m.id, m.sentiment) for m in matches] for key, matches in tagged.items()}
    assert themes["marked"] == themes["unmarked"]
    assert [m.id for m in tagged["unmarked"]] == ["checkout", "support"]


def test_store_check_counts_stored_items_and_catches_missing_and_stray_ones(client, stack, demo_secrets):
    from app import analyze

    run = 222333
    deliveries = [build(run, index, demo_secrets) for index in range(len(BUILDERS))]
    for delivery in deliveries:
        assert send(client, delivery).status_code in (200, 202)
    # The same feedback again under another response id: stored twice, as a duplicate would be.
    again = build(run, 0, demo_secrets)
    again.body = again.body.replace(b'"response_id":"load-222333-0"', b'"response_id":"other-222333-0"')
    assert send(client, again).status_code == 202
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    never_sent = build(run, 999, demo_secrets).feedback_id

    check = check_store([d.feedback_id for d in deliveries] + [never_sent], run)

    assert check.stored == len(BUILDERS)
    assert check.missing == [never_sent]
    assert check.duplicates == 1
    assert check.strays == [feedback_id_for(again.source_id, "other-222333-0")]
    assert check.scanned == len(BUILDERS) + 1


def _transact(updates: list[dict]) -> None:
    aws.client("dynamodb").transact_write_items(TransactItems=updates)


# Everything fit_for_threads() replaces, as moto defines it (functions and properties as stored).
PATCHED = [
    (DynamoHandler, "call_action"),
    (DynamoDBBackend, "transact_write_items"),
    *((SQSBackend, name) for name in moto_patches.SQS_MESSAGE_OPERATIONS),
    (Queue, "wait_for_messages"),
    (Queue, "attributes"),
    (sqs_models, "unix_time"),
    (sqs_models, "unix_time_millis"),
    (moto.backends, "list_of_moto_modules"),
]


def _originals() -> list:
    return [vars(owner)[name] for owner, name in PATCHED]


def test_moto_patches_roll_a_cancelled_transaction_back_to_the_exact_items(stack):
    table = settings().table_name
    dynamodb = aws.client("dynamodb")

    def key(name: str) -> dict:
        return {"pk": {"S": f"T#{name}"}, "sk": {"S": "T"}}

    # Binary and nested values too: the rolled-back item must come back exactly as it was.
    original = {**key("a"), "v": {"N": "1"}, "payload": {"B": b"\x00\xff"}, "m": {"M": {"b": {"B": b"\x01"}}}}
    dynamodb.put_item(TableName=table, Item=original)
    dynamodb.put_item(TableName=table, Item={**key("d"), "v": {"N": "1"}})
    with moto_patches.fit_for_threads():
        with pytest.raises(ClientError) as cancelled:
            _transact(
                [
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key("a"),
                            "UpdateExpression": "SET v = :two REMOVE payload",
                            "ExpressionAttributeValues": {":two": {"N": "2"}},
                        }
                    },
                    {"Put": {"TableName": table, "Item": {**key("b"), "v": {"N": "1"}}}},
                    {"Delete": {"TableName": table, "Key": key("d")}},
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": key("c"),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        error = cancelled.value.response
        assert error["Error"]["Code"] == "TransactionCanceledException"
        assert [r["Code"] for r in error["CancellationReasons"]] == [
            "None",
            "None",
            "None",
            "ConditionalCheckFailed",
        ]
        assert dynamodb.get_item(TableName=table, Key=key("a"))["Item"] == original
        assert "Item" not in dynamodb.get_item(TableName=table, Key=key("b"))
        assert dynamodb.get_item(TableName=table, Key=key("d"))["Item"]["v"] == {"N": "1"}

        # The same key twice: moto refuses the lot (ValidationException) after applying the first.
        with pytest.raises(ClientError, match="ValidationException"):
            _transact(
                [
                    {"Put": {"TableName": table, "Item": {**key("a"), "v": {"N": "3"}}}},
                    {"Delete": {"TableName": table, "Key": key("a")}},
                ]
            )
        assert dynamodb.get_item(TableName=table, Key=key("a"))["Item"] == original

        _transact([{"Put": {"TableName": table, "Item": {**key("b"), "v": {"N": "3"}}}}])
        assert dynamodb.get_item(TableName=table, Key=key("b"))["Item"]["v"] == {"N": "3"}


def test_moto_patches_keep_sqs_attributes_and_counts_as_moto_computes_them(stack):
    sqs = aws.client("sqs")
    moto_attributes = vars(Queue)["attributes"].fget
    backend = sqs_models.sqs_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    queues = [backend.queues[url.rsplit("/", 1)[1]] for url in (stack.queue_url, stack.resources.dlq_url)]
    with moto_patches.fit_for_threads():
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody="now")
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody="later", DelaySeconds=60)
        received = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)["Messages"]
        counts = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
        # The ingest queue has a redrive policy, its DLQ none: both shapes, against moto's own property.
        lazy = [dict(queue.attributes) for queue in queues]
        stock = [moto_attributes(queue) for queue in queues]

    assert [m["Body"] for m in received] == ["now"]
    assert (
        counts["ApproximateNumberOfMessages"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessagesDelayed"],
    ) == ("0", "1", "1")
    assert lazy == stock


def test_moto_patches_let_a_send_through_while_a_receive_long_polls(stack):
    sqs = aws.client("sqs")
    received: list = []
    with moto_patches.fit_for_threads():
        poll = threading.Thread(
            target=lambda: received.extend(
                sqs.receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=5).get("Messages", [])
            )
        )
        poll.start()
        time.sleep(0.3)  # let the poll start waiting (if it has not, the test passes without proving much)
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody="while polling")
        poll.join()

    # Had the poll held the SQS lock while it waited, the send would have waited for it to end empty.
    assert [m["Body"] for m in received] == ["while polling"]


def test_in_process_moto_serves_queries_while_other_threads_write(stack):
    """The product's threads share moto's backend in a test (`counters rebuild`'s day workers, a Query's
    read-ahead): unserialized, a Query walking the table while another thread wrote raised "dictionary changed
    size during iteration" (a CI run's `counters rebuild --workers 4`). The stack fixture serializes them."""
    dynamodb, table = aws.client("dynamodb"), settings().table_name
    errors: list[Exception] = []
    counts: list[int] = []

    def guarded(work):
        def run():
            try:
                work()
            except Exception as error:  # collected: an exception in a thread would not fail the test
                errors.append(error)

        return threading.Thread(target=run)

    # A Query of an index walks the whole table in moto; each put here adds a partition to it.
    index = dynamodb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"][0]
    index_key = next(k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH")

    def write(worker: int):
        for n in range(400):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": f"RACE#{worker}#{n}"}, "sk": {"S": "RACE"}})

    def read():
        for _ in range(40):
            query = {"TableName": table, "IndexName": index["IndexName"], "Select": "COUNT"}
            page = dynamodb.query(
                **query,
                KeyConditionExpression=f"{index_key} = :v",
                ExpressionAttributeValues={":v": {"S": "x"}},
            )
            counts.append(page["Count"])

    threads = [guarded(lambda w=w: write(w)) for w in range(2)] + [guarded(read) for _ in range(2)]
    interval = sys.getswitchinterval()
    # Threads switch every few bytecodes: unserialized, the race shows in every run, not one in ten.
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    assert errors == []
    assert len(counts) == 80  # every Query answered
    written = dynamodb.scan(
        TableName=table, FilterExpression="sk = :sk", ExpressionAttributeValues={":sk": {"S": "RACE"}}
    )
    assert written["Count"] == 800  # every write landed


def test_moto_patches_put_moto_back_when_the_last_overlapping_block_closes():
    originals = _originals()
    first, second = moto_patches.fit_for_threads(), moto_patches.fit_for_threads()

    first.__enter__()
    patched = _originals()
    second.__enter__()
    first.__exit__(None, None, None)  # overlapping, not nested: the first to open closes first
    still = _originals()
    second.__exit__(None, None, None)

    assert all(p is not o for p, o in zip(patched, originals, strict=True))
    assert still == patched
    assert _originals() == originals


def test_make_load_end_to_end_against_a_subprocess_stack():
    count = 20 * len(BUILDERS)
    result = subprocess.run(
        [sys.executable, "-m", "tools.load", "--deliveries", str(count), "--concurrency", "8"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = result.stdout
    assert result.returncode == 0, output + result.stderr[-3000:]
    figures = dict(re.findall(r"^([A-Za-z0-9 ()!=]+?):\s+(.+)$", output, re.MULTILINE))
    assert figures["accepted (2xx)"] == str(count)
    assert figures["stored items"].startswith(f"{count} of {count}")
    assert (figures["missing"], figures["duplicates"], figures["DLQ depth"]) == ("0", "0", "0")
    assert figures["per kind"] == ", ".join(f"{kind}=20" for kind in BUILDERS)
    assert re.fullmatch(
        r"p50=[\d.]+  p95=[\d.]+  p99=[\d.]+  max=[\d.]+  mean=[\d.]+", figures["ack latency (ms)"]
    )
    assert figures["result"] == "PASS"


class _BusyOnceHandler(BaseHTTPRequestHandler):
    """503 with Retry-After for the first request, 202 for the rest (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        type(self).requests.append(self.path)
        status, body = (503, b'{"error": {}}') if len(self.requests) == 1 else (202, b'{"status": "queued"}')
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_sender_retries_a_503_after_its_retry_after_and_counts_the_retry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BusyOnceHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outcome = Sender(f"http://127.0.0.1:{server.server_address[1]}").send(
            run=1, index=0, secrets_by_kind={}
        )
    finally:
        server.shutdown()

    assert (outcome.kind, outcome.status, outcome.retries) == ("form_json", 202, 1)
    assert _BusyOnceHandler.requests == ["/forms/demo/responses"] * 2
    # Seconds, capped at 10; an HTTP-date in the past is no wait; what cannot be read waits 1 s.
    readings = ["3", "600", "Sun, 06 Nov 1994 08:49:37 GMT", "Wed, 21 Oct", ""]
    assert [retry_after_seconds(value) for value in readings] == [3, 10, 0, 1, 1]
