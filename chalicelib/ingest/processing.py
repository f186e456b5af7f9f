"""The analyze function: an SQS batch in, sentiment scored in batches, items stored once, failures reported.

The order for each batch: the sentiment analyzer (language and sentiment), PII redaction of the text to be
stored, the themes step (`tagging.py`, on the redacted text; with Bedrock as the tagger its request also
scores the items in a language the analyzer cannot score), then the authors' identities (from the prefetch,
no request) and one write of every item.

All records of a batch are analyzed together (one Comprehend call per 25 texts of a language, not per
record, the calls of a batch made concurrently) and written together (one transaction per 100 items):
`batch.partial_batch_response` decides the batch in one call and reports each record's outcome in the
partial batch response, so only the records that failed come back through the queue and, after the queue's
maxReceiveCount, land in the DLQ with their payload intact. Before sentiment, themes and the write, the
deadline guard (`deadline.py`) hands back the records a short invocation cannot finish, unstarted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from botocore.exceptions import ClientError

from chalicelib.analysis import AnalysisFailed, Analyzer, Document
from chalicelib.analysis.redaction import PatternRedactor, Redactor, configured_redactor, redaction_enabled
from chalicelib.analysis.redaction.fields import redact_beside_text
from chalicelib.analysis.themes import configured_tagger
from chalicelib.analysis.themes.base import ThemeTagger
from chalicelib.channels import cached as cached_sources
from chalicelib.forms import cached as cached_forms
from chalicelib.ingest import deadline as deadline_guard
from chalicelib.ingest.batch import QueueRecord, partial_batch_response
from chalicelib.ingest.deadline import Deadline, Stage
from chalicelib.ingest.queue import QueueMessageError, decode_message
from chalicelib.ingest.tagging import configured_analyzer, tag_themes
from chalicelib.models import Channel, FeedbackEvent, PlatformDeletion, StoredFeedback, utc_now
from chalicelib.observability import logger, metrics
from chalicelib.store import feedback_write, identities
from chalicelib.themes import records as taxonomy_records


# A plain slotted class, not a dataclass: chalicelib/records.py says why.
class BatchReport:
    """Per-record errors (None for success) in record order, plus counts for metrics and the bench."""

    __slots__ = ("deferred", "duplicates", "errors", "failed_feedback", "marked_deleted", "stored")

    def __init__(
        self,
        errors: list[str | None],
        *,
        stored: int = 0,
        duplicates: int = 0,
        failed_feedback: dict[str, str] | None = None,
        marked_deleted: int = 0,
        deferred: int = 0,
    ) -> None:
        self.errors = errors
        self.stored = stored
        self.duplicates = duplicates
        self.failed_feedback = {} if failed_feedback is None else failed_feedback
        # Items a platform deleted, marked by this batch (a repeated deletion marks nothing).
        self.marked_deleted = marked_deleted
        # Records handed back unstarted because the invocation ran short of time (ingest/deadline.py).
        self.deferred = deferred


def redaction_wanted(event: FeedbackEvent) -> bool:
    """Whether the event's form or source keeps PII redaction on (the default; both configs are cached)."""
    if event.channel == Channel.FORM:
        return cached_forms.redacts_pii(event.source_id)
    return redaction_enabled(cached_sources.setting(event.source_id, "redact_pii"))


