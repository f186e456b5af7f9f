"""The cost section of BENCHMARKS.md: the priced month as a markdown table, and the assumptions behind it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tools.cost.model import BEDROCK_ONLY, SETUPS, CostReport
from tools.cost.prices import PROJECT_DIR, Assumptions, Price


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


# Bedrock only: the target for its Bedrock lines, per 1M items at list prices.
TARGET_BEDROCK_ONLY_USD_PER_MILLION = 20.0


def analysis_usd(report: CostReport) -> float:
    """What a month's analysis costs: the Comprehend and Bedrock lines (PII redaction included)."""
    return sum(line.usd for line in report.lines if line.usage.service in {"Comprehend", "Bedrock"})


def bedrock_usd(report: CostReport) -> float:
    return sum(line.usd for line in report.lines if line.usage.service == "Bedrock")


def render_setups(reports: dict[str, CostReport]) -> list[str]:
    """The three setups side by side: each line that differs, the analysis subtotal and the total."""
    titles = [SETUPS[setup][0] for setup in reports]
    costs = {
        setup: {(line.usage.service, line.usage.label): line.usd for line in report.lines}
        for setup, report in reports.items()
    }
    keys: list[tuple[str, str]] = []
    for by_line in costs.values():
        keys += [key for key in by_line if key not in keys]
    differing = [key for key in keys if len({by_line.get(key) for by_line in costs.values()}) > 1]
    first = next(iter(reports.values()))
    per_million = 1_000_000 / first.items_per_month
    lines = [
        f"The same measured counts priced for three setups of the analyze step (USD a month for "
        f"{first.items_per_month:,} items; lines equal in all three left out):",
        "",
        "| line | " + " | ".join(titles) + " |",
        "|---|" + "---:|" * len(titles),
    ]
    for service, label in differing:
        cells = [
            _usd(by_line[(service, label)]) if (service, label) in by_line else "-"
            for by_line in costs.values()
        ]
        lines.append(f"| {service}: {label} | " + " | ".join(cells) + " |")
    lines += [
        "| **analysis (Comprehend + Bedrock)** | "
        + " | ".join(f"**{_usd(analysis_usd(report))}**" for report in reports.values())
        + " |",
        "| **total** | " + " | ".join(f"**{_usd(report.total)}**" for report in reports.values()) + " |",
        "| per 1M items | "
        + " | ".join(_usd(report.total * per_million) for report in reports.values())
        + " |",
    ]
    bedrock_only = reports.get(BEDROCK_ONLY)
    if bedrock_only is not None:
        usd = bedrock_usd(bedrock_only) * per_million
        verdict = "met" if usd <= TARGET_BEDROCK_ONLY_USD_PER_MILLION else "**missed**"
        lines += [
            "",
            f"Bedrock only: Bedrock costs **{_usd(usd)} per 1M items** (target ≤ "
            f"${TARGET_BEDROCK_ONLY_USD_PER_MILLION:g}: {verdict}). PII redaction stays Comprehend's "
            "DetectPiiEntities in every setup (its own choice, `configured_redactor`).",
        ]
    return lines
