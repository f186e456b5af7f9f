"""`python -m tools.bench --write BENCHMARKS.md`: what 1,000 items cost in AWS requests, measured in process.

Synthetic form responses go through the real code paths (ack → analyze → redact → resolve customers →
store → export) against moto (DynamoDB, SQS, S3, SSM) and a botocore `Stubber`-backed Comprehend client.
botocore event hooks count every API call and every HTTP request per phase, service and operation; the
Comprehend stand-in records the billed units of every document it is sent. The day export is measured
with a table holding ten times the previous history, and again on one day of 100,000 stored items (items
per minute, in a worker process running beside the main run). The app's import time is compared with bare
`import chalice, boto3` in fresh interpreters. The bench exits 1 when a target is missed, so a regression is
visible in CI. `--quick` (fewer history items, no 100,000-item run) is for development.

The counting pieces (`RequestCounter`, `billed_units`, `pii_entities`, `ComprehendResponder`,
`TallyingRedactor`) are importable for tests.
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
import re
import statistics
import subprocess
import sys
import tempfile
import threading
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

from tools import cost

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
# DetectPiiEntities: one document per request, English or Spanish only, up to 100 KB of UTF-8.
COMPREHEND_PII_LANGUAGES = frozenset({"en", "es"})
COMPREHEND_PII_MAX_TEXT_BYTES = 100_000
DETECT_LANGUAGE = "BatchDetectDominantLanguage"
DETECT_SENTIMENT = "BatchDetectSentiment"
DETECT_PII = "DetectPiiEntities"
# The issue's Comprehend target is about the batch calls; DetectPiiEntities is reported on its own line.
COMPREHEND_BATCH_OPERATIONS = frozenset({DETECT_LANGUAGE, DETECT_SENTIMENT})
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

# Synthetic input: who writes in and what they write.
EMAIL_SHARE = 0.6  # responses that leave an email address
REPEAT_SHARE = 0.3  # of those, the share written by someone who already wrote in (1,000 → ~420 customers)
PII_COMMENT_SHARE = 0.05  # comments holding the writer's email address or phone number
DIGIT_COMMENT_SHARE = 0.10  # comments holding harmless digits ("3 days", "order #48213")
# Export scale: items of other days in the table (ten times the previous 10,000); the one-day throughput run.
HISTORY_ITEMS = 100_000
QUICK_HISTORY_ITEMS = 10_000
THROUGHPUT_ITEMS = 100_000
THROUGHPUT_CUSTOMER_SHARE = 0.6  # items of the throughput day written by a known customer
THROUGHPUT_ITEMS_PER_CUSTOMER = 4  # 100,000 items → 60,000 with a customer → 15,000 customers
THROUGHPUT_TIMEOUT_SECONDS = 900
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
    * `after-call.dynamodb` reads `ScannedCount`/`Count` of every Query and Scan response (items read
      through a key condition), and the items GetItem/BatchGetItem returned (items fetched by key).
    * `before-call` → `after-call`/`after-call-error`: seconds spent inside API calls per service (for moto,
      the mock's own work), summed over threads.

    Nothing is counted while `phase` is None (setup and seeding).
    """

    def __init__(self, stubbed_services: Iterable[str] = ()) -> None:
        self.stubbed_services = frozenset(stubbed_services)
        self.phase: str | None = None
        self.calls: defaultdict[str, Counter[Key]] = defaultdict(Counter)
        self.sends: defaultdict[str, Counter[Key]] = defaultdict(Counter)
        self.items_scanned: Counter[str] = Counter()
        self.items_returned: Counter[str] = Counter()
        self.items_got: Counter[str] = Counter()
        self.seconds: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._started = threading.local()

    def attach(self, events: Any) -> None:
        """Register on a session's (or client's) event system; clients created afterwards inherit it."""
        suffix = str(id(self))
        # Registered at full depth and first: botocore calls handlers of deeper event names before shallower
        # ones, and `before-call` stops at the first handler that answers (a Stubber's, on `before-call.*.*`).
        events.register_first("before-call.*.*", self._on_call, unique_id=f"bench-call-{suffix}")
        events.register_first("before-send.*.*", self._on_send, unique_id=f"bench-send-{suffix}")
        events.register("after-call.dynamodb.*", self._on_dynamodb_result, unique_id=f"bench-read-{suffix}")
        events.register("after-call.*.*", self._on_call_end, unique_id=f"bench-end-{suffix}")
        events.register("after-call-error.*.*", self._on_call_end, unique_id=f"bench-error-{suffix}")

    @contextmanager
    def phase_of(self, phase: str | None) -> Iterator[None]:
        """Attribute every request made inside the block to `phase` (None: count nothing)."""
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous

    def _starts(self) -> list[float]:
        starts = getattr(self._started, "stack", None)
        if starts is None:
            starts = self._started.stack = []
        return starts

    def _on_call(self, event_name: str, **kwargs: Any) -> None:
        if self.phase is not None:
            self.calls[self.phase][event_key(event_name)] += 1
            self._starts().append(time.perf_counter())

    def _on_call_end(self, event_name: str, **kwargs: Any) -> None:
        # A call that failed before `after-call` (a Stubber refusal) leaves its start below the newer ones;
        # calls do not nest, so the newest start is always the current call's.
        starts = self._starts()
        if self.phase is not None and starts:
            self.seconds[self.phase][event_key(event_name)[0]] += time.perf_counter() - starts.pop()

    def _on_send(self, event_name: str, **kwargs: Any) -> None:
        if self.phase is not None:
            self.sends[self.phase][event_key(event_name)] += 1

    def _on_dynamodb_result(self, event_name: str, parsed: dict[str, Any], **kwargs: Any) -> None:
        if self.phase is None:
            return
        operation = event_key(event_name)[1]
        if operation in {"Query", "Scan"}:
            self.items_scanned[self.phase] += int(parsed.get("ScannedCount", 0))
            self.items_returned[self.phase] += int(parsed.get("Count", 0))
        elif operation == "BatchGetItem":
            self.items_got[self.phase] += sum(len(items) for items in parsed.get("Responses", {}).values())
        elif operation == "GetItem":
            self.items_got[self.phase] += "Item" in parsed

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


ItemKey = tuple[str, str]  # (pk, sk)


@dataclass(frozen=True)
class StoredItem:
    """An item's size in bytes (DynamoDB's rules) and how many global secondary indexes hold it."""

    size: int
    indexes: int


def index_count(item: dict[str, Any], indexes: Sequence[frozenset[str]]) -> int:
    """Global secondary indexes an item (AttributeValue form) is written to: those whose key it carries."""
    return sum(1 for keys in indexes if keys <= item.keys())


class CapacityTally:
    """DynamoDB capacity units as on-demand mode bills them, per phase of a `RequestCounter`, from each
    request's parameters (`provide-client-params`) and response (`after-call`).

    * Writes, in 1 KB units of the item written: `transactional` (inside TransactWriteItems, which AWS bills
      twice) and `standard` (plain writes, and one entry per global secondary index holding the item, whose
      propagation is not transactional). A Put's size is known from the request; an Update's (or a
      ConditionCheck's, or a Delete's) only from the item, so those wait in `pending` until `resolve` is
      given the table's items (sizes after the run: an upper bound for items that grow, like profiles).
    * Reads, in 4 KB units, `eventual` or `strong`: per item for GetItem/BatchGetItem (a key not found costs
      one unit), per page for Query/Scan (the page's items summed, then rounded up).
    """

    def __init__(self, counter: RequestCounter, indexes: Sequence[frozenset[str]]) -> None:
        self.counter = counter
        self.indexes = list(indexes)
        self.write_1kb: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.read_4kb: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.pending: list[tuple[str, str, ItemKey]] = []  # (phase, action, key), sized by `resolve`
        self._lock = threading.Lock()
        self._consistency = threading.local()

    def attach(self, events: Any) -> None:
        """Register on a session's event system (after the counter, whose phase it reads)."""
        suffix = str(id(self))
        events.register("provide-client-params.dynamodb.*", self._on_params, unique_id=f"bench-cap-{suffix}")
        events.register("after-call.dynamodb.*", self._on_result, unique_id=f"bench-cap-end-{suffix}")

    def _write(self, phase: str, item: dict[str, Any], transactional: bool) -> None:
        units = cost.write_units(cost.item_size(item))
        with self._lock:
            self.write_1kb[phase]["transactional" if transactional else "standard"] += units
            self.write_1kb[phase]["standard"] += units * index_count(item, self.indexes)

    def _later(self, phase: str, action: str, key: dict[str, Any]) -> None:
        with self._lock:
            self.pending.append((phase, action, _item_key(key)))

    def _on_params(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        phase = self.counter.phase
        if phase is None:
            return
        operation = model.name
        if operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                (kind, body), *_ = action.items()
                if kind == "Put":
                    self._write(phase, body["Item"], transactional=True)
                else:
                    self._later(phase, f"transactional {kind}", body["Key"])
        elif operation == "BatchWriteItem":
            for request in (r for requests in params.get("RequestItems", {}).values() for r in requests):
                if "PutRequest" in request:
                    self._write(phase, request["PutRequest"]["Item"], transactional=False)
                else:
                    self._later(phase, "Delete", request["DeleteRequest"]["Key"])
        elif operation == "PutItem":
            self._write(phase, params["Item"], transactional=False)
        elif operation in {"UpdateItem", "DeleteItem"}:
            self._later(phase, operation.removesuffix("Item"), params["Key"])
        else:
            self._on_read_params(phase, operation, params)

    def _on_read_params(self, phase: str, operation: str, params: dict[str, Any]) -> None:
        # Keys asked for cost a unit each at least (found items are sized in _on_result).
        specs = params.get("RequestItems", {}).values() if operation == "BatchGetItem" else [params]
        for spec in specs:
            consistency = "strong" if spec.get("ConsistentRead") else "eventual"
            self._consistency.value = consistency
            keys = len(spec.get("Keys", [])) if operation == "BatchGetItem" else int(operation == "GetItem")
            with self._lock:
                self.read_4kb[phase][consistency] += keys

    def _on_result(self, event_name: str, parsed: dict[str, Any], **kwargs: Any) -> None:
        phase = self.counter.phase
        if phase is None:
            return
        operation = event_key(event_name)[1]
        consistency = getattr(self._consistency, "value", "eventual")
        extra = 0
        if operation == "BatchGetItem":
            items = [item for found in parsed.get("Responses", {}).values() for item in found]
            extra = sum(cost.read_units(cost.item_size(item)) - 1 for item in items)
            unprocessed = parsed.get("UnprocessedKeys", {}).values()
            extra -= sum(len(spec.get("Keys", [])) for spec in unprocessed)  # requested again, counted then
        elif operation == "GetItem" and "Item" in parsed:
            extra = cost.read_units(cost.item_size(parsed["Item"])) - 1
        elif operation in {"Query", "Scan"}:
            extra = cost.read_units(sum(cost.item_size(item) for item in parsed.get("Items", [])))
        if extra:
            with self._lock:
                self.read_4kb[phase][consistency] += extra

    def resolve(self, stored: dict[ItemKey, StoredItem]) -> None:
        """Size the pending Updates, ConditionChecks and Deletes from the table's items (`inventory`)."""
        with self._lock:
            pending, self.pending = self.pending, []
        for phase, action, key in pending:
            found = stored.get(key, StoredItem(0, 0))
            units = cost.write_units(found.size)
            transactional = action.startswith("transactional")
            self.write_1kb[phase]["transactional" if transactional else "standard"] += units
            if action.endswith("Update"):
                # An update rewrites the item's entry in every index holding it (projection ALL).
                self.write_1kb[phase]["standard"] += units * found.indexes


def _item_key(key: dict[str, Any]) -> ItemKey:
    from chalicelib.store.schema import PK, SK

    return key[PK]["S"], key[SK]["S"]


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


# What the DetectPiiEntities stand-in finds: email addresses, and phone numbers of 7 to 15 digits.
# Bounded repetitions and anchored starts: linear time even on a 100 KB text.
_PII_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}"
)
_PII_PHONE = re.compile(r"(?<![\w#$€£])\+?\(?[0-9](?:[0-9 ().-]{0,24}[0-9])?(?![\w])")


