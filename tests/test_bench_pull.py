"""The bench's pulled-review figures (tools/bench/pull.py): API requests per 1,000 reviews, as floors."""

from __future__ import annotations

import math
from typing import Any

import boto3

from chalicelib.channels.pull import reconcile as window
from tools.bench.pull import (
    DELETED,
    PLATFORMS,
    REVIEWS,
    RUNS_PER_DAY,
    measure_in_stack,
    pull_checks,
    pull_section,
)


def test_a_backlog_costs_its_pages_and_a_caught_up_run_one_request(stack: Any):
    cost = measure_in_stack(boto3.DEFAULT_SESSION.events)
    for platform in PLATFORMS:
        backlog, steady = cost.row(platform, "backlog"), cost.row(platform, "steady")
        assert backlog.reviews == REVIEWS == backlog.queued
        assert backlog.list_requests == math.ceil(REVIEWS / backlog.page_size)
        assert backlog.token_requests == (0 if platform == "app_store" else 1)
        assert steady.runs == RUNS_PER_DAY + 1 and steady.list_requests == steady.runs  # one page a run
        assert steady.reviews == REVIEWS == steady.queued  # none queued twice, none missed
        assert backlog.aws[("dynamodb", "PutItem")] == backlog.runs  # one checkpoint write a run
    for reconcile in cost.reconciles:  # the window listed again: its pages, the deletions recorded once
        # A day later Google Play's 6-day window has let the backlog's oldest review (5 days old) go.
        assert reconcile.deleted == DELETED and REVIEWS - 1 <= reconcile.in_window <= REVIEWS
        pages = math.ceil(reconcile.in_window / reconcile.page_size)
        assert pages <= reconcile.reconcile_requests <= pages + 1
        assert reconcile.run_requests == reconcile.reconcile_requests + 1  # and the run's own page
        assert reconcile.aws[("sqs", "SendMessage")] == 1
        assert 0 < reconcile.record_bytes <= window.MAX_RECORD_BYTES
    assert all(met for *_, met in pull_checks(cost))
    assert any("google_play | backlog" in line for line in pull_section(cost))
