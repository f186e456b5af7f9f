"""`python -m tools.bench --write BENCHMARKS.md`: what 1,000 items cost in AWS requests, measured in process.

Synthetic form responses go through the real code paths (ack → analyze → store → export) against moto
(DynamoDB, SQS, S3, SSM) and a botocore `Stubber`-backed Comprehend client. botocore event hooks count every
API call and every HTTP request per phase, service and operation; the Comprehend stand-in records the billed
units of every document it is sent. The app's import time is compared with bare `import chalice, boto3` in
fresh interpreters. The bench exits 1 when a target is missed, so a regression is visible in CI.

The counting pieces (`RequestCounter`, `billed_units`, `ComprehendResponder`) are importable for tests.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore import xform_name
from botocore.stub import Stubber

PROJECT_DIR = Path(__file__).resolve().parents[1]
PER = 1000  # figures are normalised to this many items

# Amazon Comprehend pricing: each request type is billed per 100-character unit, 3 units minimum per document.
COMPREHEND_UNIT_CHARS = 100
COMPREHEND_MIN_UNITS = 3
# Documented API limits the stand-in enforces (Comprehend developer guide, "Guidelines and quotas").
COMPREHEND_MAX_BATCH = 25
COMPREHEND_MAX_DOCUMENT_BYTES = 5000
COMPREHEND_SENTIMENT_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh", "zh-TW"}
)
DYNAMODB_WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)

# Targets (DESIGN.md, "Properties that matter"): the bench fails when one is missed.
TARGET_ACK_REQUESTS_PER_SUBMISSION = 1.0
TARGET_COMPREHEND_REQUESTS_PER_1000 = 80
TARGET_DYNAMODB_WRITES_PER_1000 = 100
TARGET_EXPORT_READS_PER_ITEM = 1.0
TARGET_WEBHOOK_REQUESTS_PER_DELIVERY = 1.0
WEBHOOK_DELIVERIES = 50
BENCH_PAGE_ID = "105371222151234"
# Each bench delivery: this many entries, each with this many Page comments and Messenger messages.
META_ENTRIES, META_COMMENTS, META_MESSAGES = 2, 10, 5

QUEUE_NAME = "feedback-ingest-bench"
BENCH_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "STAGE": "bench",
    "TABLE_NAME": "feedback-bench",
    "EXPORT_BUCKET": "feedback-exports-bench",
    "INGEST_QUEUE_NAME": QUEUE_NAME,
    "PARAMETER_PREFIX": "/feedback/bench",
    "ANALYZER": "comprehend",
    # As deployed (.chalice/config.json); the bench must not depend on the form cache outliving the run.
    "DAY_SHARDS": "8",
    "CONFIG_CACHE_SECONDS": "300",
    "POWERTOOLS_SERVICE_NAME": "feedback-collector",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}

Key = tuple[str, str]  # (service endpoint prefix, OperationName)


# ----------------------------------------------------------------------------------------------------
# Counting pieces (importable, tested in tests/test_bench.py)


def billed_units(text: str) -> int:
    """Comprehend units billed for one document of one request type: 100-character units, 3 minimum.

    An empty document is never sent (the analyzer skips it; the API would refuse it), so it costs nothing.
    """
    if not text:
        return 0
    return max(COMPREHEND_MIN_UNITS, math.ceil(len(text) / COMPREHEND_UNIT_CHARS))


def event_key(event_name: str) -> Key:
    """(service, operation) from a botocore event name such as `before-send.dynamodb.Query`."""
    parts = event_name.split(".")
    return parts[1], parts[2]


class RequestCounter:
    """Counts AWS API calls and HTTP requests per phase, service and operation through botocore events.

    * `before-send` fires once per HTTP request, retries included; it is what AWS bills and throttles.
      botocore calls every `before-send` handler (moto answers from one), and this one runs first anyway.
    * `before-call` fires once per API call. It is the only trace of a call that a `Stubber` answers (the
      Stubber returns its response from `before-call`, so no HTTP request is ever built): for services named
      in `stubbed_services`, each API call counts as one request.
    * `after-call.dynamodb` reads `ScannedCount`/`Count` of every Query and Scan response: items read.

    Nothing is counted while `phase` is None (setup and seeding).
    """

    def __init__(self, stubbed_services: Iterable[str] = ()) -> None:
        self.stubbed_services = frozenset(stubbed_services)
        self.phase: str | None = None
        self.calls: defaultdict[str, Counter[Key]] = defaultdict(Counter)
        self.sends: defaultdict[str, Counter[Key]] = defaultdict(Counter)
        self.items_scanned: Counter[str] = Counter()
        self.items_returned: Counter[str] = Counter()

    def attach(self, events: Any) -> None:
        """Register on a session's (or client's) event system; clients created afterwards inherit it."""
        suffix = str(id(self))
        # Registered at full depth and first: botocore calls handlers of deeper event names before shallower
        # ones, and `before-call` stops at the first handler that answers (a Stubber's, on `before-call.*.*`).
        events.register_first("before-call.*.*", self._on_call, unique_id=f"bench-call-{suffix}")
        events.register_first("before-send.*.*", self._on_send, unique_id=f"bench-send-{suffix}")
        events.register("after-call.dynamodb.*", self._on_dynamodb_result, unique_id=f"bench-read-{suffix}")

    @contextmanager
    def phase_of(self, phase: str | None) -> Iterator[None]:
        """Attribute every request made inside the block to `phase` (None: count nothing)."""
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous

    def _on_call(self, event_name: str, **kwargs: Any) -> None:
        if self.phase is not None:
            self.calls[self.phase][event_key(event_name)] += 1

    def _on_send(self, event_name: str, **kwargs: Any) -> None:
        if self.phase is not None:
            self.sends[self.phase][event_key(event_name)] += 1

    def _on_dynamodb_result(self, event_name: str, parsed: dict[str, Any], **kwargs: Any) -> None:
        if self.phase is not None and event_key(event_name)[1] in {"Query", "Scan"}:
            self.items_scanned[self.phase] += int(parsed.get("ScannedCount", 0))
            self.items_returned[self.phase] += int(parsed.get("Count", 0))

    def requests(self, phase: str) -> Counter[Key]:
        """Requests by (service, operation): HTTP requests, or API calls for a stubbed service."""
        result: Counter[Key] = Counter()
        for key, count in self.calls[phase].items():
            if key[0] in self.stubbed_services:
                result[key] += count
        for key, count in self.sends[phase].items():
            if key[0] not in self.stubbed_services:
                result[key] += count
        return result

    def unsent_calls(self) -> list[str]:
        """API calls of a non-stubbed service that no `before-send` matched (the counter missed a request)."""
        missing = []
        for phase, calls in self.calls.items():
            for key, count in calls.items():
                if key[0] not in self.stubbed_services and self.sends[phase][key] < count:
                    missing.append(f"{phase}: {key[0]} {key[1]} ({self.sends[phase][key]}/{count})")
        return missing

    def retries(self, phase: str) -> int:
        """HTTP requests beyond one per API call (botocore retries) for the non-stubbed services."""
        calls = sum(
            n for (service, _), n in self.calls[phase].items() if service not in self.stubbed_services
        )
        sends = sum(
            n for (service, _), n in self.sends[phase].items() if service not in self.stubbed_services
        )
        return sends - calls


def sentiment_for(text: str) -> str:
    """A deterministic sentiment from keywords, so the stand-in's answers look like Comprehend's."""
    lowered = text.lower()
    positive = any(word in lowered for word in ("love", "great", "fast", "helpful", "excellent"))
    negative = any(word in lowered for word in ("slow", "broken", "terrible", "refund", "crash"))
    if positive and negative:
        return "MIXED"
    if positive:
        return "POSITIVE"
    return "NEGATIVE" if negative else "NEUTRAL"


def _sentiment_entry(index: int, text: str) -> dict[str, Any]:
    label = sentiment_for(text)
    scores = {"Positive": 0.02, "Negative": 0.02, "Neutral": 0.02, "Mixed": 0.02}
    scores[label.capitalize()] = 0.94
    return {"Index": index, "Sentiment": label, "SentimentScore": scores}


@dataclass
class ComprehendUsage:
    """What the Comprehend stand-in was asked, per operation."""

    documents: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)
    minimum_charged: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)


class ComprehendResponder:
    """Answers every call of a Comprehend client through a botocore `Stubber`, whatever the batch holds.

    On `provide-client-params.comprehend` (before the parameters are validated against the API model) it
    checks the documented limits, records each document's billed units, and queues the matching response
    with `expected_params` equal to the call's parameters; the Stubber then validates the response against
    the model and serves it. BatchDetectDominantLanguage answers "en" (0.99); BatchDetectSentiment answers
    a sentiment chosen from each text's keywords.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.stubber = Stubber(client)
        self.usage = ComprehendUsage()
        self._unique_id = f"bench-comprehend-{id(self)}"

    def __enter__(self) -> ComprehendResponder:
        self.client.meta.events.register(
            "provide-client-params.comprehend", self._provide, unique_id=self._unique_id
        )
        self.stubber.activate()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stubber.deactivate()
        self.client.meta.events.unregister("provide-client-params.comprehend", unique_id=self._unique_id)

    def _provide(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        operation = model.name
        texts = list(params.get("TextList", []))
        self._check_limits(operation, params, texts)
        self._record_units(operation, texts)
        response = self._response(operation, texts)
        if response is not None:
            self.stubber.add_response(xform_name(operation), response, expected_params=copy.deepcopy(params))

    def _check_limits(self, operation: str, params: dict[str, Any], texts: Sequence[str]) -> None:
        usage = self.usage
        if len(texts) > COMPREHEND_MAX_BATCH:
            usage.violations.append(f"{operation}: {len(texts)} documents in one request (max 25)")
        for text in texts:
            size = len(text.encode("utf-8"))
            if size > COMPREHEND_MAX_DOCUMENT_BYTES:
                usage.violations.append(f"{operation}: a {size}-byte document (max 5,000)")
            if not text:
                usage.violations.append(f"{operation}: an empty document")
        language = params.get("LanguageCode")
        if operation == "BatchDetectSentiment" and language not in COMPREHEND_SENTIMENT_LANGUAGES:
            usage.violations.append(f"{operation}: unsupported LanguageCode {language!r}")

    def _record_units(self, operation: str, texts: Sequence[str]) -> None:
        for text in texts:
            units = billed_units(text)
            self.usage.documents[operation] += 1
            self.usage.units[operation] += units
            if text and math.ceil(len(text) / COMPREHEND_UNIT_CHARS) < COMPREHEND_MIN_UNITS:
                self.usage.minimum_charged[operation] += 1

    def _response(self, operation: str, texts: Sequence[str]) -> dict[str, Any] | None:
        if operation == "BatchDetectDominantLanguage":
            results = [
                {"Index": i, "Languages": [{"LanguageCode": "en", "Score": 0.99}]} for i in range(len(texts))
            ]
            return {"ResultList": results, "ErrorList": []}
        if operation == "BatchDetectSentiment":
            return {"ResultList": [_sentiment_entry(i, t) for i, t in enumerate(texts)], "ErrorList": []}
        # Unknown to the stand-in: no response is queued, so the Stubber refuses the call visibly.
        self.usage.violations.append(f"{operation}: not expected on the analyze path")
        return None


# ----------------------------------------------------------------------------------------------------
# Synthetic input

OPENINGS = (
    "I love the new dashboard",
    "Checkout was slow again today",
    "Support was helpful and fast",
    "The app keeps crashing when I upload photos",
    "Delivery arrived on Tuesday",
    "Great prices, but the mobile site is broken on my phone",
    "I asked for a refund two weeks ago",
    "Excellent onboarding call with your team",
    "Menu layout changed",
    "Terrible experience with the courier",
)
DETAILS = (
    " and the reports load in a second.",
    " and I had to retry the payment three times before it went through.",
    " The agent stayed on the line until everything worked, thank you.",
    " It happens on both Android and iOS, every single time, since the last update.",
    " Nothing special to report, the parcel was complete.",
    " Please fix the layout; the buttons overlap the price and I cannot tap them.",
    " Nobody answered my emails and the order page still shows it as pending.",
    " Our whole team is using it now — très bien 👍.",
)


def synthetic_comment(rng: random.Random) -> str:
    """A comment of realistic length: mostly one or two sentences, sometimes a long story."""
    text = rng.choice(OPENINGS)
    roll = rng.random()
    if roll < 0.35:
        return text + "."
    sentences = 1 if roll < 0.8 else rng.randint(3, 12)
    text += "".join(rng.choice(DETAILS) for _ in range(sentences))
    if rng.random() < 0.005:
        # A pasted essay: longer than Comprehend's 5,000-byte limit, so the analyzer must truncate it.
        text = (text + " ") * 40
    return text[:9000]


def synthetic_responses(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Form submissions as the widget sends them: an NPS rating, mostly a comment, sometimes a language."""
    rng = random.Random(seed)
    responses = []
    for index in range(count):
        body: dict[str, Any] = {"rating": rng.randint(0, 10), "response_id": f"bench-{index:06d}"}
        if rng.random() < 0.9:
            body["comment"] = synthetic_comment(rng)
        if rng.random() < 0.5:
            body["language"] = rng.choice(["en", "en-US", "en-GB"])
        if rng.random() < 0.4:
            body["email"] = f"customer{index}@example.com"
            body["name"] = f"Customer {index}"
        body["page_url"] = "https://shop.example.com/checkout/done"
        responses.append(body)
    return responses


# ----------------------------------------------------------------------------------------------------
# The run


@dataclass
class AckResult:
    submissions: int
    accepted: int
    first: Counter[Key]
    total: Counter[Key]

    @property
    def per_submission_after_first(self) -> float:
        rest = sum(self.total.values()) - sum(self.first.values())
        return rest / max(1, self.submissions - 1)


@dataclass
class WebhookAckResult:
    deliveries: int
    accepted: int
    events_per_delivery: int
    events_queued: int
    first: Counter[Key]
    total: Counter[Key]

    @property
    def per_delivery_after_first(self) -> float:
        rest = sum(self.total.values()) - sum(self.first.values())
        return rest / max(1, self.deliveries - 1)


@dataclass
class AnalyzeResult:
    invocations: list[int]
    received: int
    failed: int
    usage: ComprehendUsage


@dataclass
class ExportResult:
    days: list[date]
    exported: int
    history_items: int
    s3_objects: int


@dataclass
class ImportResult:
    app_ms: float
    bare_ms: float
    runs: int
    heaviest: list[tuple[str, float]]

    @property
    def ratio(self) -> float:
        return self.app_ms / self.bare_ms


@dataclass
class BenchResult:
    items: int
    counter: RequestCounter
    ack: AckResult
    analyze: AnalyzeResult
    export: ExportResult
    webhook: WebhookAckResult
    imports: ImportResult
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    emf_lines: int = 0


def prepare_environment() -> None:
    """Set the variables the app reads at import and the fake credentials, before chalicelib is imported."""
    os.environ.update(BENCH_ENVIRONMENT)
    for name in ("AWS_ENDPOINT_URL", "INGEST_QUEUE_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)


def reset_process_caches() -> None:
    """Drop every per-process cache so the app rebuilds settings and clients from the environment."""
    from chalicelib import aws, queue, sources
    from chalicelib.config import settings
    from chalicelib.store import forms as form_store

    settings.cache_clear()
    aws.reset_clients()
    queue.ingest_queue_url.cache_clear()
    form_store.clear_cache()
    sources.clear_cache()


def provision_stack() -> str:
    """Create the table, queues, bucket, parameters and the demo form in moto; returns the queue URL."""
    from chalicelib.config import settings
    from chalicelib.local.provision import create_demo_form, provision

    reset_process_caches()
    resources = provision(QUEUE_NAME)
    os.environ["INGEST_QUEUE_URL"] = resources.queue_url
    reset_process_caches()
    create_demo_form()
    # Read now: chalice.test.Client swaps os.environ for the stage's variables during each request.
    settings()
    return resources.queue_url


def run_ack(counter: RequestCounter, responses: Sequence[dict[str, Any]]) -> AckResult:
    """POST every response to the demo form through chalice.test.Client, counting the ack path's requests."""
    from chalice.test import Client

    sys.path.insert(0, str(PROJECT_DIR))
    from app import app

    headers = {"content-type": "application/json"}
    accepted = 0
    first: Counter[Key] = Counter()
    with Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)) as client, counter.phase_of("ack"):
        for index, body in enumerate(responses):
            response = client.http.post(
                "/forms/demo/responses", headers=headers, body=json.dumps(body).encode()
            )
            accepted += response.status_code == 202
            if index == 0:
                first = counter.requests("ack").copy()
    return AckResult(len(responses), accepted, first, counter.requests("ack"))


