"""The main run, in process: ack, analyze, export and webhook ack against moto, each phase counted."""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tools.bench import language_mix
from tools.bench.bedrock import BedrockUsage, run_bedrock
from tools.bench.capacity import CapacityTally, Inventory, bucket_bytes, global_index_keys, take_inventory
from tools.bench.comprehend import ComprehendResponder, ComprehendUsage, PiiTally, TallyingRedactor
from tools.bench.counting import Key, RequestCounter
from tools.bench.language_quality import DetectionTally, TallyingDetector
from tools.bench.moto_speedups import one_rollback_copy_per_transaction
from tools.bench.stack import (
    PROJECT_DIR,
    prepare_environment,
    provision_stack,
    reset_process_caches,
    write_items,
)
from tools.bench.synthetic import (
    BENCH_PAGE_ID,
    META_COMMENTS,
    META_ENTRIES,
    META_MESSAGES,
    distinct_emails,
    meta_delivery,
    synthetic_comment,
    synthetic_responses,
)

WEBHOOK_DELIVERIES = 50  # signed Meta deliveries the webhook ack phase POSTs
# Export scale: items of other days in the table (ten times the previous 10,000).
HISTORY_ITEMS = 100_000
QUICK_HISTORY_ITEMS = 10_000


@dataclass
class AckResult:
    submissions: int
    accepted: int
    first: Counter[Key]
    total: Counter[Key]
    seconds: float = 0.0  # wall clock of the submissions, AWS calls included
    mix: str = ""  # the language evidence the comments arrived with (language_mix.mix_line)

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
    pii: PiiTally = field(default_factory=PiiTally)
    language: DetectionTally = field(default_factory=DetectionTally)  # local detection's answers
    # Responses with an email and distinct emails among them (what customer resolution should create).
    emails: int = 0
    distinct_emails: int = 0
    # Items in the table by record_type right after the analyze phase (an uncounted Scan).
    record_types: Counter[str] = field(default_factory=Counter)
    handler_seconds: float = 0.0  # wall clock inside the handler, AWS calls included
    # The same comments, in the same batches, through the Bedrock backend (stubbed), per mode.
    bedrock: dict[str, BedrockUsage] = field(default_factory=dict)


@dataclass
class ExportResult:
    days: list[date]
    exported: int
    history_items: int
    s3_objects: int
    counts: Counter[str] = field(default_factory=Counter)  # the manifests' counts, summed over the days
    seconds: float = 0.0
    s3_bytes: int = 0  # bytes of the objects the export wrote (listed after it, not counted)


def run_ack(counter: RequestCounter, responses: Sequence[dict[str, Any]]) -> AckResult:
    """POST every response to the demo form (or the one with a default language, with or without the
    browser's Accept-Language: tools/bench/language_mix.py) through chalice.test.Client, counting the ack
    path's requests."""
    from chalice.test import Client

    sys.path.insert(0, str(PROJECT_DIR))
    from app import app

    contexts = language_mix.ack_contexts(len(responses))
    language_mix.save_default_language_form()
    accepted = 0
    first: Counter[Key] = Counter()
    started = time.perf_counter()
    with Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)) as client, counter.phase_of("ack"):
        for index, (body, context) in enumerate(zip(responses, contexts, strict=True)):
            path, payload = f"/forms/{context.form_id}/responses", json.dumps(body).encode()
            response = client.http.post(path, headers=context.headers(), body=payload)
            accepted += response.status_code == 202
            if index == 0:
                first = counter.requests("ack").copy()
    seconds = time.perf_counter() - started
    mix = language_mix.mix_line(responses, contexts)
    return AckResult(len(responses), accepted, first, counter.requests("ack"), seconds, mix)


def run_webhook_ack(counter: RequestCounter, queue_url: str, deliveries: int) -> WebhookAckResult:
    """POST signed multi-event Meta deliveries to a `meta` source, counting the ack path's requests."""
    from chalice.test import Client

    from app import app
    from chalicelib import aws
    from chalicelib.channels import sources
    from chalicelib.channels.meta import MetaChannel

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
            signed = MetaChannel().sign(body, {"app_secret": app_secret}, datetime.now(UTC))
            headers = {"content-type": "application/json", **signed.headers}
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
    """Drain the queue in Lambda-sized batches (ANALYZE_BATCH_SIZE) into the analyze handler with a stubbed
    Comprehend, for both the analyzer and the PII redactor (so nothing reaches AWS)."""
    import boto3

    from chalicelib.analysis.comprehend import ComprehendAnalyzer
    from chalicelib.analysis.redaction import ComprehendPiiRedactor
    from chalicelib.ingest import ANALYZE_BATCH_SIZE
    from chalicelib.ingest.processing import handle_sqs_batch
    from chalicelib.local.lambda_runtime import SqsPoller

    comprehend = boto3.client("comprehend", region_name="us-east-1")
    detector = TallyingDetector()
    # One request at a time (both): the responder queues answers in a Stubber, which answers in call order.
    analyzer = ComprehendAnalyzer(client=comprehend, detect_language=detector, workers=1)
    redactor = TallyingRedactor(ComprehendPiiRedactor(client=comprehend, workers=1))
    invocations: list[int] = []
    inside: list[float] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        invocations.append(len(event["Records"]))
        started = time.perf_counter()
        try:
            with counter.phase_of("analyze"):
                return handle_sqs_batch(event, context, analyzer=analyzer, redactor=redactor)
        finally:
            inside.append(time.perf_counter() - started)

    with ComprehendResponder(comprehend) as responder, counter.phase_of("analyze-poller"):
        totals = SqsPoller(queue_url, handler, batch_size=ANALYZE_BATCH_SIZE, wait_seconds=1).drain()
    return AnalyzeResult(
        invocations,
        totals.received,
        totals.failed,
        responder.usage,
        redactor.tally,
        language=detector.tally,
        handler_seconds=sum(inside),
    )


