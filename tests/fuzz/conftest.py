"""The fuzz run's stack: one moto account for the whole module, seeded once, and the summary at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib.auth import tokens
from chalicelib.local.provision import create_demo_form, load_starter_taxonomy, provision
from chalicelib.store import counters, customers, dynamo, identities, signing_keys
from chalicelib.store.feedback import from_item
from chalicelib.store.profiles import profile_key
from tests.conftest import _reset_process_caches
from tests.fuzz import harness
from tests.fuzz.gateway import ChaliceWsgi


@pytest.fixture(scope="module")
def world() -> Iterator[harness.World]:
    """A seeded stack and the in-process gateway; the table is snapshotted after seeding."""
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setattr(dynamo, "sleep", lambda seconds: None)
        # One day shard instead of 8: /stats reads every shard of every day (30 days by default), and the
        # fuzzer calls it hundreds of times; the sharding itself is covered by the read and stats tests.
        patch.setenv("DAY_SHARDS", "1")
        _reset_process_caches()
        resources = provision(os.environ["INGEST_QUEUE_NAME"], visibility_timeout_seconds=30)
        patch.setenv("INGEST_QUEUE_URL", resources.queue_url)
        _reset_process_caches()
        create_demo_form()
        load_starter_taxonomy()  # GET /themes answers a real taxonomy
        form_ids = harness.seed_forms()
        source_ids = harness.seed_sources()
        bearer_headers = harness.seed_tokens()
        customer_ids, erasable = harness.seed_feedback()
        today = datetime.now(UTC).date()
        harness.seed_export(today)
        harness.drain(resources.queue_url)
        # The cursor key is created by the first page with a `next`: made now, it is part of the snapshot.
        signing_keys.cursor_key(create=True)
        erasable_items = customers.customer_items(erasable)
        erasable_keys = {(item["pk"], item["sk"]) for item in erasable_items}
        erasable_keys.add(tuple(profile_key(erasable).values()))
        # An erasure also takes the customer's feedback off the day and hour counters.
        erased_feedback = [from_item(item) for item in erasable_items if item["record_type"] == "FEEDBACK"]
        # And its identities, which have no customer index entry: the ones its profile and feedback name.
        named = identities.candidates([customers.get_profile(erasable) or {}], erased_feedback)
        erasable_keys |= {(item["pk"], item["sk"]) for item in identities.owned(named, [erasable])}
        erased_days = {item.stored_at.date() for item in erased_feedback}
        erased_hours = {item.stored_at.replace(minute=0, second=0, microsecond=0) for item in erased_feedback}
        erasable_counters = {
            tuple(key.values())
            for key in counters.counter_keys(erased_days) + counters.hour_keys(erased_hours)
        }

        from app import app

        yield harness.World(
            app=ChaliceWsgi(app),
            queue_url=resources.queue_url,
            dlq_url=resources.dlq_url,
            tokens=bearer_headers,
            form_ids=form_ids,
            source_ids=source_ids,
            telegram_secret=harness.authentication("telegram", harness.TELEGRAM_SECRETS)[0],
            trustpilot_query=harness.authentication("trustpilot", harness.TRUSTPILOT_SECRETS)[1],
            meta_verify_token=harness.META_VERIFY_TOKEN,
            customer_ids=customer_ids,
            erasable_customer=erasable,
            export_day=today.isoformat(),
            snapshot=harness.table_snapshot(),
            erasable_keys=erasable_keys,
            erasable_counters=erasable_counters,
        )
        tokens.clear_cache()
    _reset_process_caches()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the case count and the statuses per operation (also under -q)."""
    if harness.TALLY.total:
        terminalreporter.write_line("")
        for line in harness.TALLY.report().splitlines():
            terminalreporter.write_line(line)
