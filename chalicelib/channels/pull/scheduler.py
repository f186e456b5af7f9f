"""The scheduled pull: one function, run every few minutes, pulls each pull source that is due.

Per source and run: authorize, fetch pages from the checkpoint (at most MAX_PAGES_PER_RUN), queue each
page's reviews through the ingest queue (the path and envelope webhooks use) and move the checkpoint past
the page only once it is queued; once caught up, every `reconcile_hours` the recent window is listed again
(reconcile.py: deletions and undated edits, queued the same way); then one conditional write of the state.

- Credentials or configuration refused (401/403/404, a key that does not parse): the source is paused, the
  PullSourcePaused metric (an alarm) fires; it stays paused until `sources resume`, never retried in a loop.
- Quota spent (429, RESOURCE_EXHAUSTED) or the platform failing (5xx, unreachable): the run stops where it
  is, keeps the pages it queued, and the source waits for its next scheduled run, or for as long as a quota
  answer asks when that is longer (a Retry-After header, Google's RetryInfo; a day at most).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.channels import sources
from chalicelib.channels.pull import credentials
from chalicelib.channels.pull import reconcile as window
from chalicelib.channels.pull import state as pull_state
from chalicelib.channels.pull.base import Checkpoint, Fetched, PullPlatform, Session
from chalicelib.channels.pull.exceptions import CredentialsRejected, PullError, QuotaExceeded, SourceRejected
from chalicelib.channels.pull.http import JsonHttp
from chalicelib.channels.pull.registry import PULL_TYPES, platform_for
from chalicelib.channels.pull.state import PullState
from chalicelib.http import ServiceUnavailable
from chalicelib.ingest.queue import MAX_MESSAGES_PER_BATCH, encode_events, send_bodies
from chalicelib.models import FeedbackEvent, PlatformDeletion, utc_now
from chalicelib.observability import logger, metrics

MAX_PAGES_PER_RUN = 20
# A source is started only with this much of the invocation left (a page is one request of seconds).
MIN_REMAINING_MS = 30_000
PAUSED_METRIC = "PullSourcePaused"
# The longest a platform's quota answer may postpone a source's next run (the longest poll interval).
MAX_QUOTA_WAIT = timedelta(days=1)


@dataclass
class RunOutcome:
    source_id: str
    status: str  # caught_up | unfinished | paused | quota | failed | conflict
    reviews: int = 0
    pages: int = 0
    # The reconcile's part (0 when it did not run): its list requests and the deletions it queued.
    reconcile_pages: int = 0
    deleted: int = 0


def queue_events(events: Sequence[FeedbackEvent], deletions: Sequence[PlatformDeletion] = ()) -> None:
    """Queue a page's events: one SQS request per ten messages (a page fits one request in practice)."""
    bodies = encode_events(events, deletions)
    for start in range(0, len(bodies), MAX_MESSAGES_PER_BATCH):
        send_bodies(bodies[start : start + MAX_MESSAGES_PER_BATCH])


def _postpone_after_quota(updates: dict[str, Any], error: QuotaExceeded, now: datetime) -> None:
    """Note the quota answer; when the platform said how long to wait, never ask again sooner (a day at
    most), rather than spending the next scheduled run on another quota answer."""
    updates["last_error"] = f"quota: {error}"[:500]
    if error.retry_after:
        wait = timedelta(seconds=min(error.retry_after, MAX_QUOTA_WAIT.total_seconds()))
        updates["next_run_at"] = max(updates["next_run_at"], now + wait)


