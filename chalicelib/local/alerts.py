"""Alerts on the local stack: the evaluator run on a rate like its EventBridge rule (every 30 seconds here,
so a burst shows within a minute), detractors judged on the table's stream, demo rules, and a Slack-style
receiver on loopback printing each message it is sent."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.alerts import detractors
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.rules import DetractorRule, Metric, Notify, SpikeRule
from chalicelib.config import settings
from chalicelib.local.lambda_runtime import lambda_context, scheduled_event
from chalicelib.local.outbound import StreamPoller, enable_stream
from chalicelib.observability import logger

DEFAULT_INTERVAL_SECONDS = 30.0
Handler = Callable[[dict[str, Any], Any], Any]


class RateScheduler:
    """Runs a scheduled handler every `interval_seconds`, like an EventBridge rate() rule."""

    def __init__(self, handler: Handler, name: str, interval_seconds: float) -> None:
        self.handler, self.name, self.interval = handler, name, interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.handler(scheduled_event(), lambda_context(self.name, 256, 60_000))
            except Exception:
                logger.exception("scheduled run failed", extra={"schedule": self.name})

    def stop(self) -> None:
        self._stop.set()


def slack_text(message: dict[str, Any]) -> str:
    """A Block Kit message as lines of text: its header, sections and link."""
    lines = []
    for block in message.get("blocks", []):
        if block["type"] in ("header", "section") and "text" in block:
            lines.append(block["text"]["text"])
        for field in block.get("fields", []):
            lines.append(field["text"].replace("\n", ": "))
        for element in block.get("elements", []):
            lines.append(element.get("url") or element.get("text", ""))
    return "\n".join(f"    {line}" for text in lines for line in text.splitlines())


class DemoSlackReceiver(BaseHTTPRequestHandler):
    """Answers like a Slack incoming webhook (200 `ok`) and prints the message."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            print(f"[demo slack] {self.path}\n{slack_text(json.loads(body))}", flush=True)
            status, answer = 200, b"ok"
        except (ValueError, KeyError, TypeError):
            status, answer = 400, b"invalid_payload"
        self.send_response(status)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        return


@dataclass
class LocalAlerts:
    scheduler: RateScheduler
    stream: StreamPoller | None  # None where app.fan_out_webhooks reads the stream (make run)
    receiver: ThreadingHTTPServer
    rule_ids: list[str]
    slack_url: str

    def stop(self) -> None:
        self.scheduler.stop()
        if self.stream is not None:
            self.stream.stop()
        self.receiver.shutdown()


def demo_rules(slack_url: str) -> list[str]:
    """A negative spike on all feedback (to the demo Slack receiver and as `alert.triggered`, with a short
    cool-down so a second burst alerts again) and a detractor rule (to the Slack receiver)."""
    rules = [
        SpikeRule(
            rule_id=rule_store.new_rule_id(),
            description="make run's demo: a burst of negative feedback",
            metric=Metric.NEGATIVE_SHARE,
            min_count=5,
            cooldown_minutes=10,
            notify=Notify(webhook=True, slack=True),
        ),
        # Slack only: one message per low score is enough; the spike also sends `alert.triggered`.
        DetractorRule(
            rule_id=rule_store.new_rule_id(),
            description="make run's demo",
            notify=Notify(webhook=False, slack=True),
        ),
    ]
    for rule in rules:
        rule_store.save(rule)
        rule_store.set_slack_url(rule.rule_id, slack_url)
    return [rule.rule_id for rule in rules]


def start_alerts(
    evaluate: Handler, dashboard_url: str, receiver_port: int = 0, read_stream: bool = True
) -> LocalAlerts:
    """The evaluator on its rate, the demo rules and Slack receiver, and (`read_stream`) detractors judged on
    a stream reader of their own; `make run` passes False, as app.fan_out_webhooks judges them there."""
    os.environ.setdefault("DASHBOARD_URL", dashboard_url)
    settings.cache_clear()
    receiver = ThreadingHTTPServer(("127.0.0.1", receiver_port), DemoSlackReceiver)
    threading.Thread(target=receiver.serve_forever, name="demo-slack-receiver", daemon=True).start()
    slack_url = f"http://127.0.0.1:{receiver.server_address[1]}/services/LOCAL/DEMO/alerts"
    rule_ids = demo_rules(slack_url)
    interval = float(os.environ.get("LOCAL_ALERTS_INTERVAL_SECONDS", str(DEFAULT_INTERVAL_SECONDS)))
    scheduler = RateScheduler(evaluate, "evaluate_alerts", interval)
    stream = (
        StreamPoller(enable_stream(), lambda event, context: detractors.handle_stream_batch(event))
        if read_stream
        else None
    )
    scheduler.start()
    if stream is not None:
        stream.start()
    return LocalAlerts(scheduler, stream, receiver, rule_ids, slack_url)
