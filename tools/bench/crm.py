"""CRM sync: HubSpot and Salesforce API requests per 1,000 synced items, counted at the local fakes
(tools/fakes/hubspot.py, tools/fakes/salesforce.py), and the time a 100,000-item backfill needs under each
CRM's default limits, computed from those counts.

Items reach the sync in batches of `SYNC_BATCH` (what the stream/queue consumer hands it). The customers'
profiles are written straight to the table (the sync reads them, the analyze path is measured elsewhere);
each customer has a few items spread over the run, so most batches update contacts synced before.
Two populations: every customer with an email, and a quarter without one (their contacts are keyed by the
customer id property, one more upsert request per batch). Then the same items are synced again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

ITEMS = 1_000
SYNC_BATCH = 100
ITEMS_PER_CUSTOMER = 2.5
BACKFILL_ITEMS = 100_000
# HubSpot's default for a private app (Free and Starter accounts): 100 requests per 10 seconds,
# 250,000 a day. Professional and Enterprise accounts get 190 per 10 seconds.
HUBSPOT_PER_10_SECONDS = 100
HUBSPOT_DAILY = 250_000
TARGET_HUBSPOT_REQUESTS_PER_1000 = 30
TOKEN = "pat-na1-bench"  # noqa: S105 - the fake's token
# Salesforce limits requests per rolling 24 hours per org, not per second: Enterprise Edition gets 100,000
# plus 1,000 per Salesforce license (here the smallest org the bench assumes: 10 licenses); Developer
# Edition 15,000. The only other limit, 25 concurrent requests running 20 s or longer, a sequential sync of
# short requests never meets.
SALESFORCE_DAILY_BASE = 100_000
SALESFORCE_DAILY_PER_LICENSE = 1_000
SALESFORCE_LICENSES = 10
SALESFORCE_DEVELOPER_DAILY = 15_000
TARGET_SALESFORCE_REQUESTS_PER_1000 = 20
SALESFORCE_CLIENT_ID = "3MVG9bench.client"
SALESFORCE_SECRET = "bench-secret"  # noqa: S105 - the fake's secret


@dataclass
class CrmRun:
    label: str
    items: int
    customers: int
    requests: dict[str, int] = field(default_factory=dict)  # endpoint → requests
    resync_requests: int = 0
    synced: int = 0

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def per_thousand(self) -> float:
        return self.total * 1000 / self.items

    def backfill_seconds(
        self, items: int = BACKFILL_ITEMS, per_10_seconds: int = HUBSPOT_PER_10_SECONDS
    ) -> float:
        """The rate limit's floor for `items`: the requests they take, 100 every 10 seconds."""
        return math.ceil(self.per_thousand * items / 1000) / per_10_seconds * 10


def salesforce_daily_allocation(licenses: int = SALESFORCE_LICENSES) -> int:
    return SALESFORCE_DAILY_BASE + SALESFORCE_DAILY_PER_LICENSE * licenses


def windows_needed(requests: int, allocation: int) -> int:
    """The 24-hour windows `requests` need under a rolling allocation (1: no waiting for the limit)."""
    return max(1, math.ceil(requests / allocation))


@dataclass
class SalesforceFigures:
    setup_requests: int
    setup_again_requests: int
    runs: list[CrmRun]


@dataclass
class CrmFigures:
    setup_requests: int
    setup_again_requests: int
    runs: list[CrmRun]
    salesforce: SalesforceFigures | None = None


