"""The bench's CRM figures hold their floors: HubSpot requests per 1,000 synced items within 30 and
Salesforce's within 20 in both populations, nothing sent when the same items are synced again or setup runs
again, and the backfill time is the documented limit applied to the counted requests."""

from __future__ import annotations

from tools.bench.crm import (
    HUBSPOT_PER_10_SECONDS,
    TARGET_HUBSPOT_REQUESTS_PER_1000,
    TARGET_SALESFORCE_REQUESTS_PER_1000,
    crm_checks,
    crm_section,
    measure_in_stack,
    windows_needed,
)


def test_requests_per_thousand_items_stay_within_the_target_and_a_resync_sends_nothing(stack):
    figures = measure_in_stack(items=500)
    for run in figures.runs:
        assert run.synced == run.items == 500
        assert 0 < run.per_thousand <= TARGET_HUBSPOT_REQUESTS_PER_1000, run.requests
        assert run.resync_requests == 0
        assert set(run.requests) <= {
            "POST /crm/v3/objects/contacts/batch/upsert",
            "POST /crm/v3/objects/contacts/batch/update",
            "POST /crm/v3/objects/notes/batch/create",
        }
        # 500 items, 5 batches of 100: one note create each.
        assert run.requests["POST /crm/v3/objects/notes/batch/create"] == 5
        # 100,000 items take 200 times the requests 500 took, let through 100 every 10 seconds.
        assert run.backfill_seconds() == run.total * 200 / HUBSPOT_PER_10_SECONDS * 10
    with_email, mixed = figures.runs
    assert mixed.total > with_email.total  # customers without an email need their own upserts
    assert (figures.setup_requests, figures.setup_again_requests) == (4, 2)
    assert all(ok for *_, ok in crm_checks(figures))
    assert any("backfill" in line for line in crm_section(figures))
    salesforce = figures.salesforce
    assert salesforce is not None
    for run in salesforce.runs:
        assert run.synced == run.items == 500 and run.resync_requests == 0
        assert 0 < run.per_thousand <= TARGET_SALESFORCE_REQUESTS_PER_1000, run.requests
        # 5 batches: 2 of new customers (query, contacts, Tasks), 3 of known ones (one composite each).
        assert run.requests == {
            "GET /services/data/v62.0/query": 2,
            "POST /services/data/v62.0/composite": 7,
        }
    assert (salesforce.setup_requests, salesforce.setup_again_requests) == (12, 1)
    rows = crm_checks(figures)
    assert [name.split(":")[0] for name, *_ in rows] == ["CRM sync, HubSpot"] * (len(figures.runs) + 1) + [
        "CRM sync, Salesforce"
    ] * (len(salesforce.runs) + 1)
    assert all(ok for *_, ok in rows)
    salesforce.runs[0].resync_requests = 1  # a repeat that sends anything fails its row, and only it
    assert [name for name, *_, ok in crm_checks(figures) if not ok] == [
        "CRM sync, Salesforce: requests to sync the same items again / `crm setup` run again"
    ]
    assert any("Salesforce limits requests per rolling 24 hours" in line for line in crm_section(figures))


def test_a_backfill_waits_for_the_salesforce_allocation_only_when_it_exceeds_a_day():
    assert windows_needed(1_800, 110_000) == 1
    assert windows_needed(110_000, 110_000) == 1
    assert windows_needed(110_001, 110_000) == 2
