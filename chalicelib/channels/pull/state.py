"""Each pull source's state in the table (one PULL record per source): its checkpoint, when it runs next,
and why it is paused or backing off. Written with one conditional put per run (`save_versioned`), so two
runs of the same source cannot both move its checkpoint."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from chalicelib.channels.pull.base import Checkpoint
from chalicelib.models import DeferredModel, UtcDatetime
from chalicelib.store.config_records import PULL_STATES, VersionConflict, version_of

DEFAULT_POLL_MINUTES = 15
MIN_POLL_MINUTES = 5
MAX_POLL_MINUTES = 24 * 60
# How far back the first run of a new source reaches (Google Play itself keeps seven days).
DEFAULT_BACKFILL_DAYS = 30

__all__ = ["PullState", "VersionConflict", "load_all", "save"]


class PullState(DeferredModel):
    since: UtcDatetime | None = None
    page_token: str | None = None
    newest: UtcDatetime | None = None
    at_since: list[str] = Field(default_factory=list)
    at_newest: list[str] = Field(default_factory=list)
    next_run_at: UtcDatetime | None = None
    last_run_at: UtcDatetime | None = None
    last_reviews: int = 0
    # Paused: the platform refused the source (credentials, app or location): no run until `sources resume`.
    paused_reason: str | None = None
    paused_at: UtcDatetime | None = None
    # The last run's transient failure (quota, 5xx); the source runs again at next_run_at.
    last_error: str | None = None
    # The reviews seen within the reconcile window (review id → "version:epoch", reconcile.py) and when the
    # window was last listed again.
    seen: dict[str, str] = Field(default_factory=dict)
    reconciled_at: UtcDatetime | None = None
    last_deleted: int = 0
    version: int = Field(default=0, exclude=True)

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(
            since=self.since,
            page_token=self.page_token,
            newest=self.newest,
            at_since=tuple(self.at_since),
            at_newest=tuple(self.at_newest),
        )

    def with_checkpoint(self, checkpoint: Checkpoint) -> PullState:
        return self.model_copy(
            update={
                "since": checkpoint.since,
                "page_token": checkpoint.page_token,
                "newest": checkpoint.newest,
                "at_since": list(checkpoint.at_since),
                "at_newest": list(checkpoint.at_newest),
            }
        )

    def is_due(self, now: datetime) -> bool:
        return self.paused_reason is None and (self.next_run_at is None or self.next_run_at <= now)


def poll_interval(settings: dict[str, str]) -> timedelta:
    """The source's `poll_minutes` setting, kept between 5 minutes and a day (default 15)."""
    try:
        minutes = int(settings.get("poll_minutes", DEFAULT_POLL_MINUTES))
    except ValueError:
        minutes = DEFAULT_POLL_MINUTES
    return timedelta(minutes=min(max(minutes, MIN_POLL_MINUTES), MAX_POLL_MINUTES))


def backfill_start(settings: dict[str, str], now: datetime) -> datetime:
    """Where a new source's first run stops: `backfill_days` (default 30) before now."""
    try:
        days = max(0, int(settings.get("backfill_days", DEFAULT_BACKFILL_DAYS)))
    except ValueError:
        days = DEFAULT_BACKFILL_DAYS
    return now - timedelta(days=days)


def _parsed(fields: dict) -> PullState:
    return PullState.model_validate({**fields, "version": version_of(fields)})


def load(source_id: str) -> PullState:
    """The source's state read now (a new source has an empty one)."""
    return _parsed(PULL_STATES.get_fresh(source_id))


def load_all() -> dict[str, PullState]:
    """Every pull source's state, read with one Query."""
    return {source_id: _parsed(fields) for source_id, fields in PULL_STATES.list_fresh().items()}


def save(source_id: str, state: PullState) -> PullState:
    """Write the state if nobody changed it since it was read (VersionConflict otherwise)."""
    version = PULL_STATES.save_versioned(
        source_id, state.model_dump(mode="json", exclude_none=True), state.version
    )
    return state.model_copy(update={"version": version})


def remove(source_id: str) -> None:
    PULL_STATES.delete(source_id)
