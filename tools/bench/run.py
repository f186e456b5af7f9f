"""The whole bench: the main run, the throughput worker beside it, import timing, the PII corpus and the
sentiment set."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tools.bench.alerts import AlertFigures, measure_alerts
from tools.bench.capacity import CapacityTally, Inventory
from tools.bench.counting import RequestCounter
from tools.bench.crm import CrmFigures, measure_crm
from tools.bench.email import EmailCost, measure_email_cost
from tools.bench.export_scale import ExportScale, measure_safely
from tools.bench.import_time import ImportResult, measure_imports
from tools.bench.language_quality import LanguageQuality, measure_language_quality
from tools.bench.listings import DAY_COUNTS, ListingFigures, measure_listings
from tools.bench.pii_quality import PiiQuality, measure_pii_quality
from tools.bench.pipeline import (
    AckResult,
    AnalyzeResult,
    ExportResult,
    WebhookAckResult,
    run_pipeline,
    timed,
)
from tools.bench.pull import PullCost, measure_pull_cost
from tools.bench.sentiment_quality import LanguageScore, measure_sentiment_quality
from tools.bench.theme_quality import ThemeCost, measure_theme_cost, measure_theme_quality

if TYPE_CHECKING:
    from tools import themes_eval
from tools.bench.dashboard_cost import DashboardLoad, measure_dashboard_cost
from tools.bench.outbound import OutboundFigures, measure_outbound
from tools.bench.stats_cost import StatsCost, measure_stats_cost
from tools.bench.throughput import ThroughputResult, ThroughputWorker


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
    sentiment_quality: dict[str, LanguageScore] | None = None
    language_quality: LanguageQuality | None = None
    theme_quality: themes_eval.Report | None = None
    theme_cost: list[ThemeCost] | None = None
    export_scale: ExportScale | None = None
    stats_cost: StatsCost | None = None
    dashboard_cost: list[DashboardLoad] | None = None
    listings: list[ListingFigures] | None = None
    outbound: OutboundFigures | None = None
    email_cost: EmailCost | None = None
    pull_cost: PullCost | None = None
    crm: CrmFigures | None = None
    alerts: AlertFigures | None = None


def run(
    items: int,
    history: int,
    import_runs: int,
    throughput_items: int,
    listing_days: Sequence[int] = DAY_COUNTS,
) -> BenchResult:
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
    with timed(pipeline.timings, "stats cost"), contextlib.redirect_stdout(captured):
        stats_cost = measure_stats_cost()
    with timed(pipeline.timings, "dashboard cost"), contextlib.redirect_stdout(captured):
        dashboard_cost = measure_dashboard_cost()
    with timed(pipeline.timings, "outbound webhooks"):
        outbound = measure_outbound()
    with timed(pipeline.timings, "alert evaluation"), contextlib.redirect_stdout(captured):
        alerts = measure_alerts()
    with timed(pipeline.timings, "e-mail requests"), contextlib.redirect_stdout(captured):
        email_cost = measure_email_cost()
    with timed(pipeline.timings, "pulled reviews"), contextlib.redirect_stdout(captured):
        pull_cost = measure_pull_cost()
    with timed(pipeline.timings, "filtered listings"):
        listings = measure_listings(day_counts=listing_days)
    with timed(pipeline.timings, "CRM sync"), contextlib.redirect_stdout(captured):
        crm = measure_crm()
    with timed(pipeline.timings, "import timing"):
        imports = measure_imports(import_runs)
    with timed(pipeline.timings, "PII corpus"):
        pii_quality = measure_pii_quality()
    with timed(pipeline.timings, "sentiment set"):
        sentiment_quality = measure_sentiment_quality()
    with timed(pipeline.timings, "language set"):
        language_quality = measure_language_quality()
    with timed(pipeline.timings, "themes set"):
        theme_quality = measure_theme_quality()
        theme_cost = measure_theme_cost()
    with timed(pipeline.timings, "export at scale"), contextlib.redirect_stdout(io.StringIO()):
        export_scale = measure_safely()
    return BenchResult(
        export_scale=export_scale,
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
        sentiment_quality=sentiment_quality,
        language_quality=language_quality,
        theme_quality=theme_quality,
        theme_cost=theme_cost,
        stats_cost=stats_cost,
        dashboard_cost=dashboard_cost,
        listings=listings,
        outbound=outbound,
        email_cost=email_cost,
        pull_cost=pull_cost,
        crm=crm,
        alerts=alerts,
    )