def comment_batches(
    responses: Sequence[dict[str, Any]], sizes: Sequence[int]
) -> list[list[tuple[str, str, str | None]]]:
    """The responses' comments (key, text, language) in batches of the sizes the analyze phase received."""
    documents = [(r["response_id"], r.get("comment", ""), r.get("language")) for r in responses]
    batches, start = [], 0
    for size in sizes:
        batches.append(documents[start : start + size])
        start += size
    if start < len(documents):
        batches.append(documents[start:])
    return batches


def seed_history(count: int, exclude: Iterable[date], seed: int = 11) -> int:
    """Write `count` stored form responses spread over the 30 days before the bench's days, in
    BatchWriteItem requests (not counted)."""
    from chalicelib.models import Analysis, Channel, FeedbackEvent, Kind, Sentiment, StoredFeedback
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
        items.append(feedback_store.to_item(StoredFeedback.from_event(event, analysis, stored_at)))
    write_items(items)
    return count


def export_days(days: Sequence[date]) -> tuple[int, int, Counter[str]]:
    """export_day for each day: (feedback exported, S3 objects written, manifest counts summed)."""
    from chalicelib.export.day import export_day

    exported = s3_objects = 0
    counts: Counter[str] = Counter()
    for day in days:
        manifest = export_day(day)
        counts.update({name: int(n) for name, n in manifest.get("counts", {}).items()})
        exported += int(manifest["counts"]["feedback"])
        s3_objects += len(manifest.get("files", [])) + 1  # the files the manifest lists, and itself
    return exported, s3_objects, counts


def run_export(counter: RequestCounter, days: Sequence[date], history_items: int) -> ExportResult:
    """Export each day the analyze phase stored items on; the table also holds the seeded history."""
    started = time.perf_counter()
    with counter.phase_of("export"):
        exported, s3_objects, counts = export_days(days)
    return ExportResult(
        list(days), exported, history_items, s3_objects, counts, time.perf_counter() - started
    )


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
    table_copies: Counter[str] = field(default_factory=Counter)  # moto's rollback copies: made, saved
    capacity: CapacityTally | None = None
    inventory: Inventory | None = None


def run_pipeline(items: int, history: int) -> PipelineResult:
    """The in-process run: moto for DynamoDB/SQS/S3/SSM, the counter on the default boto3 session."""
    prepare_environment()
    # moto adds its before-send handler to botocore's built-in handlers when imported: import it before the
    # session (and so every client) exists.
    import boto3
    from moto import mock_aws

    counter = RequestCounter(stubbed_services={"comprehend"})
    capacity = CapacityTally(counter, global_index_keys())
    timings: dict[str, float] = {}
    responses = synthetic_responses(items)
    with mock_aws(), one_rollback_copy_per_transaction() as copies:
        # mock_aws replaces boto3.DEFAULT_SESSION with None on start: the session is created inside it.
        boto3.setup_default_session()
        counter.attach(boto3.DEFAULT_SESSION.events)
        capacity.attach(boto3.DEFAULT_SESSION.events)
        with timed(timings, "provision"):
            queue_url = provision_stack()
        with timed(timings, "ack"):
            ack = run_ack(counter, responses)
        # Items are stored with the UTC time of their analysis: export every day the analyze phase touched.
        started = datetime.now(UTC).date()
        with timed(timings, "analyze"):
            analyze = run_analyze(counter, queue_url)
        analyze.emails, analyze.distinct_emails = distinct_emails(responses)
        with timed(timings, "bedrock"):
            analyze.bedrock = run_bedrock(comment_batches(responses, analyze.invocations))
        # Before the history exists, and in no phase: the Scan is the bench's, not the app's.
        inventory = take_inventory()
        analyze.record_types = inventory.record_types
        capacity.resolve(inventory.items)
        days = sorted({started, datetime.now(UTC).date()})
        with timed(timings, "seed history"):
            seeded = seed_history(history, days)
        with timed(timings, "export"):
            export = run_export(counter, days, seeded)
        export.s3_bytes = bucket_bytes()
        with timed(timings, "webhook ack"):
            webhook = run_webhook_ack(counter, queue_url, WEBHOOK_DELIVERIES)
    reset_process_caches()
    capacity.resolve(inventory.items)  # anything a later phase updated (nothing, today)
    return PipelineResult(counter, ack, analyze, export, webhook, timings, copies, capacity, inventory)