def meta_delivery(
    index: int, entries: int = META_ENTRIES, comments: int = META_COMMENTS, messages: int = META_MESSAGES
) -> bytes:
    """A Meta Page delivery batching `entries` entries, each with feed comments and Messenger messages,
    in the shape of Meta's Webhooks reference (ids unique per delivery)."""
    entry_list = []
    for entry in range(entries):
        changes = [
            {
                "field": "feed",
                "value": {
                    "from": {"id": f"60549{index:05d}{entry}{n:02d}", "name": f"Customer {n}"},
                    "post_id": f"{BENCH_PAGE_ID}_1221{index:05d}",
                    "comment_id": f"1221{index:05d}_{entry}{n:04d}",
                    "created_time": 1795262280 + n,
                    "item": "comment",
                    "parent_id": f"{BENCH_PAGE_ID}_1221{index:05d}",
                    "verb": "add",
                    "message": f"Comment {n} on delivery {index}: the new menu is great",
                },
            }
            for n in range(comments)
        ]
        messaging = [
            {
                "sender": {"id": f"2490{index:05d}{entry}{n:02d}"},
                "recipient": {"id": BENCH_PAGE_ID},
                "timestamp": 1795262285000 + n,
                "message": {"mid": f"m_{index}_{entry}_{n}", "text": f"Message {n}: where is my order?"},
            }
            for n in range(messages)
        ]
        entry_list.append(
            {"id": BENCH_PAGE_ID, "time": 1795262285, "changes": changes, "messaging": messaging}
        )
    return json.dumps({"object": "page", "entry": entry_list}).encode()