def pii_entities(text: str) -> list[dict[str, Any]]:
    """DetectPiiEntities' answer for a text: EMAIL and PHONE entities with code-point offsets (end exclusive),
    as Comprehend reports them; anything else is not PII to the stand-in."""
    entities = [
        {"Score": 0.999, "Type": "EMAIL", "BeginOffset": m.start(), "EndOffset": m.end()}
        for m in _PII_EMAIL.finditer(text)
    ]
    taken = [(e["BeginOffset"], e["EndOffset"]) for e in entities]
    for match in _PII_PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match.group(0))
        overlaps = any(match.start() < end and begin < match.end() for begin, end in taken)
        if 7 <= digits <= 15 and not overlaps:
            entities.append(
                {"Score": 0.98, "Type": "PHONE", "BeginOffset": match.start(), "EndOffset": match.end()}
            )
    return sorted(entities, key=lambda entity: entity["BeginOffset"])


@dataclass
class ComprehendUsage:
    """What the Comprehend stand-in was asked, per operation (DetectPiiEntities: one document a request)."""

    documents: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)
    characters: Counter[str] = field(default_factory=Counter)  # characters of the documents sent
    minimum_charged: Counter[str] = field(default_factory=Counter)
    entities: Counter[str] = field(default_factory=Counter)  # DetectPiiEntities answers, by entity type
    violations: list[str] = field(default_factory=list)


class ComprehendResponder:
    """Answers every call of a Comprehend client through a botocore `Stubber`, whatever the request holds.

    On `provide-client-params.comprehend` (before the parameters are validated against the API model) it
    checks the documented limits, records each document's billed units, and queues the matching response
    with `expected_params` equal to the call's parameters; the Stubber then validates the request and the
    response against the model and serves it. BatchDetectDominantLanguage answers "en" (0.99);
    BatchDetectSentiment answers a sentiment chosen from each text's keywords; DetectPiiEntities answers
    the emails and phone numbers `pii_entities` finds in the text (often none).
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
        texts = [params.get("Text", "")] if operation == DETECT_PII else list(params.get("TextList", []))
        self._check_limits(operation, params, texts)
        self._record_units(operation, texts)
        response = self._response(operation, texts)
        if response is not None:
            self.stubber.add_response(xform_name(operation), response, expected_params=copy.deepcopy(params))

    def _check_limits(self, operation: str, params: dict[str, Any], texts: Sequence[str]) -> None:
        usage = self.usage
        language = params.get("LanguageCode")
        if operation == DETECT_PII:
            max_bytes, max_label = COMPREHEND_PII_MAX_TEXT_BYTES, "100,000"
            if language not in COMPREHEND_PII_LANGUAGES:
                usage.violations.append(f"{operation}: unsupported LanguageCode {language!r}")
        else:
            max_bytes, max_label = COMPREHEND_MAX_DOCUMENT_BYTES, "5,000"
            if len(texts) > COMPREHEND_MAX_BATCH:
                usage.violations.append(f"{operation}: {len(texts)} documents in one request (max 25)")
        for text in texts:
            size = len(text.encode("utf-8"))
            if size > max_bytes:
                usage.violations.append(f"{operation}: a {size}-byte document (max {max_label})")
            if not text:
                usage.violations.append(f"{operation}: an empty document")
        if operation == DETECT_SENTIMENT and language not in COMPREHEND_SENTIMENT_LANGUAGES:
            usage.violations.append(f"{operation}: unsupported LanguageCode {language!r}")

    def _record_units(self, operation: str, texts: Sequence[str]) -> None:
        for text in texts:
            units = billed_units(text)
            self.usage.documents[operation] += 1
            self.usage.units[operation] += units
            self.usage.characters[operation] += len(text)
            if text and math.ceil(len(text) / COMPREHEND_UNIT_CHARS) < COMPREHEND_MIN_UNITS:
                self.usage.minimum_charged[operation] += 1

    def _response(self, operation: str, texts: Sequence[str]) -> dict[str, Any] | None:
        if operation == DETECT_LANGUAGE:
            results = [
                {"Index": i, "Languages": [{"LanguageCode": "en", "Score": 0.99}]} for i in range(len(texts))
            ]
            return {"ResultList": results, "ErrorList": []}
        if operation == DETECT_SENTIMENT:
            return {"ResultList": [_sentiment_entry(i, t) for i, t in enumerate(texts)], "ErrorList": []}
        if operation == DETECT_PII:
            entities = pii_entities(texts[0])
            self.usage.entities.update(entity["Type"] for entity in entities)
            return {"Entities": entities}
        # Unknown to the stand-in: no response is queued, so the Stubber refuses the call visibly.
        self.usage.violations.append(f"{operation}: not expected on the analyze path")
        return None


@dataclass
class PiiTally:
    """What the analyze path handed its redactor, and what came back masked."""

    documents: int = 0  # texts handed to the redactor (non-blank texts of forms/sources that redact)
    eligible: int = 0  # of those, English or Spanish: what DetectPiiEntities accepts
    other_language: int = 0  # redacted by patterns only, never sent
    blank: int = 0  # nothing to redact
    redacted: int = 0  # documents that came back with something masked
    types: Counter[str] = field(default_factory=Counter)  # masked entity types, one per document and type


class TallyingRedactor:
    """Hands every document to the real redactor unchanged and tallies languages and outcomes, so the
    report can say how many texts the redactor's pre-filter kept from DetectPiiEntities."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.tally = PiiTally()

    def redact(self, documents: Sequence[Any]) -> dict[str, Any]:
        from chalicelib.analysis.base import primary_language

        for document in documents:
            self.tally.documents += 1
            if not document.text.strip():
                self.tally.blank += 1
            elif primary_language(document.language) in COMPREHEND_PII_LANGUAGES:
                self.tally.eligible += 1
            else:
                self.tally.other_language += 1
        results = self.inner.redact(documents)
        for result in results.values():
            types = getattr(result, "types", None)
            if types:
                self.tally.redacted += 1
                self.tally.types.update(types)
        return results


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


# Appended to some comments: the writer's own contact details (PII), or digits that are not PII.
PII_FRAGMENTS = (
    " You can reach me at {email} if you need the details.",
    " Call me back on +1 415 555 {n4}, any time after 5pm.",
    " My mobile is 07700 900{n3}, text me when it is fixed.",
    " Write to {email} or ring 020 7946 {n4}.",
)
DIGIT_FRAGMENTS = (
    " I waited {n1} days for an answer.",
    " Order #{n5} still shows as pending.",
    " Paid ${n2} for express shipping.",
    " It took {n2} minutes on the phone to sort out.",
    " Second time in {n1} weeks.",
)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        email=f"{rng.choice(['anna.k', 'j.smith', 'maria.g', 'tom_b'])}{rng.randint(1, 99)}@mail.example.org",
        n1=rng.randint(2, 9),
        n2=rng.randint(10, 99),
        n3=rng.randint(100, 999),
        n4=rng.randint(1000, 9999),
        n5=rng.randint(10000, 99999),
    )


