"""Backfill: run an analyzer again over feedback already stored (e.g. after switching lexicon → Comprehend).

The walk reads the stored days through the per-day index (never a Scan), `batch_size` items a page; each
page's texts go to the analyzer in one call (which batches Comprehend requests by 25 and by language) and
the results are written by `store.reanalysis`, which moves the customers' profile counts in the same
transaction and at most once. Items already analyzed by the target analyzer are skipped, so running the
same backfill again costs reads only.

After each page a checkpoint (the page cursor: day, shard and DynamoDB's LastEvaluatedKey, plus running
counts) is written to the table, so an interrupted job resumes from any machine where it stopped. A crash
between a page's writes and its checkpoint repeats that page on resume, which then skips what was written.

Re-tagging (`backfill --themes`, after a taxonomy change) walks the same way: each page's stored text (already
redacted) goes to the configured theme tagger against the taxonomy read when the job was prepared, and only
`themes` and `taxonomy_version` are written, with the day counters' theme counts (`reanalysis.save_themes`);
sentiment is not computed again. The job is named after the taxonomy version, so items already tagged with it
are skipped and a taxonomy changed meanwhile starts a new job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.analysis import AnalysisFailed, Analyzer, Document, analyzer_for
from chalicelib.analysis.themes.base import ThemeTagger
from chalicelib.config import AnalyzerBackend
from chalicelib.ingest.tagging import tag_themes
from chalicelib.models import Analysis, StoredFeedback, utc_now
from chalicelib.store import dynamo, feedback_pages, reanalysis
from chalicelib.store.config_records import ConfigRecords
from chalicelib.themes.taxonomy import Taxonomy

KIND = "BACKFILL"
MAX_DAYS = 366
checkpoints = ConfigRecords(KIND)


class Mode(StrEnum):
    """What to do with an unfinished checkpoint of the same job."""

    NEW = "new"  # refuse to run over one: the operator chooses
    RESUME = "resume"
    RESTART = "restart"


class UnfinishedJob(Exception):
    """An unfinished checkpoint exists and neither resume nor restart was asked for."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        super().__init__(checkpoint.job_id)
        self.checkpoint = checkpoint


@dataclass
class Counts:
    """Items updated (new analysis written), skipped (already at the target analyzer, or scored where the
    target cannot score) and failed."""

    updated: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        self.updated += other.updated
        self.skipped += other.skipped
        self.failed += other.failed

    @property
    def done(self) -> int:
        return self.updated + self.skipped + self.failed


@dataclass
class Checkpoint:
    """A job's position and running counts, kept as a config record `BACKFILL / <job id>`."""

    job_id: str
    from_day: date
    to_day: date
    analyzer: str
    cursor: dict[str, Any] | None = None
    finished: bool = False
    counts: Counts = field(default_factory=Counts)
    started_at: str = field(default_factory=lambda: utc_now().isoformat())
    updated_at: str | None = None

    @property
    def days(self) -> list[date]:
        return [self.from_day + timedelta(days=n) for n in range((self.to_day - self.from_day).days + 1)]

    @property
    def position(self) -> str:
        """Where the job stands, for people: the day and shard it resumes at."""
        if self.finished:
            return "finished"
        if self.cursor is None:
            return "not started"
        day = self.days[self.cursor["day"]]
        return f"day {day.isoformat()}, shard {self.cursor['shard']}"

    def save(self) -> None:
        """Write the checkpoint (one PutItem)."""
        self.updated_at = utc_now().isoformat()
        checkpoints.save(
            self.job_id,
            {
                "from_day": self.from_day.isoformat(),
                "to_day": self.to_day.isoformat(),
                "analyzer": self.analyzer,
                # JSON text: LastEvaluatedKey is already in DynamoDB's typed form.
                "cursor": json.dumps(self.cursor) if self.cursor is not None else None,
                "finished": self.finished,
                "counts": asdict(self.counts),
                "started_at": self.started_at,
                "updated_at": self.updated_at,
            },
        )

    @classmethod
    def load(cls, job_id: str) -> Checkpoint | None:
        """The job's checkpoint, read now, or None."""
        record = checkpoints.get(job_id, force_fetch=True)
        if not record:
            return None
        return cls(
            job_id=job_id,
            from_day=date.fromisoformat(record["from_day"]),
            to_day=date.fromisoformat(record["to_day"]),
            analyzer=record["analyzer"],
            cursor=json.loads(record["cursor"]) if record.get("cursor") else None,
            finished=record.get("finished", False),
            counts=Counts(**record.get("counts", {})),
            started_at=record["started_at"],
            updated_at=record.get("updated_at"),
        )


def job_id_for(from_day: date, to_day: date, analyzer: str) -> str:
    """One job per range and analyzer (or theme target): running the same command again finds its
    checkpoint."""
    return f"{from_day.isoformat()}_{to_day.isoformat()}_{analyzer}"


THEMES_TARGET_PREFIX = "themes-v"


def themes_target(taxonomy: Taxonomy) -> str:
    """What a re-tag job produces, in place of an analyzer name: `themes-v<taxonomy version>`."""
    return f"{THEMES_TARGET_PREFIX}{taxonomy.version}"


def analyzer_named(name: str) -> Analyzer:
    """A fresh analyzer of that backend."""
    return analyzer_for(AnalyzerBackend(name))


@dataclass
class Plan:
    """A job ready to run: its checkpoint, the items in its range, and whether it resumes."""

    checkpoint: Checkpoint
    total: int
    resumed: bool


