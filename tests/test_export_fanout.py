"""A busy day's export fanned out over invocations, one per slice of the day, then combined: byte for byte the
one-invocation export, the CSV parts copied by S3 (UploadPartCopy), the manifest written last and only once
every slice is done, a failed slice leaving no manifest, small days exported in one invocation as before."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from unittest import mock

import pyarrow
import pytest
from botocore.stub import Stubber

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import day as export
from chalicelib.export import fanout, rewrite
from chalicelib.export.streams import LocalDirectory
from tests.test_export_streaming import (
    BEFORE_STREAMING,
    DAY,
    PARQUET_BEFORE_STREAMING,
    SMALL_PART,
    s3_bytes,
    s3_calls,
    seed_day,
    small_parts,  # noqa: F401 - a fixture
)
from tools.bench.synthetic import synthetic_customer

MANIFEST_KEY = f"exports/dt={DAY.isoformat()}/manifest.json"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:feedback-collector-test-nightly_export"


def expected_files() -> dict[str, tuple[str, int]]:
    return {**BEFORE_STREAMING, **PARQUET_BEFORE_STREAMING.get(pyarrow.__version__, {})}


def assert_day_as_exported_in_one_go(manifest: dict) -> None:
    listed = {file["key"]: (file["sha256"], file["bytes"]) for file in manifest["files"]}
    for key, (sha256, size) in expected_files().items():
        body = s3_bytes(key)
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha256, size), key
        assert listed[key] == (sha256, size), key
    assert manifest["counts"] == {"feedback": 900, "feedback_themes": 300, "contacts": 146, "activities": 540}


def manifest_exists() -> bool:
    listed = aws.client("s3").list_objects_v2(Bucket=settings().bucket_name, Prefix=MANIFEST_KEY)
    return listed.get("KeyCount", 0) > 0


@pytest.fixture
def small_day(stack, small_parts, monkeypatch):  # noqa: F811 - the fixture above
    """The golden 900-item day, exported in parts of SMALL_PART bytes (moto accepts them)."""
    monkeypatch.setattr(fanout, "PART_SIZE", SMALL_PART)
    seed_day(DAY, 900, seed=29)
    exported: list[date] = []
    return exported


@pytest.mark.parametrize("slices", [3, 24])
def test_a_fanned_out_day_is_byte_for_byte_the_day_exported_in_one_go(small_day, slices):
    """3 slices: every CSV part copied by S3 whole; 24 (hourly): parts under a part's size are topped up."""
    calls = s3_calls()

    run = fanout.start(
        DAY, slices, dispatch=lambda event: False, on_exported=lambda day, detail: small_day.append(day)
    )

    manifest = json.loads(s3_bytes(MANIFEST_KEY))
    assert_day_as_exported_in_one_go(manifest)
    assert [file["key"] for file in manifest["files"]] == [
        file["key"] for file in export.export_day(DAY)["files"]
    ]
    assert small_day == [DAY]
    assert fanout.missing_slices(DAY) == []
    parts = aws.client("s3").list_objects_v2(Bucket=settings().bucket_name, Prefix=fanout.PARTS_ROOT)
    assert parts["KeyCount"] == 0  # the parts are deleted once the day is whole
    assert run["slices"] == slices
    # The CSVs' parts were copied by S3, not sent through the function.
    assert calls["before-call.s3.UploadPartCopy"] >= 2


def test_the_day_files_follow_the_one_invocation_exports_order(tmp_path: Path):
    made = export.make_writers(LocalDirectory(tmp_path))
    try:
        assert tuple(type(writer) for writer in made) == fanout.DAY_FILES
    finally:
        LocalDirectory(tmp_path).abort_all()
        for writer in made:
            writer.close()


def test_slices_cover_the_day_without_gap_or_overlap():
    bounds = [fanout.slice_bounds(DAY, n, 8) for n in range(8)]
    assert bounds[0][0].isoformat() == "2026-11-21T00:00:00+00:00"
    assert bounds[-1][1].isoformat() == "2026-11-22T00:00:00+00:00"
    assert all(bounds[n][1] == bounds[n + 1][0] for n in range(7))