def synthetic_comment(rng: random.Random) -> str:
    """A comment of realistic length: mostly one or two sentences, sometimes a long story; a few hold the
    writer's email or phone number (PII_COMMENT_SHARE), some harmless digits (DIGIT_COMMENT_SHARE)."""
    text = rng.choice(OPENINGS)
    roll = rng.random()
    if roll < 0.35:
        text += "."
    else:
        sentences = 1 if roll < 0.8 else rng.randint(3, 12)
        text += "".join(rng.choice(DETAILS) for _ in range(sentences))
    extra = rng.random()
    if extra < PII_COMMENT_SHARE:
        text += _fill(rng.choice(PII_FRAGMENTS), rng)
    elif extra < PII_COMMENT_SHARE + DIGIT_COMMENT_SHARE:
        text += _fill(rng.choice(DIGIT_FRAGMENTS), rng)
    if rng.random() < 0.005:
        # A pasted essay: longer than Comprehend's 5,000-byte limit, so the analyzer must truncate it.
        text = (text + " ") * 40
    return text[:9000]


def synthetic_responses(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Form submissions as the widget sends them: an NPS rating, mostly a comment, sometimes a language,
    and for EMAIL_SHARE of them an email address, REPEAT_SHARE of which someone who wrote in before."""
    rng = random.Random(seed)
    responses = []
    customers: list[int] = []
    for index in range(count):
        body: dict[str, Any] = {"rating": rng.randint(0, 10), "response_id": f"bench-{index:06d}"}
        if rng.random() < 0.9:
            body["comment"] = synthetic_comment(rng)
        if rng.random() < 0.5:
            body["language"] = rng.choice(["en", "en-US", "en-GB"])
        if rng.random() < EMAIL_SHARE:
            if customers and rng.random() < REPEAT_SHARE:
                customer = rng.choice(customers)
            else:
                customer = index
                customers.append(customer)
            body["email"] = f"customer{customer}@example.com"
            body["name"] = f"Customer {customer}"
        body["page_url"] = "https://shop.example.com/checkout/done"
        responses.append(body)
    return responses


def distinct_emails(responses: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(responses with an email, distinct emails, case-insensitive) among form responses."""
    emails = [r["email"].lower() for r in responses if r.get("email")]
    return len(emails), len(set(emails))


# ----------------------------------------------------------------------------------------------------
# The run


@dataclass
class AckResult:
    submissions: int
    accepted: int
    first: Counter[Key]
    total: Counter[Key]
    seconds: float = 0.0  # wall clock of the submissions, AWS calls included

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
    # Responses with an email and distinct emails among them (what customer resolution should create).
    emails: int = 0
    distinct_emails: int = 0
    # Items in the table by record_type right after the analyze phase (an uncounted Scan).
    record_types: Counter[str] = field(default_factory=Counter)
    handler_seconds: float = 0.0  # wall clock inside the handler, AWS calls included


@dataclass
class ExportResult:
    days: list[date]
    exported: int
    history_items: int
    s3_objects: int
    counts: Counter[str] = field(default_factory=Counter)  # the manifests' counts, summed over the days
    seconds: float = 0.0
    s3_bytes: int = 0  # bytes of the objects the export wrote (listed after it, not counted)


@dataclass
class ThroughputResult:
    """The one-day export of `items` stored items, measured in a worker process with its own moto."""

    items: int
    customers: int = 0
    exported: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    s3_objects: int = 0
    seconds: float = 0.0  # wall clock of export_day alone
    seed_seconds: float = 0.0
    table_items: int = 0  # feedback items and profiles seeded
    requests: Counter[Key] = field(default_factory=Counter)
    service_seconds: dict[str, float] = field(default_factory=dict)
    items_scanned: int = 0
    items_returned: int = 0
    items_got: int = 0
    retries: int = 0
    unsent: list[str] = field(default_factory=list)
    fast_encoded: dict[str, int] = field(default_factory=dict)  # responses json.dumps encoded, by operation
    error: str | None = None

    @property
    def items_per_minute(self) -> float:
        return self.exported * 60 / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["requests"] = [[service, operation, n] for (service, operation), n in self.requests.items()]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThroughputResult:
        requests = Counter({(service, operation): n for service, operation, n in data.pop("requests")})
        return cls(**data, requests=requests)


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
    throughput: ThroughputResult | None = None  # None: not run (--quick)
    table_copies: Counter[str] = field(default_factory=Counter)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average when the run started and ended
    capacity: CapacityTally | None = None
    inventory: Inventory | None = None
    pii_quality: PiiQuality | None = None


def prepare_environment() -> None:
    """Set the variables the app reads at import and the fake credentials, before chalicelib is imported."""
    os.environ.update(BENCH_ENVIRONMENT)
    for name in ("AWS_ENDPOINT_URL", "INGEST_QUEUE_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)


def reset_process_caches() -> None:
    """Drop every per-process cache so the app rebuilds settings and clients from the environment."""
    from chalicelib import aws
    from chalicelib.channels import sources
    from chalicelib.config import settings
    from chalicelib.ingest import queue
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
    started = time.perf_counter()
    with Client(app, stage_name="dev", project_dir=str(PROJECT_DIR)) as client, counter.phase_of("ack"):
        for index, body in enumerate(responses):
            response = client.http.post(
                "/forms/demo/responses", headers=headers, body=json.dumps(body).encode()
            )
            accepted += response.status_code == 202
            if index == 0:
                first = counter.requests("ack").copy()
    seconds = time.perf_counter() - started
    return AckResult(len(responses), accepted, first, counter.requests("ack"), seconds)


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
    """Drain the queue in Lambda-sized batches of 25 into the analyze handler with a stubbed Comprehend,
    for both the analyzer and the PII redactor (so nothing reaches AWS)."""
    import boto3

    from chalicelib.analysis.comprehend import ComprehendAnalyzer
    from chalicelib.analysis.pii import ComprehendPiiRedactor
    from chalicelib.ingest.processing import handle_sqs_batch
    from chalicelib.local.lambda_runtime import SqsPoller

    comprehend = boto3.client("comprehend", region_name="us-east-1")
    analyzer = ComprehendAnalyzer(client=comprehend)
    redactor = TallyingRedactor(ComprehendPiiRedactor(client=comprehend))
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
        totals = SqsPoller(queue_url, handler, batch_size=25, wait_seconds=1).drain()
    return AnalyzeResult(
        invocations,
        totals.received,
        totals.failed,
        responder.usage,
        redactor.tally,
        handler_seconds=sum(inside),
    )


def count_record_types() -> Counter[str]:
    """Items in the table by record_type: a paginated Scan, made outside every counted phase."""
    from chalicelib import aws
    from chalicelib.config import settings
    from chalicelib.store.schema import RECORD_TYPE

    found: Counter[str] = Counter()
    paginator = aws.client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(
        TableName=settings().table_name,
        ProjectionExpression="#type",
        ExpressionAttributeNames={"#type": RECORD_TYPE},
    )
    for page in pages:
        found.update(item.get(RECORD_TYPE, {}).get("S", "(none)") for item in page["Items"])
    return found


# Items that grow with feedback (the rest, like forms and sources, are a fixed handful): what storage prices.
STORED_PER_ITEM = frozenset({"FEEDBACK", "IDENTITY", "PROFILE"})


@dataclass
class Inventory:
    """The table after the analyze phase, from one uncounted Scan: items by record_type, each item's size
    and indexes, and the bytes the per-item records (STORED_PER_ITEM) take with DynamoDB's 100-byte overhead
    per item, in the table and in each index holding them."""

    record_types: Counter[str] = field(default_factory=Counter)
    items: dict[ItemKey, StoredItem] = field(default_factory=dict)
    table_bytes: int = 0
    index_bytes: int = 0
    item_bytes: Counter[str] = field(default_factory=Counter)  # item sizes summed by record_type


def global_index_keys() -> list[frozenset[str]]:
    """The key attributes of each global secondary index of the table."""
    from chalicelib.store.schema import GLOBAL_SECONDARY_INDEXES

    return [
        frozenset(element["AttributeName"] for element in index["KeySchema"])
        for index in GLOBAL_SECONDARY_INDEXES
    ]


def take_inventory() -> Inventory:
    """Scan the table (paginated, outside every counted phase) into an `Inventory`."""
    from chalicelib import aws
    from chalicelib.config import settings
    from chalicelib.store.schema import PK, RECORD_TYPE, SK

    indexes = global_index_keys()
    inventory = Inventory()
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=settings().table_name):
        for item in page["Items"]:
            record_type = item.get(RECORD_TYPE, {}).get("S", "(none)")
            size, held = cost.item_size(item), index_count(item, indexes)
            inventory.record_types[record_type] += 1
            inventory.items[(item[PK]["S"], item[SK]["S"])] = StoredItem(size, held)
            if record_type in STORED_PER_ITEM:
                inventory.item_bytes[record_type] += size
                inventory.table_bytes += size + cost.ITEM_OVERHEAD_BYTES
                inventory.index_bytes += held * (size + cost.ITEM_OVERHEAD_BYTES)
    return inventory


def bucket_bytes() -> int:
    """Bytes of every object in the export bucket (listed outside every counted phase)."""
    from chalicelib import aws
    from chalicelib.config import settings

    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=settings().bucket_name)
    return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))


# Channels of the synthetic stored items: (channel, kind, rating scale, weight).
CHANNEL_MIX = (
    ("form", "form_response", "nps", 5),
    ("facebook", "comment", None, 1),
    ("instagram", "comment", None, 1),
    ("messenger", "message", None, 1),
    ("trustpilot", "review", "stars", 1),
    ("zendesk", "message", "csat", 1),
)
LANGUAGE_MIX = (("en", 8), ("es", 1), ("fr", 1))