def pull_source(
    source: sources.SourceConfig,
    current: PullState,
    http: JsonHttp,
    now: datetime | None = None,
    max_pages: int = MAX_PAGES_PER_RUN,
) -> RunOutcome:
    """One run of one source, ending with one conditional write of its state."""
    now = now or utc_now()
    platform = platform_for(source.type)
    outcome = RunOutcome(source.source_id, "unfinished")
    started = current.since is not None or current.page_token is not None
    checkpoint = (
        current.checkpoint if started else Checkpoint(since=pull_state.backfill_start(source.settings, now))
    )
    updates: dict[str, Any] = {
        "last_run_at": now,
        "next_run_at": now + pull_state.poll_interval(source.settings),
    }
    updates["last_error"] = None
    # A new source's first run lists the whole window anyway (its backfill): its reconcile is due later.
    updates["reconciled_at"] = current.reconciled_at if started else now
    seen = dict(current.seen)
    try:
        session = Session(source, sources.secrets_cached(source.source_id), http)
        platform.authorize(session)
        for page in range(max_pages):
            fetched = _fetch_since(platform, session, checkpoint, first_page=page == 0)
            queue_events([platform.event(source, review, now) for review in fetched.reviews])
            seen = window.recorded(seen, fetched.reviews)
            outcome.pages += 1
            outcome.reviews += len(fetched.reviews)
            checkpoint = fetched.checkpoint
            if fetched.complete:
                outcome.status = "caught_up"
                break
        else:
            updates["next_run_at"] = now  # more pages wait: the next tick goes on
        last = updates["reconciled_at"]
        if outcome.status == "caught_up" and (
            last is None or now - last >= window.reconcile_interval(source.settings)
        ):
            seen = _reconcile(platform, session, seen, now, outcome)
            updates["reconciled_at"] = now
    except SourceRejected as error:
        outcome.status = "paused"
        updates.update(paused_reason=str(error)[:500], paused_at=now, next_run_at=None)
        metrics.add_metric(name=PAUSED_METRIC, unit=MetricUnit.Count, value=1)
    except QuotaExceeded as error:
        outcome.status = "quota"
        _postpone_after_quota(updates, error, now)
        metrics.add_metric(name="PullQuotaExceeded", unit=MetricUnit.Count, value=1)
    except (PullError, ServiceUnavailable, ClientError, BotoCoreError) as error:  # SSM or SQS failing too
        outcome.status = "failed"
        updates["last_error"] = f"{type(error).__name__}: {error}"[:500]
        metrics.add_metric(name="PullFailed", unit=MetricUnit.Count, value=1)
    updates["last_reviews"] = outcome.reviews
    updates["seen"] = window.pruned(seen, window.window_start(platform, source.settings, now))
    if outcome.reconcile_pages:
        updates["last_deleted"] = outcome.deleted
    try:
        pull_state.save(source.source_id, current.with_checkpoint(checkpoint).model_copy(update=updates))
    except pull_state.VersionConflict:
        outcome.status = "conflict"  # another run moved it first; what this one queued is deduplicated
    metrics.add_metric(name="PulledReviews", unit=MetricUnit.Count, value=outcome.reviews)
    logger.info(
        "pull run",
        extra={
            "source_id": source.source_id,
            "source_type": source.type,
            "status": outcome.status,
            "reviews": outcome.reviews,
            "pages": outcome.pages,
            "reconcile_pages": outcome.reconcile_pages,
            "deleted": outcome.deleted,
        },
    )
    return outcome


def _fetch_since(
    platform: PullPlatform, session: Session, checkpoint: Checkpoint, first_page: bool
) -> Fetched:
    """The next page. A warm function keeps an access token for its hour, and the platform refuses it once
    the key it came from is deleted (after a rotation): the run's first refusal of a cached token is tried
    again once with the source's current secrets and a new token (two requests more before a key that is
    itself refused pauses the source)."""
    try:
        return platform.fetch_since(session, checkpoint)
    except CredentialsRejected:
        if not (first_page and credentials.forget_token(session.source.source_id)):
            raise
    session.secrets = sources.read_secrets(session.source.source_id)
    platform.authorize(session)
    return platform.fetch_since(session, checkpoint)


def _reconcile(
    platform: PullPlatform, session: Session, seen: dict[str, str], now: datetime, outcome: RunOutcome
) -> dict[str, str]:
    """List the window again; queue the undated edits as new versions and the deletions as marks (one SQS
    request), and return the record after them. An error propagates: the record is kept as it was."""
    result = window.reconcile(platform, session, seen, now)
    outcome.reconcile_pages = result.pages
    queue_events([platform.event(session.source, review, now) for review in result.edited], result.deletions)
    outcome.reviews += len(result.edited)
    outcome.deleted = len(result.deletions)
    if result.deletions:
        metrics.add_metric(name="PulledReviewsDeleted", unit=MetricUnit.Count, value=len(result.deletions))
    return result.record


def run_due(
    now: datetime | None = None,
    http: JsonHttp | None = None,
    remaining_ms: Callable[[], int] | None = None,
) -> list[RunOutcome]:
    """Pull every pull source that is due and not paused (two Queries: the sources and their states)."""
    now = now or utc_now()
    http = http or JsonHttp()
    states = pull_state.load_all()
    outcomes = []
    for source in sorted(sources.list_all(), key=lambda s: s.source_id):
        if source.type not in PULL_TYPES:
            continue
        current = states.get(source.source_id, PullState())
        if not current.is_due(now):
            continue
        if remaining_ms is not None and remaining_ms() < MIN_REMAINING_MS:
            break  # the rest are still due at the next tick
        outcomes.append(pull_source(source, current, http, now))
    return outcomes


def resume(source_id: str) -> None:
    """Unpause a source (after its credentials or settings were fixed): it runs at the next tick."""
    current = pull_state.load(source_id)
    pull_state.save(
        source_id, current.model_copy(update={"paused_reason": None, "paused_at": None, "next_run_at": None})
    )


def handle_schedule(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The scheduled function: pull what is due, within the invocation's time."""
    clock = getattr(context, "get_remaining_time_in_millis", None)
    started = time.monotonic()
    outcomes = run_due(remaining_ms=clock if callable(clock) else None)
    return {
        "sources": len(outcomes),
        "reviews": sum(outcome.reviews for outcome in outcomes),
        "statuses": {outcome.source_id: outcome.status for outcome in outcomes},
        "seconds": round(time.monotonic() - started, 3),
    }
