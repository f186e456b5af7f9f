"""Export days an erasure left holding the erased customer: marked pending at once (GET /exports answers 409),
rewritten within minutes by the export function, which the erasure invokes asynchronously, with the nightly
run as the fallback; a mark is removed only if no erasure marked the day again meanwhile. README, "Privacy:
redaction, erasure, retention", has the steps and the timing.

Rewrites never hold up the nightly export: the nightly run exports its day first and then hands the pending
days to an invocation of their own (the same function, invoked asynchronously with a rewrite event); only
where nothing can be invoked does it rewrite them itself, after its export. Every invocation rewrites one day
at a time (each unmarked day is a checkpoint) while its remaining time holds another day's rewrite, then
hands the days left to the next invocation (or leaves them marked for the nightly run when it rewrote none).
A busy day (fanout.slice_count) is rewritten like its nightly export: fanned out over slice invocations and
combined; starting them takes the rewrite invocation a moment, and the day's mark (its checkpoint) is removed
only once the combining step has written the day's manifest (fanned_out_day_exported).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import fanout
from chalicelib.export.day import export_day, previous_utc_day
from chalicelib.models import utc_now
from chalicelib.observability import logger
from chalicelib.store import counters, dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK

EXPORT_REWRITE = "EXPORT_REWRITE"
# The invocation's event, in EventBridge's shape so that Chalice hands it to the scheduled handler as-is.
REWRITE_SOURCE = "feedback-collector.privacy"
REWRITE_DETAIL_TYPE = "Export rewrite requested"
# The export function as app.py names it (the scheduled `nightly_export`).
EXPORT_FUNCTION = "nightly_export"
# What GET /exports/{date} tells a client to wait: a day's rewrite takes seconds to a minute.
RETRY_AFTER_SECONDS = 60
# Time kept free at the end of an invocation: another day's rewrite starts only with at least this much left,
# or 1.5 times the longest rewrite of this invocation if that is more.
REWRITE_RESERVE_SECONDS = 60.0
InProcessInvoker = Callable[[dict[str, Any]], threading.Thread | None]
# Milliseconds the invocation has left (the Lambda context's get_remaining_time_in_millis).
RemainingTime = Callable[[], int]
# The local stack's stand-in for Lambda's asynchronous invocation (set by chalicelib.local), and the rewrites
# it started in this process (see wait_for_local_rewrites).
_in_process_invoker: InProcessInvoker | None = None
_local_rewrites: list[threading.Thread] = []


class Dispatch(StrEnum):
    """How an erasure's rewrite was started."""

    INVOKED = "invoked"  # the export function, invoked asynchronously
    LOCAL = "local"  # the local stack: the same handler in a background thread
    NIGHTLY = "nightly"  # no invocation possible: the nightly run rewrites the days
    NONE = "none"  # no exported day held the customer


def _key(day: str) -> dict[str, str]:
    return {PK: EXPORT_REWRITE, SK: day}


def mark_pending(exported: Sequence[date], upcoming: Sequence[date] = ()) -> None:
    """Mark export days as holding erased data: `exported` days are rewritten at once, `upcoming` ones (not
    exported when the erasure looked) once the nightly run has exported them. Idempotent; a new mark
    replaces an older one's token."""
    token, requested_at = uuid.uuid4().hex, utc_now().isoformat()
    marks = [(day, True) for day in exported] + [(day, False) for day in upcoming]
    dynamo.batch_write(
        settings().table_name,
        [
            dynamo.put_request(
                {
                    **_key(day.isoformat()),
                    RECORD_TYPE: EXPORT_REWRITE,
                    "token": token,
                    "requested_at": requested_at,
                    "exported": was_exported,
                }
            )
            for day, was_exported in marks
        ],
    )


def is_pending(day: date) -> bool:
    """Whether an erasure left the day's export files to rewrite (a strongly consistent read)."""
    return dynamo.get_item(settings().table_name, _key(day.isoformat()), consistent=True) is not None


def pending_days() -> list[str]:
    """Every day marked for a rewrite, oldest first."""
    return [mark[SK] for mark in _marks()]


def _marks() -> list[dict[str, Any]]:
    return list(
        dynamo.query_pages(
            TableName=settings().table_name,
            KeyConditionExpression="#pk = :rewrite",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":rewrite": {"S": EXPORT_REWRITE}},
            ConsistentRead=True,
        )
    )


def rewrite_event(days: Sequence[date], just_exported: date | None = None) -> dict[str, Any]:
    """The export function's event for a rewrite (EventBridge's shape, a custom source); `just_exported` is
    the day the nightly run has just exported (its marks were written before it was exported)."""
    detail: dict[str, Any] = {"days": [day.isoformat() for day in days]}
    if just_exported is not None:
        detail["just_exported"] = just_exported.isoformat()
    return aws.eventbridge_event(REWRITE_SOURCE, REWRITE_DETAIL_TYPE, detail)