@dataclass(frozen=True)
class SyntheticCustomer:
    customer_id: str
    email: str
    name: str


def synthetic_customer(number: int) -> SyntheticCustomer:
    """A customer as the analyze path would have created it from their email address."""
    from chalicelib.store.customers import customer_id_for

    email = f"shopper{number}@example.net"
    return SyntheticCustomer(customer_id_for(f"email#{email}"), email, f"Shopper {number}")


def synthetic_stored(
    rng: random.Random, external_id: str, stored_at: datetime, customer: SyntheticCustomer | None = None
) -> Any:
    """A StoredFeedback as the analyze path stores it: a channel from CHANNEL_MIX, a rating on that channel's
    scale, a comment analyzed and redacted (PatternRedactor, as the local stack does), the customer if any."""
    from chalicelib.analysis.pii import PatternRedactor
    from chalicelib.models import Author, FeedbackEvent, SentimentScores, StoredFeedback

    channel, kind, scale, _ = rng.choices(CHANNEL_MIX, weights=[mix[3] for mix in CHANNEL_MIX])[0]
    text = synthetic_comment(rng)
    pii_types: list[str] = []
    if any(char.isdigit() or char == "@" for char in text):
        redaction = PatternRedactor().redact_text(text)
        text, pii_types = redaction.text, redaction.types
    author: dict[str, Any] = {}
    if channel != "form":
        author = {
            "channel_user_id": f"{rng.randrange(10**15, 10**16)}",
            "handle": f"user{rng.randrange(10**6)}",
        }
    if customer is not None:
        author |= {"email": customer.email, "name": customer.name}
    rating = None
    if scale is not None:
        rating = rng.randint(0, 10) if scale == "nps" else rng.randint(1, 5)
    entry = _sentiment_entry(0, text)
    event = FeedbackEvent.create(
        source_id="demo" if channel == "form" else f"demo-{channel}",
        external_id=external_id,
        channel=channel,
        kind=kind,
        text=text,
        language=rng.choices([m[0] for m in LANGUAGE_MIX], weights=[m[1] for m in LANGUAGE_MIX])[0],
        rating=rating,
        rating_scale=scale,
        author=Author(**author),
        occurred_at=stored_at - timedelta(seconds=rng.randint(5, 3600)),
        received_at=stored_at - timedelta(seconds=rng.randint(1, 5)),
        permalink=None if channel == "form" else f"https://{channel}.example.com/p/{external_id}",
    )
    scores = {name.lower(): value for name, value in entry["SentimentScore"].items()}
    return StoredFeedback(
        **event.model_dump(),
        sentiment=entry["Sentiment"],
        sentiment_scores=SentimentScores(**scores),
        analyzer="comprehend",
        analyzed_at=stored_at,
        stored_at=stored_at,
        customer_id=customer.customer_id if customer else None,
        pii_redacted=bool(pii_types),
        pii_types=pii_types,
    )


def profile_item(customer: SyntheticCustomer, items: Sequence[Any], now: datetime) -> dict[str, Any]:
    """The profile item the analyze path's updates would have left for `customer` after `items`."""
    from chalicelib.store.customers import PROFILE, profile_key
    from chalicelib.store.schema import CUSTOMER_PK, CUSTOMER_SK, RECORD_TYPE, customer_partition

    profile: dict[str, Any] = {
        **profile_key(customer.customer_id),
        RECORD_TYPE: PROFILE,
        CUSTOMER_PK: customer_partition(customer.customer_id),
        CUSTOMER_SK: PROFILE,
        "customer_id": customer.customer_id,
        "display_name": customer.name,
        "emails": {customer.email},
        "channels": {str(item.channel) for item in items},
        "first_seen": min(item.occurred_at for item in items).isoformat(),
        "last_seen": max(item.occurred_at for item in items).isoformat(),
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "feedback_count": len(items),
    }
    handles = {item.author.handle for item in items if item.author.handle}
    if handles:
        profile["handles"] = handles
    for item in sorted(items, key=lambda i: i.occurred_at):
        profile[f"channel_{item.channel}"] = profile.get(f"channel_{item.channel}", 0) + 1
        profile[f"sentiment_{item.sentiment}"] = profile.get(f"sentiment_{item.sentiment}", 0) + 1
        profile["sentiment_scored"] = profile.get("sentiment_scored", 0) + 1
        profile["sentiment_score_sum"] = profile.get("sentiment_score_sum", 0) + item.sentiment_score
        if item.rating_scale in ("nps", "csat"):
            scale = str(item.rating_scale)
            profile[f"rating_{scale}_count"] = profile.get(f"rating_{scale}_count", 0) + 1
            profile[f"rating_{scale}_sum"] = profile.get(f"rating_{scale}_sum", 0) + item.rating
            profile[f"latest_{scale}"] = {"rating": item.rating, "at": item.occurred_at.isoformat()}
    return profile


def write_items(items: Sequence[dict[str, Any]], *, direct: bool = False) -> None:
    """Write plain items in primary-key order, outside every counted phase: in BatchWriteItem requests, or
    (`direct`) straight into moto's in-process DynamoDB backend with its own `put_item`.

    The order changes nothing for DynamoDB; moto sorts the whole table by primary key on every Query
    request, which is linear for a table written in key order and O(n log n) otherwise.
    """
    from chalicelib.config import settings
    from chalicelib.store import dynamo
    from chalicelib.store.schema import PK, SK

    ordered = sorted(items, key=lambda item: (item[PK], item[SK]))
    table = settings().table_name
    if not direct:
        dynamo.batch_write(table, [dynamo.put_request(item) for item in ordered])
        return
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import aws

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][aws.client("dynamodb").meta.region_name]
    for item in ordered:
        backend.put_item(table, dynamo.serialize(item))


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


def in_id_order(stored: list[Any]) -> list[Any]:
    """The same items and the same stored times, the times handed out in feedback-id order (each item's
    other timestamps move with its stored time).

    For DynamoDB and the app this is one random day like any other. For moto it means a shard's items come
    out of its primary-key sort already in index order, so the per-page sort of each Query stays linear.
    """
    times = sorted(item.stored_at for item in stored)
    moved = []
    for item, at in zip(sorted(stored, key=lambda i: i.feedback_id), times, strict=True):
        shift = at - item.stored_at
        moved.append(
            item.model_copy(
                update={
                    "stored_at": at,
                    "analyzed_at": item.analyzed_at + shift,
                    "occurred_at": item.occurred_at + shift,
                    "received_at": item.received_at + shift,
                }
            )
        )
    return moved


def seed_day(day: date, count: int, seed: int = 13) -> tuple[int, int]:
    """Write `count` stored items on `day`, THROUGHPUT_CUSTOMER_SHARE of them by known customers (about
    THROUGHPUT_ITEMS_PER_CUSTOMER items each), with those customers' profiles, straight into moto's
    backend (not counted); (items, customers)."""
    from chalicelib.store import feedback as feedback_store

    rng = random.Random(seed)
    customers = [
        synthetic_customer(n)
        for n in range(max(1, round(count * THROUGHPUT_CUSTOMER_SHARE / THROUGHPUT_ITEMS_PER_CUSTOMER)))
    ]
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    stored = []
    for index in range(count):
        stored_at = midnight + timedelta(microseconds=rng.randrange(86_400 * 10**6))
        customer = rng.choice(customers) if rng.random() < THROUGHPUT_CUSTOMER_SHARE else None
        stored.append(synthetic_stored(rng, f"day-{index:06d}", stored_at, customer))
    stored = in_id_order(stored)
    by_customer: defaultdict[str, list[Any]] = defaultdict(list)
    for item in stored:
        if item.customer_id is not None:
            by_customer[item.customer_id].append(item)
    known = {customer.customer_id: customer for customer in customers}
    now = midnight + timedelta(days=1)
    items = [feedback_store.to_item(item) for item in stored]
    items += [profile_item(known[cid], found, now) for cid, found in by_customer.items()]
    write_items(items, direct=True)
    return count, len(by_customer)


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
def one_rollback_copy_per_transaction() -> Iterator[Counter[str]]:
    """Within the block, moto's TransactWriteItems deep-copies each table once per transaction for its
    rollback, instead of once per action; yields the copies made and the copies saved.

    moto 5.2 copies the whole table for every action of a transaction (the loop that builds its backup
    overwrites the same entry each time), so a 50-action transaction against a 2,000-item table copies
    100,000 items, and the analyze phase grows with the square of the run. Nothing changes the table
    between those copies, so one copy is the same backup: what the transaction does, answers and rolls back
    is unchanged.
    """
    import copy as copy_module

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    stock = models.DynamoDBBackend.transact_write_items
    tally: Counter[str] = Counter()

    class OnceCopy:
        """The `copy` module as transact_write_items sees it: tables copied once per call."""

        def __init__(self) -> None:
            self.tables: dict[int, Any] = {}

        def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
            if not isinstance(obj, Table):
                return copy_module.deepcopy(obj, memo)
            if id(obj) in self.tables:
                tally["saved"] += 1
            else:
                tally["made"] += 1
                self.tables[id(obj)] = copy_module.deepcopy(obj, memo)
            return self.tables[id(obj)]

        def __getattr__(self, name: str) -> Any:
            return getattr(copy_module, name)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        models.copy = OnceCopy()  # type: ignore[assignment]
        try:
            return stock(self, transact_items)
        finally:
            models.copy = copy_module

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield tally
    finally:
        models.DynamoDBBackend.transact_write_items = stock  # type: ignore[method-assign]


THROUGHPUT_PHASE = "export throughput"
# Read responses the throughput worker encodes with json.dumps instead of moto's model-driven serializer.
FAST_ENCODED_OPERATIONS = frozenset({"Query", "BatchGetItem"})