def run_webhook_ack(counter: RequestCounter, queue_url: str, deliveries: int) -> WebhookAckResult:
    """POST signed multi-event Meta deliveries to a `meta` source, counting the ack path's requests."""
    from chalice.test import Client

    from app import app
    from chalicelib import aws, sources
    from chalicelib.channels.meta_common import sign

    app_secret = "bench-app-secret"  # noqa: S105 - a fixed value for an in-memory moto run
    source = sources.SourceConfig(
        source_id="bench-meta", type="meta", name="Bench page", settings={"page_id": BENCH_PAGE_ID}
    )
    sources.save(source, {"app_secret": app_secret, "verify_token": "bench-verify"})
    accepted = events_queued = 0
    first: Counter[Key] = Counter()
    with (
        Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)) as client,
        counter.phase_of("webhook ack"),
    ):
        for index in range(deliveries):
            body = meta_delivery(index)
            headers = {"content-type": "application/json", "X-Hub-Signature-256": sign(app_secret, body)}
            response = client.http.post(f"/webhooks/{source.source_id}", headers=headers, body=body)
            accepted += response.status_code == 200
            events_queued += json.loads(response.body).get("events", 0)
            if index == 0:
                first = counter.requests("webhook ack").copy()
    # These deliveries only measure the ack path: they are not analyzed.
    aws.client("sqs").purge_queue(QueueUrl=queue_url)
    per_delivery = META_ENTRIES * (META_COMMENTS + META_MESSAGES)
    return WebhookAckResult(
        deliveries, accepted, per_delivery, events_queued, first, counter.requests("webhook ack")
    )


