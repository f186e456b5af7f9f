"""The one table-driven harness every channel's tests run through (after nyaruka/courier's IncomingTestCase).

A channel's test module declares its source secrets, a signer (how the platform signs a request), and a
table of `WebhookCase`s: a request (fixture file or raw body, headers, query, method), the expected status
and either the expected error code or the expected normalized events. The harness creates the source,
sends the request through `chalice.test.Client`, and checks the answer, the queue and the events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.sources import SourceConfig
from chalicelib.ingest.queue import decode_events
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import feedback_id_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

# signer(body, secrets, now, case) → headers (or query parameters, via case) that authenticate the request
Signer = Callable[[bytes, Mapping[str, str], datetime], dict[str, str]]


@dataclass
class WebhookCase:
    label: str
    fixture: str | None = None  # file in tests/fixtures/<channel>/, sent byte for byte
    body: bytes | None = None  # or the raw body itself
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    query: dict[str, str] = field(default_factory=dict)
    sign: bool = True  # add the signer's headers
    now: datetime = NOW  # the server's clock for this request
    status: int = 200
    error_code: str | None = None  # expected error code (then nothing may be queued)
    events: list[dict[str, Any]] | None = None  # expected events, each a subset of the event's JSON
    response: Any = None  # expected response body (dict for JSON, str for text), when it matters


@dataclass
class CaseResult:
    status: int
    body: bytes
    headers: dict[str, str]
    events: list[dict[str, Any]]
    sends: int


def _subset_matches(expected: Any, actual: Any) -> bool:
    """Every expected key has its expected value in `actual` (recursively); an expected None also matches
    an absent key."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            actual.get(key) is None
            if value is None
            else key in actual and _subset_matches(value, actual[key])
            for key, value in expected.items()
        )
    return expected == actual


class ChannelHarness:
    """Runs a channel's cases against a fresh source of its type."""

    def __init__(
        self,
        client: Any,
        stack: Any,
        monkeypatch: Any,
        channel_type: str,
        secrets: Mapping[str, str],
        signer: Signer | None,
        settings: Mapping[str, str] | None = None,
        fixture_dir: str | None = None,
    ) -> None:
        self.client, self.stack, self.monkeypatch = client, stack, monkeypatch
        self.secrets = dict(secrets)
        self.signer = signer
        self.fixture_dir = FIXTURES / (fixture_dir or channel_type)
        self.source = SourceConfig(
            source_id=f"src_{channel_type}_test",
            type=channel_type,
            name=f"{channel_type} test",
            settings=dict(settings or {}),
        )
        sources.save(self.source, self.secrets)

    def body_of(self, case: WebhookCase) -> bytes:
        if case.fixture is not None:
            return (self.fixture_dir / case.fixture).read_bytes()
        return case.body or b""

    def send(self, case: WebhookCase, collect: bool = True) -> CaseResult:
        """Send the case's request and (with `collect`) take what it queued, without judging it."""
        from chalicelib.channels import routes

        self.monkeypatch.setattr(routes, "utc_now", lambda: case.now)
        sends: list[int] = []
        sqs = aws.client("sqs")
        counter = lambda **kwargs: sends.append(1)  # noqa: E731
        sqs.meta.events.register("before-call.sqs.SendMessage", counter)
        sqs.meta.events.register("before-call.sqs.SendMessageBatch", counter)
        body = self.body_of(case)
        headers = dict(case.headers)
        if case.sign and self.signer is not None:
            headers.update(self.signer(body, self.secrets, case.now))
        path = f"/webhooks/{self.source.source_id}"
        if case.query:
            path += "?" + urlencode(case.query)
        try:
            response = self.client.http.request(case.method, path, headers=headers, body=body)
        finally:
            sqs.meta.events.unregister("before-call.sqs.SendMessage", counter)
            sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", counter)
        queued = self.stack.queued_bodies() if collect else []
        events = [e.model_dump(mode="json") for body in queued for e in decode_events(body)]
        return CaseResult(response.status_code, response.body, dict(response.headers), events, len(sends))

    def run(self, case: WebhookCase) -> CaseResult:
        """Send the case and assert everything it expects."""
        result = self.send(case)
        assert result.status == case.status, f"{case.label}: {result.status} {result.body!r}"
        if case.error_code is not None or case.status >= 400:
            error = json.loads(result.body)["error"]
            assert set(error) >= {"code", "message"}
            if case.error_code is not None:
                assert error["code"] == case.error_code, f"{case.label}: {error}"
            assert result.events == [] and result.sends == 0, f"{case.label}: queued despite the error"
        if case.response is not None:
            actual = result.body.decode() if isinstance(case.response, str) else json.loads(result.body)
            assert actual == case.response, f"{case.label}: {actual!r}"
        if case.events is not None:
            assert len(result.events) == len(case.events), (
                f"{case.label}: {json.dumps(result.events, indent=1)}"
            )
            for expected, actual in zip(case.events, result.events, strict=True):
                assert _subset_matches(expected, actual), f"{case.label}: expected {expected}\n got {actual}"
                assert actual["source_id"] == self.source.source_id
                assert actual["feedback_id"] == feedback_id_for(self.source.source_id, actual["external_id"])
            # The ack path: one SQS request per delivery however many events, none when nothing to keep.
            assert result.sends == (1 if case.events else 0), f"{case.label}: {result.sends} SQS requests"
        return result

    def assert_rotation(
        self,
        secret_name: str,
        new_value: str,
        case_signed_with: Callable[[str], WebhookCase],
        *,
        status: int = 401,
        error_code: str = "signature_invalid",
    ) -> None:
        """Rotate `secret_name` to `new_value` (keeping the previous value): a request authenticated with the
        old value and one with the new value both pass as the case expects. Once the previous value is
        dropped, the old value is refused with `status` and `error_code` (nothing queued) and the new one
        still passes. `case_signed_with(value)` is an accepted request authenticated with `value`."""
        old_value = self.secrets[secret_name]
        assert new_value != old_value, "rotate to another value"
        old, new = case_signed_with(old_value), case_signed_with(new_value)
        assert old.status < 400 and new.status < 400, "use a case the channel accepts"

        sources.rotate(self.source.source_id, {secret_name: new_value})
        self.secrets[secret_name] = new_value  # the signer, if any, now signs with the current value
        self.run(replace(old, label=f"{old.label}: old {secret_name} during the rotation"))
        self.run(replace(new, label=f"{new.label}: new {secret_name} during the rotation"))

        sources.drop_previous(self.source.source_id)
        self.run(
            replace(
                old,
                label=f"{old.label}: old {secret_name} after the rotation",
                status=status,
                error_code=error_code,
                events=None,
                response=None,
            )
        )
        self.run(replace(new, label=f"{new.label}: new {secret_name} after the rotation"))

    def assert_no_get_handshake(self) -> None:
        """A GET to the webhook URL of a channel without a handshake: 404 `no_handshake`."""
        response = self.client.http.get(f"/webhooks/{self.source.source_id}")
        assert response.status_code == 404
        assert b"no_handshake" in response.body

    def assert_redelivery_stored_once(self, case: WebhookCase) -> None:
        """Deliver the case twice (as a platform retry would), analyze, and find each event stored once."""
        from app import analyze

        assert case.events, "use a case that produces events"
        assert self.send(case, collect=False).status == 200
        assert self.send(case, collect=False).status == 200
        drained = SqsPoller(self.stack.queue_url, analyze).drain()
        assert (drained.received, drained.failed) == (2, 0)
        assert self.stack.table_item_count() == len(case.events)
