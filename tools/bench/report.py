"""BENCHMARKS.md: the targets, the figures, one section per measurement, and how it was measured."""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tools.bench.alerts import alerts_section
from tools.bench.checks import (
    COMPREHEND_BATCH_OPERATIONS,
    TARGET_COMPREHEND_REQUESTS_PER_1000,
    checks,
    figures,
)
from tools.bench.comprehend import DETECT_LANGUAGE, DETECT_PII, units_per_item
from tools.bench.cost_inputs import cost_section, volume
from tools.bench.counting import Key, RequestCounter, per_thousand, service_total
from tools.bench.crm import crm_section
from tools.bench.dashboard_cost import dashboard_cost_section
from tools.bench.email import email_section
from tools.bench.export_fanout import export_fanout_section
from tools.bench.export_scale import export_scale_section
from tools.bench.import_time import imports_section
from tools.bench.language_quality import language_lines, language_quality_section
from tools.bench.listings import listings_section
from tools.bench.outbound import outbound_section
from tools.bench.pii_quality import pii_quality_section
from tools.bench.pipeline import QUICK_HISTORY_ITEMS
from tools.bench.pull import pull_section
from tools.bench.run import BenchResult
from tools.bench.scale_summary import scale_summary_section
from tools.bench.sentiment_quality import sentiment_quality_section
from tools.bench.stats_cost import stats_cost_section
from tools.bench.synthetic import (
    DIGIT_COMMENT_SHARE,
    META_COMMENTS,
    META_ENTRIES,
    META_MESSAGES,
    PII_COMMENT_SHARE,
)
from tools.bench.theme_quality import theme_cost_section, theme_quality_section
from tools.bench.throughput import THROUGHPUT_ITEMS, ThroughputResult, throughput_section
from tools.bench.widget_size import widget_size_section
from tools.cost.prices import PRICES_PATH

# The phases of the requests table, each with the label its rows show.
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


def _per_batch_line(result: BenchResult) -> list[str]:
    """The analyze step's AWS requests per batch, as the issue asks them stated, for each setup."""
    batches = len(result.analyze.invocations)
    if not batches:
        return []
    handler = result.counter.requests("analyze")
    per_batch = ", ".join(
        f"{operation} {count / batches:.2f}" for (_, operation), count in sorted(handler.items())
    )
    bedrock = {mode: usage.requests / batches for mode, usage in sorted(result.analyze.bedrock.items())}
    return [
        "",
        f"The analyze handler's AWS requests per batch ({batches} batches of "
        f"{sum(result.analyze.invocations) / batches:.1f} records on average), with Comprehend and the "
        f"keywords tagger (the defaults): {per_batch}. "
        f"THEME_TAGGER=bedrock adds {bedrock.get('themes', 0):.2f} Converse request per batch; "
        f"ANALYZER=bedrock makes {bedrock.get('analysis', 0):.2f} Converse request per batch instead of "
        "BatchDetectDominantLanguage and BatchDetectSentiment (DetectPiiEntities, BatchGetItem and "
        "TransactWriteItems stay).",
    ]


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
        f"Units per item by request type: {units_per_item(usage, items)}.",
        "",
        result.ack.mix,
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
        *language_lines(result.analyze.language, usage.documents[DETECT_LANGUAGE]),
        "",
        *_pii_lines(result),
    ]
    if usage.violations:
        lines += ["", "API-limit violations:", *[f"- {v}" for v in usage.violations[:20]]]
    return lines