def run_analyze(counter: RequestCounter, queue_url: str) -> AnalyzeResult:
    """Drain the queue in Lambda-sized batches of 25 into the analyze handler with a stubbed Comprehend."""
    import boto3

    from chalicelib.analysis.comprehend import ComprehendAnalyzer
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.processing import handle_sqs_batch

    comprehend = boto3.client("comprehend", region_name="us-east-1")
    analyzer = ComprehendAnalyzer(client=comprehend)
    invocations: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        invocations.append(len(event["Records"]))
        with counter.phase_of("analyze"):
            return handle_sqs_batch(event, context, analyzer=analyzer)

    with ComprehendResponder(comprehend) as responder, counter.phase_of("analyze-poller"):
        totals = SqsPoller(queue_url, handler, batch_size=25, wait_seconds=1).drain()
    return AnalyzeResult(invocations, totals.received, totals.failed, responder.usage)


def seed_history(count: int, exclude: Iterable[date], seed: int = 11) -> int:
    """Write `count` stored items on the 30 days before the bench's days, directly (not counted)."""
    from chalicelib.config import settings
    from chalicelib.models import Analysis, Channel, FeedbackEvent, Kind, Sentiment, StoredFeedback
    from chalicelib.store import dynamo
    from chalicelib.store import feedback as feedback_store

    rng = random.Random(seed)
    oldest_excluded = min(exclude)
    items = []
    for index in range(count):
        stored_at = datetime.combine(oldest_excluded, datetime.min.time(), UTC) - timedelta(
            days=1 + index % 30, seconds=rng.randint(1, 86_000)
        )
        event = FeedbackEvent.create(
            source_id="demo",
            external_id=f"history-{index:06d}",
            channel=Channel.FORM,
            kind=Kind.FORM_RESPONSE,
            text=synthetic_comment(rng),
            occurred_at=stored_at,
            received_at=stored_at,
        )
        analysis = Analysis(
            sentiment=Sentiment.NEUTRAL, language="en", analyzer="comprehend", analyzed_at=stored_at
        )
        stored = StoredFeedback.from_event(event, analysis, stored_at)
        items.append(dynamo.put_request(feedback_store.to_item(stored)))
    dynamo.batch_write(settings().table_name, items)
    return count