def analyze_and_store(
    bodies: Sequence[str],
    analyzer: Analyzer,
    redactor: Redactor | None = None,
    tagger: ThemeTagger | Literal["configured"] | None = "configured",
    *,
    deadline: Deadline | None = None,
    first_chunk: Collection[int] = (),
) -> BatchReport:
    """Decode, analyze, redact, tag and store the events of many queue messages at once.

    With a `deadline`, before each expensive stage that the time left cannot cover, only the records whose
    index is in `first_chunk` go on; the others are deferred (their error says so) and none of their events
    is analyzed further or written."""
    redactor = redactor or configured_redactor()
    tagger = configured_tagger() if tagger == "configured" else tagger
    events_per_record, errors, deletions_per_record = _decoded(bodies)
    guard = _Guard(deadline, first_chunk, events_per_record, errors, deletions_per_record)
    unique: dict[str, FeedbackEvent] = {}
    for events in events_per_record:
        for event in events or ():
            unique.setdefault(event.feedback_id, event)

    # Redeliveries and replays are recognised before they cost an analysis.
    already_stored, known_identities = feedback_write.prefetch(unique.values())
    new = {feedback_id: e for feedback_id, e in unique.items() if feedback_id not in already_stored}
    new = {feedback_id: e for feedback_id, e in new.items() if guard.goes_on("sentiment", feedback_id)}
    results = analyzer.analyze(
        [Document(e.feedback_id, e.text, e.language, hint=e.language_hint) for e in new.values()]
    )
    failed: dict[str, str] = {}
    analyzed = []
    for feedback_id, event in new.items():
        result = results[feedback_id]
        if isinstance(result, AnalysisFailed):
            failed[feedback_id] = str(result)
        elif guard.goes_on("themes", feedback_id):  # redaction prepares the text the tagger reads
            analyzed.append((event, result))

    redacting = {e.feedback_id for e, _ in analyzed if redaction_wanted(e)}
    redactions = redactor.redact(
        [
            Document(key=e.feedback_id, text=e.text, language=e.language or analysis.language)
            for e, analysis in analyzed
            if e.text.strip() and e.feedback_id in redacting
        ]
    )
    stored_at = utc_now()
    beside_text_redactor = PatternRedactor()
    ready = []
    for event, analysis in analyzed:
        redaction = redactions.get(event.feedback_id)
        if isinstance(redaction, AnalysisFailed):
            # Never store the raw text instead: the record is retried through the queue.
            failed[event.feedback_id] = str(redaction)
            continue
        stored = StoredFeedback.from_event(event, analysis, stored_at)
        if redaction is not None:
            stored = stored.model_copy(
                update={
                    "text": redaction.text,
                    "pii_redacted": redaction.redacted,
                    "pii_types": redaction.types,
                }
            )
        if event.feedback_id in redacting:  # an e-mail's subject, a form's page URL …: patterns, no request
            stored = redact_beside_text(stored, beside_text_redactor)
        ready.append(stored)
    # Themes come last, after sentiment and redaction: the tagger quotes the text as stored (never masked
    # PII), and it scores in its own request (Bedrock) the items whose language the analyzer could not score,
    # which are known only once the analysis has run: their sentiment then costs no request of its own.
    tagged = tag_themes(ready, tagger, fill_sentiment=True)
    failed.update(tagged.failed)
    to_write = [item for item in tagged.items if guard.goes_on("write", item.feedback_id)]
    # The authors are resolved for exactly the items written (from the prefetched identities: no request),
    # so a deferred item's identities are created with it, on its next delivery.
    resolution = identities.resolve([unique[item.feedback_id] for item in to_write], known=known_identities)
    # A redelivered event whose author's customers are still two (the invocation that stored it died during
    # their merge) gets the merge finished: merging is idempotent. Still two: its identities map to two
    # customers (identity items of tables written before), or lead through a tombstone (identities.py).
    redelivered = [unique[feedback_id] for feedback_id in already_stored]
    resolution.links |= identities.resolve(redelivered, known=known_identities).links
    resolution.links |= identities.unfinished_merges(redelivered)
    to_write = [
        item.model_copy(update={"customer_id": resolution.customers.get(item.feedback_id)})
        for item in to_write
    ]
    # The per-theme counters count a tag under its parent too: the taxonomy is read (cached) only when tagged.
    parents = taxonomy_records.current().parents() if any(i.themes for i in to_write) else {}
    outcome = feedback_write.save_feedback(to_write, resolution, parents)
    failed.update(outcome.failed)
    for index, events in enumerate(events_per_record):
        if events is None:
            continue
        reasons = sorted({failed[e.feedback_id] for e in events if e.feedback_id in failed})
        errors[index] = "; ".join(reasons) or None
    marked = _mark_deleted(deletions_per_record, errors)
    return BatchReport(
        errors=errors,
        stored=len(outcome.created),
        duplicates=len(already_stored) + len(outcome.already_present),
        failed_feedback=failed,
        marked_deleted=marked,
        deferred=guard.deferred_records,
    )