class Seeded:
    """Items of count / ITEMS_PER_CUSTOMER customers in memory; their profiles written to the table batch by
    batch, as they stand once the batch's items are stored (what the sync reads at that moment)."""

    def __init__(self, count: int, without_email_share: float, prefix: str) -> None:
        from datetime import UTC, datetime, timedelta

        from chalicelib.models import (
            Analysis,
            Author,
            Channel,
            FeedbackEvent,
            Kind,
            Sentiment,
            StoredFeedback,
        )

        customers = max(1, round(count / ITEMS_PER_CUSTOMER))
        without_every = round(1 / without_email_share) if without_email_share else 0
        start = datetime(2026, 11, 1, tzinfo=UTC)
        self.items: list[StoredFeedback] = []
        self.emails: dict[str, str | None] = {}
        for index in range(count):
            number = index % customers
            customer_id = f"cus_{prefix}{number:06d}"
            email = None if without_every and number % without_every == 0 else f"{prefix}{number}@example.com"
            self.emails[customer_id] = email
            at = start + timedelta(minutes=index)
            event = FeedbackEvent.create(
                source_id="demo",
                external_id=f"{prefix}{index}",
                channel=Channel.FORM,
                kind=Kind.FORM_RESPONSE,
                text="Delivery was quick and the support team friendly",
                author=Author(email=email),
                occurred_at=at,
                received_at=at,
            )
            analysis = Analysis(sentiment=Sentiment.POSITIVE, analyzer="lexicon", analyzed_at=at)
            self.items.append(StoredFeedback.from_event(event, analysis, at, customer_id=customer_id))
        self._profiles: dict[str, dict[str, object]] = {}

    def store(self, batch: list[object]) -> None:
        """Write the profiles of the batch's customers as they stand after its items."""
        from chalicelib.config import settings
        from chalicelib.store import dynamo
        from chalicelib.store.profiles import PROFILE, profile_key
        from chalicelib.store.schema import RECORD_TYPE

        touched = {}
        for item in batch:
            customer_id = item.customer_id
            email = self.emails[customer_id]
            profile = self._profiles.setdefault(
                customer_id,
                {
                    **profile_key(customer_id),
                    RECORD_TYPE: PROFILE,
                    "customer_id": customer_id,
                    "feedback_count": 0,
                    "channels": {"form"},
                    "first_seen": item.occurred_at.isoformat(),
                    **({"emails": {email}} if email else {}),
                },
            )
            profile["feedback_count"] += 1
            profile["last_seen"] = item.occurred_at.isoformat()
            touched[customer_id] = profile
        dynamo.batch_write(settings().table_name, [dynamo.put_request(p) for p in touched.values()])


def _run(label: str, without_email_share: float, prefix: str, items_count: int) -> CrmRun:
    from chalicelib.crm import connections
    from chalicelib.crm import sync as crm_sync
    from chalicelib.crm.connections import CrmConnection, CrmSettings
    from tools.fakes.base import FakeClock
    from tools.fakes.hubspot import FakeHubSpot, HubSpotServer

    clock = FakeClock()
    fake = FakeHubSpot(tokens={TOKEN}, clock=clock)
    seeded = Seeded(items_count, without_email_share, prefix)
    items = seeded.items
    with HubSpotServer(fake) as server:
        connection = CrmConnection(
            connection_id=f"crm_bench_{prefix}",
            type="hubspot",
            name=label,
            settings=CrmSettings(api_url=server.url),
        )
        connections.save(connection, {"token": TOKEN})
        crm_sync.target_for(connection, clock.sleep).setup()
        before = len(fake.requests)
        run = CrmRun(label, items_count, len({i.customer_id for i in items}))
        for start in range(0, len(items), SYNC_BATCH):
            batch = items[start : start + SYNC_BATCH]
            seeded.store(batch)
            run.synced += len(crm_sync.sync_connection(connection, batch, sleep=clock.sleep).synced)
        for request in fake.requests[before:]:
            endpoint = f"{request.method} {request.path.partition('?')[0]}"
            run.requests[endpoint] = run.requests.get(endpoint, 0) + 1
        after = len(fake.requests)
        for start in range(0, len(items), SYNC_BATCH):
            crm_sync.sync_connection(connection, items[start : start + SYNC_BATCH], sleep=clock.sleep)
        run.resync_requests = len(fake.requests) - after
    return run


