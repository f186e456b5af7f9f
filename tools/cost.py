"""What N feedback items a month cost on AWS, from the bench's measured counts and an editable price table.

`tools/bench.py` measures, per 1,000 items, every AWS request the product makes on the way from a form
POST to the nightly export (and the DynamoDB capacity units, Comprehend units and bytes stored behind them);
`measured_counts` there turns a run into the flat mapping of `MEASURED_KEYS` this module prices. Unit
prices, their date and the assumptions the bench cannot measure (volume, retention, AWS call latency, cold
starts …) live in one TOML file, `tools/unit_prices.toml`, that a user edits. Everything here is pure
arithmetic on those two inputs: `usage_lines` says what is used in a month and from which measured counts,
`price_lines` prices it, `render` writes the markdown table `make bench` prints and puts in BENCHMARKS.md.

DynamoDB capacity follows the developer guide ("DynamoDB item sizes and formats", "Read/write capacity
mode"): a write request unit per 1 KB of item written, two for a write inside TransactWriteItems, one per
1 KB more for each global secondary index the item is written to (index propagation is not transactional);
a read request unit per 4 KB read strongly consistent, half of one eventually consistent; a Query is
rounded up to 4 KB over the items of each page, BatchGetItem/GetItem per item (a missing item still costs
the minimum). Storage adds 100 bytes of overhead per item, in the table and in each index it is in.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
PRICES_PATH = Path(__file__).with_name("unit_prices.toml")
CHALICE_CONFIG = PROJECT_DIR / ".chalice" / "config.json"
PER = 1000  # measured counts are per this many items

GIB = 1024**3  # AWS bills storage and log ingestion in binary gigabytes
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
ITEM_OVERHEAD_BYTES = 100  # storage overhead of every item, in the table and in each index
COMPREHEND_UNIT_CHARS = 100
COMPREHEND_MIN_UNITS = 3
SECONDS_PER_DAY = 86_400

# The Lambda functions Chalice deploys for app.py: every route runs in `api_handler`.
API_FUNCTION, ANALYZE_FUNCTION, EXPORT_FUNCTION = "api_handler", "analyze", "nightly_export"
FUNCTIONS = (API_FUNCTION, ANALYZE_FUNCTION, EXPORT_FUNCTION)
# Comprehend request types the analyze path makes: short name → (API operation, price id).
COMPREHEND_OPERATIONS = {
    "language": ("BatchDetectDominantLanguage", "comprehend.language"),
    "sentiment": ("BatchDetectSentiment", "comprehend.sentiment"),
    "pii": ("DetectPiiEntities", "comprehend.pii"),
}
# Comprehend request types made once per batch (DetectPiiEntities: once per document sent).
COMPREHEND_PER_BATCH = ("language", "sentiment")
PHASES = ("ack", "analyze", "export")


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


# What tools/bench.py measures: per 1,000 items, except `…_per_run` (per export run, i.e. per day exported)
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


# ----------------------------------------------------------------------------------------------------
# DynamoDB sizes and units


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one AttributeValue ({"S": …}, {"N": …}, {"M": …} …), its name excluded."""
    (kind, data), *_ = value.items()
    sizes: dict[str, Callable[[Any], int]] = {
        "S": lambda text: len(str(text).encode("utf-8")),
        "N": lambda number: number_size(str(number)),
        "B": len,
        "BOOL": lambda _: 1,
        "NULL": lambda _: 1,
        "SS": lambda members: sum(len(str(m).encode("utf-8")) for m in members),
        "NS": lambda members: sum(number_size(str(m)) for m in members),
        "BS": lambda members: sum(len(m) for m in members),
        # Lists and maps: 3 bytes, and 1 byte per element (a map's element also has its name).
        "L": lambda members: 3 + sum(1 + attribute_value_size(m) for m in members),
        "M": lambda members: (
            3 + sum(1 + len(name.encode("utf-8")) + attribute_value_size(v) for name, v in members.items())
        ),
    }
    if kind not in sizes:
        raise ValueError(f"unknown AttributeValue type {kind!r}")
    return sizes[kind](data)


def number_size(number: str) -> int:
    """Bytes of a DynamoDB number: one per two significant digits, plus one."""
    digits = number.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB counts for an item in AttributeValue form: attribute names plus values."""
    return sum(len(name.encode("utf-8")) + attribute_value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """1 KB write units for writing an item of `size` bytes (one at least)."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int) -> int:
    """4 KB read units for reading `size` bytes (one at least: a missing item costs the minimum)."""
    return max(1, math.ceil(size / READ_UNIT_BYTES))