def run_export(counter: RequestCounter, days: Sequence[date], history_items: int) -> ExportResult:
    """Export each day the analyze phase stored items on; the table also holds the seeded history."""
    from chalicelib.export.day import export_day

    exported = 0
    s3_objects = 0
    with counter.phase_of("export"):
        for day in days:
            manifest = export_day(day)
            exported += int(manifest["counts"]["feedback"])
            s3_objects += len(manifest["files"]) + 1
    return ExportResult(list(days), exported, history_items, s3_objects)


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Add the block's wall-clock seconds to `timings[name]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


@dataclass
class PipelineResult:
    counter: RequestCounter
    ack: AckResult
    analyze: AnalyzeResult
    export: ExportResult
    webhook: WebhookAckResult
    timings: dict[str, float]


def run_pipeline(items: int, history: int) -> PipelineResult:
    """The in-process run: moto for DynamoDB/SQS/S3/SSM, the counter on the default boto3 session."""
    prepare_environment()
    # moto adds its before-send handler to botocore's built-in handlers when imported: import it before the
    # session (and so every client) exists.
    import boto3
    from moto import mock_aws

    counter = RequestCounter(stubbed_services={"comprehend"})
    timings: dict[str, float] = {}
    with mock_aws():
        # mock_aws replaces boto3.DEFAULT_SESSION with None on start: the session is created inside it.
        boto3.setup_default_session()
        counter.attach(boto3.DEFAULT_SESSION.events)
        with timed(timings, "provision"):
            queue_url = provision_stack()
        with timed(timings, "ack"):
            ack = run_ack(counter, synthetic_responses(items))
        # Items are stored with the UTC time of their analysis: export every day the analyze phase touched.
        started = datetime.now(UTC).date()
        with timed(timings, "analyze"):
            analyze = run_analyze(counter, queue_url)
        days = sorted({started, datetime.now(UTC).date()})
        with timed(timings, "seed history"):
            seeded = seed_history(history, days)
        with timed(timings, "export"):
            export = run_export(counter, days, seeded)
        with timed(timings, "webhook ack"):
            webhook = run_webhook_ack(counter, queue_url, WEBHOOK_DELIVERIES)
    reset_process_caches()
    return PipelineResult(counter, ack, analyze, export, webhook, timings)


