"""The run's counts the cost model (`tools.cost`) prices, and the priced month's section of the report."""

from __future__ import annotations

from pathlib import Path

from tools.bench.capacity import STORED_PER_ITEM
from tools.bench.comprehend import DETECT_SENTIMENT
from tools.bench.counting import RequestCounter, service_total
from tools.bench.run import BenchResult
from tools.cost import markdown
from tools.cost.model import COMPREHEND_OPERATIONS, PER, PHASES, compare_setups, monthly_cost
from tools.cost.prices import PRICES_PATH, load_prices

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


def _own_seconds(counter: RequestCounter, phase: str, wall: float) -> float:
    """Seconds of `wall` spent outside AWS calls (the app's own code, in process)."""
    return max(0.0, wall - sum(counter.seconds[phase].values()))


def measured_counts(result: BenchResult) -> dict[str, float]:
    """The run's figures the cost model prices (`tools.cost.model.MEASURED_KEYS`): per 1,000 items, except the
    per-run S3 requests of one day's export and the seconds of one `import app`."""
    counter, items, analyze, export = result.counter, result.items, result.analyze, result.export
    if result.capacity is None or result.inventory is None:
        raise ValueError("the run kept no capacity tally or table inventory")

    def per(count: float, of: int = items) -> float:
        return count * PER / max(1, of)

    requests = {phase: counter.requests(phase) for phase in (*PHASES, "analyze-poller")}
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
    for short, (operation, _) in COMPREHEND_OPERATIONS.items():
        usage = analyze.usage
        counts |= {
            f"analyze.comprehend.{short}.requests": per(requests["analyze"][("comprehend", operation)]),
            f"analyze.comprehend.{short}.documents": per(usage.documents[operation]),
            f"analyze.comprehend.{short}.units": per(usage.units[operation]),
            f"analyze.comprehend.{short}.characters": per(usage.characters[operation]),
        }
    for mode, usage in analyze.bedrock.items():
        counts |= {
            f"analyze.bedrock.{mode}.requests": per(usage.requests),
            f"analyze.bedrock.{mode}.input_tokens": per(usage.input_tokens),
            f"analyze.bedrock.{mode}.output_tokens": per(usage.output_tokens),
            f"analyze.bedrock.{mode}.cache_read_tokens": per(usage.cache_read_tokens),
            f"analyze.bedrock.{mode}.cache_write_tokens": per(usage.cache_write_tokens),
        }
    for phase in PHASES:
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


def cost_section(result: BenchResult, prices: Path) -> list[str]:
    """The priced month, or why it could not be priced (a broken price file must not lose the run)."""
    try:
        counts, table = measured_counts(result), load_prices(prices)
        report = monthly_cost(counts, table)
        setups = compare_setups(counts, table)
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
        *markdown.render(report, f"on {result.items:,} items in this run"),
        "",
        f"Measured inputs: average stored item size in bytes (DynamoDB's rules) {sizes}; average text sent "
        f"to BatchDetectSentiment {characters / max(1, usage.documents[DETECT_SENTIMENT]):,.0f} characters; "
        f"`import app` {result.imports.app_ms:,.0f} ms (the billed INIT of a cold start); export objects "
        f"{result.export.s3_bytes / max(1, result.export.exported):,.0f} bytes per item. Every count the "
        "model prices is in `tools.bench.cost_inputs.measured_counts`; the model and its rules are in "
        "`tools/cost/`.",
        "",
        "### Comprehend only, Comprehend + Bedrock themes, Bedrock only",
        "",
        *markdown.render_setups(setups),
    ]


def volume(prices: Path = PRICES_PATH) -> str:
    """The volume the price file prices, as a heading says it (1M, 250k …)."""
    try:
        items = load_prices(prices).assumptions.items_per_month
    except (KeyError, ValueError, TypeError, OSError):
        return "1M"
    if items % 1_000_000 == 0:
        return f"{items // 1_000_000}M"
    return f"{items // 1000}k" if items % 1000 == 0 else f"{items:,}"