def comprehend_units(characters: float) -> int:
    """Comprehend units billed for one document of `characters`: 100-character units, 3 minimum."""
    return max(COMPREHEND_MIN_UNITS, math.ceil(characters / COMPREHEND_UNIT_CHARS))


# ----------------------------------------------------------------------------------------------------
# The price file


@dataclass(frozen=True)
class Price:
    """One row of the price table: `usd` buys `per` of `unit`."""

    id: str
    service: str
    item: str
    unit: str
    per: float
    usd: float
    source: str
    note: str = ""

    def cost(self, quantity: float) -> float:
        """USD for `quantity` of the unit."""
        return quantity / self.per * self.usd


@dataclass(frozen=True)
class Assumptions:
    """What the bench cannot measure (see unit_prices.toml for each one's meaning)."""

    items_per_month: int
    days_per_month: float
    stage: str
    retention_months: float
    standard_ia_after_months: float
    average_text_chars: float  # 0: as measured
    analyze_batch_fill: float  # 0: as measured
    lambda_full_vcpu_mb: float
    cold_start_share: Mapping[str, float]
    log_bytes_per_invocation: float
    xray_traced_share: float
    esm_pollers: int
    esm_wait_seconds: float
    call_latency_ms: Mapping[str, float]


@dataclass(frozen=True)
class PriceTable:
    """The price file: prices by id, their date and region, and the assumptions."""

    as_of: date
    region: str
    currency: str
    prices: Mapping[str, Price]
    assumptions: Assumptions
    path: Path | None = None


def load_prices(path: Path = PRICES_PATH) -> PriceTable:
    """Parse the price file (tomllib); a missing field or a duplicate id is an error."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    as_of = data["prices_as_of"]
    if not isinstance(as_of, date):
        raise ValueError(f"{path}: prices_as_of must be a TOML date (YYYY-MM-DD), not {as_of!r}")
    prices: dict[str, Price] = {}
    for row in data["price"]:
        price = Price(**row)
        if price.id in prices:
            raise ValueError(f"{path}: price id {price.id!r} appears twice")
        if price.usd < 0 or price.per <= 0:
            raise ValueError(f"{path}: price {price.id!r} needs usd ≥ 0 and per > 0")
        prices[price.id] = price
    given = data["assumptions"]
    assumptions = Assumptions(**given)
    missing = set(FUNCTIONS) - set(assumptions.cold_start_share)
    if missing:
        raise ValueError(f"{path}: cold_start_share lacks {', '.join(sorted(missing))}")
    return PriceTable(as_of, data["region"], data["currency"], prices, assumptions, path)


def lambda_memory_mb(stage: str, config_path: Path = CHALICE_CONFIG) -> dict[str, int]:
    """Memory (MB) of each function in a Chalice stage: the stage's default, then per-function overrides."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    stage_config = config["stages"][stage]
    default = int(stage_config.get("lambda_memory_size", config.get("lambda_memory_size", 128)))
    functions = stage_config.get("lambda_functions", {})
    return {name: int(functions.get(name, {}).get("lambda_memory_size", default)) for name in FUNCTIONS}


# ----------------------------------------------------------------------------------------------------
# Usage


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
        for short in COMPREHEND_OPERATIONS
    )
    analyze_calls = (
        comprehend_calls * latency["comprehend"]
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
         ["analyze.invocations", "analyze.own_seconds", "analyze.dynamodb.requests",
          *(f"analyze.comprehend.{short}.requests" for short in COMPREHEND_OPERATIONS)]),
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


def _comprehend(month: _Month) -> None:
    chars = month.assumptions.average_text_chars
    for short, (operation, price) in COMPREHEND_OPERATIONS.items():
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
    measured: Mapping[str, float], assumptions: Assumptions, memory: Mapping[str, int]
) -> list[Usage]:
    """Everything a month of `assumptions.items_per_month` items uses, derived from the measured counts."""
    month = _Month(measured, assumptions, memory, [])
    for section in (_front_door, _lambda, _sqs, _comprehend, _dynamodb, _s3, _observability):
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
    measured: Mapping[str, float], table: PriceTable, memory: Mapping[str, int] | None = None
) -> CostReport:
    """The month's bill: usage from the measured counts, priced with the table."""
    memory = memory if memory is not None else lambda_memory_mb(table.assumptions.stage)
    lines = price_lines(usage_lines(measured, table.assumptions, memory), table.prices)
    return CostReport(lines, table.assumptions.items_per_month, table, memory)