def request_rewrite(exported: Sequence[date], upcoming: Sequence[date] = ()) -> Dispatch:
    """Mark the days pending and start the rewrite of the exported ones; never raises once the days are
    marked (the nightly run is the fallback), so an erasure that succeeded is reported as such."""
    if not exported and not upcoming:
        return Dispatch.NONE
    mark_pending(exported, upcoming)
    if not exported:
        return Dispatch.NIGHTLY
    return _dispatch(rewrite_event(exported))


def own_function_name() -> str:
    """The export function's name as the export function itself sees it: Lambda sets AWS_LAMBDA_FUNCTION_NAME
    (the stack cannot hand a function its own name: the reference would be circular)."""
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")


def _dispatch(event: dict[str, Any], function_name: str | None = None) -> Dispatch:
    """Start the export function on `event` asynchronously: by `function_name` (its own, when the export
    function hands work on), else the EXPORT_FUNCTION_NAME the API function is given."""
    function_name = function_name or settings().export_function_name
    if function_name:
        try:
            aws.client("lambda").invoke(
                FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode()
            )
        except (BotoCoreError, ClientError):
            logger.exception(
                "export function not invoked; this invocation does the work (or the nightly run)"
            )
            return Dispatch.NIGHTLY
        return Dispatch.INVOKED
    if _in_process_invoker is not None:
        thread = _in_process_invoker(event)
        if thread is None:
            return Dispatch.NIGHTLY
        _local_rewrites.append(thread)
        return Dispatch.LOCAL
    logger.warning("no export function to invoke; this invocation does the work (or the nightly run)")
    return Dispatch.NIGHTLY


def invoke_in_process(invoker: InProcessInvoker | None) -> None:
    """Where there is no Lambda (the local stack), run the export handler with `invoker` instead: it starts
    the handler on an event and returns its thread (None when the handler cannot be loaded)."""
    global _in_process_invoker  # noqa: PLW0603 - one invoker per process, set by the local stack at start
    _in_process_invoker = invoker


def wait_for_local_rewrites() -> None:
    """Let the local stack's rewrites started by this process finish (the CLI, before it exits: an
    interpreter that is shutting down refuses the S3 uploads' worker threads)."""
    while _local_rewrites:
        _local_rewrites.pop().join()


def rewritable_days(days: Collection[str] | None = None, just_exported: date | None = None) -> list[str]:
    """The marked days that are exported (only those among `days`, when given; `just_exported` counts as
    exported), oldest first."""
    return [mark[SK] for mark in _rewritable_marks(days, just_exported)]


def _rewritable_marks(days: Collection[str] | None, just_exported: date | None) -> list[dict[str, Any]]:
    exported_now = just_exported.isoformat() if just_exported else None
    return [
        mark
        for mark in _marks()
        # Marks written before "exported" existed were all of exported days.
        if (mark.get("exported", True) or mark[SK] == exported_now) and (days is None or mark[SK] in days)
    ]


def rewrite_pending(
    days: Collection[str] | None = None,
    just_exported: date | None = None,
    remaining_ms: RemainingTime | None = None,
    left_over: list[str] | None = None,
    fanned_out: list[str] | None = None,
) -> list[str]:
    """Rewrite the marked days that are exported (see rewritable_days), oldest first, and unmark each one
    whose mark did not change meanwhile; with `remaining_ms`, stop before a day's rewrite could outlast the
    invocation (the days not reached are appended to `left_over`). A busy day is fanned out instead (appended
    to `fanned_out`; its combining step unmarks it). Returns the days rewritten here."""
    marks = _rewritable_marks(days, just_exported)
    rewritten: list[str] = []
    started: list[str] = []
    longest = 0.0
    for reached, mark in enumerate(marks):
        if remaining_ms is not None and remaining_ms() / 1000 < max(REWRITE_RESERVE_SECONDS, 1.5 * longest):
            left = [m[SK] for m in marks[reached:]]
            logger.warning("export rewrites left for the next invocation", extra={"days": left})
            if left_over is not None:
                left_over.extend(left)
            break
        began = time.monotonic()
        day = date.fromisoformat(mark[SK])
        slices = fanout.slice_count(day)
        if slices > 1:
            fanout.start(day, slices, _invoke_self, _day_exported(remaining_ms), _rewrite_mark(mark))
            started.append(mark[SK])
        else:
            export_day(day, rewrite=True)
            _unmark(mark)
            rewritten.append(mark[SK])
        longest = max(longest, time.monotonic() - began)
    if rewritten:
        logger.info("export days rewritten after erasures", extra={"days": rewritten})
    if started:
        logger.info("export rewrites fanned out after erasures", extra={"days": started})
    if fanned_out is not None:
        fanned_out.extend(started)
    return rewritten


def _rewrite_mark(mark: Mapping[str, Any]) -> dict[str, Any]:
    """What a fanned-out rewrite carries to its combining step to unmark the day (the mark's token)."""
    return {"token": mark["token"]} if mark.get("token") else {}


