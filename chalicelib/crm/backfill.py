"""`crm sync --from --to`: push stored history to the CRM connections, resumable like the analysis backfill.

The walk reads the stored days through the per-day index (never a Scan), a page of up to 100 items (one
HubSpot batch) at a time, and syncs each page to the chosen active connections directly (the sync is
idempotent: an item synced before costs its links' reads and no CRM request). After each page a checkpoint
(the page cursor and running counts) is written as a config record `CRM_SYNC / <job id>`, so a job stopped
by a crash, Ctrl-C or a CRM that is down resumes where it stopped when the same command runs again
(`--restart` begins again). Items a CRM refused one by one (a 207's errors) are queued for the CRM consumer,
for that connection only, so they are retried and end in the DLQ rather than forgotten.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chalicelib.crm import connections, queue, sync
from chalicelib.crm.connections import CrmConnection, Status
from chalicelib.crm.exceptions import CrmError, without_values
from chalicelib.models import utc_now
from chalicelib.store import feedback_pages
from chalicelib.store.config_records import ConfigRecords

KIND = "CRM_SYNC"
MAX_DAYS = 366
PAGE_SIZE = 100
checkpoints = ConfigRecords(KIND)


@dataclass
class Counts:
    synced: int = 0
    skipped: int = 0  # not selected by a connection's settings, or their customer is gone
    queued: int = 0  # refused one by one: queued for the consumer's retries
    # Why the queued ones were refused (reason → items), for the operator; not kept in the checkpoint.
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        self.synced += other.synced
        self.skipped += other.skipped
        self.queued += other.queued
        self.reasons.update(other.reasons)

    def numbers(self) -> dict[str, int]:
        """The counts a checkpoint keeps."""
        return {"synced": self.synced, "skipped": self.skipped, "queued": self.queued}


@dataclass
class Job:
    job_id: str
    from_day: date
    to_day: date
    connection_id: str | None
    cursor: dict[str, Any] | None = None
    finished: bool = False
    counts: Counts = field(default_factory=Counts)
    started_at: str = field(default_factory=lambda: utc_now().isoformat())

    @property
    def days(self) -> list[date]:
        return [self.from_day + timedelta(days=n) for n in range((self.to_day - self.from_day).days + 1)]

    def save(self) -> None:
        checkpoints.save(
            self.job_id,
            {
                "from_day": self.from_day.isoformat(),
                "to_day": self.to_day.isoformat(),
                "connection_id": self.connection_id,
                "cursor": json.dumps(self.cursor) if self.cursor is not None else None,
                "finished": self.finished,
                "counts": self.counts.numbers(),
                "started_at": self.started_at,
                "updated_at": utc_now().isoformat(),
            },
        )

    @classmethod
    def load(cls, job_id: str) -> Job | None:
        record = checkpoints.get(job_id, force_fetch=True)
        if not record:
            return None
        return cls(
            job_id=job_id,
            from_day=date.fromisoformat(record["from_day"]),
            to_day=date.fromisoformat(record["to_day"]),
            connection_id=record.get("connection_id"),
            cursor=json.loads(record["cursor"]) if record.get("cursor") else None,
            finished=bool(record.get("finished")),
            counts=Counts(**{k: int(v) for k, v in (record.get("counts") or {}).items()}),
            started_at=record["started_at"],
        )


def job_id_for(from_day: date, to_day: date, connection_id: str | None) -> str:
    return f"{from_day.isoformat()}_{to_day.isoformat()}_{connection_id or 'all'}"


def prepare(
    from_day: date, to_day: date, connection_id: str | None, restart: bool = False
) -> tuple[Job, bool]:
    """The job (resumed from its checkpoint unless `restart` or finished) and whether it resumes."""
    if from_day > to_day:
        raise ValueError("--from must not be after --to")
    if (to_day - from_day).days >= MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days per job")
    if connection_id is not None and connections.get(connection_id) is None:
        raise ValueError(f"no CRM connection {connection_id}")
    job_id = job_id_for(from_day, to_day, connection_id)
    existing = Job.load(job_id)
    if existing is not None and not existing.finished and not restart:
        return existing, True
    return Job(job_id, from_day, to_day, connection_id), False


class Stopped(Exception):
    """A CRM failed for a whole page: the job stops at its checkpoint (run the command again to resume)."""


def _targets(job: Job) -> list[CrmConnection]:
    chosen = [c for c in connections.list_all() if job.connection_id in (None, c.connection_id)]
    paused = [c.connection_id for c in chosen if c.status is not Status.ACTIVE]
    if paused:
        raise Stopped(f"connection {paused[0]} is paused: `crm test` it first")
    return chosen


def run(
    job: Job,
    sleep: Callable[[float], None] | None = None,
    progress: Callable[[Counts], None] | None = None,
    page_size: int = PAGE_SIZE,
) -> Counts:
    """Walk the job's days from its checkpoint, a page at a time, checkpointing after each; this run's
    counts. Raises Stopped (the checkpoint kept) when a CRM fails a whole page."""
    targets = _targets(job)
    result = Counts()
    job.save()  # visible at once, so a crash in the first page is resumable too
    while True:
        page = feedback_pages.page_days(job.days, feedback_pages.Filters(), page_size, job.cursor)
        counts = Counts()
        retries: list[queue.CrmMessage] = []
        for connection in targets:
            try:
                report = sync.sync_connection(connection, page.items, sleep=sleep)
            except CrmError as error:
                raise Stopped(f"{connection.connection_id}: {error}") from error
            counts.synced += len(report.synced)
            counts.skipped += len(report.skipped)
            retries += [
                queue.CrmMessage(
                    op=queue.Operation.SYNC, feedback_id=feedback_id, connection_id=connection.connection_id
                )
                for feedback_id in report.failed
            ]
            counts.reasons.update(
                without_values(f"{connection.connection_id}: {why}") for why in report.failed.values()
            )
        if retries:
            counts.queued = queue.enqueue(retries)
        job.cursor, job.finished = page.cursor, page.cursor is None
        job.counts.add(counts)
        job.save()
        result.add(counts)
        if progress:
            progress(counts)
        if job.finished:
            return result