def _setup_requests() -> tuple[int, int]:
    from chalicelib.crm.connections import CrmConnection, CrmSettings
    from chalicelib.crm.hubspot import target_for
    from tools.fakes.hubspot import FakeHubSpot, HubSpotServer

    fake = FakeHubSpot(tokens={TOKEN})
    with HubSpotServer(fake) as server:
        connection = CrmConnection(
            connection_id="crm_bench_setup",
            type="hubspot",
            name="setup",
            settings=CrmSettings(api_url=server.url),
        )
        target_for(connection, TOKEN).setup()
        first = len(fake.requests)
        target_for(connection, TOKEN).setup()
        return first, len(fake.requests) - first


def _salesforce_run(label: str, without_email_share: float, prefix: str, items_count: int) -> CrmRun:
    from chalicelib.crm import connections
    from chalicelib.crm import sync as crm_sync
    from chalicelib.crm.connections import CrmConnection, CrmSettings
    from chalicelib.crm.salesforce_api import forget_sessions
    from tools.fakes.base import FakeClock
    from tools.fakes.salesforce import ConnectedApp, FakeSalesforce, SalesforceServer

    forget_sessions()
    clock = FakeClock()
    app = ConnectedApp(SALESFORCE_CLIENT_ID, SALESFORCE_SECRET, usernames={"integration@example.com"})
    fake = FakeSalesforce(apps=[app], clock=clock, daily_allocation=salesforce_daily_allocation())
    seeded = Seeded(items_count, without_email_share, prefix)
    items = seeded.items
    with SalesforceServer(fake) as server:
        connection = CrmConnection(
            connection_id=f"crm_bench_sf_{prefix}",
            type="salesforce",
            name=label,
            settings=CrmSettings(api_url=server.url),
        )
        secrets = {"client_id": SALESFORCE_CLIENT_ID, "client_secret": SALESFORCE_SECRET}
        connections.save(connection, secrets)
        crm_sync.target_for(connection, clock.sleep).setup()
        before = len(fake.requests)
        run = CrmRun(label, items_count, len({i.customer_id for i in items}))
        for start in range(0, len(items), SYNC_BATCH):
            batch = items[start : start + SYNC_BATCH]
            seeded.store(batch)
            run.synced += len(crm_sync.sync_connection(connection, batch, sleep=clock.sleep).synced)
        for request in fake.requests[before:]:
            if request.counted:  # the token endpoint is not an API request
                endpoint = f"{request.method} {request.path.partition('?')[0]}"
                run.requests[endpoint] = run.requests.get(endpoint, 0) + 1
        after = fake.count()
        for start in range(0, len(items), SYNC_BATCH):
            crm_sync.sync_connection(connection, items[start : start + SYNC_BATCH], sleep=clock.sleep)
        run.resync_requests = fake.count() - after
    forget_sessions()
    return run


def _salesforce_setup_requests() -> tuple[int, int]:
    from chalicelib.crm import connections
    from chalicelib.crm import sync as crm_sync
    from chalicelib.crm.connections import CrmConnection, CrmSettings
    from tools.fakes.salesforce import ConnectedApp, FakeSalesforce, SalesforceServer

    app = ConnectedApp(SALESFORCE_CLIENT_ID, SALESFORCE_SECRET, usernames={"integration@example.com"})
    fake = FakeSalesforce(apps=[app])
    with SalesforceServer(fake) as server:
        connection = CrmConnection(
            connection_id="crm_bench_sf_setup",
            type="salesforce",
            name="setup",
            settings=CrmSettings(api_url=server.url),
        )
        connections.save(connection, {"client_id": SALESFORCE_CLIENT_ID, "client_secret": SALESFORCE_SECRET})
        crm_sync.target_for(connection).setup()
        first = fake.count()
        crm_sync.target_for(connection).setup()
        return first, fake.count() - first


def measure_salesforce(items: int = ITEMS) -> SalesforceFigures:
    setup_first, setup_again = _salesforce_setup_requests()
    runs = [
        _salesforce_run("every customer with an email", 0.0, "all", items),
        _salesforce_run("a quarter of the customers without an email", 0.25, "mix", items),
    ]
    return SalesforceFigures(setup_first, setup_again, runs)