@contextmanager
def fast_dynamodb_read_encoding() -> Iterator[Counter[str]]:
    """Within the block, moto encodes Query and BatchGetItem responses with `json.dumps`; yields how many
    responses took that path, by operation.

    moto 5.2's model-driven response serializer walks every AttributeValue of every item through the
    DynamoDB service model: about 3-4 ms per item returned, which would make a 100,000-item export take
    longer than the whole bench may. Those responses are plain DynamoDB JSON already (moto's own
    `dynamo_to_dict` output: {"S": ...}, {"N": "1"}, {"M": {...}} …), so `json.dumps` writes the same
    document; anything it cannot encode (binary values, timestamps) falls back to moto's serializer. Query
    evaluation, pagination, ScannedCount and botocore's parsing of the responses are unchanged.
    """
    from moto.dynamodb.responses import DynamoResult

    stock = DynamoResult.execute_result
    used: Counter[str] = Counter()

    def execute_result(self: Any, context: Any) -> Any:
        operation = context.operation_model.name
        if operation in FAST_ENCODED_OPERATIONS:
            try:
                body = json.dumps(self.result, separators=(",", ":"))
            except TypeError:
                pass
            else:
                used[operation] += 1
                content_type = f"application/x-amz-json-{context.service_model.metadata['jsonVersion']}"
                return 200, {"Content-Type": content_type}, body
        return stock(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    try:
        yield used
    finally:
        DynamoResult.execute_result = stock  # type: ignore[method-assign]


def run_throughput(items: int) -> ThroughputResult:
    """Seed `items` stored items on one day (with customers and profiles) in a fresh moto, then time
    export_day for that day alone, counting its requests."""
    prepare_environment()
    import boto3
    from moto import mock_aws

    counter = RequestCounter()
    result = ThroughputResult(items=items)
    day = datetime.now(UTC).date() - timedelta(days=1)
    with mock_aws():
        boto3.setup_default_session()
        counter.attach(boto3.DEFAULT_SESSION.events)
        provision_stack()
        started = time.perf_counter()
        _, result.customers = seed_day(day, items)
        result.seed_seconds = time.perf_counter() - started
        result.table_items = items + result.customers  # and the demo form: no Scan of 100,000 items in moto
        started = time.perf_counter()
        with fast_dynamodb_read_encoding() as fast, counter.phase_of(THROUGHPUT_PHASE):
            result.exported, result.s3_objects, counts = export_days([day])
        result.seconds = time.perf_counter() - started
        result.fast_encoded = dict(fast)
    reset_process_caches()
    result.counts = dict(counts)
    result.requests = counter.requests(THROUGHPUT_PHASE)
    result.service_seconds = dict(counter.seconds[THROUGHPUT_PHASE])
    result.items_scanned = counter.items_scanned[THROUGHPUT_PHASE]
    result.items_returned = counter.items_returned[THROUGHPUT_PHASE]
    result.items_got = counter.items_got[THROUGHPUT_PHASE]
    result.retries = counter.retries(THROUGHPUT_PHASE)
    result.unsent = counter.unsent_calls()
    return result


def throughput_worker(path: Path, items: int) -> int:
    """`--throughput-worker`: run_throughput in this process, its result as JSON in `path`."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            result = run_throughput(items)
    except Exception as error:  # reported in BENCHMARKS.md as a failed check
        result = ThroughputResult(items=items, error=f"{type(error).__name__}: {error}")
    path.write_text(json.dumps(result.to_json()), encoding="utf-8")
    return 0 if result.error is None else 1


@dataclass
class ThroughputWorker:
    """The throughput run in a child interpreter, beside the main run (2 cores: one each)."""

    items: int
    directory: tempfile.TemporaryDirectory[str] = field(default_factory=tempfile.TemporaryDirectory)
    process: subprocess.Popen[bytes] | None = None

    @property
    def result_path(self) -> Path:
        return Path(self.directory.name) / "throughput.json"

    def start(self) -> ThroughputWorker:
        log = (Path(self.directory.name) / "worker.log").open("wb")
        args = ["-m", "tools.bench", "--throughput-worker", str(self.result_path), "--throughput-items"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter with fixed arguments
            [sys.executable, *args, str(self.items)],
            cwd=PROJECT_DIR,
            env={**os.environ, **BENCH_ENVIRONMENT},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def stop(self) -> None:
        """End the worker (the main run failed or was interrupted) and drop its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.directory.cleanup()

    def result(self, timeout: float = THROUGHPUT_TIMEOUT_SECONDS) -> ThroughputResult:
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return ThroughputResult(items=self.items, error=f"worker still running after {timeout:.0f} s")
        try:
            if self.result_path.exists():
                return ThroughputResult.from_json(json.loads(self.result_path.read_text(encoding="utf-8")))
            log = (Path(self.directory.name) / "worker.log").read_text(encoding="utf-8", errors="replace")
            tail = " | ".join(log.strip().splitlines()[-3:])
            return ThroughputResult(
                items=self.items, error=f"worker exited {self.process.returncode}: {tail}"
            )
        finally:
            self.directory.cleanup()


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


# ----------------------------------------------------------------------------------------------------
# PII redaction quality


@dataclass
class PiiQuality:
    """Both redactors scored on the labelled corpus of tests/fixtures/pii (tools/pii_eval.py)."""

    texts: int
    languages: Counter[str]
    labelled: int
    patterns: Any  # pii_eval.Scores
    comprehend: Any  # pii_eval.Scores, with DetectPiiEntities answered from the labels
    comprehend_requests: int


def measure_pii_quality() -> PiiQuality:
    from tools import pii_eval

    samples = pii_eval.load_corpus()
    comprehend, requests = pii_eval.comprehend_scores(samples)
    return PiiQuality(
        texts=len(samples),
        languages=Counter(sample.language for sample in samples),
        labelled=sum(len(sample.entities) for sample in samples),
        patterns=pii_eval.pattern_scores(samples),
        comprehend=comprehend,
        comprehend_requests=requests,
    )


def _pii_quality_section(quality: PiiQuality | None) -> list[str]:
    from tools import pii_eval

    if quality is None:
        return ["Not measured."]
    languages = ", ".join(f"{language} {n}" for language, n in sorted(quality.languages.items()))
    return [
        f"Both redactors on the labelled corpus of `tests/fixtures/pii` ({quality.texts} hand-written "
        f"feedback texts: {languages}; {quality.labelled} labelled spans of personal data, and texts with "
        'none but plenty of digits and capitalised words: "order 12345", "iPhone 15 Pro", "Sitzplatz 12",'
        ' "via PayPal 2 volte"). A labelled span is **caught** when all its letters and digits are masked'
        " (by any mask), **partly** when some are; recall = caught / labelled. A **false positive** is a "
        "masked span that touches no labelled span; the FP rate is the share of all texts with at least "
        "one, per type. `tests/test_pii_corpus.py` holds the floors; `python -m tools.pii_eval "
        "--mistakes` lists the texts the patterns get wrong. The corpus was written by the same hands as "
        "the patterns: read the figures as a regression baseline, not as the accuracy on real traffic.",
        "",
        "**patterns** (`PatternRedactor`: the local stack, and every language but English and Spanish on "
        "AWS):",
        "",
        *pii_eval.table(quality.patterns),
        "",
        "**comprehend** (`ComprehendPiiRedactor` with its defaults; a `Stubber` answers DetectPiiEntities "
        "with the corpus's own labels, i.e. a perfect model: this measures what surrounds the model "
        "(English and Spanish only, the pre-filter, the types masked by default, the pattern backstop), "
        f"not Comprehend's accuracy, which only AWS can measure; {quality.comprehend_requests} of the "
        f"{quality.texts} texts were sent):",
        "",
        *pii_eval.table(quality.comprehend),
        "",
        "NAME is labelled but left readable by default on both backends (customers name the staff they "
        "praise or blame); NATIONAL_ID and DATE_OF_BIRTH are the pattern redactor's own types (Comprehend "
        "has none), masked by its backstop on the Comprehend path.",
    ]


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
    """Every target with its measured value (and the correctness checks the figures rely on)."""
    counter, items = result.counter, result.items
    analyze = counter.requests("analyze")
    comprehend = per_thousand(service_total(analyze, "comprehend", COMPREHEND_BATCH_OPERATIONS), items)
    writes = per_thousand(service_total(analyze, "dynamodb", DYNAMODB_WRITE_OPERATIONS), items)
    export = result.export
    reads_per_item = counter.items_scanned["export"] / max(1, export.exported)
    scans = sum(service_total(counter.requests(phase), "dynamodb", {"Scan"}) for phase in counter.calls)
    throughput = result.throughput
    if throughput is not None:
        scans += service_total(throughput.requests, "dynamodb", {"Scan"})
    ack = result.ack
    unsent = counter.unsent_calls() + (throughput.unsent if throughput else [])
    found = result.analyze
    profiles, identities = found.record_types["PROFILE"], found.record_types["IDENTITY"]
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
            "analyze: Comprehend batch requests (BatchDetectDominantLanguage + BatchDetectSentiment) "
            "per 1,000 single-language items",
            f"{comprehend:.0f}",
            f"≤ {TARGET_COMPREHEND_REQUESTS_PER_1000}",
            comprehend <= TARGET_COMPREHEND_REQUESTS_PER_1000,
        ),
        Check(
            "analyze: Comprehend API-limit violations (all request types)",
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
        Check(
            "analyze: customer profiles / email identities created (one each per distinct email)",
            f"{profiles} / {identities}",
            f"= {found.distinct_emails} / {found.distinct_emails}",
            profiles == identities == found.distinct_emails,
        ),
        Check("export: items exported", str(export.exported), f"= {items}", export.exported == items),
        Check(
            f"export: DynamoDB items read per exported item, table holding {export.history_items:,} items "
            "of other days",
            f"{reads_per_item:.3f}",
            f"= {TARGET_EXPORT_READS_PER_ITEM:g}",
            reads_per_item == TARGET_EXPORT_READS_PER_ITEM,
        ),
        *throughput_checks(throughput),
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


def throughput_checks(throughput: ThroughputResult | None) -> list[Check]:
    if throughput is None:
        return []
    if throughput.error is not None:
        return [Check(f"export throughput: {throughput.items:,}-item day", throughput.error, "runs", False)]
    per_item = throughput.items_scanned / max(1, throughput.exported)
    return [
        Check(
            f"export throughput: items exported of a {throughput.items:,}-item day",
            f"{throughput.exported:,}",
            f"= {throughput.items:,}",
            throughput.exported == throughput.items,
        ),
        Check(
            f"export throughput: DynamoDB items read per exported item ({throughput.items:,}-item day)",
            f"{per_item:.3f}",
            f"= {TARGET_EXPORT_READS_PER_ITEM:g}",
            per_item == TARGET_EXPORT_READS_PER_ITEM,
        ),
    ]


def figures(result: BenchResult) -> list[tuple[str, str]]:
    """Figures reported without a target: (name, measured)."""
    counter, items, analyze = result.counter, result.items, result.analyze
    requests = counter.requests("analyze")
    pii_requests = requests[("comprehend", DETECT_PII)]
    all_comprehend = service_total(requests, "comprehend")
    units = sum(analyze.usage.units.values())
    sent, tally = analyze.usage.documents[DETECT_PII], analyze.pii
    rows = [
        (
            "analyze: DetectPiiEntities requests per 1,000 items (one request per document sent)",
            f"{per_thousand(pii_requests, items):.0f}",
        ),
        (
            "analyze: PII pre-filter: English/Spanish texts sent to DetectPiiEntities / skipped",
            f"{sent} / {tally.eligible - sent} (of {tally.eligible})",
        ),
        (
            "analyze: all Comprehend requests per 1,000 items (batch calls + DetectPiiEntities)",
            f"{per_thousand(all_comprehend, items):.0f}",
        ),
        (
            "analyze: Comprehend billed units per 1,000 items (all request types)",
            f"{per_thousand(units, items):.0f}",
        ),
        (
            "analyze: DynamoDB BatchGetItem (identity lookups) / TransactWriteItems per 1,000 items",
            f"{per_thousand(requests[('dynamodb', 'BatchGetItem')], items):.0f} / "
            f"{per_thousand(requests[('dynamodb', 'TransactWriteItems')], items):.0f}",
        ),
        (
            "export: items fetched by key (GetItem/BatchGetItem, e.g. profiles) per exported item",
            f"{counter.items_got['export'] / max(1, result.export.exported):.3f}",
        ),
    ]
    throughput = result.throughput
    if throughput is None:
        rows.append(("export throughput", "not run (--quick)"))
    elif throughput.error is None:
        rows.append(
            (
                f"export throughput: items per minute, {throughput.items:,}-item day "
                "(wall clock, moto in process, not AWS)",
                f"{throughput.items_per_minute:,.0f}",
            )
        )
    return rows


PHASES = (
    ("ack", "ack (form POST, chalice.test.Client)"),
    ("analyze-poller", "analyze: event source (SQS poller, what Lambda's ESM does)"),
    ("analyze", "analyze: handler"),
    ("export", "export (one day)"),
)


def _requests_table(counter: RequestCounter, items: int) -> list[str]:
    lines = [
        "| phase | service | operation | requests | per 1,000 items |",
        "|---|---|---|---:|---:|",
    ]
    for phase, label in PHASES:
        for (service, operation), count in sorted(counter.requests(phase).items()):
            lines.append(
                f"| {label} | {service} | {operation} | {count} | {per_thousand(count, items):.1f} |"
            )
    retries = sum(counter.retries(phase) for phase, _ in PHASES)
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
    batch = service_total(requests, "comprehend", COMPREHEND_BATCH_OPERATIONS)
    lines += [
        "",
        f"Total billed units: {total} ({per_thousand(total, items):.0f} per 1,000 items). "
        f"Analyze invocations: {len(invocations)}, records per invocation: "
        f"min {min(invocations, default=0)}, max {max(invocations, default=0)}, "
        f"mean {statistics.fmean(invocations or [0]):.1f}.",
        "",
        f"The ≤ {TARGET_COMPREHEND_REQUESTS_PER_1000} target covers the batch calls "
        f"(BatchDetectDominantLanguage + BatchDetectSentiment): {per_thousand(batch, items):.0f} per 1,000 "
        f"items. DetectPiiEntities has no batch variant and no target: "
        f"**{per_thousand(requests[('comprehend', DETECT_PII)], items):.0f} requests per 1,000 items**, "
        f"on top of those.",
        "",
        *_pii_lines(result),
    ]
    if usage.violations:
        lines += ["", "API-limit violations:", *[f"- {v}" for v in usage.violations[:20]]]
    return lines


def _pii_lines(result: BenchResult) -> list[str]:
    usage, tally = result.analyze.usage, result.analyze.pii
    sent = usage.documents[DETECT_PII]
    entities = ", ".join(f"{name} {n}" for name, n in sorted(usage.entities.items())) or "none"
    masked = ", ".join(f"{name} in {n}" for name, n in sorted(tally.types.items())) or "nothing"
    return [
        f"PII redaction (`ComprehendPiiRedactor` on the stubbed client): {tally.documents} texts handed "
        f"to the redactor, {tally.eligible} of them English or Spanish (the rest: {tally.other_language} in "
        f"other languages, {tally.blank} blank). The pre-filter (a pattern hit, a digit or an '@') **sent "
        f"{sent}** to DetectPiiEntities and **skipped {tally.eligible - sent}**. Entities the stand-in "
        f"answered: {entities}. Texts stored with something masked: {tally.redacted} ({masked}). "
        f"Synthetic comments: {PII_COMMENT_SHARE:.0%} carry the writer's email or phone number, "
        f'{DIGIT_COMMENT_SHARE:.0%} harmless digits ("3 days", "order #48213", "$25").',
    ]


def _customers_section(result: BenchResult) -> list[str]:
    analyze, items = result.analyze, result.items
    requests = result.counter.requests("analyze")
    dynamodb = sorted((op, n) for (service, op), n in requests.items() if service == "dynamodb")
    by_operation = ", ".join(f"{op} {n} ({per_thousand(n, items):.0f} per 1,000)" for op, n in dynamodb)
    types = ", ".join(f"{name} {n}" for name, n in sorted(analyze.record_types.items()))
    return [
        f"- Responses with an email: {analyze.emails} of {items} ({analyze.emails / max(1, items):.0%}), "
        f"from {analyze.distinct_emails} distinct addresses: {analyze.emails - analyze.distinct_emails} "
        "responses came from someone who had written in before.",
        f"- Analyze handler's DynamoDB requests by operation: {by_operation or 'none'}. BatchGetItem looks "
        "up the batch's identities; TransactWriteItems carries feedback puts, new identities and profile "
        "updates together.",
        f"- Items in the table by record_type after the analyze phase (one uncounted Scan): {types}.",
    ]


def _export_section(result: BenchResult) -> list[str]:
    counter, export = result.counter, result.export
    requests = counter.requests("export")
    queries = service_total(requests, "dynamodb", {"Query"})
    s3 = service_total(requests, "s3")
    scanned, returned = counter.items_scanned["export"], counter.items_returned["export"]
    per_item = scanned / max(1, export.exported)
    counts = ", ".join(f"{name} {n}" for name, n in sorted(export.counts.items()))
    return [
        f"- Day(s) exported: {', '.join(d.isoformat() for d in export.days)}; the table also held "
        f"{export.history_items:,} items of 30 other days (written before the export in BatchWriteItem "
        "requests, not counted).",
        f"- Items exported: {export.exported}; manifest counts: {counts}; DynamoDB requests: "
        f"{_format_operations(requests, 'dynamodb')}.",
        f"- Items read through the per-day index (sum of Query ScannedCount): {scanned} (Count: {returned}) "
        f"→ {per_item:.3f} per exported item, in {queries} Query requests. Items fetched by key "
        f"(GetItem/BatchGetItem, the day's customers' profiles): {counter.items_got['export']}.",
        f"- S3 requests: {s3} ({_format_operations(requests, 's3')}) for {export.s3_objects} objects "
        f"(the manifest's files and the manifest); Scan requests: "
        f"{service_total(requests, 'dynamodb', {'Scan'})}. Export wall clock: {export.seconds:.1f} s.",
    ]


def _throughput_section(throughput: ThroughputResult | None) -> list[str]:
    if throughput is None:
        return ["Not run (`--quick`)."]
    if throughput.error is not None:
        return [f"The worker failed: {throughput.error}"]
    requests = throughput.requests
    per_item = throughput.items_scanned / max(1, throughput.exported)
    counts = ", ".join(f"{name} {n:,}" for name, n in sorted(throughput.counts.items()))
    inside = ", ".join(
        f"{service} {seconds:.0f} s" for service, seconds in sorted(throughput.service_seconds.items())
    )
    fast = ", ".join(f"{op} {n}" for op, n in sorted(throughput.fast_encoded.items())) or "none"
    lines = [
        f"One UTC day holding {throughput.items:,} stored items (channels, ratings, languages, sentiment "
        f"scores and redaction flags as the analyze path stores them; {THROUGHPUT_CUSTOMER_SHARE:.0%} by "
        f"{throughput.customers:,} known customers, whose profiles are in the table too: "
        f"{throughput.table_items:,} items in all), exported with `export_day` in a worker process with its "
        f"own moto, beside the main run.",
        "",
        f"- **{throughput.items_per_minute:,.0f} items per minute**: {throughput.exported:,} items in "
        f"{throughput.seconds:.1f} s of wall clock for `export_day` alone. This is moto in process on this "
        "machine, not AWS: of those seconds, inside API calls (moto's work plus botocore's parsing): "
        f"{inside}.",
        f"- Items read through the per-day index (sum of Query ScannedCount): {throughput.items_scanned:,} "
        f"(Count: {throughput.items_returned:,}) → **{per_item:.3f} per exported item**. Items fetched by "
        f"key (GetItem/BatchGetItem, the customers' profiles): {throughput.items_got:,}.",
        f"- Manifest counts: {counts}; S3 objects: {throughput.s3_objects}.",
        "",
        "| service | operation | requests | per 1,000 exported items |",
        "|---|---|---:|---:|",
    ]
    for (service, operation), n in sorted(requests.items()):
        lines.append(
            f"| {service} | {operation} | {n} | {per_thousand(n, max(1, throughput.exported)):.2f} |"
        )
    lines += [
        "",
        f"HTTP retries by botocore: {throughput.retries}. Seeding the day straight into moto's backend (not "
        f"counted, see How measured) took {throughput.seed_seconds:.0f} s. Responses encoded with "
        f"`json.dumps` instead of moto's serializer (see How measured): {fast}.",
    ]
    return lines


def _imports_section(imports: ImportResult) -> list[str]:
    heaviest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports.heaviest)
    return [
        f"- `import app`: {imports.app_ms:.0f} ms; bare `import chalice, boto3`: {imports.bare_ms:.0f} ms "
        f"(medians of {imports.runs} fresh interpreters each) → **ratio {imports.ratio:.2f}**.",
        f"- Largest self-time contributors `import app` adds on top of chalice and boto3 (`-X importtime`, "
        f"one run): {heaviest}.",
    ]


