"""The targets the bench fails on, and the figures it reports without one."""

from __future__ import annotations

from dataclasses import dataclass

from tools.bench.alerts import alerts_checks
from tools.bench.comprehend import DETECT_LANGUAGE, DETECT_PII, DETECT_SENTIMENT
from tools.bench.counting import per_thousand, service_total
from tools.bench.crm import crm_checks
from tools.bench.email import email_checks
from tools.bench.export_fanout import export_fanout_checks
from tools.bench.export_scale import export_scale_checks
from tools.bench.listings import TARGET_EVALUATED_PER_RETURNED, ListingFigures, evaluated_within_target
from tools.bench.outbound import outbound_checks
from tools.bench.pull import pull_checks
from tools.bench.run import BenchResult
from tools.bench.stats_cost import TARGET_STATS_REQUESTS_93_DAYS, StatsCost
from tools.bench.storage import TARGET_WRU_PER_ITEM, storage_figures, wru_per_stored_item
from tools.bench.theme_quality import theme_quality_targets
from tools.bench.throughput import ThroughputResult

# The Comprehend target covers the batch calls; DetectPiiEntities (no batch variant) has a line of its own.
COMPREHEND_BATCH_OPERATIONS = frozenset({DETECT_LANGUAGE, DETECT_SENTIMENT})
DYNAMODB_WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)

# Targets (BENCHMARKS.md, "Targets"): the bench exits 1 when one is missed.
TARGET_ACK_REQUESTS_PER_SUBMISSION = 1.0
TARGET_COMPREHEND_REQUESTS_PER_1000 = 80
TARGET_DYNAMODB_WRITES_PER_1000 = 100
TARGET_EXPORT_READS_PER_ITEM = 1.0
TARGET_WEBHOOK_REQUESTS_PER_DELIVERY = 1.0
TARGET_BEDROCK_REQUESTS_PER_1000 = 40
TARGET_COMPREHEND_UNITS_PER_ITEM = 3.5  # all request types, on the synthetic mix (language_mix.py)


@dataclass(frozen=True)
class Check:
    name: str
    measured: str
    target: str
    ok: bool


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
    # A customer's first identity is its profile's key: the bench's authors give an email only, so every
    # identity is a first one, and no redirect (nor identity item) may be written.
    profiles = found.record_types["PROFILE"]
    identity_records = found.record_types["REDIRECT"] + found.record_types["IDENTITY"]
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
            "analyze: Comprehend billed units per item (all request types, the synthetic mix)",
            f"{sum(result.analyze.usage.units.values()) / max(1, items):.2f}",
            f"≤ {TARGET_COMPREHEND_UNITS_PER_ITEM:g}",
            sum(result.analyze.usage.units.values()) / max(1, items) <= TARGET_COMPREHEND_UNITS_PER_ITEM,
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
            "analyze: customer profiles (one per distinct email, which is its key) / identity redirects "
            "and items (none: every author's email is a first identity)",
            f"{profiles} / {identity_records}",
            f"= {found.distinct_emails} / 0",
            profiles == found.distinct_emails and identity_records == 0,
        ),
        Check("export: items exported", str(export.exported), f"= {items}", export.exported == items),
        Check(
            f"export: DynamoDB items read per exported item, table holding {export.history_items:,} items "
            "of other days",
            f"{reads_per_item:.3f}",
            f"= {TARGET_EXPORT_READS_PER_ITEM:g}",
            reads_per_item == TARGET_EXPORT_READS_PER_ITEM,
        ),
        *stats_checks(result.stats_cost),
        *outbound_checks(result.outbound),
        *alerts_checks(result.alerts),
        *(Check(*row) for row in crm_checks(result.crm)),
        *listing_checks(result.listings),
        *(Check(*row) for row in email_checks(result.email_cost)),
        *(Check(*row) for row in pull_checks(result.pull_cost)),
        *bedrock_checks(result),
        *bedrock_cost_checks(result),
        *(Check(*row) for row in theme_quality_targets(result.theme_quality)),
        *throughput_checks(throughput),
        *cold_start_checks(result),
        *export_scale_checks(result.export_scale),
        *export_fanout_checks(result.export_scale),
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
        Check(
            "analyze: DynamoDB WRU per stored item (on-demand rules, index entries included)",
            f"{wru_per_stored_item(result):.2f}",
            f"≤ {TARGET_WRU_PER_ITEM:g}",
            wru_per_stored_item(result) <= TARGET_WRU_PER_ITEM,
        ),
    ]