def _day_exported(remaining_ms: RemainingTime | None) -> fanout.OnExported:
    """What the export function does once a fanned-out day's manifest is written: a rewrite's run removes
    the day's mark (unless an erasure marked the day again meanwhile); the nightly run hands on the days
    still to rewrite."""

    def exported(day: date, detail: Mapping[str, Any]) -> None:
        mark = detail.get("rewrite")
        if isinstance(mark, Mapping):
            _unmark({SK: day.isoformat(), **mark})
            logger.info("fanned-out export day rewritten after erasures", extra={"day": day.isoformat()})
        else:
            hand_off_rewrites(day, remaining_ms)

    return exported


def _unmark(mark: dict[str, Any]) -> None:
    # Marks written before tokens existed have none: they match "no token".
    token = mark.get("token")
    condition = "#token = :token" if token else "attribute_not_exists(#token)"
    try:
        aws.client("dynamodb").delete_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(_key(mark[SK])),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#token": "token"},
            **({"ExpressionAttributeValues": dynamo.serialize({":token": token})} if token else {}),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("export day marked again during its rewrite; it stays pending", extra={"day": mark[SK]})


def is_rewrite_event(event: Mapping[str, Any]) -> bool:
    return event.get("source") == REWRITE_SOURCE and event.get("detail-type") == REWRITE_DETAIL_TYPE


def remaining_time(context: object) -> RemainingTime | None:
    """The Lambda context's clock of the invocation's time left; None outside the Lambda runtime (the local
    stack and Chalice's test client hand out contexts whose clocks do not match a deployed timeout)."""
    clock = getattr(context, "get_remaining_time_in_millis", None)
    return clock if callable(clock) and os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None


def _invoke_self(event: dict[str, Any]) -> bool:
    """Start the export function on `event` (a fan-out step); False when it cannot be started here."""
    return _dispatch(event, own_function_name()) in (Dispatch.INVOKED, Dispatch.LOCAL)


def hand_off_rewrites(just_exported: date, remaining_ms: RemainingTime | None = None) -> Dispatch:
    """After the nightly export: start an invocation of their own for the days still to rewrite (the day just
    exported among them when an erasure marked it meanwhile). Where none can be started, rewrite them here,
    after the export and within this invocation's time, as the fallback."""
    days = rewritable_days(just_exported=just_exported)
    if not days:
        return Dispatch.NONE
    event = rewrite_event([date.fromisoformat(day) for day in days], just_exported)
    dispatch = _dispatch(event, own_function_name())
    if dispatch == Dispatch.NIGHTLY:
        rewrite_pending(days, just_exported=just_exported, remaining_ms=remaining_ms)
    return dispatch


def run_rewrites(detail: Mapping[str, Any], remaining_ms: RemainingTime | None = None) -> dict[str, Any]:
    """A rewrite invocation: rewrite the event's days while its time allows, then hand the days left to the
    next invocation, so that a long list of days goes on without waiting for a nightly run. An invocation
    that rewrote nothing hands nothing on (the nightly run is the fallback), so no chain can spin."""
    days = [day for day in detail.get("days", []) if isinstance(day, str)]
    exported = detail.get("just_exported")
    just_exported = date.fromisoformat(exported) if isinstance(exported, str) else None
    left: list[str] = []
    fanned: list[str] = []
    rewritten = rewrite_pending(days, just_exported, remaining_ms, left_over=left, fanned_out=fanned)
    result: dict[str, Any] = {"rewritten": rewritten}
    if fanned:
        result["fanned_out"] = fanned
    if left and (rewritten or fanned):
        next_days = [date.fromisoformat(day) for day in left]
        result["handed_on"] = left
        result["dispatch"] = str(_dispatch(rewrite_event(next_days, just_exported), own_function_name()))
    return result


def _mark_counters_complete() -> None:
    """Where no stage set it yet, mark the counters complete from tomorrow: every item stored from then on is
    written by this code, which counts it (items stored before may predate the counters). Never in the way
    of the export."""
    try:
        if counters.mark_complete_if_unset(utc_now().date() + timedelta(days=1)):
            logger.info("counters marked complete from tomorrow: filtered listings skip empty days from then")
    except (BotoCoreError, ClientError):
        logger.exception("counters completeness not marked; the next nightly run tries again")


def run_export_function(
    event: Mapping[str, Any], remaining_ms: RemainingTime | None = None
) -> dict[str, Any]:
    """The export function: a rewrite event rewrites its days; the schedule exports the previous UTC day
    (returning its manifest), then hands the days still pending (an erasure during the export included) to
    a rewrite invocation of their own."""
    if is_rewrite_event(event):
        return run_rewrites(event.get("detail") or {}, remaining_ms)
    if fanout.is_fanout_event(event):
        return fanout.run_step(event, _invoke_self, _day_exported(remaining_ms))
    if fanout.is_given_up_record(event):  # a fan-out step Lambda gave up (infra/stack.py routes them here)
        return fanout.record_given_up_step(event)
    _mark_counters_complete()
    day = previous_utc_day()
    slices = fanout.slice_count(day)
    if slices > 1:
        # The combining step hands the rewrites on once the day's manifest is written: a rewrite of the day
        # itself must not run before its files are whole.
        return fanout.start(day, slices, _invoke_self, _day_exported(remaining_ms))
    manifest = export_day(day)
    hand_off_rewrites(day, remaining_ms)
    return manifest