# ----------------------------------------------------------------------------------------------------
# Cost model inputs

# S3 operations billed at the PUT rate (multipart uploads are a create, parts and a complete).
S3_PUT_OPERATIONS = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "ListObjects",
        "ListObjectsV2",
    }
)
# Requests of Lambda's SQS event source (the poller's GetQueueAttributes is the local poller's own).
SQS_EVENT_SOURCE_OPERATIONS = frozenset({"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch"})
COST_PHASES = {"ack": "ack", "analyze": "analyze", "export": "export"}


def _own_seconds(counter: RequestCounter, phase: str, wall: float) -> float:
    """Seconds of `wall` spent outside AWS calls (the app's own code, in process)."""
    return max(0.0, wall - sum(counter.seconds[phase].values()))


def measured_counts(result: BenchResult) -> dict[str, float]:
    """The run's figures the cost model prices (tools/cost.py MEASURED_KEYS): per 1,000 items, except the
    per-run S3 requests of one day's export and the seconds of one `import app`."""
    counter, items, analyze, export = result.counter, result.items, result.analyze, result.export
    if result.capacity is None or result.inventory is None:
        raise ValueError("the run kept no capacity tally or table inventory")

    def per(count: float, of: int = items) -> float:
        return count * PER / max(1, of)

    requests = {phase: counter.requests(phase) for phase in (*COST_PHASES, "analyze-poller")}
    runs = max(1, len(export.days))
    s3 = requests["export"]
    puts = service_total(s3, "s3", S3_PUT_OPERATIONS)
    counts: dict[str, float] = {
        "ack.requests": per(result.ack.submissions),
        "ack.sqs.requests": per(service_total(requests["ack"], "sqs")),
        "ack.own_seconds": per(_own_seconds(counter, "ack", result.ack.seconds)),
        "analyze.invocations": per(len(analyze.invocations)),
        "analyze.records": per(sum(analyze.invocations)),
        "analyze.sqs.requests": per(
            service_total(requests["analyze-poller"], "sqs", SQS_EVENT_SOURCE_OPERATIONS)
        ),
        "analyze.own_seconds": per(_own_seconds(counter, "analyze", analyze.handler_seconds)),
        "export.own_seconds": per(_own_seconds(counter, "export", export.seconds), export.exported),
        "export.s3.put_requests_per_run": puts / runs,
        "export.s3.get_requests_per_run": (service_total(s3, "s3") - puts) / runs,
        "export.s3_bytes": per(export.s3_bytes, export.exported),
        "storage.dynamodb_table_bytes": per(result.inventory.table_bytes),
        "storage.dynamodb_index_bytes": per(result.inventory.index_bytes),
        "imports.app_seconds": result.imports.app_ms / 1000,
    }
    for short, (operation, _) in cost.COMPREHEND_OPERATIONS.items():
        usage = analyze.usage
        counts |= {
            f"analyze.comprehend.{short}.requests": per(requests["analyze"][("comprehend", operation)]),
            f"analyze.comprehend.{short}.documents": per(usage.documents[operation]),
            f"analyze.comprehend.{short}.units": per(usage.units[operation]),
            f"analyze.comprehend.{short}.characters": per(usage.characters[operation]),
        }
    for phase in COST_PHASES:
        of = export.exported if phase == "export" else items
        writes, reads = result.capacity.write_1kb[phase], result.capacity.read_4kb[phase]
        counts |= {
            f"{phase}.dynamodb.requests": per(service_total(requests[phase], "dynamodb"), of),
            f"{phase}.dynamodb.write_1kb_transactional": per(writes["transactional"], of),
            f"{phase}.dynamodb.write_1kb_standard": per(writes["standard"], of),
            f"{phase}.dynamodb.read_4kb_eventual": per(reads["eventual"], of),
            f"{phase}.dynamodb.read_4kb_strong": per(reads["strong"], of),
        }
    return counts