def stats_checks(cost: StatsCost | None) -> list[Check]:
    """`/stats` of 93 days: at most TARGET_STATS_REQUESTS_93_DAYS DynamoDB requests at every volume."""
    if cost is None:
        return []
    requests = cost.requests(93)
    volumes = " / ".join(f"{row.items_per_day:,}" for row in cost.rows if row.days == 93)
    return [
        Check(
            f"/stats: DynamoDB requests for 93 days at {volumes} items a day",
            " / ".join(map(str, requests)),
            f"≤ {TARGET_STATS_REQUESTS_93_DAYS}",
            # None seen is a broken measurement, not a cheap one.
            bool(requests) and min(requests) > 0 and max(requests) <= TARGET_STATS_REQUESTS_93_DAYS,
        )
    ]


def listing_checks(listings: list[ListingFigures] | None) -> list[Check]:
    """Each filtered listing: items evaluated ≤ 3 times the items returned; the days the counters skipped
    (and the counter reads that cost) reported beside it."""
    return [
        Check(
            f"GET /feedback {row.scenario}, {row.days} days at {row.per_day:,} a day: items evaluated for "
            f"the items returned ({row.days_skipped} empty days skipped for {row.counter_reads} counter "
            "reads)",
            f"{row.evaluated:,} for {row.items:,}",
            f"≤ {TARGET_EVALUATED_PER_RETURNED} times the items returned",
            evaluated_within_target(row) and row.requests > 0,
        )
        for row in listings or ()
    ]


def bedrock_checks(result: BenchResult) -> list[Check]:
    """Converse requests per 1,000 items in each mode, and what the stand-in refused."""
    found = []
    for mode, usage in sorted(result.analyze.bedrock.items()):
        requests = per_thousand(usage.requests, result.items)
        found.append(
            Check(
                f"analyze: Bedrock Converse requests per 1,000 items ({mode})",
                f"{requests:.0f}",
                f"≤ {TARGET_BEDROCK_REQUESTS_PER_1000}",
                requests <= TARGET_BEDROCK_REQUESTS_PER_1000 and not usage.violations,
            )
        )
    return found


def bedrock_cost_checks(result: BenchResult) -> list[Check]:
    """Bedrock only: its Bedrock lines per 1M items at the price file's list prices."""
    from tools.bench.cost_inputs import measured_counts
    from tools.cost.markdown import TARGET_BEDROCK_ONLY_USD_PER_MILLION, bedrock_usd
    from tools.cost.model import BEDROCK_ONLY, monthly_cost
    from tools.cost.prices import load_prices

    try:
        report = monthly_cost(measured_counts(result), load_prices(), setup=BEDROCK_ONLY)
    except (KeyError, ValueError, TypeError, OSError):
        return []  # not priced: the cost section says why
    usd = bedrock_usd(report) * 1_000_000 / report.items_per_month
    return [
        Check(
            "cost: Bedrock only, Bedrock USD per 1M items (list prices)",
            f"${usd:,.2f}",
            f"≤ ${TARGET_BEDROCK_ONLY_USD_PER_MILLION:g}",
            usd <= TARGET_BEDROCK_ONLY_USD_PER_MILLION,
        )
    ]


def cold_start_checks(result: BenchResult) -> list[Check]:
    """Each Lambda function's import set against bare `import chalice, boto3` (tools/bench/cold_start.py),
    here and on the Lambda layout with the runtime's Python (tools/bench/lambda_imports.py)."""
    from tools.bench.cold_start import FUNCTION_IMPORTS, TARGET_IMPORT_RATIO
    from tools.bench.lambda_imports import lambda_layout_checks

    return [
        Check(
            f"cold start: {found.function} import set / bare `import chalice, boto3` (fresh interpreters)",
            f"{found.ratio:.2f}",
            f"≤ {TARGET_IMPORT_RATIO}",
            found.ratio <= TARGET_IMPORT_RATIO,
        )
        for found in result.imports.functions
        if found.function in FUNCTION_IMPORTS
    ] + lambda_layout_checks(result.imports.lambda_layout, TARGET_IMPORT_RATIO)


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
    language_sent, unlabelled = analyze.usage.documents[DETECT_LANGUAGE], analyze.language.asked
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
            "analyze: texts without a language still sent to BatchDetectDominantLanguage (local detection "
            "unsure)",
            f"{language_sent} of {unlabelled} ({language_sent / max(1, unlabelled):.0%})",
        ),
        *_language_quality_figures(result),
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
    if result.stats_cost is not None:
        rows.append(
            (
                "analyze: WRU per stored item the day counters add (counter Updates)",
                f"{result.stats_cost.counter_write_units_per_item:.2f}",
            )
        )
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
    return rows + storage_figures(result)


def _language_quality_figures(result: BenchResult) -> list[tuple[str, str]]:
    quality = result.language_quality
    if quality is None:
        return []
    total, short = quality.total(), quality.total(short=True)
    return [
        (
            f"local language detection on the labelled set ({total.texts} texts, {short.texts} short): "
            "confident share / accuracy when confident",
            f"{total.confident_share:.0%} / {total.confident_accuracy:.1%} "
            f"(short: {short.confident_share:.0%} / {short.confident_accuracy:.1%})",
        )
    ]