class _Guard:
    """The deadline guard of one batch: at the first stage the time left cannot cover, every record outside
    the first chunk that is still going is deferred (its events leave the batch, its deletions too, and its
    error says why); the first chunk's records go on to the end."""

    def __init__(
        self,
        deadline: Deadline | None,
        first_chunk: Collection[int],
        events_per_record: list[list[FeedbackEvent] | None],
        errors: list[str | None],
        deletions_per_record: dict[int, list[PlatformDeletion]],
    ) -> None:
        self._deadline = deadline
        self._first_chunk = first_chunk
        self._events_per_record = events_per_record
        self._errors = errors
        self._deletions_per_record = deletions_per_record
        self._checked: set[Stage] = set()
        self._going_on: set[str] | None = None  # None: every event goes on
        self.deferred_records = 0

    def goes_on(self, stage: Stage, feedback_id: str) -> bool:
        """Whether the event goes on to `stage` (the time left is read once per stage)."""
        if stage not in self._checked:
            self._checked.add(stage)
            if self._deadline is not None and self._going_on is None and self._deadline.short_before(stage):
                self._defer(stage)
        return self._going_on is None or feedback_id in self._going_on

    def _defer(self, stage: Stage) -> None:
        # An event two records carry goes on when one of them is in the first chunk.
        self._going_on = {
            event.feedback_id
            for index in self._first_chunk
            if index < len(self._events_per_record)
            for event in self._events_per_record[index] or ()
        }
        for index, events in enumerate(self._events_per_record):
            if events is None or index in self._first_chunk:
                continue
            self._events_per_record[index] = None  # decided here: the batch's end leaves its error alone
            self._errors[index] = deadline_guard.deferred_reason(stage)
            self._deletions_per_record.pop(index, None)
            self.deferred_records += 1


def _decoded(
    bodies: Sequence[str],
) -> tuple[list[list[FeedbackEvent] | None], list[str | None], dict[int, list[PlatformDeletion]]]:
    """Each record's events (None: malformed, with its error) and, by record index, its deletions."""
    events_per_record: list[list[FeedbackEvent] | None] = []
    errors: list[str | None] = []
    deletions_per_record: dict[int, list[PlatformDeletion]] = {}
    for body in bodies:
        try:
            events, deletions = decode_message(body)
        except QueueMessageError as error:
            events_per_record.append(None)
            errors.append(str(error))
            continue
        if deletions:
            deletions_per_record[len(events_per_record)] = deletions
        events_per_record.append(events)
        errors.append(None)
    return events_per_record, errors, deletions_per_record


def _mark_deleted(deletions_per_record: dict[int, list[PlatformDeletion]], errors: list[str | None]) -> int:
    """Apply the platforms' deletions after the batch's items are written (an item and its deletion in one
    batch: the item is there to mark). A record whose marks failed comes back through the queue."""
    if not deletions_per_record:
        return 0
    # Imported by the first batch that holds a deletion (a pull reconcile's, Trustpilot's): most never do.
    from chalicelib.store import platform_deletions

    marked = 0
    for index, deletions in deletions_per_record.items():
        try:
            marked += len(platform_deletions.mark_deleted(deletions).marked)
        except ClientError as error:
            reason = f"platform deletion not recorded: {error.response.get('Error', {}).get('Code')}"
            errors[index] = "; ".join(filter(None, (errors[index], reason)))
    return marked


def handle_sqs_batch(
    event: dict[str, Any], context: Any, analyzer: Analyzer | None = None, redactor: Redactor | None = None
) -> dict[str, Any]:
    """Lambda entry for the ingest queue; returns the partial batch response (`batchItemFailures`)."""

    deadline = deadline_guard.from_context(context)

    def analyze_batch(records: list[QueueRecord]) -> list[str | None]:
        report = analyze_and_store(
            [record.body for record in records],
            analyzer or configured_analyzer(),
            redactor,
            deadline=deadline,
            first_chunk=deadline_guard.first_chunk([record.receive_count for record in records]),
        )
        logger.info(
            "batch processed",
            extra={
                "records": len(records),
                "stored": report.stored,
                "duplicates": report.duplicates,
                "deferred": report.deferred,
                "failed_feedback_ids": sorted(report.failed_feedback),
            },
        )
        metrics.add_metric(name="FeedbackStored", unit="Count", value=report.stored)
        metrics.add_metric(name="FeedbackDuplicates", unit="Count", value=report.duplicates)
        if report.deferred:
            metrics.add_metric(name="RecordsDeferred", unit="Count", value=report.deferred)
        if report.marked_deleted:
            metrics.add_metric(name="FeedbackMarkedDeleted", unit="Count", value=report.marked_deleted)
        return report.errors

    return partial_batch_response(event, analyze_batch, context)