def measure_in_stack(items: int = ITEMS) -> CrmFigures:
    """`crm setup` twice, then both populations, for each CRM, in the moto stack already running."""
    setup_first, setup_again = _setup_requests()
    runs = [
        _run("every customer with an email", 0.0, "all", items),
        _run("a quarter of the customers without an email", 0.25, "mix", items),
    ]
    return CrmFigures(setup_first, setup_again, runs, measure_salesforce(items))


def measure_crm() -> CrmFigures:
    """The measurement on its own moto stack."""
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.setup_default_session()
        provision_stack()
        figures = measure_in_stack()
    reset_process_caches()
    return figures


def crm_checks(figures: CrmFigures | None) -> list[tuple[str, str, str, bool]]:
    """(name, measured, target, ok) rows for the targets table."""
    if figures is None:
        return []
    setup = (figures.setup_again_requests, 2, "setup's two listings aside")
    hubspot = _vendor_checks("HubSpot", figures.runs, TARGET_HUBSPOT_REQUESTS_PER_1000, setup)
    return hubspot + salesforce_checks(figures.salesforce)


def salesforce_checks(figures: SalesforceFigures | None) -> list[tuple[str, str, str, bool]]:
    if figures is None:
        return []
    setup = (figures.setup_again_requests, 1, "setup's one Composite read aside")
    return _vendor_checks("Salesforce", figures.runs, TARGET_SALESFORCE_REQUESTS_PER_1000, setup)


def _vendor_checks(
    vendor: str, runs: Sequence[CrmRun], target: int, setup: tuple[int, int, str]
) -> list[tuple[str, str, str, bool]]:
    """A vendor's rows: requests per 1,000 synced items per run, then what repeating the work costs.
    `setup`: requests `crm setup` sent when run again, how many of those are its reads of what exists
    (anything beyond would be a write), and how the target row says so."""
    setup_again, setup_reads, reads_note = setup
    rows = [
        (
            f"CRM sync, {vendor}: API requests per 1,000 synced items ({run.label})",
            f"{run.per_thousand:.0f}",
            f"≤ {target}",
            run.synced == run.items and 0 < run.per_thousand <= target,
        )
        for run in runs
    ]
    rows.append(
        (
            f"CRM sync, {vendor}: requests to sync the same items again / `crm setup` run again",
            f"{sum(r.resync_requests for r in runs)} / {setup_again - setup_reads}",
            f"0 / 0 ({reads_note})",
            all(r.resync_requests == 0 for r in runs) and setup_again == setup_reads,
        )
    )
    return rows


