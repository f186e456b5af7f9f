"""The one table-driven harness every channel's tests run through (after nyaruka/courier's IncomingTestCase).

A channel's test module, `tests/channels/test_<type>.py`, is its table: a `TABLE` (the source's secrets, the
settings that switch on its setting-dependent branches, and one delivery it accepts) and a list of
`WebhookCase`s, each a request (fixture file or raw body, headers, query, method), the expected status and
either the expected error code or the expected normalized events. The harness creates the source, signs each
case with the channel's own `sign` (the inverse of its `verify`), sends it through `chalice.test.Client`,
and checks the answer, the queue and the events.

The cases every channel needs (missing signature, wrong secret, tampered body, replay window, rotation) are
not written in the tables: `generic_cases` derives them from the channel's `sign`, `replay_window` and
`signs_body` for every registered channel (test_generic_cases.py runs them), as courier adds its own.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.base import Channel
from chalicelib.channels.registry import CHANNELS
from chalicelib.channels.sources import SourceConfig
from chalicelib.ingest.queue import decode_message
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import feedback_id_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass
class WebhookCase:
    label: str
    fixture: str | None = None  # file in tests/fixtures/<channel>/, sent byte for byte
    body: bytes | None = None  # or the raw body itself
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    query: dict[str, str] = field(default_factory=dict)
    sign: bool = True  # authenticate with the channel's `sign` (its headers and query win over the case's)
    now: datetime = NOW  # the server's clock for this request
    status: int = 200
    error_code: str | None = None  # expected error code (then nothing may be queued)
    events: list[dict[str, Any]] | None = None  # expected events, each a subset of the event's JSON
    deletions: int = 0  # expected platform deletions queued beside the events
    response: Any = None  # expected response body (dict for JSON, str for text), when it matters


def payload_invalid(label: str, body: bytes) -> WebhookCase:
    """A signed delivery of JSON that is not the documented shape: 422 `payload_invalid`, nothing queued."""
    return WebhookCase(label, body=body, status=422, error_code="payload_invalid")


@dataclass(frozen=True)
class ChannelTable:
    """What a channel's table declares for the cases derived from its scheme and for the property tests."""

    channel_type: str
    secrets: Mapping[str, str]
    # A delivery the channel accepts (signed, with its expected events): the generic cases alter it.
    accepted: WebhookCase
    # Settings that switch on the channel's setting-dependent branches (own-account filters and the like).
    settings: Mapping[str, str] = field(default_factory=dict)


def table_for(channel_type: str) -> ChannelTable:
    """The `TABLE` of tests/channels/test_<type>.py; LookupError when the channel has none."""
    try:
        module = importlib.import_module(f"tests.channels.test_{channel_type}")
    except ModuleNotFoundError as error:
        if error.name != f"tests.channels.test_{channel_type}":
            raise
        raise LookupError(
            f"Channel {channel_type!r} has no table: tests/channels/test_{channel_type}.py"
        ) from error
    table = getattr(module, "TABLE", None)
    if not isinstance(table, ChannelTable) or table.channel_type != channel_type:
        raise LookupError(f"tests/channels/test_{channel_type}.py declares no TABLE for {channel_type!r}")
    return table


def body_of(channel_type: str, case: WebhookCase) -> bytes:
    """The bytes a case sends: its fixture file, or its raw body."""
    if case.fixture is not None:
        return (FIXTURES / channel_type / case.fixture).read_bytes()
    return case.body or b""


def signed(
    channel: Channel,
    case: WebhookCase,
    body: bytes,
    secrets: Mapping[str, str],
    at: datetime | None = None,
    over: bytes | None = None,
) -> WebhookCase:
    """`case` sending `body`, authenticated as the channel's `sign` does over `over` (default: the body) at
    `at` (default: the server's clock), and not signed again."""
    request = channel.sign(body if over is None else over, secrets, case.now if at is None else at)
    headers = {name.lower(): value for name, value in case.headers.items()}
    headers.update({name.lower(): value for name, value in request.headers.items()})
    return replace(
        case, fixture=None, body=body, sign=False, headers=headers, query={**case.query, **request.query}
    )


# --- the generic cases -----------------------------------------------------------------------------------


def other_secrets(channel: Channel, secrets: Mapping[str, str]) -> dict[str, str]:
    """Another value of every secret, fresh from the channel's own generator (so each has a valid shape)."""
    return {name: channel.generate_secret(name) for name in secrets}


def signing_secret_names(channel: Channel, secrets: Mapping[str, str], body: bytes) -> list[str]:
    """The secrets the channel's `sign` depends on (Meta's verify_token, say, is only for the handshake)."""
    others = other_secrets(channel, secrets)
    reference = channel.sign(body, secrets, NOW)
    return [name for name in secrets if channel.sign(body, {**secrets, name: others[name]}, NOW) != reference]


def _span(span: timedelta) -> str:
    return "a day" if span == timedelta(days=1) else f"{int(span.total_seconds())} s"


