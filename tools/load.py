"""`python -m tools.load` (`make load`): a bounded burst of mixed deliveries against the local stack, then a
check that every delivery is stored exactly once.

By default it starts the local stack itself (`python -m chalicelib.local`, the code `make run` runs) as a
subprocess on free ports; with `--url` it targets a running `make run` instead (`--moto-port` if its moto is
not on $MOTO_PORT/5000). Either way the stack is one process and this generator another.

1. Reads the demo sources' secrets from the stack's SSM (chalicelib.channels.sources, at its moto endpoint).
2. Sends N deliveries (forms as JSON and urlencoded, one signed webhook per channel type, in rotation; see
   tools/load_deliveries.py) from a pool of threads, each with its own keep-alive HTTP/1.1 connection,
   recording each request's ack latency (send to full response). A 503 is retried after its Retry-After.
3. Waits until the ingest queue is drained (queue attributes), then checks in DynamoDB that each
   delivery's feedback id is stored (BatchGetItem by key) and that no other item carries the run's marker
   (one filtered Scan: acceptable for this check against the local moto only; see check_store).
4. Prints deliveries/s, p50/p95/p99 ack latency, stored items, duplicates, DLQ depth and drain time; exits 1
   when a delivery was not acked 2xx or an item is missing or duplicated.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from tqdm import tqdm

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.config import settings
from chalicelib.http import retry_after_seconds as read_retry_after
from chalicelib.local.environment import moto_port, use_local_stack
from chalicelib.store import dynamo, feedback_layout
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import PK, RECORD_TYPE
from tools.load_deliveries import BUILDERS, WEBHOOK_KINDS, build, run_marker_prefix
from tools.local_process import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
STACK_START_SECONDS = 120
MAX_ATTEMPTS = 5  # per delivery: 503s with Retry-After and dropped connections
REQUEST_TIMEOUT_SECONDS = 30


# --- the stack under load ---------------------------------------------------------------------------------


def wait_until_serving(base_url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until the API answers the demo form's public configuration (the stack is provisioned by then)."""
    parts = urlsplit(base_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the local stack exited with code {process.returncode}")
        try:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            connection.request("GET", "/forms/demo")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{base_url} did not answer within {timeout:.0f} s")


@contextmanager
def local_stack(log: IO[bytes]) -> Iterator[tuple[str, int]]:
    """`python -m chalicelib.local` on free ports, its output in `log`; yields (API URL, moto port)."""
    port, moto = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGEST_", "TABLE_", "EXPORT_"))}
    env.update(
        {"PORT": str(port), "MOTO_PORT": str(moto), "DEMO_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}
    )
    # Output goes to a file, not a pipe: thousands of request log lines must never block the stack.
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.local"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, STACK_START_SECONDS, process)
        yield base, moto
    finally:
        stop(process, timeout=30)


# --- sending ----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    feedback_id: str
    status: int  # 0 when no response came back at all
    latency_ms: float  # of the final attempt
    events: int | None  # what the webhook route said it queued (None for forms)
    retries: int = 0
    error: str = ""


@dataclass
class SendReport:
    outcomes: list[Outcome]
    seconds: float

    @property
    def accepted(self) -> int:
        return sum(1 for o in self.outcomes if 200 <= o.status < 300)

    @property
    def retries(self) -> int:
        return sum(o.retries for o in self.outcomes)


def retry_after_seconds(value: str) -> float:
    """A Retry-After in seconds (chalicelib.http's reader: delay-seconds or an HTTP-date), 1 s when absent or
    unreadable, capped at 10 s to keep the burst bounded."""
    seconds = read_retry_after(value)
    return 1.0 if seconds is None else min(seconds, 10.0)


class Sender:
    """Sends deliveries over one keep-alive connection per thread."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_SECONDS)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def send(self, run: int, index: int, secrets_by_kind: dict[str, dict[str, str]]) -> Outcome:
        """Send delivery `index`, retrying a 503 after its Retry-After and a dropped connection at once."""
        delivery = build(run, index, secrets_by_kind)
        outcome = Outcome(delivery.kind, delivery.feedback_id, 0, 0.0, None)
        for attempt in range(MAX_ATTEMPTS):
            outcome.retries = attempt
            path, headers = delivery.request()  # signed now: timestamps stay inside the replay windows
            started = time.perf_counter()
            try:
                connection = self._connection()
                connection.request("POST", self.prefix + path, body=delivery.body, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                # The server closed a kept-alive connection (or never answered): resend on a new one. A resend
                # of an accepted delivery is a redelivery, which the pipeline stores once anyway.
                self._drop_connection()
                outcome.status, outcome.error = 0, f"{type(error).__name__}: {error}"
                continue
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            outcome.status, outcome.error = response.status, ""
            if response.getheader("connection", "").lower() == "close":
                self._drop_connection()
            if response.status == 503 and response.getheader("retry-after"):
                time.sleep(retry_after_seconds(response.getheader("retry-after") or ""))
                continue
            if 200 <= response.status < 300 and delivery.kind in WEBHOOK_KINDS:
                outcome.events = json.loads(body).get("events")
            elif not 200 <= response.status < 300:
                outcome.error = body[:300].decode(errors="replace")
            break
        return outcome


def send_all(
    base_url: str, run: int, count: int, concurrency: int, secrets_by_kind: dict[str, dict[str, str]]
) -> SendReport:
    """Send deliveries 0…count-1 from `concurrency` threads; returns the outcomes in delivery order."""
    sender = Sender(base_url)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool:
        futures = [pool.submit(sender.send, run, index, secrets_by_kind) for index in range(count)]
        try:
            outcomes = [
                f.result()
                for f in tqdm(futures, desc="deliveries", unit="req", file=sys.stderr, disable=None)
            ]
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: only the requests in flight finish
            raise
    return SendReport(outcomes, time.perf_counter() - started)


# --- checking ---------------------------------------------------------------------------------------------


@dataclass
class StackInfo:
    queue_url: str
    dlq_url: str


def stack_info() -> StackInfo:
    """The queue URLs the stack's provisioning recorded in SSM (`{PARAMETER_PREFIX}/stack`)."""
    value = aws.client("ssm").get_parameter(Name=f"{settings().parameter_prefix}/stack")["Parameter"]["Value"]
    recorded = json.loads(value)
    return StackInfo(recorded["queue_url"], recorded["dlq_url"])


def queue_depth(queue_url: str) -> int:
    """Messages in the queue: visible, in flight and delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)[
        "Attributes"
    ]
    return sum(int(attributes.get(name, 0)) for name in names)


def wait_for_drain(queue_url: str, timeout: float) -> tuple[bool, float]:
    """Poll until the queue reads empty twice in a row; (drained, seconds waited).

    Every read costs moto a pass over all the queue's messages, so a deep queue is read every 2 s only.
    """
    started = time.monotonic()
    empty_reads = 0
    with tqdm(
        desc="ingest queue depth", file=sys.stderr, disable=None, bar_format="{desc}: {postfix}"
    ) as bar:
        while time.monotonic() - started < timeout:
            depth = queue_depth(queue_url)
            bar.set_postfix_str(str(depth))
            empty_reads = empty_reads + 1 if depth == 0 else 0
            if empty_reads >= 2:
                return True, time.monotonic() - started
            time.sleep(0.5 if depth == 0 else 2)
    return False, time.monotonic() - started


@dataclass
class StoreCheck:
    stored: int  # expected feedback ids found
    missing: list[str]
    duplicates: int  # items of the run stored under an identity no delivery had (a second copy)
    scanned: int  # FEEDBACK items of the run the Scan found (expected and strays)
    strays: list[str] = field(default_factory=list)


def check_store(expected: Sequence[str], run: int) -> StoreCheck:
    """Find every FEEDBACK item carrying the run's marker (one filtered Scan) and match them with the
    deliveries' feedback ids: a marked item under an id no delivery had is a second copy of one.

    The Scan is for this check against the local moto only (the app itself never scans): moto answers
    every Query by walking the whole table, so the per-day index is no cheaper here, and a Scan also sees
    items stored on any day. Expected ids the Scan did not see are looked up by key (BatchGetItem), so an
    item whose text lost the marker still counts as stored.
    """
    table = settings().table_name
    marked: list[str] = []
    paginator = aws.client("dynamodb").get_paginator("scan")
    # The text is matched here, not by the Scan: a compact item may hold it compressed, under a short name in
    # today's layout and a long one in those before (feedback_layout.py).
    text_names = {
        f"#t{i}": name
        for i, name in enumerate(feedback_layout.stored_names(("text", feedback_layout.COMPRESSED_TEXT)))
    }
    for page in paginator.paginate(
        TableName=table,
        FilterExpression="#type = :feedback",
        ExpressionAttributeNames={"#type": RECORD_TYPE, "#pk": PK, **text_names},
        ExpressionAttributeValues={":feedback": {"S": "FEEDBACK"}},
        ProjectionExpression=", ".join(["#pk", *text_names]),
    ):
        fields = [feedback_layout.plain_fields(dynamo.deserialize(item)) for item in page.get("Items", [])]
        marked += [f["feedback_id"] for f in fields if run_marker_prefix(run) in str(f.get("text", ""))]
    wanted, seen = set(expected), set(marked)
    unseen = [feedback_store.feedback_key(feedback_id) for feedback_id in wanted - seen]
    found = (wanted & seen) | {feedback_store.id_of(item) for item in dynamo.batch_get(table, unseen)}
    missing = [feedback_id for feedback_id in expected if feedback_id not in found]
    strays = [feedback_id for feedback_id in marked if feedback_id not in wanted]
    # A primary key holds one item, so a delivery stored twice shows up as a stray (or as a repeat in
    # the Scan, which a healthy table never returns).
    repeats = len(marked) - len(seen)
    return StoreCheck(len(found), missing, len(strays) + repeats, len(marked), strays)


# --- report -----------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _status_breakdown(statuses: Counter[int]) -> str:
    failed = [
        f"{status or 'no response'} x{n}" for status, n in sorted(statuses.items()) if not 200 <= status < 300
    ]
    return f"  ({', '.join(failed)})" if failed else ""


def send_lines(sent: SendReport, concurrency: int) -> list[str]:
    """What the burst did: counts, rate and ack latency."""
    count = len(sent.outcomes)
    latencies = [o.latency_ms for o in sent.outcomes if 200 <= o.status < 300]
    kinds = Counter(o.kind for o in sent.outcomes)
    wrong_events = sum(1 for o in sent.outcomes if o.events is not None and o.events != 1)
    statuses = Counter(o.status for o in sent.outcomes)
    lines = [
        f"deliveries:          {count} from {concurrency} keep-alive connections",
        "per kind:            " + ", ".join(f"{kind}={kinds[kind]}" for kind in BUILDERS if kinds[kind]),
        f"accepted (2xx):      {sent.accepted}",
        f"not 2xx:             {count - sent.accepted}{_status_breakdown(statuses)}",
        f"retries:             {sent.retries} (503 Retry-After and dropped connections)",
        f"acks != 1 event:     {wrong_events}",
        f"send time:           {sent.seconds:.1f} s",
        f"deliveries/s:        {count / sent.seconds:.1f}",
        f"ack latency (ms):    p50={percentile(latencies, 0.50):.1f}  p95={percentile(latencies, 0.95):.1f}"
        f"  p99={percentile(latencies, 0.99):.1f}  max={max(latencies, default=0):.1f}"
        f"  mean={statistics.fmean(latencies) if latencies else 0:.1f}",
    ]
    lines += [
        f"  e.g. {o.kind}: {o.status or 'no response'} {o.error}"
        for o in [o for o in sent.outcomes if not 200 <= o.status < 300][:5]
    ]
    return lines


def store_lines(
    sent: SendReport, check: StoreCheck, dlq: int, drained: bool, drain_seconds: float
) -> list[str]:
    """What was stored once the queue drained."""
    count = len(sent.outcomes)
    lines = [
        f"drain time:          {drain_seconds:.1f} s" + ("" if drained else "  (TIMED OUT: queue not empty)"),
        f"stored items:        {check.stored} of {count}  (items with the run's marker: {check.scanned})",
        f"missing:             {len(check.missing)}",
        f"duplicates:          {check.duplicates}",
        f"DLQ depth:           {dlq}",
        f"end to end:          {count / (sent.seconds + drain_seconds):.1f} items/s stored",
    ]
    lines += [f"  missing e.g. {feedback_id}" for feedback_id in check.missing[:5]]
    lines += [f"  duplicate e.g. {feedback_id}" for feedback_id in check.strays[:5]]
    return lines


def passed(sent: SendReport, check: StoreCheck, dlq: int, drained: bool) -> bool:
    """Every delivery acked 2xx (one event per webhook), every item stored once, nothing in the DLQ."""
    count = len(sent.outcomes)
    one_event_each = all(o.events in (None, 1) for o in sent.outcomes)
    return (
        sent.accepted == count
        and one_event_each
        and drained
        and check.stored == count
        and not check.missing
        and check.duplicates == 0
        and dlq == 0
    )


# --- main -------------------------------------------------------------------------------------------------


def run_load(base_url: str, count: int, concurrency: int, drain_timeout: float) -> int:
    """The burst and the check against the stack at `base_url` (this process already points at its moto)."""
    secrets_by_kind = {}
    for kind in WEBHOOK_KINDS:
        revealed = sources.read_secrets(f"demo-{kind}")
        secrets_by_kind[kind] = {name: revealed.current(name) or "" for name in revealed.names()}
    info = stack_info()
    run = random.randint(100_000, 999_999)
    print(f"load run {run}: {count} deliveries to {base_url}", flush=True)

    sent = send_all(base_url, run, count, concurrency, secrets_by_kind)
    print("\n".join(send_lines(sent, concurrency)), flush=True)
    drained, drain_seconds = wait_for_drain(info.queue_url, drain_timeout)
    check_started = time.perf_counter()
    check = check_store([o.feedback_id for o in sent.outcomes], run)
    dlq = queue_depth(info.dlq_url)
    print("\n".join(store_lines(sent, check, dlq, drained, drain_seconds)), flush=True)
    print(f"check time:          {time.perf_counter() - check_started:.1f} s")
    ok = passed(sent, check, dlq, drained)
    print("result:              " + ("PASS" if ok else "FAIL"), flush=True)
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000, help="how many deliveries (default 10000)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="sending threads/connections (default 16)"
    )
    parser.add_argument("--url", help="a running `make run` API (default: start a local stack here)")
    parser.add_argument(
        "--moto-port",
        type=int,
        default=None,
        help="with --url: the stack's moto port (default $MOTO_PORT or 5000)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        help="seconds to wait for the queue (default 60 + 50 ms/item)",
    )
    args = parser.parse_args(argv)
    if args.deliveries < 1 or args.concurrency < 1:
        parser.error("--deliveries and --concurrency must be at least 1")
    drain_timeout = args.drain_timeout or 60 + 0.05 * args.deliveries

    wall = time.perf_counter()
    if args.url:
        use_local_stack(args.moto_port or moto_port())
        code = run_load(args.url.rstrip("/"), args.deliveries, args.concurrency, drain_timeout)
    else:
        with tempfile.NamedTemporaryFile(prefix="load-stack-", suffix=".log", delete=False) as log:
            try:
                with local_stack(log) as (base_url, moto):
                    use_local_stack(moto)
                    code = run_load(base_url, args.deliveries, args.concurrency, drain_timeout)
            except (RuntimeError, TimeoutError) as error:
                print(f"load: {error}; the stack's output is in {log.name}", file=sys.stderr)
                return 2
        if code == 0:
            os.unlink(log.name)
        else:
            print(f"the stack's output: {log.name}", file=sys.stderr)
    print(f"wall time:           {time.perf_counter() - wall:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