class Invocations:
    def __init__(self, stubber: Stubber) -> None:
        self.stubber = stubber
        self.events: list[dict] = []


@pytest.fixture
def invoked(small_day, monkeypatch):
    """The export function deployed (its own name from Lambda), each asynchronous Invoke recorded."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "feedback-collector-test-nightly_export")
    lambda_client = aws.client("lambda")
    invocations = Invocations(Stubber(lambda_client))

    def record(params: dict, **kwargs) -> None:
        assert params["FunctionName"] == "feedback-collector-test-nightly_export"
        assert params["InvocationType"] == "Event"
        invocations.events.append(json.loads(params["Payload"]))
        invocations.stubber.add_response("invoke", {"StatusCode": 202})

    lambda_client.meta.events.register("provide-client-params.lambda.Invoke", record)
    monkeypatch.setattr(export, "utc_now", lambda: datetime(2026, 11, 22, 2, 15, tzinfo=UTC))
    with invocations.stubber:
        yield invocations


def scheduled() -> dict:
    return {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def test_a_busy_night_starts_one_invocation_per_slice_and_the_last_slice_starts_the_combining(
    invoked, monkeypatch
):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    assert fanout.slice_count(DAY) == settings().day_shards == 8

    run = rewrite.run_export_function(scheduled())

    assert (run["day"], run["slices"]) == (DAY.isoformat(), 8)
    slice_events = list(invoked.events)
    assert [event["detail"]["slice"] for event in slice_events] == list(range(8))
    assert all(fanout.is_fanout_event(event) for event in slice_events)
    for event in reversed(slice_events[1:]):  # any order; each a separate invocation
        rewrite.run_export_function(event)
        assert not manifest_exists()
    assert fanout.missing_slices(DAY) == [0]
    assert len(invoked.events) == 8  # no combining before every slice is done

    rewrite.run_export_function(slice_events[0])

    assert fanout.missing_slices(DAY) == []
    (combine_event,) = invoked.events[8:]
    assert combine_event["detail-type"] == fanout.COMBINE_DETAIL_TYPE
    assert not manifest_exists()  # the combining step writes it
    manifest = rewrite.run_export_function(combine_event)
    assert_day_as_exported_in_one_go(manifest)
    # A retried combining step (its parts are gone) does nothing: the day stays as combined.
    again = rewrite.run_export_function(combine_event)
    assert again["combined_at"] and again["date"] == DAY.isoformat()
    assert json.loads(s3_bytes(MANIFEST_KEY))["files"] == manifest["files"]
    assert_day_as_exported_in_one_go(manifest)


def test_parts_s3_keeps_are_logged_and_the_combined_day_stands(invoked, monkeypatch):
    # DeleteObjects answers 200 listing what it kept: the parts (the day's items) stayed without a word.
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(scheduled())
    for event in list(invoked.events):
        rewrite.run_export_function(event)
    (combine_event,) = invoked.events[8:]
    warnings: list[tuple[str, dict]] = []
    monkeypatch.setattr(fanout.logger, "warning", lambda text, extra=None: warnings.append((text, extra)))
    s3 = aws.client("s3")

    def kept(**request) -> dict:
        return {"Errors": [{"Key": o["Key"], "Code": "AccessDenied"} for o in request["Delete"]["Objects"]]}

    with mock.patch.object(s3, "delete_objects", kept):
        manifest = rewrite.run_export_function(combine_event)

    assert_day_as_exported_in_one_go(manifest)
    [extra] = [extra for message, extra in warnings if message == "export parts not deleted"]
    assert extra["codes"] == ["AccessDenied"] and extra["parts_kept"] > 0 and extra["day"] == DAY.isoformat()


def test_a_failed_slice_leaves_no_manifest_and_names_itself(invoked, monkeypatch):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(scheduled())
    real_slice = fanout.export_slice

    def fail_slice_5(day, run, index, slices):
        if index == 5:
            raise RuntimeError("DynamoDB throttled for good")
        return real_slice(day, run, index, slices)

    monkeypatch.setattr(fanout, "export_slice", fail_slice_5)
    for event in list(invoked.events):
        if event["detail"]["slice"] == 5:
            with pytest.raises(RuntimeError):
                rewrite.run_export_function(event)
        else:
            rewrite.run_export_function(event)

    assert not manifest_exists()
    assert fanout.missing_slices(DAY) == [5]
    assert len(invoked.events) == 8  # no combining step started


def test_a_slice_of_a_replaced_run_does_not_start_the_combining(invoked, monkeypatch):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(scheduled())
    old_events = list(invoked.events)
    rewrite.run_export_function(scheduled())  # a re-run of the night: a new run replaces the first
    for event in old_events:
        rewrite.run_export_function(event)

    assert fanout.missing_slices(DAY) == list(range(8))
    assert not any(event["detail-type"] == fanout.COMBINE_DETAIL_TYPE for event in invoked.events)


def test_a_small_day_is_exported_in_one_invocation(invoked, monkeypatch):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: settings().export_fanout_items - 1)

    manifest = rewrite.run_export_function(scheduled())

    assert_day_as_exported_in_one_go(manifest)
    assert invoked.events == []


@pytest.fixture
def emitted(monkeypatch) -> list[tuple[str, float]]:
    """The Powertools metrics the fan-out emits, as (name, value)."""
    recorded: list[tuple[str, float]] = []
    monkeypatch.setattr(
        fanout.metrics, "add_metric", lambda name, unit, value, **kwargs: recorded.append((name, value))
    )
    return recorded


def test_a_failed_slice_counts_itself_for_its_alarm(invoked, monkeypatch, emitted):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(scheduled())
    monkeypatch.setattr(
        fanout, "export_slice", lambda *args: (_ for _ in ()).throw(RuntimeError("throttled"))
    )

    with pytest.raises(RuntimeError):  # raised, so that Lambda retries the slice
        rewrite.run_export_function(invoked.events[3])

    assert emitted == [(fanout.EXPORT_SLICE_FAILED, 1)]


def test_a_combining_step_missing_a_slice_writes_nothing_and_counts_the_missing(
    invoked, monkeypatch, emitted
):
    """A combining step started for a run whose slices are not all done (a replayed event), or whose part a
    lifecycle rule deleted, writes no file and no manifest; the day's files stay as they were."""
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    run = rewrite.run_export_function(scheduled())
    for event in invoked.events[:8]:
        if event["detail"]["slice"] not in (2, 6):
            rewrite.run_export_function(event)
    combine_event = fanout.fanout_event(
        fanout.COMBINE_DETAIL_TYPE, {k: run[k] for k in ("day", "run", "slices")}
    )

    result = rewrite.run_export_function(combine_event)

    assert result["missing"] == [2, 6] and not manifest_exists()
    assert emitted == [(fanout.EXPORT_SLICE_FAILED, 2)]
    # Every slice done, but one part gone: the same.
    for event in invoked.events[:8]:
        if event["detail"]["slice"] in (2, 6):
            rewrite.run_export_function(event)
    assert not manifest_exists()  # the last slice started the combining step: not run yet (invoked)
    aws.client("s3").delete_object(
        Bucket=settings().bucket_name, Key=fanout.slice_prefix(DAY, run["run"], 4) + fanout.PART_MANIFEST
    )
    assert rewrite.run_export_function(combine_event)["missing"] == [4]
    assert not manifest_exists()
    assert emitted[-1] == (fanout.EXPORT_SLICE_FAILED, 1)