def _cost_section(result: BenchResult, prices: Path) -> list[str]:
    """The priced month, or why it could not be priced (a broken price file must not lose the run)."""
    try:
        report = cost.monthly_cost(measured_counts(result), cost.load_prices(prices))
    except (KeyError, ValueError, TypeError, OSError) as error:
        return [f"Not priced: {type(error).__name__}: {error}"]
    inventory = result.inventory
    assert inventory is not None
    sizes = ", ".join(
        f"{name} {inventory.item_bytes[name] / max(1, inventory.record_types[name]):,.0f}"
        for name in sorted(STORED_PER_ITEM)
    )
    usage = result.analyze.usage
    characters = usage.characters[DETECT_SENTIMENT]
    return [
        *cost.render(report, f"on {result.items:,} items in this run"),
        "",
        f"Measured inputs: average stored item size in bytes (DynamoDB's rules) {sizes}; average text sent "
        f"to BatchDetectSentiment {characters / max(1, usage.documents[DETECT_SENTIMENT]):,.0f} characters; "
        f"`import app` {result.imports.app_ms:,.0f} ms (the billed INIT of a cold start); export objects "
        f"{result.export.s3_bytes / max(1, result.export.exported):,.0f} bytes per item. Every count the "
        "model prices is in `tools.bench.measured_counts`; the model and its rules are in `tools/cost.py`.",
    ]


MAKE_COMMAND = "python -m tools.bench --write BENCHMARKS.md"