def crm_section(figures: CrmFigures | None) -> list[str]:
    """The BENCHMARKS.md lines."""
    if figures is None:
        return ["Not measured in this run."]
    lines = [
        f"{figures.runs[0].items:,} items of {figures.runs[0].customers:,} customers, synced in batches of "
        f"{SYNC_BATCH} against the local fake HubSpot (tools/fakes/hubspot.py), requests counted at the fake "
        "(each customer's items are spread over the run, so later batches update contacts synced before):",
        "",
        "| population | customers | requests | per 1,000 items | of which | same items again | "
        f"{BACKFILL_ITEMS:,}-item backfill at {HUBSPOT_PER_10_SECONDS} req / 10 s |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for run in figures.runs:
        parts = ", ".join(f"`{name}` {count}" for name, count in sorted(run.requests.items()))
        minutes = run.backfill_seconds() / 60
        lines.append(
            f"| {run.label} | {run.customers:,} | {run.total} | {run.per_thousand:.0f} | {parts} | "
            f"{run.resync_requests} | {minutes:.1f} min |"
        )
    worst = max(figures.runs, key=lambda r: r.per_thousand)
    backfill_requests = math.ceil(worst.per_thousand * BACKFILL_ITEMS / 1000)
    lines += [
        "",
        f"Backfill time, computed: {BACKFILL_ITEMS:,} items at {worst.per_thousand:.0f} requests per 1,000 "
        f"= {backfill_requests:,} requests; HubSpot's default limit for a private app (Free/Starter: "
        f"{HUBSPOT_PER_10_SECONDS} requests per 10 seconds, {HUBSPOT_DAILY:,} a day) lets them through in "
        f"{worst.backfill_seconds() / 60:.1f} minutes "
        f"({worst.backfill_seconds(per_10_seconds=190) / 60:.1f} at Professional/Enterprise's 190 per 10 "
        f"seconds), {backfill_requests / HUBSPOT_DAILY:.1%} of a day's requests. That is the rate limit's "
        "floor; the requests' own latency (sequential, one batch at a time) comes on top.",
        f"`crm setup`: {figures.setup_requests} requests the first time (list groups, create the group, "
        f"list properties, create the properties in one batch), {figures.setup_again_requests} the second "
        "(the two listings; nothing is created).",
        *salesforce_section(figures.salesforce),
    ]
    return lines


def salesforce_section(figures: SalesforceFigures | None) -> list[str]:
    """The BENCHMARKS.md lines for Salesforce."""
    if figures is None:
        return []
    allocation = salesforce_daily_allocation()
    lines = [
        "",
        f"Salesforce: the same items, in the same batches of {SYNC_BATCH}, against the local fake org "
        "(tools/fakes/salesforce.py); requests counted as the org's allocation counts them (a Composite "
        "request is one; the OAuth token endpoint none):",
        "",
        f"| population | customers | requests | per 1,000 items | of which | same items again | "
        f"{BACKFILL_ITEMS:,}-item backfill: requests / share of a 24-h allocation |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for run in figures.runs:
        parts = ", ".join(f"`{name}` {count}" for name, count in sorted(run.requests.items()))
        backfill = math.ceil(run.per_thousand * BACKFILL_ITEMS / 1000)
        lines.append(
            f"| {run.label} | {run.customers:,} | {run.total} | {run.per_thousand:.0f} | {parts} | "
            f"{run.resync_requests} | {backfill:,} / {backfill / allocation:.1%} |"
        )
    worst = max(figures.runs, key=lambda r: r.per_thousand)
    backfill = math.ceil(worst.per_thousand * BACKFILL_ITEMS / 1000)
    windows = windows_needed(backfill, allocation)
    developer_windows = windows_needed(backfill, SALESFORCE_DEVELOPER_DAILY)
    lines += [
        "",
        f"Backfill time, computed: {BACKFILL_ITEMS:,} items at {worst.per_thousand:.0f} requests per 1,000 "
        f"= {backfill:,} requests. Salesforce limits requests per rolling 24 hours, not per second: an "
        f"Enterprise org's default allocation ({SALESFORCE_DAILY_BASE:,} + {SALESFORCE_DAILY_PER_LICENSE:,} "
        f"per license; {allocation:,} with {SALESFORCE_LICENSES} licenses) takes them in {windows} window"
        f"{'s' if windows > 1 else ''}, {backfill / allocation:.1%} of it, so the limit adds "
        f"{(windows - 1) * 24} hours of waiting; a Developer Edition org ({SALESFORCE_DEVELOPER_DAILY:,} a "
        f"day) {(developer_windows - 1) * 24} hours. The requests' own latency (sequential, one batch at a "
        "time) is then the whole time; the concurrent limit (25 requests running 20 s or longer) is never "
        "met.",
        f"`crm setup`: {figures.setup_requests} requests the first time (one Composite request reading both "
        "describes, the permission set, its field permissions and the user's assignments; one Tooling API "
        "CustomField create per field; the permission set; one Composite request granting read and edit on "
        f"every field and assigning the set to the integration user), {figures.setup_again_requests} the "
        "second (the Composite read; nothing is written).",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(crm_section(measure_crm())))