def test_the_combining_step_of_a_replaced_run_writes_nothing(invoked, monkeypatch):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    first = rewrite.run_export_function(scheduled())
    for event in list(invoked.events):
        rewrite.run_export_function(event)
    (combine_event,) = invoked.events[8:]
    rewrite.run_export_function(scheduled())  # a newer run of the day starts before the combining step runs

    assert rewrite.run_export_function(combine_event) == {
        "date": DAY.isoformat(),
        "run": first["run"],
        "replaced": True,
    }
    assert not manifest_exists()


def test_a_busy_days_erasure_rewrite_is_fanned_out_and_unmarked_once_combined(invoked, monkeypatch):
    """The rewrite of a busy day an erasure changed: started by the rewrite invocation, one invocation per
    slice, byte for byte the day rewritten in one go, and the day's mark (the rewrite's checkpoint) removed
    only once the combining step has written the manifest."""
    from chalicelib.privacy import erasure

    export.export_day(DAY)
    customer_id = synthetic_customer(3).customer_id
    report = erasure.erase_customer(customer_id)
    assert report is not None and report.exports_scheduled == [DAY.isoformat()]
    assert rewrite.is_pending(DAY)
    in_one_go = export.export_day(DAY, rewrite=True)  # the same day, rewritten by one invocation
    assert in_one_go["counts"]["feedback"] < 900
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)

    started = rewrite.run_export_function(rewrite.rewrite_event([DAY]))

    assert started == {"rewritten": [], "fanned_out": [DAY.isoformat()]}
    assert [event["detail"]["slice"] for event in invoked.events] == list(range(8))
    for event in list(invoked.events):
        rewrite.run_export_function(event)
        assert rewrite.is_pending(DAY)
    (combine_event,) = invoked.events[8:]
    manifest = rewrite.run_export_function(combine_event)

    assert not rewrite.is_pending(DAY)
    assert manifest["files"] == in_one_go["files"]  # keys, rows, sizes and sha256 alike
    assert manifest["counts"] == in_one_go["counts"]
    assert customer_id not in s3_bytes(f"exports/dt={DAY.isoformat()}/contacts.csv").decode()
    assert invoked.events[9:] == []  # a rewrite's combining step hands no rewrites on