def _bedrock_section(result: BenchResult) -> list[str]:
    from tools.bench.bedrock import CACHE_MIN_TOKENS, CHARS_PER_TOKEN

    items = result.items
    lines = [
        "| mode | requests | items carried | input tokens | cache read | cache written | output tokens "
        "| requests per 1,000 items | input + cache tokens per 1,000 items | output tokens per 1,000 items |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, usage in sorted(result.analyze.bedrock.items()):
        read_in = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        lines.append(
            f"| {mode} | {usage.requests} | {usage.items} | {usage.input_tokens:,} | "
            f"{usage.cache_read_tokens:,} | {usage.cache_write_tokens:,} | {usage.output_tokens:,} | "
            f"{per_thousand(usage.requests, items):.0f} | {per_thousand(read_in, items):,.0f} | "
            f"{per_thousand(usage.output_tokens, items):,.0f} |"
        )
    violations = [v for usage in result.analyze.bedrock.values() for v in usage.violations]
    lines += [
        "",
        "The same comments, in the batches the analyze phase received, through the Bedrock backend against "
        "the starter taxonomy with a `Stubber`-backed bedrock-runtime client (Amazon Nova Micro): `themes` "
        "is the themes step after Comprehend (THEME_TAGGER=bedrock), `analysis` the analyzer answering "
        "language, sentiment and themes in one request (ANALYZER=bedrock; its themes step asked nothing "
        "more). Tokens are the stand-in's `usage` fields, summed: estimated at "
        f"{CHARS_PER_TOKEN} characters a token, the taxonomy prefix cached from {CACHE_MIN_TOKENS:,} tokens "
        "(written by the first request, read by the others).",
    ]
    if violations:
        lines += ["", "Stand-in violations:", *[f"- {v}" for v in violations[:20]]]
    return lines


def _pii_lines(result: BenchResult) -> list[str]:
    usage, tally = result.analyze.usage, result.analyze.pii
    sent = usage.documents[DETECT_PII]
    entities = ", ".join(f"{name} {n}" for name, n in sorted(usage.entities.items())) or "none"
    masked = ", ".join(f"{name} in {n}" for name, n in sorted(tally.types.items())) or "nothing"
    return [
        f"PII redaction (`ComprehendPiiRedactor` on the stubbed client): {tally.documents} texts handed "
        f"to the redactor, {tally.eligible} of them English or Spanish (the rest: {tally.other_language} in "
        f"other languages, {tally.blank} blank). The pre-filter (what the patterns leave suspicious: an '@', "
        f"a long digit run, an address, digits beside a mask or a street word …) **sent "
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


MAKE_COMMAND = "python -m tools.bench --write BENCHMARKS.md"


def render(result: BenchResult, command: str, prices: Path = PRICES_PATH) -> str:
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
        "## Scale (issue 15): each figure beside today's",
        "",
        *scale_summary_section(result),
        "",
        "## Figures without a target",
        "",
        "| figure | measured |",
        "|---|---:|",
        *[f"| {name} | {measured} |" for name, measured in figures(result)],
        "",
        f"## Cost of {volume(prices)} feedback items per month",
        "",
        *cost_section(result, prices),
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
        *_per_batch_line(result),
        "",
        "## Comprehend billed units",
        "",
        *_comprehend_section(result),
        "",
        "## Bedrock requests and tokens",
        "",
        *_bedrock_section(result),
        "",
        "## PII redaction: recall and false positives per entity type",
        "",
        *pii_quality_section(result.pii_quality),
        "",
        "## Local sentiment: accuracy per language",
        "",
        *sentiment_quality_section(result.sentiment_quality),
        "",
        "## Local language detection: accuracy on short texts",
        "",
        *language_quality_section(result.language_quality),
        "",
        "## Themes: the keywords tagger on the labelled set",
        "",
        *theme_quality_section(result.theme_quality),
        "",
        "## Themes: the keywords tagger on the longest texts",
        "",
        *theme_cost_section(result.theme_cost),
        "",
        "## Customer resolution",
        "",
        *_customers_section(result),
        "",
        "## `/stats` cost",
        "",
        *stats_cost_section(result.stats_cost),
        "",
        "## Dashboard load cost",
        "",
        *dashboard_cost_section(result.dashboard_cost),
        "",
        "## Export",
        "",
        *_export_section(result),
        "",
        "## Export throughput",
        "",
        *throughput_section(result.throughput),
        "",
        "## Export at scale (1M and 2M items a day)",
        "",
        *export_scale_section(result.export_scale),
        *export_fanout_section(result.export_scale),
        "",
        "## Filtered listings",
        "",
        *listings_section(result.listings),
        "",
        "## Outbound webhooks",
        "",
        *outbound_section(result.outbound),
        "## Alerts: reads per evaluation and their growth with history",
        "",
        *alerts_section(result.alerts),
        "## E-mail: AWS requests per received mail",
        "",
        *email_section(result.email_cost),
        "",
        "## Pulled reviews: API requests per 1,000 reviews",
        "",
        *pull_section(result.pull_cost),
        "",
        "## CRM sync (HubSpot, Salesforce)",
        "",
        *crm_section(result.crm),
        "",
        "## Widget download and form config",
        "",
        *widget_size_section(),
        "",
        "## Import time (cold-start proxy)",
        "",
        *imports_section(result.imports),
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
by `chalicelib.local.lambda_runtime.SqsPoller` in batches of 100 (`ANALYZE_BATCH_SIZE`) into
`chalicelib.ingest.processing.handle_sqs_batch` with a `ComprehendAnalyzer` and a `ComprehendPiiRedactor` that
share one Comprehend client wrapped in a botocore `Stubber` (each call's response is queued from a
`provide-client-params` hook with `expected_params` equal to the call's parameters, so the Stubber
validates requests and responses against the Comprehend API model; the hook also enforces the documented
limits: 25 documents and 5,000 bytes per document for the batch calls, English or Spanish and 100,000 bytes
for DetectPiiEntities, which the stand-in answers with the emails and phone numbers it finds). The
redactor is wrapped in a pass-through tally of what it is handed: texts sent = DetectPiiEntities requests,
skipped = English/Spanish texts handed to it minus those; the analyzer's local language detection likewise
(texts without a language it was asked about, confident answers). Synthetic responses: 60% leave an
email, 30% of those someone who wrote in before; 5% of comments hold the writer's email or phone number,
10% harmless digits. After the analyze phase one Scan outside every counted phase counts the table's items by
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
`tools/cost/` turns these counts into a month of usage and prices it with `tools/unit_prices.toml`.

Import times are medians of fresh interpreters timing only the import statement (`time.perf_counter`
around it), interleaved, after one warm-up run and after the throughput worker has finished. Setup and
seeding requests are not counted. Figures are request counts, not latency: moto in process says nothing
about AWS latency. `--quick` writes {quick:,} history items and skips the throughput run."""


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