# ----------------------------------------------------------------------------------------------------
# Markdown


def _quantity(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"


def _usd(value: float) -> str:
    return f"${value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"${value:.4f}"


def _unit_price(price: Price) -> str:
    per = f"{price.per:,.0f} " if price.per != 1 else ""
    usd = format(Decimal(str(price.usd)).normalize(), "f")
    whole, _, cents = usd.partition(".")
    return f"${whole}.{cents.ljust(2, '0')} per {per}{price.unit}"


def render(report: CostReport, measured_on: str) -> list[str]:
    """The cost section of BENCHMARKS.md (also printed by `make bench`)."""
    table, a = report.table, report.table.assumptions
    memory = ", ".join(f"{name} {mb} MB" for name, mb in report.memory.items())
    lines = [
        f"{a.items_per_month:,} feedback items a month, priced from the counts measured {measured_on} "
        f"with the unit prices of `{_display_path(table.path)}` (as of **{table.as_of.isoformat()}**, "
        f"{table.region}, {table.currency}; free tiers ignored). Lambda memory as configured for the "
        f"`{a.stage}` stage: {memory}.",
        "",
        "| service | line | quantity per month | unit | unit price | USD per month | derived from |",
        "|---|---|---:|---|---|---:|---|",
    ]
    for line in report.lines:
        usage, price = line.usage, line.price
        lines.append(
            f"| {usage.service} | {usage.label} | {_quantity(usage.quantity)} | {price.unit} "
            f"| {_unit_price(price)} | {_usd(line.usd)} | {usage.how} |"
        )
    lines += [
        f"| **total** | | | | | **{_usd(report.total)}** | |",
        "",
        f"**{_usd(report.total)} a month for {a.items_per_month:,} items: "
        f"{_usd(report.per_thousand_items)} per 1,000 items.** Largest lines: "
        + ", ".join(
            f"{line.usage.service} {line.usage.label} {_usd(line.usd)}"
            for line in sorted(report.lines, key=lambda line: -line.usd)[:3]
        )
        + ".",
        "",
        *_assumption_lines(a),
    ]
    return lines


def _display_path(path: Path | None) -> str:
    if path is None:
        return "(in memory)"
    try:
        return str(path.resolve().relative_to(PROJECT_DIR))
    except ValueError:
        return str(path)


def _assumption_lines(a: Assumptions) -> list[str]:
    latency = ", ".join(f"{service} {ms:g} ms" for service, ms in a.call_latency_ms.items())
    cold = ", ".join(f"{name} {share:.0%}" for name, share in a.cold_start_share.items())
    text = f"{a.average_text_chars:g} characters" if a.average_text_chars else "as measured"
    fill = f"{a.analyze_batch_fill:g} records" if a.analyze_batch_fill else "as measured (full batches)"
    return [
        "Assumptions (edit them in the price file):",
        f"- Volume: {a.items_per_month:,} items in {a.days_per_month:g} days, one export a day; storage is "
        f"priced for the month when {a.retention_months:g} months of history are held (no TTL on "
        f"feedback; exports move to Standard-IA after {a.standard_ia_after_months:g} months).",
        f"- Text length: {text}. Analyze batch fill: {fill}; a steady trickle with the 5-second batching "
        "window fills batches less, which adds Lambda and SQS requests but no Comprehend or DynamoDB units.",
        f"- Lambda duration: the handler's own time measured in process (outside AWS calls) x "
        f"{a.lambda_full_vcpu_mb:g} MB / memory (Lambda's CPU share), plus each AWS call at {latency}; "
        f"cold starts ({cold}) add the measured `import app` time as billed INIT.",
        f"- SQS: the event source's idle long polls are an upper bound ({a.esm_pollers} pollers, "
        f"{a.esm_wait_seconds:g}-s waits); CloudWatch Logs {a.log_bytes_per_invocation:g} bytes per "
        f"invocation; X-Ray traces {a.xray_traced_share:.0%} of invocations.",
        "- DynamoDB: transactional writes 2 WRU per KB; index entries 1 WRU per KB each; reads ½ RRU per "
        "4 KB (eventually consistent); profile updates priced at the profile's size after the run (an upper "
        "bound); customers per item as in the synthetic input.",
        "- Not included: fixed monthly fees (WAF web ACL and rules, CloudWatch alarms and dashboards), data "
        "transfer out, downloads of exports, Athena queries, the read API and dashboard.",
    ]