def prepare(from_day: date, to_day: date, analyzer: str, mode: Mode) -> Plan:
    """Find or create the job's checkpoint and count the items in range (Select=COUNT on the day index)."""
    if from_day > to_day:
        raise ValueError("--from must not be after --to")
    if (to_day - from_day).days >= MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days per job")
    job_id = job_id_for(from_day, to_day, analyzer)
    existing = Checkpoint.load(job_id)
    unfinished = existing is not None and not existing.finished
    if unfinished and mode is Mode.NEW:
        raise UnfinishedJob(existing)
    if unfinished and mode is Mode.RESUME:
        checkpoint, resumed = existing, True
    else:
        checkpoint, resumed = Checkpoint(job_id, from_day, to_day, analyzer), False
    return Plan(checkpoint, feedback_pages.count_days(checkpoint.days), resumed)


@dataclass
class RunResult:
    """This run's counts (the checkpoint holds the job's) and the ids that failed in it."""

    counts: Counts = field(default_factory=Counts)
    failed_ids: dict[str, str] = field(default_factory=dict)


Progress = Callable[[Counts], None]
# One page of a job: the items read → their counts and failures by feedback id.
BatchStep = Callable[[list[StoredFeedback]], tuple[Counts, dict[str, str]]]


def analyze_batch(items: list[StoredFeedback], analyzer: Analyzer) -> tuple[Counts, dict[str, str]]:
    """Analyze and write one page of items; returns its counts and failures by feedback id."""
    todo = [item for item in items if item.analyzer != analyzer.name]
    counts = Counts(skipped=len(items) - len(todo))
    results = analyzer.analyze([Document(i.feedback_id, i.text, i.language) for i in todo]) if todo else {}
    failed: dict[str, str] = {}
    analyses: dict[str, Analysis] = {}
    for item in todo:
        result = results.get(item.feedback_id)
        if isinstance(result, Analysis) and result.sentiment is None and item.sentiment is not None:
            # The target cannot score this text (its language) but another backend did, e.g. Bedrock for a
            # language Comprehend lacks: a backfill never trades a sentiment for none.
            counts.skipped += 1
        elif isinstance(result, Analysis):
            analyses[item.feedback_id] = result
        else:
            failed[item.feedback_id] = str(result) if isinstance(result, AnalysisFailed) else "no result"
    outcome = reanalysis.save_analyses([i for i in todo if i.feedback_id in analyses], analyses)
    failed.update(outcome.failed)
    counts.updated += len(outcome.updated)
    counts.skipped += len(outcome.skipped)
    counts.failed += len(failed)
    return counts, failed


def analysis_step(analyzer: Analyzer) -> BatchStep:
    """A page of a sentiment backfill: analyze_batch with this analyzer."""
    return lambda items: analyze_batch(items, analyzer)


def is_tagged_with(item: StoredFeedback, taxonomy: Taxonomy) -> bool:
    return item.themes is not None and item.taxonomy_version == taxonomy.version


def retag_batch(
    items: list[StoredFeedback], tagger: ThemeTagger, taxonomy: Taxonomy
) -> tuple[Counts, dict[str, str]]:
    """Tag one page of stored items again and write their themes; returns its counts and failures.

    Items already tagged with this taxonomy version are skipped. An item that changed between read and write
    is tagged again as stored now (its text may differ), a few times at most; an erased one is skipped.
    """
    if not taxonomy.active():
        raise ValueError("no taxonomy to tag with")  # tag_themes would leave the items as they are
    pending = [item for item in items if not is_tagged_with(item, taxonomy)]
    counts = Counts(skipped=len(items) - len(pending))
    tagger_failed: dict[str, str] = {}
    for attempt in range(dynamo.MAX_ATTEMPTS):
        if not pending:
            break
        retagged = tag_themes(pending, tagger, taxonomy)
        # An item the tagger failed on (throttling) stays untagged for a resumed run to pick up.
        tagger_failed.update(retagged.failed)
        by_id = {item.feedback_id: item for item in retagged.items}
        pairs = [(item, by_id[item.feedback_id]) for item in pending if item.feedback_id in by_id]
        outcome = reanalysis.save_themes(pairs, taxonomy.parents())
        tagger_failed.update({feedback_id: "write retries exhausted" for feedback_id in outcome.failed})
        counts.updated += len(outcome.updated)
        counts.skipped += len(outcome.skipped)
        pending = [item for item in outcome.changed if not is_tagged_with(item, taxonomy)]
        counts.skipped += len(outcome.changed) - len(pending)
        if pending:
            dynamo.backoff(attempt)
    failed = {item.feedback_id: "write retries exhausted" for item in pending} | tagger_failed
    counts.failed += len(failed)
    return counts, failed


def retag_step(tagger: ThemeTagger, taxonomy: Taxonomy) -> BatchStep:
    """A page of a re-tag job: retag_batch with this tagger and taxonomy."""
    return lambda items: retag_batch(items, tagger, taxonomy)


def run(plan: Plan, step: BatchStep, batch_size: int, progress: Progress | None = None) -> RunResult:
    """Walk the job's days from its checkpoint to the end, a page at a time, checkpointing after each."""
    checkpoint = plan.checkpoint
    days = checkpoint.days
    result = RunResult()
    if not plan.resumed:
        checkpoint.save()  # visible at once, so a crash in the first page is resumable too
    cursor = checkpoint.cursor
    while True:
        page = feedback_pages.page_days(days, feedback_pages.Filters(), batch_size, cursor)
        counts, failed = step(page.items)
        cursor = page.cursor
        checkpoint.cursor = cursor
        checkpoint.finished = cursor is None
        checkpoint.counts.add(counts)
        checkpoint.save()
        result.counts.add(counts)
        result.failed_ids.update(failed)
        if progress:
            progress(counts)
        if cursor is None:
            return result