# ----------------------------------------------------------------------------------------------------
# Import time


IMPORT_PROBE = (
    "import time; t = time.perf_counter(); import {modules}; print('BENCH', time.perf_counter() - t)"
)


def _run_python(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **BENCH_ENVIRONMENT}
    return subprocess.run(  # noqa: S603 - our own interpreter with fixed arguments
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=True
    )


def time_import(modules: str) -> float:
    """Seconds `import <modules>` takes in a fresh interpreter (interpreter start-up excluded)."""
    output = _run_python(["-c", IMPORT_PROBE.format(modules=modules)]).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return float(line.split()[1])


def heaviest_app_imports(limit: int = 6) -> list[tuple[str, float]]:
    """Top-level packages `import app` adds after chalice and boto3, by self time (ms, `-X importtime`)."""
    stderr = _run_python(["-X", "importtime", "-c", "import chalice, boto3; import app"]).stderr
    totals: Counter[str] = Counter()
    in_app = False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        module = name.strip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth == 0 and module == "boto3":
            in_app = True
            continue
        if in_app:
            totals[module.split(".")[0]] += int(self_us)
    return [(package, us / 1000) for package, us in totals.most_common(limit)]


def measure_imports(runs: int) -> ImportResult:
    """Median of `runs` fresh-interpreter imports each of `app` and of bare `chalice, boto3`, interleaved."""
    time_import("app")  # warm the bytecode caches once
    app_times, bare_times = [], []
    for _ in range(runs):
        bare_times.append(time_import("chalice, boto3"))
        app_times.append(time_import("app"))
    return ImportResult(
        app_ms=statistics.median(app_times) * 1000,
        bare_ms=statistics.median(bare_times) * 1000,
        runs=runs,
        heaviest=heaviest_app_imports(),
    )


# ----------------------------------------------------------------------------------------------------
# Targets and report


@dataclass(frozen=True)
class Check:
    name: str
    measured: str
    target: str
    ok: bool


def per_thousand(count: float, items: int) -> float:
    """`count` scaled to PER items."""
    return count * PER / items


def service_total(requests: Counter[Key], service: str, operations: Iterable[str] | None = None) -> int:
    """Requests to one service (optionally only some operations)."""
    wanted = None if operations is None else set(operations)
    return sum(n for (svc, op), n in requests.items() if svc == service and (wanted is None or op in wanted))


def checks(result: BenchResult) -> list[Check]:
    """Every target with its measured value."""
    counter, items = result.counter, result.items
    analyze = counter.requests("analyze")
    comprehend = per_thousand(service_total(analyze, "comprehend"), items)
    writes = per_thousand(service_total(analyze, "dynamodb", DYNAMODB_WRITE_OPERATIONS), items)
    export = result.export
    reads_per_item = counter.items_scanned["export"] / max(1, export.exported)
    scans = sum(service_total(counter.requests(phase), "dynamodb", {"Scan"}) for phase in counter.calls)
    ack = result.ack
    unsent = counter.unsent_calls()
    return [
        Check(
            "counter: every moto-backed API call seen as an HTTP request",
            "yes" if not unsent else "; ".join(unsent),
            "yes",
            not unsent,
        ),
        Check(
            "ack: AWS requests per submission after the first load",
            f"{ack.per_submission_after_first:.3f}",
            f"= {TARGET_ACK_REQUESTS_PER_SUBMISSION:g}",
            ack.per_submission_after_first == TARGET_ACK_REQUESTS_PER_SUBMISSION,
        ),
        Check(
            "ack: submissions accepted (202)",
            f"{ack.accepted}/{ack.submissions}",
            "all",
            ack.accepted == items,
        ),
        Check(
            "analyze: Comprehend requests per 1,000 single-language items",
            f"{comprehend:.0f}",
            f"≤ {TARGET_COMPREHEND_REQUESTS_PER_1000}",
            comprehend <= TARGET_COMPREHEND_REQUESTS_PER_1000,
        ),
        Check(
            "analyze: Comprehend API-limit violations",
            str(len(result.analyze.usage.violations)),
            "0",
            not result.analyze.usage.violations,
        ),
        Check(
            "analyze: DynamoDB write requests per 1,000 items",
            f"{writes:.0f}",
            f"≤ {TARGET_DYNAMODB_WRITES_PER_1000}",
            writes <= TARGET_DYNAMODB_WRITES_PER_1000,
        ),
        Check(
            "analyze: records failed",
            str(result.analyze.failed),
            "0",
            result.analyze.failed == 0 and result.analyze.received == items,
        ),
        Check("export: items exported", str(export.exported), f"= {items}", export.exported == items),
        Check(
            "export: DynamoDB items read per exported item",
            f"{reads_per_item:.3f}",
            f"= {TARGET_EXPORT_READS_PER_ITEM:g}",
            reads_per_item == TARGET_EXPORT_READS_PER_ITEM,
        ),
        Check("all phases: DynamoDB Scan requests", str(scans), "0", scans == 0),
        Check(
            f"webhook ack: AWS requests per Meta delivery of {result.webhook.events_per_delivery} events "
            "after the first load",
            f"{result.webhook.per_delivery_after_first:.3f}",
            f"= {TARGET_WEBHOOK_REQUESTS_PER_DELIVERY:g}",
            result.webhook.per_delivery_after_first == TARGET_WEBHOOK_REQUESTS_PER_DELIVERY,
        ),
        Check(
            "webhook ack: deliveries accepted, events queued",
            f"{result.webhook.accepted}/{result.webhook.deliveries}, {result.webhook.events_queued:,}",
            f"all, {result.webhook.deliveries * result.webhook.events_per_delivery:,}",
            result.webhook.accepted == result.webhook.deliveries
            and result.webhook.events_queued
            == result.webhook.deliveries * result.webhook.events_per_delivery,
        ),
    ]


