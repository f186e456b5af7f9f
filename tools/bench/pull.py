"""Pulled reviews: platform API requests per 1,000 reviews pulled, per platform, against the fakes.

Two scenarios per platform (google_play, app_store, google_business), each on a fresh source and fake:

- backlog: 1,000 reviews already written (within Google Play's 7-day window), pulled by runs of the
  scheduler until caught up (a first pull, or a source back from a pause);
- steady: 1,000 reviews arriving over a day, about 10 between two runs of the default 15-minute schedule
  (96 runs), each run reading from its checkpoint;
- reconcile: after the backlog, 10 of its reviews deleted on the platform, and the next run a day later
  (the default reconcile_hours) lists the window again: its extra list requests, the deletions it queued.

Counted: the list requests the platform's API served and the token requests (Google's token endpoint;
the App Store's JWT is signed locally), and AWS requests (SQS sends, DynamoDB) through botocore. Counts, not
timings. Run alone: `PYTHONPATH=. python -m tools.bench.pull`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tools.bench.counting import RequestCounter

REVIEWS = 1000
RUNS_PER_DAY = 96  # every 15 minutes
PLATFORMS = ("google_play", "app_store", "google_business")
DELETED = 10


@dataclass
class PullRow:
    platform: str
    scenario: str
    page_size: int
    reviews: int  # reviews written on the platform and pulled (every one of them: the tests check it)
    queued: int  # events queued by the runs (a review queued twice would count twice)
    runs: int
    list_requests: int
    token_requests: int
    aws: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def api_per_1000(self) -> float:
        """Platform API requests per 1,000 reviews written and pulled."""
        return (self.list_requests + self.token_requests) * 1000 / max(1, self.reviews)


@dataclass
class ReconcileRow:
    platform: str
    page_size: int
    in_window: int  # reviews the window held (the record's, deleted ones included)
    reconcile_requests: int  # list requests of the reconcile itself, beyond the run's own page
    run_requests: int  # every list request of that run
    deleted: int
    record_bytes: int  # the seen-review record in the source's state item, after the reconcile
    aws: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class PullCost:
    rows: list[PullRow] = field(default_factory=list)
    reconciles: list[ReconcileRow] = field(default_factory=list)

    def row(self, platform: str, scenario: str) -> PullRow:
        return next(r for r in self.rows if (r.platform, r.scenario) == (platform, scenario))


def measure_pull_cost() -> PullCost:
    """The measurement on its own moto stack."""
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.setup_default_session()
        provision_stack()
        result = measure_in_stack(boto3.DEFAULT_SESSION.events)
    reset_process_caches()
    return result


def _reconcile_after_backlog(
    platform: str, source: Any, fake: Any, http: Any, counter: RequestCounter
) -> ReconcileRow:
    from datetime import timedelta

    from chalicelib.channels.pull import scheduler
    from chalicelib.channels.pull import state as pull_state
    from chalicelib.channels.pull.registry import platform_for
    from chalicelib.models import utc_now

    spacing = len(fake.reviews) // DELETED  # spread over the backlog, clear of the window's oldest edge
    for review_id in sorted(fake.reviews)[spacing // 2 :: spacing][:DELETED]:
        fake.delete_review(review_id)
    before = len(fake.api_requests())
    phase = f"{platform} reconcile"
    with counter.phase_of(phase):
        state = pull_state.load(source.source_id)
        outcome = scheduler.pull_source(source, state, http, now=utc_now() + timedelta(hours=24))
    from chalicelib.channels.pull import reconcile as window

    seen = pull_state.load(source.source_id).seen
    in_window = len(seen) + outcome.deleted
    record_bytes = sum(len(k.encode()) + len(v) + window.ENTRY_OVERHEAD_BYTES for k, v in seen.items())
    return ReconcileRow(
        platform=platform,
        page_size=platform_for(platform).page_size,
        in_window=in_window,
        reconcile_requests=outcome.reconcile_pages,
        run_requests=len(fake.api_requests()) - before,
        deleted=outcome.deleted,
        record_bytes=record_bytes,
        aws=counter.requests(phase),
    )


def _run_scenario(
    platform: str, scenario: str, counter: RequestCounter, reconciles: list[ReconcileRow] | None = None
) -> PullRow:
    from chalicelib.channels import sources
    from chalicelib.channels.pull import credentials, scheduler
    from chalicelib.channels.pull import state as pull_state
    from chalicelib.channels.pull.http import JsonHttp
    from chalicelib.channels.pull.registry import platform_for
    from chalicelib.channels.sources import SourceConfig
    from tools.fakes.review_sources import start_fake_source

    fake_source = start_fake_source(platform)
    fake = fake_source.fake
    source = SourceConfig(
        source_id=f"bench-{platform.replace('_', '-')}-{scenario}",
        type=platform,
        name="bench",
        settings=fake_source.settings,
    )
    sources.save(source, fake_source.secrets)
    credentials.clear_tokens()  # a cold function: the first run asks for a token
    http, runs, queued = JsonHttp(), 0, 0
    phase = f"{platform} {scenario}"
    try:
        with counter.phase_of(phase):
            if scenario == "backlog":
                for n in range(REVIEWS):  # spread over 5 days, a distinct second each
                    fake.add_review(f"Backlog review {n}", 1 + n % 5, age_seconds=5 * 24 * 3600 - n * 400)
                while True:
                    runs += 1
                    outcome = scheduler.pull_source(source, pull_state.load(source.source_id), http)
                    queued += outcome.reviews
                    if outcome.status != "unfinished":
                        break
            else:
                scheduler.pull_source(source, pull_state.load(source.source_id), http)  # nothing yet
                runs += 1
                for run in range(RUNS_PER_DAY):
                    arriving = REVIEWS * (run + 1) // RUNS_PER_DAY - REVIEWS * run // RUNS_PER_DAY
                    for n in range(arriving):
                        # Ten minutes apart per run, a second apart within it (ahead of the clock).
                        fake.add_review(f"Review {run}-{n}", 1 + n % 5, age_seconds=-(run * 600 + n))
                    outcome = scheduler.pull_source(source, pull_state.load(source.source_id), http)
                    queued += outcome.reviews
                    runs += 1
        api = fake.api_requests()
        token_requests = len(fake.requests) - len(api)
        list_requests = len(api)
        written = len(fake.reviews)
        if reconciles is not None:
            reconciles.append(_reconcile_after_backlog(platform, source, fake, http, counter))
    finally:
        fake_source.stop()
    return PullRow(
        platform=platform,
        scenario=scenario,
        page_size=platform_for(platform).page_size,
        reviews=written,
        queued=queued,
        runs=runs,
        list_requests=list_requests,
        token_requests=token_requests,
        aws=counter.requests(phase),
    )


def measure_in_stack(events: Any) -> PullCost:
    """Both scenarios for each platform on the current (moto) stack, counting AWS requests on `events`."""
    from chalicelib import aws

    counter = RequestCounter()
    counter.attach(events)
    aws.reset_clients()
    result = PullCost()
    for platform in PLATFORMS:
        for scenario in ("backlog", "steady"):
            reconciles = result.reconciles if scenario == "backlog" else None
            result.rows.append(_run_scenario(platform, scenario, counter, reconciles))
    return result


def pull_checks(cost: PullCost | None) -> list[tuple[str, str, str, bool]]:
    """(what, measured, target, met) rows for checks.py: a backlog costs its pages plus one token."""
    if cost is None:
        return []
    rows = []
    for platform in PLATFORMS:
        backlog = cost.row(platform, "backlog")
        pages = math.ceil(REVIEWS / backlog.page_size)
        target = pages + 1  # every page once (the last may be one more at the checkpoint), one token
        measured = backlog.list_requests + backlog.token_requests
        rows.append(
            (
                f"pulled reviews ({platform}): API requests for a backlog of 1,000 reviews",
                str(measured),
                f"≤ {target + 1}",
                backlog.queued >= backlog.reviews == REVIEWS and measured <= target + 1,
            )
        )
    return rows


def pull_section(cost: PullCost | None) -> list[str]:
    """The BENCHMARKS.md lines."""
    if cost is None:
        return ["Not measured in this run."]
    lines = [
        "| platform | scenario | page size | reviews | events queued | runs | list requests | token requests "
        "| API requests per 1,000 reviews | AWS requests |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in cost.rows:
        aws = ", ".join(f"{service} {op} {count}" for (service, op), count in sorted(row.aws.items()))
        lines.append(
            f"| {row.platform} | {row.scenario} | {row.page_size} | {row.reviews} | {row.queued} | "
            f"{row.runs} | {row.list_requests} | {row.token_requests} | {row.api_per_1000:.0f} | "
            f"{aws or '—'} |"
        )
    lines += [
        "",
        "backlog: 1,000 reviews already written, pulled until caught up; steady: 1,000 reviews arriving",
        "over a day, pulled by the default 15-minute schedule (96 runs, about 10 new reviews each). A run",
        "reads pages from the top until it meets its checkpoint, so a caught-up run is one list request",
        "whatever the platform holds. Token requests: Google's tokens live an hour and are kept by a warm",
        "function (one here; deployed, up to 24 a day per source); the App Store's JWT is signed locally.",
        "AWS: one SQS request per page that held reviews, one conditional PutItem of the checkpoint per run,",
        "the source's secrets through the cache; the bench reads each checkpoint by key (GetItem), where the",
        "schedule reads all sources and checkpoints with two Queries per tick. The newest review, listed",
        "again by the next run at the checkpoint's own time, is known to the checkpoint: not queued again.",
        "",
        "Reconcile (deletions; the App Store's edits that keep their date): once a day by default, a run",
        "that caught up lists the window again (Google Play: the last 6 days, inside its 7-day listing;",
        "the others: `reconcile_days`, default 30). Extra list requests per reconcile = ⌈reviews in the",
        "window / page size⌉, at least 1 (a page ending exactly at the window's edge may add one).",
        "The record of the reviews seen in the window rides in the source's state item, which each run",
        "rewrites (one conditional PutItem, as before): its size is the write units a run costs beyond 1.",
        "",
        "| platform | page size | reviews in the window | reconcile list requests "
        "| list requests of that run | deletions recorded | record KB | AWS requests |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for rec in cost.reconciles:
        aws = ", ".join(f"{service} {op} {count}" for (service, op), count in sorted(rec.aws.items()))
        lines.append(
            f"| {rec.platform} | {rec.page_size} | {rec.in_window} | {rec.reconcile_requests} | "
            f"{rec.run_requests} | {rec.deleted} | {rec.record_bytes / 1000:.0f} | {aws or '—'} |"
        )
    return lines


def main() -> None:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the metrics' EMF lines
        cost = measure_pull_cost()
    for line in pull_section(cost):
        print(line)


if __name__ == "__main__":
    main()