def render(result: BenchResult, command: str, prices: Path = cost.PRICES_PATH) -> str:
    """BENCHMARKS.md."""
    results = checks(result)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = _versions()
    make = " (`make bench`)" if command == MAKE_COMMAND else ""
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{command}`{make} on {now}; {result.items:,} synthetic form responses; "
        f"Python {platform.python_version()}, {versions}; {os.cpu_count()} CPUs (1-minute load average "
        f"{result.load[0]:.1f} at the start, {result.load[1]:.1f} at the end); run took "
        f"{result.seconds:.0f} s of wall clock ({_format_timings(result.timings)}"
        f"{_worker_timings(result.throughput)}; in-process moto, not AWS latency).",
        "",
        "## Targets",
        "",
        "| figure | measured | target | |",
        "|---|---:|---:|---|",
        *[f"| {c.name} | {c.measured} | {c.target} | {'ok' if c.ok else '**MISSED**'} |" for c in results],
        "",
        "## Figures without a target",
        "",
        "| figure | measured |",
        "|---|---:|",
        *[f"| {name} | {measured} |" for name, measured in figures(result)],
        "",
        f"## Cost of {_volume(prices)} feedback items per month",
        "",
        *_cost_section(result, prices),
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
        "## PII redaction: recall and false positives per entity type",
        "",
        *_pii_quality_section(result.pii_quality),
        "",
        "## Customer resolution",
        "",
        *_customers_section(result),
        "",
        "## Export",
        "",
        *_export_section(result),
        "",
        "## Export throughput",
        "",
        *_throughput_section(result.throughput),
        "",
        "## Import time (cold-start proxy)",
        "",
        *_imports_section(result.imports),
        "",
        "## How measured",
        "",
        HOW_MEASURED.format(
            history=result.export.history_items,
            throughput=THROUGHPUT_ITEMS,
            quick=QUICK_HISTORY_ITEMS,
            copies_made=result.table_copies["made"],
            copies_saved=result.table_copies["saved"],
        ),
        "",
    ]
    return "\n".join(lines)


HOW_MEASURED = """\
Everything runs in one process with moto's `mock_aws` standing in for DynamoDB, SQS, S3 and SSM, through
the app's own code: form responses are POSTed through `chalice.test.Client`; the ingest queue is drained
by `chalicelib.local.lambda_runtime.SqsPoller` in batches of 25 into
`chalicelib.ingest.processing.handle_sqs_batch` with a `ComprehendAnalyzer` and a `ComprehendPiiRedactor` that
share one Comprehend client wrapped in a botocore `Stubber` (each call's response is queued from a
`provide-client-params` hook with `expected_params` equal to the call's parameters, so the Stubber
validates requests and responses against the Comprehend API model; the hook also enforces the documented
limits: 25 documents and 5,000 bytes per document for the batch calls, English or Spanish and 100,000 bytes
for DetectPiiEntities, which the stand-in answers with the emails and phone numbers it finds). The
redactor is wrapped in a pass-through tally of what it is handed: texts sent = DetectPiiEntities requests,
skipped = English/Spanish texts handed to it minus those. Synthetic responses: 60% leave an email, 30% of
those someone who wrote in before; 5% of comments hold the writer's email or phone number, 10% harmless
digits. After the analyze phase one Scan outside every counted phase counts the table's items by
record_type.

Requests are counted by hooks registered on the default boto3 session before any client exists:
`before-send` (one per HTTP request, botocore retries included) for the moto-backed services, and
`before-call` (one per API call) for Comprehend, whose calls the Stubber answers before any HTTP request
is built. Items read are the sum of `ScannedCount` over the export's Query responses (`after-call` hook);
items fetched by key (GetItem/BatchGetItem: the CRM files' customer profiles) are counted apart and are
not in the items-read target. Comprehend units are computed per document sent, per request type: 100
characters a unit, 3 units minimum (DetectPiiEntities: one document, so one such charge, per request).

The day export runs `export_day` after {history:,} form responses of 30 other days were written to the
table in BatchWriteItem requests, in primary-key order (moto sorts the whole table on every Query request,
which is linear for a table written in key order; DynamoDB does not care).

One change to moto's speed in the main run, none to what it answers: moto 5.2's TransactWriteItems
deep-copies the whole table once per action of a transaction for its rollback (the same backup, rebuilt
each time), which makes the analyze phase grow with the square of the run; the bench has it copy each
table once per transaction ({copies_made:,} copies made, {copies_saved:,} identical ones saved). The
requests, their results and the rollback on a cancelled transaction are unchanged.

Export throughput: a second interpreter (`--throughput-worker`, started first so that it runs beside the
main run, one core each) seeds {throughput:,} stored items on one day plus their customers' profiles, then
times `export_day` for that day alone (wall clock) with the same counters. Deviations from moto as shipped,
all in that worker and all outside what is counted:
- Seeding goes straight into moto's in-process backend (`dynamodb_backends[…].put_item`, in primary-key
  order), not through boto3: in development the same 114,748 items took 178 s in BatchWriteItem requests
  (with other work sharing the CPUs) and 77 s this way, and the bench must stay within ~6 minutes.
- The day's stored times are handed out in feedback-id order (the same random times, each item's other
  timestamps moved with it), so that moto's per-page sort of a shard's items stays linear; to DynamoDB
  and to the app this is a day like any other.
- moto 5.2's model-driven response serializer costs 3-4 ms per DynamoDB item returned (a 20,000-item day
  took 84 s to export, 78 s of it inside moto), so Query and BatchGetItem responses are encoded with
  `json.dumps` instead (the same DynamoDB JSON; anything it cannot encode falls back to moto). Query
  evaluation, pagination, ScannedCount, botocore's parsing of the responses and the app are unchanged.
Items per minute is therefore a figure for moto in process on this machine, with the main run busy on
the other core: not AWS, and not comparable with an AWS Lambda's duration.

Cost inputs (the "Cost of …" section): a second set of session hooks (`CapacityTally`) sizes every item
the app writes or reads by the DynamoDB developer guide's rules (attribute names plus values; 1 KB write
units, counted apart inside TransactWriteItems; one entry per global secondary index holding the item;
4 KB read units, per item for BatchGetItem/GetItem and per Query page), per phase; Updates are sized from
the item as the Scan after the analyze phase finds it. That Scan also gives the bytes the feedback items,
identities and profiles take in the table and its indexes (100 bytes of overhead per item and entry). The
export's objects are listed (uncounted) for their bytes. The handlers' own time is the wall clock of the ack
loop, of each analyze invocation and of the export, minus the time spent inside AWS calls (moto's work).
`tools/cost.py` turns these counts into a month of usage and prices it with `tools/unit_prices.toml`.

Import times are medians of fresh interpreters timing only the import statement (`time.perf_counter`
around it), interleaved, after one warm-up run and after the throughput worker has finished. Setup and
seeding requests are not counted. Figures are request counts, not latency: moto in process says nothing
about AWS latency. `--quick` writes {quick:,} history items and skips the throughput run."""


def _volume(prices: Path = cost.PRICES_PATH) -> str:
    """The volume the price file prices, as a heading says it (1M, 250k …)."""
    try:
        items = cost.load_prices(prices).assumptions.items_per_month
    except (KeyError, ValueError, TypeError, OSError):
        return "1M"
    if items % 1_000_000 == 0:
        return f"{items // 1_000_000}M"
    return f"{items // 1000}k" if items % 1000 == 0 else f"{items:,}"


def _emf_note(emf_lines: int) -> list[str]:
    if not emf_lines:
        return []
    return [
        "",
        f"Note: the app printed {emf_lines} CloudWatch EMF metric blob(s) to stdout during the run although "
        "POWERTOOLS_METRICS_DISABLED=true (Powertools' automatic flush at 100 values of one metric ignores "
        "that switch); they were kept out of this report.",
    ]


def _worker_timings(throughput: ThroughputResult | None) -> str:
    if throughput is None or throughput.error is not None:
        return ""
    return (
        "; the throughput worker ran beside the main run from the start: "
        f"seed {throughput.seed_seconds:.0f} s, export {throughput.seconds:.0f} s"
    )


def _format_timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())


def _format_keys(requests: Counter[Key]) -> str:
    return ", ".join(f"{service} {operation}: {n}" for (service, operation), n in sorted(requests.items()))


def _format_operations(requests: Counter[Key], service: str) -> str:
    found = sorted((op, n) for (svc, op), n in requests.items() if svc == service)
    return ", ".join(f"{op} {n}" for op, n in found) or "none"


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in ("boto3", "botocore", "moto", "chalice"))


# ----------------------------------------------------------------------------------------------------
# Entry point


def run(items: int, history: int, import_runs: int, throughput_items: int) -> BenchResult:
    """The whole bench; what the app prints to stdout meanwhile (EMF metric blobs) stays out of the report.

    The throughput worker (if `throughput_items`) starts first and runs beside the main pipeline; import
    timing waits for it, so the fresh interpreters do not share the CPUs with it.
    """
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    worker = ThroughputWorker(throughput_items).start() if throughput_items else None
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            pipeline = run_pipeline(items, history)
    except BaseException:
        if worker is not None:
            worker.stop()
        raise
    emf_lines = sum(1 for line in captured.getvalue().splitlines() if line.startswith('{"_aws"'))
    throughput = None
    if worker is not None:
        with timed(pipeline.timings, "waiting for the throughput worker"):
            throughput = worker.result()
    with timed(pipeline.timings, "import timing"):
        imports = measure_imports(import_runs)
    with timed(pipeline.timings, "PII corpus"):
        pii_quality = measure_pii_quality()
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
        throughput=throughput,
        table_copies=pipeline.table_copies,
        load=(load_before, os.getloadavg()[0]),
        capacity=pipeline.capacity,
        inventory=pipeline.inventory,
        pii_quality=pii_quality,
    )


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Run, print the report, optionally write it; 1 if any target is missed."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="form responses to push through")
    parser.add_argument(
        "--history",
        type=int,
        help=f"items of other days in the table (default {HISTORY_ITEMS:,}, --quick {QUICK_HISTORY_ITEMS:,})",
    )
    parser.add_argument(
        "--throughput-items",
        type=int,
        default=THROUGHPUT_ITEMS,
        help="items on the one day the throughput run exports (0: skip it)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="for development: fewer history items, no throughput run"
    )
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import timing")
    parser.add_argument("--write", type=Path, help="write the report to this markdown file")
    parser.add_argument(
        "--prices",
        type=Path,
        default=cost.PRICES_PATH,
        help="unit prices and assumptions of the cost section (default tools/unit_prices.toml)",
    )
    parser.add_argument("--throughput-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.throughput_worker:
        return throughput_worker(args.throughput_worker, args.throughput_items)
    history = (
        args.history if args.history is not None else QUICK_HISTORY_ITEMS if args.quick else HISTORY_ITEMS
    )
    throughput_items = 0 if args.quick else args.throughput_items
    result = run(args.items, history, args.import_runs, throughput_items)
    command = "python -m tools.bench" + (" --quick" if args.quick else "")
    command += f" --prices {args.prices}" if args.prices != cost.PRICES_PATH else ""
    command += f" --write {args.write}" if args.write else ""
    report = render(result, command, args.prices)
    out(report)
    with contextlib.suppress(KeyError, ValueError, TypeError, OSError):
        priced = cost.monthly_cost(measured_counts(result), cost.load_prices(args.prices))
        out(
            f"COST: ${priced.total:,.2f} a month for {priced.items_per_month:,} items "
            f"(${priced.per_thousand_items:,.4f} per 1,000 items; prices as of {priced.table.as_of})"
        )
    if args.write:
        args.write.write_text(report, encoding="utf-8")
    missed = [c for c in checks(result) if not c.ok]
    for check in missed:
        out(f"TARGET MISSED: {check.name}: measured {check.measured}, target {check.target}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
