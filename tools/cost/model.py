"""The month's usage derived from the bench's measured counts, line by line, and its price."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tools.cost.prices import (
    ANALYZE_FUNCTION,
    API_FUNCTION,
    EXPORT_FUNCTION,
    Assumptions,
    Price,
    PriceTable,
    lambda_memory_mb,
)
from tools.cost.units import comprehend_units

PER = 1000  # measured counts are per this many items
GIB = 1024**3  # AWS bills storage and log ingestion in binary gigabytes
SECONDS_PER_DAY = 86_400

# Comprehend request types the analyze path makes: short name → (API operation, price id).
COMPREHEND_OPERATIONS = {
    "language": ("BatchDetectDominantLanguage", "comprehend.language"),
    "sentiment": ("BatchDetectSentiment", "comprehend.sentiment"),
    "pii": ("DetectPiiEntities", "comprehend.pii"),
}
# Comprehend request types made once per batch (DetectPiiEntities: once per document sent).
COMPREHEND_PER_BATCH = ("language", "sentiment")
PHASES = ("ack", "analyze", "export")

# The ways the analyze step can be set up, priced side by side: setup → (title, the Bedrock mode it uses).
# The Bedrock modes are the bench's (tools/bench/bedrock.py): "themes" tags after Comprehend scored the
# sentiment; "analysis" answers language, sentiment and themes in one request (ANALYZER=bedrock).
COMPREHEND_ONLY, COMPREHEND_AND_BEDROCK, BEDROCK_ONLY = "comprehend", "comprehend+bedrock", "bedrock"
SETUPS: dict[str, tuple[str, str | None]] = {
    COMPREHEND_ONLY: ("Comprehend sentiment only (today)", None),
    COMPREHEND_AND_BEDROCK: ("Comprehend + Bedrock themes", "themes"),
    BEDROCK_ONLY: ("Bedrock only (sentiment, language, themes)", "analysis"),
}
BEDROCK_MODES = ("themes", "analysis")
# Bedrock's billed token kinds: measured key suffix → (price id, label).
BEDROCK_TOKENS = {
    "input_tokens": ("bedrock.input", "input tokens"),
    "cache_read_tokens": ("bedrock.cache_read", "input tokens read from the prompt cache"),
    "cache_write_tokens": ("bedrock.cache_write", "input tokens written to the prompt cache"),
    "output_tokens": ("bedrock.output", "output tokens"),
}
# Token kinds paid once per request (the cached prefix), which scale with the number of batches.
BEDROCK_PER_REQUEST = ("cache_read_tokens",)


def _comprehend_keys() -> dict[str, str]:
    keys = {}
    for short, (operation, _) in COMPREHEND_OPERATIONS.items():
        keys |= {
            f"analyze.comprehend.{short}.requests": f"{operation} requests",
            f"analyze.comprehend.{short}.documents": f"documents sent to {operation}",
            f"analyze.comprehend.{short}.units": f"{operation} billed units (100 characters, 3 minimum)",
            f"analyze.comprehend.{short}.characters": f"characters sent to {operation}",
        }
    return keys


def _bedrock_keys() -> dict[str, str]:
    keys = {}
    for mode in BEDROCK_MODES:
        keys[f"analyze.bedrock.{mode}.requests"] = f"Bedrock Converse requests ({mode})"
        for suffix, (_, label) in BEDROCK_TOKENS.items():
            keys[f"analyze.bedrock.{mode}.{suffix}"] = f"Bedrock {label} ({mode}; from the responses' usage)"
    return keys


def _dynamodb_keys(phase: str) -> dict[str, str]:
    return {
        f"{phase}.dynamodb.requests": f"{phase}: DynamoDB requests",
        f"{phase}.dynamodb.write_1kb_transactional": (
            f"{phase}: 1 KB write units of items written inside TransactWriteItems (base table)"
        ),
        f"{phase}.dynamodb.write_1kb_standard": (
            f"{phase}: 1 KB write units of plain writes and of every index entry written"
        ),
        f"{phase}.dynamodb.read_4kb_eventual": f"{phase}: 4 KB read units read eventually consistent",
        f"{phase}.dynamodb.read_4kb_strong": f"{phase}: 4 KB read units read strongly consistent",
    }


# What tools.bench measures: per 1,000 items, except `…_per_run` (per export run, i.e. per day exported)
# and `imports.app_seconds` (one cold start).
MEASURED_KEYS: dict[str, str] = {
    "ack.requests": "form POSTs answered: API Gateway requests and api_handler invocations",
    "ack.sqs.requests": "SQS requests on the ack path (SendMessage)",
    "ack.own_seconds": "seconds the ack handler ran in process outside AWS calls",
    **_dynamodb_keys("ack"),
    "analyze.invocations": "analyze invocations (batches the event source delivered)",
    "analyze.records": "records the analyze invocations received",
    "analyze.sqs.requests": "SQS requests of the event source (ReceiveMessage, DeleteMessage[Batch])",
    "analyze.own_seconds": "seconds the analyze handler ran in process outside AWS calls",
    **_comprehend_keys(),
    **_bedrock_keys(),
    **_dynamodb_keys("analyze"),
    "export.own_seconds": "seconds export_day ran in process outside AWS calls",
    **_dynamodb_keys("export"),
    "export.s3.put_requests_per_run": "S3 PUT-class requests of one day's export",
    "export.s3.get_requests_per_run": "S3 GET-class requests of one day's export",
    "export.s3_bytes": "bytes of export objects written",
    "storage.dynamodb_table_bytes": "table bytes the items take, 100-byte item overhead included",
    "storage.dynamodb_index_bytes": "index bytes the items take in the GSIs, overhead included",
    "imports.app_seconds": "seconds `import app` takes in a fresh interpreter (the INIT of a cold start)",
}


@dataclass(frozen=True)
class Usage:
    """One line of the bill before prices: `quantity` of the unit of `price_id` in a month.

    `measured` names the measured counts it is derived from (empty: assumptions only), `how` says how.
    """

    service: str
    label: str
    price_id: str
    quantity: float
    measured: tuple[str, ...]
    how: str


@dataclass(frozen=True)
class CostLine:
    """A usage line with its price and monthly cost."""

    usage: Usage
    price: Price
    usd: float


@dataclass(frozen=True)
class CostReport:
    lines: Sequence[CostLine]
    items_per_month: int
    table: PriceTable
    memory: Mapping[str, int]

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def per_thousand_items(self) -> float:
        return self.total * PER / self.items_per_month


def _value(measured: Mapping[str, float], key: str) -> float:
    try:
        return float(measured[key])
    except KeyError:
        raise KeyError(f"the bench did not measure {key!r}") from None


def _sum(measured: Mapping[str, float], keys: Sequence[str]) -> float:
    return sum(_value(measured, key) for key in keys)


def _gb_seconds(invocations: float, billed_ms: float, memory_mb: int) -> float:
    return invocations * billed_ms / 1000 * memory_mb / 1024


@dataclass
class _Month:
    """What every usage line of one month needs: the measured counts, the assumptions and what follows."""

    measured: Mapping[str, float]
    assumptions: Assumptions
    memory: Mapping[str, int]
    lines: list[Usage]
    setup: str = COMPREHEND_ONLY

    def __post_init__(self) -> None:
        a = self.assumptions
        self.scale = a.items_per_month / PER  # measured per 1,000 items → per month
        self.runs = a.days_per_month  # one export per day
        invocations = self.value("analyze.invocations")
        self.measured_fill = self.value("analyze.records") / max(invocations, 1e-9)
        self.fill = a.analyze_batch_fill or self.measured_fill
        # Per-batch counts scale with the number of batches.
        self.batches = self.measured_fill / self.fill if self.fill else 1.0
        self.invocations = {
            API_FUNCTION: self.value("ack.requests") * self.scale,
            ANALYZE_FUNCTION: invocations * self.batches * self.scale,
            EXPORT_FUNCTION: self.runs,
        }

    def value(self, key: str) -> float:
        return _value(self.measured, key)

    def add(
        self, *, service: str, label: str, price: str, quantity: float, keys: Sequence[str], how: str
    ) -> None:
        for key in keys:
            self.value(key)  # fails early on a count the bench does not produce
        self.lines.append(Usage(service, label, price, quantity, tuple(keys), how))


INVOCATION_KEYS = ("ack.requests", "analyze.invocations", "analyze.records")


def _front_door(month: _Month) -> None:
    posts = month.invocations[API_FUNCTION]
    for service, label, price, how in (
        ("API Gateway", "REST API requests", "apigateway.rest_requests", "one request per submission"),
        ("AWS WAF", "requests inspected (prod)", "waf.requests", "every API request passes the web ACL"),
    ):
        month.add(service=service, label=label, price=price, quantity=posts, keys=["ack.requests"], how=how)


def _lambda(month: _Month) -> None:
    a, invocations = month.assumptions, month.invocations
    fill_how = "assumed" if a.analyze_batch_fill else "measured"
    month.add(
        service="Lambda",
        label="requests (all functions)",
        price="lambda.requests",
        quantity=sum(invocations.values()),
        keys=INVOCATION_KEYS,
        how=f"{invocations[API_FUNCTION]:,.0f} API + {invocations[ANALYZE_FUNCTION]:,.0f} analyze "
        f"({month.fill:.1f} records a batch, {fill_how}) + {month.runs:g} exports",
    )
    latency, value, scale = a.call_latency_ms, month.value, month.scale
    ack_calls = (
        value("ack.sqs.requests") * latency["sqs"] + value("ack.dynamodb.requests") * latency["dynamodb"]
    )
    comprehend_calls = sum(
        value(f"analyze.comprehend.{short}.requests")
        * (month.batches if short in COMPREHEND_PER_BATCH else 1)
        for short in _comprehend_used(month)
    )
    mode = SETUPS[month.setup][1]
    bedrock_keys = [f"analyze.bedrock.{mode}.requests"] if mode else []
    bedrock_calls = sum(value(key) for key in bedrock_keys) * month.batches
    analyze_calls = (
        comprehend_calls * latency["comprehend"]
        + bedrock_calls * latency.get("bedrock", 0.0)
        + value("analyze.dynamodb.requests") * month.batches * latency["dynamodb"]
    )
    items_per_run = a.items_per_month / month.runs
    s3_per_run = value("export.s3.put_requests_per_run") + value("export.s3.get_requests_per_run")
    export_calls = (
        value("export.dynamodb.requests") * items_per_run / PER * latency["dynamodb"]
        + s3_per_run * latency["s3"]
    ) * month.runs
    for function, own_seconds, calls_ms, keys in (
        (API_FUNCTION, value("ack.own_seconds") * scale, ack_calls * scale,
         ["ack.requests", "ack.own_seconds", "ack.sqs.requests", "ack.dynamodb.requests"]),
        (ANALYZE_FUNCTION, value("analyze.own_seconds") * scale, analyze_calls * scale,
         ["analyze.invocations", "analyze.own_seconds", "analyze.dynamodb.requests", *bedrock_keys,
          *(f"analyze.comprehend.{short}.requests" for short in _comprehend_used(month))]),
        (EXPORT_FUNCTION, value("export.own_seconds") * scale, export_calls,
         ["export.own_seconds", "export.dynamodb.requests", "export.s3.put_requests_per_run",
          "export.s3.get_requests_per_run"]),
    ):  # fmt: skip
        _duration(month, function, own_seconds, calls_ms, [*keys, "imports.app_seconds"])


def _duration(month: _Month, function: str, own_seconds: float, calls_ms: float, keys: list[str]) -> None:
    """GB-seconds of one function: own time on its CPU share plus AWS calls, per invocation (billed in
    whole ms), and the INIT of its cold starts."""
    a = month.assumptions
    count, memory_mb = month.invocations[function], month.memory[function]
    cpu_factor = max(1.0, a.lambda_full_vcpu_mb / memory_mb)  # one full vCPU at 1,769 MB
    per_invocation_ms = math.ceil((own_seconds * 1000 * cpu_factor + calls_ms) / max(count, 1e-9))
    cold = count * a.cold_start_share[function]
    init_ms = math.ceil(month.value("imports.app_seconds") * 1000)
    month.add(
        service="Lambda",
        label=f"duration: {function} ({memory_mb} MB)",
        price="lambda.gb_second",
        quantity=_gb_seconds(count, per_invocation_ms, memory_mb) + _gb_seconds(cold, init_ms, memory_mb),
        keys=keys,
        how=f"{count:,.0f} x {per_invocation_ms:,} ms + {cold:,.0f} cold starts x {init_ms:,} ms INIT",
    )


def _sqs(month: _Month) -> None:
    a, value, scale = month.assumptions, month.value, month.scale
    month.add(service="SQS", label="ack: SendMessage", price="sqs.requests",
              quantity=value("ack.sqs.requests") * scale, keys=["ack.sqs.requests"],
              how="one message per submission")  # fmt: skip
    month.add(service="SQS", label="event source: ReceiveMessage + DeleteMessageBatch", price="sqs.requests",
              quantity=value("analyze.sqs.requests") * month.batches * scale,
              keys=["analyze.sqs.requests", "analyze.records"],
              how="up to 10 messages a receive and a delete batch, per batch")  # fmt: skip
    idle = a.esm_pollers * a.days_per_month * SECONDS_PER_DAY / a.esm_wait_seconds
    month.add(service="SQS", label="event source: empty receives while idle (upper bound)",
              price="sqs.requests", quantity=idle, keys=[],
              how=f"{a.esm_pollers} pollers, one {a.esm_wait_seconds:g}-s long poll each at a time, "
              "all month (assumption)")  # fmt: skip


def _comprehend_used(month: _Month) -> list[str]:
    """The Comprehend request types of the setup: Bedrock only keeps PII redaction (a choice of its own)."""
    if month.setup == BEDROCK_ONLY:
        return ["pii"]
    return list(COMPREHEND_OPERATIONS)


def _comprehend(month: _Month) -> None:
    chars = month.assumptions.average_text_chars
    for short in _comprehend_used(month):
        operation, price = COMPREHEND_OPERATIONS[short]
        units_key, documents_key = (
            f"analyze.comprehend.{short}.units",
            f"analyze.comprehend.{short}.documents",
        )
        documents = month.value(documents_key)
        if chars:
            units = documents * comprehend_units(chars)
            how = (
                f"{documents:,.0f} documents per 1,000 items x {comprehend_units(chars)} units "
                f"({chars:g} characters, assumed)"
            )
        else:
            units = month.value(units_key)
            how = f"{units:,.0f} units per 1,000 items ({documents:,.0f} documents, measured)"
        month.add(service="Comprehend", label=operation, price=price, quantity=units * month.scale,
                  keys=[units_key, documents_key], how=how)  # fmt: skip


def _bedrock(month: _Month) -> None:
    mode = SETUPS[month.setup][1]
    if mode is None:
        return
    requests_key = f"analyze.bedrock.{mode}.requests"
    requests = month.value(requests_key)
    for suffix, (price, label) in BEDROCK_TOKENS.items():
        key = f"analyze.bedrock.{mode}.{suffix}"
        measured = month.value(key)
        if suffix in BEDROCK_PER_REQUEST:
            # The cached prefix comes with every request: more, smaller batches read it more often.
            quantity = measured * month.batches * month.scale
            how = (
                f"{measured:,.0f} per 1,000 items ({measured / max(requests, 1e-9):,.0f} per request, "
                f"{requests:,.1f} requests) x {month.batches:.2f} for the batch fill"
            )
        else:
            quantity, how = measured * month.scale, f"{measured:,.0f} per 1,000 items (measured)"
        month.add(service="Bedrock", label=f"Converse {label}", price=price, quantity=quantity,
                  keys=[key, requests_key], how=how)  # fmt: skip


def _dynamodb(month: _Month) -> None:
    a, scale, measured = month.assumptions, month.scale, month.measured
    write_keys = {
        kind: [f"{p}.dynamodb.write_1kb_{kind}" for p in PHASES] for kind in ("transactional", "standard")
    }
    read_keys = {kind: [f"{p}.dynamodb.read_4kb_{kind}" for p in PHASES] for kind in ("eventual", "strong")}
    transactional, standard = (_sum(measured, keys) for keys in write_keys.values())
    eventual, strong = (_sum(measured, keys) for keys in read_keys.values())
    # Transactional writes cost two units per KB; index entries, plain writes and reads as they come.
    month.add(service="DynamoDB", label="write request units", price="dynamodb.wru",
              quantity=(2 * transactional + standard) * scale,
              keys=[k for v in write_keys.values() for k in v],
              how=f"per 1,000 items: 2 x {transactional:,.0f} in transactions + {standard:,.0f} index "
              "entries and plain writes (1 KB units)")  # fmt: skip
    month.add(service="DynamoDB", label="read request units", price="dynamodb.rru",
              quantity=(0.5 * eventual + strong) * scale, keys=[k for v in read_keys.values() for k in v],
              how=f"per 1,000 items: 0.5 x {eventual:,.0f} eventually consistent + {strong:,.0f} strongly "
              "consistent (4 KB units)")  # fmt: skip
    # Storage in the month when `retention_months` of history has accumulated.
    table = month.value("storage.dynamodb_table_bytes") * scale / GIB
    index = month.value("storage.dynamodb_index_bytes") * scale / GIB
    held = a.retention_months
    month.add(service="DynamoDB", label=f"storage, {held:g} months of items", price="dynamodb.storage",
              quantity=(table + index) * held,
              keys=["storage.dynamodb_table_bytes", "storage.dynamodb_index_bytes"],
              how=f"{table + index:.3f} GB a month (table + GSIs) x {held:g}")  # fmt: skip
    month.add(service="DynamoDB", label=f"point-in-time recovery, {held:g} months of items",
              price="dynamodb.pitr", quantity=table * held, keys=["storage.dynamodb_table_bytes"],
              how=f"{table:.3f} GB a month (table) x {held:g}")  # fmt: skip


def _s3(month: _Month) -> None:
    a, runs = month.assumptions, month.runs
    for kind, label in (("put", "PUT"), ("get", "GET")):
        key = f"export.s3.{kind}_requests_per_run"
        month.add(service="S3", label=f"{label} requests (nightly export)", price=f"s3.{kind}",
                  quantity=month.value(key) * runs, keys=[key],
                  how=f"{month.value(key):g} per export x {runs:g}")  # fmt: skip
    monthly_gb = month.value("export.s3_bytes") * month.scale / GIB
    standard = min(a.retention_months, a.standard_ia_after_months)
    infrequent = max(0.0, a.retention_months - a.standard_ia_after_months)
    for label, price, months in (
        ("Standard", "s3.standard_storage", standard),
        ("Standard-IA", "s3.ia_storage", infrequent),
    ):
        month.add(service="S3", label=f"{label} storage, {months:g} months of exports", price=price,
                  quantity=monthly_gb * months, keys=["export.s3_bytes"],
                  how=f"{monthly_gb:.3f} GB of exports a month x {months:g}")  # fmt: skip


def _observability(month: _Month) -> None:
    a = month.assumptions
    count = sum(month.invocations.values())
    month.add(service="CloudWatch Logs", label="ingestion", price="logs.ingestion",
              quantity=count * a.log_bytes_per_invocation / GIB, keys=INVOCATION_KEYS,
              how=f"{count:,.0f} invocations x {a.log_bytes_per_invocation:g} bytes (assumed)")  # fmt: skip
    month.add(service="X-Ray", label="traces recorded", price="xray.traces",
              quantity=count * a.xray_traced_share, keys=INVOCATION_KEYS,
              how=f"{count:,.0f} invocations x {a.xray_traced_share:g} traced (assumed)")  # fmt: skip


def usage_lines(
    measured: Mapping[str, float],
    assumptions: Assumptions,
    memory: Mapping[str, int],
    setup: str = COMPREHEND_ONLY,
) -> list[Usage]:
    """Everything a month of `assumptions.items_per_month` items uses in a setup (`SETUPS`), derived from the
    measured counts."""
    month = _Month(measured, assumptions, memory, [], setup)
    for section in (_front_door, _lambda, _sqs, _comprehend, _bedrock, _dynamodb, _s3, _observability):
        section(month)
    return month.lines


def price_lines(usage: Sequence[Usage], prices: Mapping[str, Price]) -> list[CostLine]:
    """Each usage line priced; a line whose price id is not in the table is an error."""
    missing = sorted({line.price_id for line in usage} - set(prices))
    if missing:
        raise KeyError(f"no price for {', '.join(missing)} in the price table")
    return [
        CostLine(line, prices[line.price_id], prices[line.price_id].cost(line.quantity)) for line in usage
    ]


def monthly_cost(
    measured: Mapping[str, float],
    table: PriceTable,
    memory: Mapping[str, int] | None = None,
    setup: str = COMPREHEND_ONLY,
) -> CostReport:
    """The month's bill in a setup: usage from the measured counts, priced with the table."""
    memory = memory if memory is not None else lambda_memory_mb(table.assumptions.stage)
    lines = price_lines(usage_lines(measured, table.assumptions, memory, setup), table.prices)
    return CostReport(lines, table.assumptions.items_per_month, table, memory)


def compare_setups(
    measured: Mapping[str, float], table: PriceTable, memory: Mapping[str, int] | None = None
) -> dict[str, CostReport]:
    """The month's bill in every setup of `SETUPS`, from the same measured counts and prices."""
    return {setup: monthly_cost(measured, table, memory, setup) for setup in SETUPS}