def test_a_fanned_out_rewrite_leaves_a_day_marked_again_meanwhile_pending(invoked, monkeypatch):
    export.export_day(DAY)
    rewrite.mark_pending([DAY])
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(rewrite.rewrite_event([DAY]))
    rewrite.mark_pending([DAY])  # another erasure while the slices run (its own rewrite would follow)
    for event in list(invoked.events):
        rewrite.run_export_function(event)
    (combine_event,) = invoked.events[8:]
    rewrite.run_export_function(combine_event)

    assert manifest_exists()
    assert rewrite.is_pending(DAY)


def given_up(
    request: dict, condition: str = "RetriesExhausted", error_type: str = "Sandbox.Timedout"
) -> dict:
    """What EventBridge hands the export function for an asynchronous invocation Lambda gave up: the
    on-failure destination's invocation record (Lambda's documented shape) as the event's detail."""
    record = {
        "version": "1.0",
        "timestamp": "2026-11-22T02:31:07.112Z",
        "requestContext": {
            "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
            "functionArn": f"{FUNCTION_ARN}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": 3,
        },
        "requestPayload": request,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "Task timed out after 900.00 seconds", "errorType": error_type},
    }
    return aws.eventbridge_event(fanout.GIVEN_UP_SOURCE, fanout.GIVEN_UP_DETAIL_TYPE, record)


def test_a_slice_lambda_killed_counts_itself_and_the_day_is_not_combined(invoked, monkeypatch, emitted):
    """A slice killed by its timeout (or memory) runs none of its code: its record, sent back by Lambda's
    on-failure destination, emits the metric and names the slice failed in the run."""
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(scheduled())
    slice_events = list(invoked.events)
    for event in slice_events:
        if event["detail"]["slice"] != 6:
            rewrite.run_export_function(event)
    assert emitted == []  # a killed invocation emits nothing of its own

    result = rewrite.run_export_function(given_up(slice_events[6]))

    assert emitted == [(fanout.EXPORT_SLICE_FAILED, 1)]
    assert (result["given_up"], result["slice"], result["condition"]) == ("slice", 6, "RetriesExhausted")
    assert result["error_type"] == "Sandbox.Timedout" and "errorMessage" not in json.dumps(result)
    assert fanout.failed_slices(DAY) == [6]
    assert fanout.missing_slices(DAY) == [6]
    assert not manifest_exists()
    assert len(invoked.events) == 8  # neither a combining step nor another nightly run started