def generic_cases(table: ChannelTable) -> list[WebhookCase]:
    """The authentication cases every channel must pass, derived from its `sign`, `signs_body` and
    `replay_window` around the table's accepted delivery (see the README, "Webhook sources")."""
    channel = CHANNELS[table.channel_type]
    accepted = table.accepted
    assert accepted.sign and accepted.status < 400 and accepted.events, (
        "TABLE.accepted: a signed delivery kept"
    )
    body = body_of(table.channel_type, accepted)
    refused = {"status": 401, "events": None, "response": None}

    def case(
        label: str,
        secrets: Mapping[str, str] = table.secrets,
        at: datetime | None = None,
        over: bytes | None = None,
        **expected: Any,
    ) -> WebhookCase:
        return replace(signed(channel, accepted, body, secrets, at, over), label=label, **expected)

    cases = [
        case("signed as the platform signs"),
        replace(accepted, label="missing signature", sign=False, error_code="signature_missing", **refused),
        case(
            "signed with another secret",
            secrets={**table.secrets, **other_secrets(channel, table.secrets)},
            error_code="signature_invalid",
            **refused,
        ),
    ]
    if channel.signs_body:
        cases.append(
            case("signature over another body", over=body + b"\n", error_code="signature_invalid", **refused)
        )
    window = channel.replay_window
    if window is None:
        cases.append(
            case("signed a day before it arrives (no replay window)", at=accepted.now - timedelta(days=1))
        )
        return cases
    late = window + timedelta(seconds=1)
    for direction, factor in (("before", -1), ("after", 1)):
        for span in (late, timedelta(days=1)):
            cases.append(
                case(
                    f"signed {_span(span)} {direction} it arrives",
                    at=accepted.now + factor * span,
                    error_code="timestamp_expired",
                    **refused,
                )
            )
        cases.append(
            case(f"signed {_span(window)} {direction} it arrives", at=accepted.now + factor * window)
        )
    retry = window - timedelta(minutes=1)
    cases.append(case(f"a retry signed {_span(retry)} before it arrives", at=accepted.now - retry))
    return cases


# --- running cases ---------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    status: int
    body: bytes
    headers: dict[str, str]
    events: list[dict[str, Any]]
    sends: int
    # Platform deletions queued beside the events (a platform's "review deleted" event).
    deletions: list[dict[str, Any]] = field(default_factory=list)


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
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.client, self.stack, self.monkeypatch = client, stack, monkeypatch
        self.channel = CHANNELS[channel_type]
        self.secrets = dict(secrets)
        self.source = SourceConfig(
            source_id=f"src_{channel_type}_test",
            type=channel_type,
            name=f"{channel_type} test",
            settings=dict(settings or {}),
        )
        sources.save(self.source, self.secrets)

    def body_of(self, case: WebhookCase) -> bytes:
        return body_of(self.source.type, case)

    def signed(self, case: WebhookCase, secrets: Mapping[str, str] | None = None) -> WebhookCase:
        """The case as the platform sends it, made with `secrets` (default: the source's current values)."""
        return signed(self.channel, case, self.body_of(case), self.secrets if secrets is None else secrets)

    def send(self, case: WebhookCase, collect: bool = True) -> CaseResult:
        """Send the case's request and (with `collect`) take what it queued, without judging it."""
        from chalicelib.channels import routes

        if case.sign:
            case = self.signed(case)
        self.monkeypatch.setattr(routes, "utc_now", lambda: case.now)
        sends: list[int] = []
        sqs = aws.client("sqs")
        counter = lambda **kwargs: sends.append(1)  # noqa: E731
        sqs.meta.events.register("before-call.sqs.SendMessage", counter)
        sqs.meta.events.register("before-call.sqs.SendMessageBatch", counter)
        path = f"/webhooks/{self.source.source_id}"
        if case.query:
            path += "?" + urlencode(case.query)
        try:
            response = self.client.http.request(
                case.method, path, headers=dict(case.headers), body=self.body_of(case)
            )
        finally:
            sqs.meta.events.unregister("before-call.sqs.SendMessage", counter)
            sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", counter)
        queued = self.stack.queued_bodies() if collect else []
        messages = [decode_message(body) for body in queued]
        events = [e.model_dump(mode="json") for found, _ in messages for e in found]
        deletions = [d.model_dump(mode="json") for _, found in messages for d in found]
        return CaseResult(
            response.status_code, response.body, dict(response.headers), events, len(sends), deletions
        )

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
            queued = case.events or case.deletions
            assert result.sends == (1 if queued else 0), f"{case.label}: {result.sends} SQS requests"
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
        assert not (old.sign or new.sign), "the cases must carry their own authentication"

        sources.rotate(self.source.source_id, {secret_name: new_value})
        self.secrets[secret_name] = new_value
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

    def assert_signing_secret_rotation(self, accepted: WebhookCase, secret_name: str) -> None:
        """`assert_rotation` of a secret the channel signs with, around a delivery it accepts signed with
        the old value and with a fresh one."""
        new_value = self.channel.generate_secret(secret_name)
        self.assert_rotation(
            secret_name,
            new_value,
            lambda value: self.signed(accepted, {**self.secrets, secret_name: value}),
        )

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