def _requests_table(counter: RequestCounter, items: int) -> list[str]:
    phases = [
        ("ack", "ack (form POST, chalice.test.Client)"),
        ("analyze-poller", "analyze: event source (SQS poller, what Lambda's ESM does)"),
        ("analyze", "analyze: handler"),
        ("export", "export (one day)"),
    ]
    lines = [
        "| phase | service | operation | requests | per 1,000 items |",
        "|---|---|---|---:|---:|",
    ]
    for phase, label in phases:
        for (service, operation), count in sorted(counter.requests(phase).items()):
            lines.append(
                f"| {label} | {service} | {operation} | {count} | {per_thousand(count, items):.1f} |"
            )
    retries = sum(counter.retries(phase) for phase, _ in phases)
    lines.append("")
    lines.append(f"HTTP retries by botocore across all phases: {retries}.")
    return lines


def _comprehend_section(result: BenchResult) -> list[str]:
    usage, items = result.analyze.usage, result.items
    requests = result.counter.requests("analyze")
    lines = [
        "| request type | requests | documents | billed units | units per 1,000 items "
        "| docs at the 3-unit minimum |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for operation in sorted(usage.documents):
        lines.append(
            f"| {operation} | {requests[('comprehend', operation)]} | {usage.documents[operation]} "
            f"| {usage.units[operation]} | {per_thousand(usage.units[operation], items):.0f} "
            f"| {usage.minimum_charged[operation]} |"
        )
    total = sum(usage.units.values())
    invocations = result.analyze.invocations
    lines += [
        "",
        f"Total billed units: {total} ({per_thousand(total, items):.0f} per 1,000 items). "
        f"Analyze invocations: {len(invocations)}, records per invocation: "
        f"min {min(invocations, default=0)}, max {max(invocations, default=0)}, "
        f"mean {statistics.fmean(invocations or [0]):.1f}.",
    ]
    if usage.violations:
        lines += ["", "API-limit violations:", *[f"- {v}" for v in usage.violations[:20]]]
    return lines


def _export_section(result: BenchResult) -> list[str]:
    counter, export = result.counter, result.export
    requests = counter.requests("export")
    queries = service_total(requests, "dynamodb", {"Query"})
    s3 = service_total(requests, "s3")
    scanned, returned = counter.items_scanned["export"], counter.items_returned["export"]
    per_item = scanned / max(1, export.exported)
    return [
        f"- Day(s) exported: {', '.join(d.isoformat() for d in export.days)}; the table also held "
        f"{export.history_items:,} items of 30 other days (seeded directly, not counted).",
        f"- Items exported: {export.exported}; DynamoDB Query requests: {queries}; "
        f"items read (sum of ScannedCount): {scanned} (Count: {returned}) → {per_item:.3f} "
        "per exported item.",
        f"- S3 requests: {s3} for {export.s3_objects} objects; Scan requests: "
        f"{service_total(requests, 'dynamodb', {'Scan'})}.",
    ]


def _imports_section(imports: ImportResult) -> list[str]:
    heaviest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports.heaviest)
    return [
        f"- `import app`: {imports.app_ms:.0f} ms; bare `import chalice, boto3`: {imports.bare_ms:.0f} ms "
        f"(medians of {imports.runs} fresh interpreters each) → **ratio {imports.ratio:.2f}**.",
        f"- Largest self-time contributors `import app` adds on top of chalice and boto3 (`-X importtime`, "
        f"one run): {heaviest}.",
    ]