def test_a_given_up_slice_of_a_replaced_run_is_counted_but_not_recorded(invoked, monkeypatch, emitted):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(scheduled())
    old_slice = invoked.events[2]
    rewrite.run_export_function(scheduled())  # a newer run of the day

    rewrite.run_export_function(given_up(old_slice, condition="EventAgeExceeded"))

    assert emitted == [(fanout.EXPORT_SLICE_FAILED, 1)]
    assert fanout.failed_slices(DAY) == []  # the newer run's record is left as it is


def test_a_combining_step_lambda_killed_counts_for_the_alarm(invoked, monkeypatch, emitted):
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    rewrite.run_export_function(scheduled())
    for event in list(invoked.events):
        rewrite.run_export_function(event)
    (combine_event,) = invoked.events[8:]

    result = rewrite.run_export_function(given_up(combine_event, error_type="Runtime.OutOfMemory"))

    assert result["given_up"] == "combine"
    assert emitted == [(fanout.EXPORT_SLICE_FAILED, 1)]
    assert not manifest_exists()


@pytest.mark.parametrize(
    "request_payload",
    [
        scheduled(),  # the nightly run itself: its function's Errors alarm covers it
        rewrite.rewrite_event([DAY]),
        {"source": fanout.GIVEN_UP_SOURCE, "detail-type": fanout.GIVEN_UP_DETAIL_TYPE, "detail": {}},
    ],
    ids=["nightly", "rewrite", "a record of a record"],
)
def test_the_record_of_another_invocation_is_ignored(invoked, emitted, request_payload):
    """Never taken for the schedule (which would export the day again), never counted, never a loop."""
    assert rewrite.run_export_function(given_up(request_payload)) == {"ignored": True}
    assert emitted == [] and invoked.events == [] and not manifest_exists()


def test_on_the_local_stack_a_failed_slice_invocation_comes_back_as_its_record(
    small_day, monkeypatch, emitted
):
    """The local stand-in for Lambda's asynchronous invocation hands a failed invocation's record to the
    export handler as the deployed rule does (chalicelib/local/environment.py)."""
    from chalicelib.local import environment

    monkeypatch.setattr(rewrite, "_in_process_invoker", environment._invoke_export)
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    real_slice = fanout.export_slice

    def out_of_memory_in_slice_1(day, run, index, slices):
        if index == 1:
            raise MemoryError
        return real_slice(day, run, index, slices)

    monkeypatch.setattr(fanout, "export_slice", out_of_memory_in_slice_1)
    fanout.start(DAY, 3, rewrite._invoke_self, lambda day, detail: small_day.append(day))
    rewrite.wait_for_local_rewrites()

    # The slice's own handler counted its failure, then its record did (as on AWS after the retries).
    assert emitted == [(fanout.EXPORT_SLICE_FAILED, 1), (fanout.EXPORT_SLICE_FAILED, 1)]
    assert fanout.failed_slices(DAY) == [1]
    assert not manifest_exists() and small_day == []


def test_a_fanned_out_run_started_before_the_day_ended_is_not_complete(small_day, monkeypatch):
    """The combining step judges the run by when it started reading the day, not by when it ends."""
    monkeypatch.setattr(fanout, "utc_now", lambda: datetime(DAY.year, DAY.month, DAY.day, 23, 59, tzinfo=UTC))
    fanout.start(DAY, 3, dispatch=lambda event: False, on_exported=lambda day, detail: None)
    assert json.loads(s3_bytes(MANIFEST_KEY))["complete"] is False

    monkeypatch.setattr(fanout, "utc_now", lambda: datetime.now(UTC))
    fanout.start(DAY, 3, dispatch=lambda event: False, on_exported=lambda day, detail: None)
    assert json.loads(s3_bytes(MANIFEST_KEY))["complete"] is True