def render(result: BenchResult, command: str) -> str:
    """BENCHMARKS.md."""
    results = checks(result)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = _versions()
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` (`make bench`) on {now}; {result.items:,} synthetic form responses; "
        f"Python {platform.python_version()}, {versions}; run took {result.seconds:.0f} s "
        f"({_format_timings(result.timings)}; in-process moto, not AWS latency).",
        "",
        "## Targets",
        "",
        "| figure | measured | target | |",
        "|---|---:|---:|---|",
        *[f"| {c.name} | {c.measured} | {c.target} | {'ok' if c.ok else '**MISSED**'} |" for c in results],
        "",
        "## AWS requests per phase",
        "",
        f"Ack: the first submission made {sum(result.ack.first.values())} requests "
        f"({_format_keys(result.ack.first)}): the form config is loaded once and then served from memory; "
        f"all {result.ack.submissions:,} submissions made {sum(result.ack.total.values())}.",
        "",
        f"Webhook ack: {result.webhook.deliveries} signed Meta deliveries, each batching "
        f"{result.webhook.events_per_delivery} events ({META_ENTRIES} entries, each "
        f"{META_COMMENTS} Page comments and {META_MESSAGES} Messenger messages), "
        f"POSTed to a `meta` source. The first made {sum(result.webhook.first.values())} requests "
        f"({_format_keys(result.webhook.first)}): the source and its secrets are loaded once and then served "
        f"from memory; all {result.webhook.deliveries} made {sum(result.webhook.total.values())}.",
        *_emf_note(result.emf_lines),
        "",
        *_requests_table(result.counter, result.items),
        "",
        "## Comprehend billed units",
        "",
        *_comprehend_section(result),
        "",
        "## Export",
        "",
        *_export_section(result),
        "",
        "## Import time (cold-start proxy)",
        "",
        *_imports_section(result.imports),
        "",
        "## How measured",
        "",
        HOW_MEASURED.format(history=result.export.history_items),
        "",
    ]
    return "\n".join(lines)


HOW_MEASURED = """\
Everything runs in one process with moto's `mock_aws` standing in for DynamoDB, SQS, S3 and SSM, through
the app's own code: form responses are POSTed through `chalice.test.Client`; the ingest queue is drained
by `chalicelib.local.lambda_runtime.SqsPoller` in batches of 25 into
`chalicelib.processing.handle_sqs_batch` with a `ComprehendAnalyzer` whose client is wrapped in a botocore
`Stubber` (each call's response is queued from a `provide-client-params` hook with `expected_params` equal
to the call's parameters, so the Stubber validates requests and responses against the Comprehend API
model; the hook also enforces the documented limits of 25 documents and 5,000 bytes per document); the day
export runs `export_day` after {history:,} items of other days were written straight to the table.
Requests are counted by hooks registered on the default boto3 session before any client exists:
`before-send` (one per HTTP request, botocore retries included) for the moto-backed services, and
`before-call` (one per API call) for Comprehend, whose calls the Stubber answers before any HTTP request
is built. Items read are the sum of `ScannedCount` over the export's Query responses (`after-call` hook).
Comprehend units are computed per document sent, per request type: 100 characters a unit, 3 units minimum.
Import times are medians of fresh interpreters timing only the import statement (`time.perf_counter`
around it), interleaved, after one warm-up run. Setup and seeding requests are not counted. Figures are
request counts, not latency: moto in process says nothing about AWS latency."""


def _emf_note(emf_lines: int) -> list[str]:
    if not emf_lines:
        return []
    return [
        "",
        f"Note: the app printed {emf_lines} CloudWatch EMF metric blob(s) to stdout during the run although "
        "POWERTOOLS_METRICS_DISABLED=true (Powertools' automatic flush at 100 values of one metric ignores "
        "that switch); they were kept out of this report.",
    ]


def _format_timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())


def _format_keys(requests: Counter[Key]) -> str:
    return ", ".join(f"{service} {operation}: {n}" for (service, operation), n in sorted(requests.items()))


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in ("boto3", "botocore", "moto", "chalice"))


# ----------------------------------------------------------------------------------------------------
# Entry point


def run(items: int, history: int, import_runs: int) -> BenchResult:
    """The whole bench; what the app prints to stdout meanwhile (EMF metric blobs) stays out of the report."""
    started = time.perf_counter()
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        pipeline = run_pipeline(items, history)
    emf_lines = sum(1 for line in captured.getvalue().splitlines() if line.startswith('{"_aws"'))
    with timed(pipeline.timings, "import timing"):
        imports = measure_imports(import_runs)
    return BenchResult(
        items=items,
        counter=pipeline.counter,
        ack=pipeline.ack,
        analyze=pipeline.analyze,
        export=pipeline.export,
        webhook=pipeline.webhook,
        imports=imports,
        seconds=time.perf_counter() - started,
        timings=pipeline.timings,
        emf_lines=emf_lines,
    )


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Run, print the report, optionally write it; 1 if any target is missed."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="form responses to push through")
    parser.add_argument("--history", type=int, default=10_000, help="items of other days in the table")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import timing")
    parser.add_argument("--write", type=Path, help="write the report to this markdown file")
    args = parser.parse_args(argv)

    result = run(args.items, args.history, args.import_runs)
    command = "python -m tools.bench" + (f" --write {args.write}" if args.write else "")
    report = render(result, command)
    out(report)
    if args.write:
        args.write.write_text(report, encoding="utf-8")
    missed = [c for c in checks(result) if not c.ok]
    for check in missed:
        out(f"TARGET MISSED: {check.name}: measured {check.measured}, target {check.target}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
