"""What the webhook route does before any channel reads a payload, the same for every channel (issue 11):

- every header a channel parses to authenticate a request is parsed defensively: a hostile value (a
  timestamp of 401 digits, thousands of digits, other scripts' digits, non-ASCII text) answers 401 in the
  JSON error shape, never 500 (item 16);
- a source id that cannot exist is unknown without any AWS call, and the 404 does not echo it (item 19);
- what a delivery held that is not stored is named in the answer and counted in `WebhookEventsSkipped`,
  one figure per reason (item 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.registry import CHANNELS
from tests.channels.harness import ChannelHarness, WebhookCase, table_for
from tools.load_deliveries import BUILDERS, Ident

HOSTILE_VALUES = (
    "1" + "0" * 400,  # overflowed the float conversion of the replay window check (500)
    "9" * 5_000,  # more digits than int() converts
    "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660",  # Arabic-Indic digits int() accepts
    "1_795_262_280",
    " 1795262280 ",
    "-1",
    "\u00e9" * 3_000,
    "",
)


def _signed_case(harness: ChannelHarness) -> WebhookCase:
    """A delivery the harness's channel accepts (the load tool's), authenticated now."""
    body = BUILDERS[harness.source.type](Ident(run=424242, index=1), harness.secrets).body
    return harness.signed(WebhookCase(harness.source.type, body=body, now=datetime.now(UTC)))


@pytest.mark.parametrize("channel_type", sorted(CHANNELS))
def test_every_authentication_header_with_a_hostile_value_is_a_401(channel_harness, channel_type):
    harness = channel_harness(channel_type, table_for(channel_type).secrets)
    valid = _signed_case(harness)
    assert harness.send(valid).status == 200, "the unaltered delivery must be accepted"
    # Every header (and Trustpilot's query token) the channel's `sign` authenticates with, one at a time.
    signed = harness.channel.sign(valid.body or b"", harness.secrets, valid.now)
    headers, query = {name.lower() for name in signed.headers}, signed.query
    for name in sorted(headers):
        for value in HOSTILE_VALUES:
            case = WebhookCase(
                f"{channel_type} {name}={value[:12]!r}… ({len(value)} characters)",
                body=valid.body,
                headers={**valid.headers, name: value},
                query=valid.query,
                sign=False,
                now=valid.now,
                status=401,
            )
            harness.run(case)
    for name in sorted(query):
        for value in HOSTILE_VALUES:
            harness.run(
                WebhookCase(
                    f"{channel_type} ?{name}={value[:12]!r}…",
                    body=valid.body,
                    headers=valid.headers,
                    query={**valid.query, name: value},
                    sign=False,
                    now=valid.now,
                    status=401,
                )
            )


@pytest.mark.parametrize("header", ["webhook-timestamp", "x-slack-request-timestamp"])
def test_a_timestamp_of_one_followed_by_400_zeros_is_a_401(channel_harness, header):
    channel_type = "webhook" if header.startswith("webhook") else "slack"
    harness = channel_harness(channel_type, table_for(channel_type).secrets)
    valid = _signed_case(harness)
    harness.run(
        WebhookCase(
            "1 and 400 zeros",
            body=valid.body,
            headers={**valid.headers, header: "1" + "0" * 400},
            sign=False,
            now=valid.now,
            status=401,
            error_code="timestamp_expired",
        )
    )


@pytest.mark.parametrize("value", ["\u00b2", "9" * 5_000, "1e3", "12, 12"])
def test_a_malformed_content_length_is_never_a_500(channel_harness, value):
    harness = channel_harness("telegram", table_for("telegram").secrets)
    valid = _signed_case(harness)
    result = harness.send(
        WebhookCase("content-length", body=valid.body, headers={**valid.headers, "content-length": value})
    )
    assert result.status < 500, result.body
    if result.status >= 400:
        assert set(json.loads(result.body)["error"]) >= {"code", "message"}


# --- ids that cannot be a source's ---------------------------------------------------------------------


@contextmanager
def aws_calls() -> Iterator[list[str]]:
    """Every DynamoDB and SSM request made inside the block, by operation name."""
    calls: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    clients = [aws.client("dynamodb"), aws.client("ssm")]
    for client in clients:
        client.meta.events.register("before-call.*.*", record)
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.*.*", record)


@pytest.mark.parametrize("source_id", ["s" * 2_000, "ab", "src/../x", "src\n", "src é", ""])
def test_a_source_id_that_cannot_exist_is_unknown_without_an_aws_call(stack, source_id):
    sources.clear_cache()
    with aws_calls() as calls:
        assert sources.get_cached(source_id) is None
    assert calls == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_2000_character_source_id_is_a_404_that_does_not_echo_it(client, stack, method):
    source_id = "s" * 2_000
    sources.clear_cache()
    with aws_calls() as calls:
        response = client.http.request(
            method, f"/webhooks/{source_id}", headers={"content-type": "application/json"}, body=b"{}"
        )
    assert response.status_code == 404
    error = json.loads(response.body)["error"]
    assert error["code"] == "unknown_source"
    assert source_id[:64] not in error["message"]
    assert calls == []
    assert stack.queue_depth() == 0


def test_an_unknown_source_of_a_possible_shape_is_not_echoed_either(client, stack):
    response = client.http.post(
        "/webhooks/src_webhook_NotAnyOfOurs", headers={"content-type": "application/json"}, body=b"{}"
    )
    assert response.status_code == 404
    assert "NotAnyOfOurs" not in json.loads(response.body)["error"]["message"]


# --- skipped items are answered and counted ------------------------------------------------------------


def _emitted_metrics(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_skipped_items_are_counted_per_reason(channel_harness, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    harness = channel_harness("webhook", table_for("webhook").secrets)
    body = json.dumps(
        {
            "type": "feedback.created",
            "data": [{"id": "a", "text": "Kept"}, {"id": "b"}, {"id": "c", "text": "  "}],
        }
    ).encode()
    capsys.readouterr()
    result = harness.run(
        WebhookCase(
            "batch with two empty objects",
            body=body,
            now=datetime.now(UTC),
            events=[{"external_id": "a"}],
            response={
                "status": "accepted",
                "events": 1,
                "skipped": [
                    {"reason": "no_text_or_rating", "index": 1},
                    {"reason": "no_text_or_rating", "index": 2},
                ],
            },
        )
    )
    assert result.status == 200
    skipped = [m for m in _emitted_metrics(capsys.readouterr().out) if "WebhookEventsSkipped" in m]
    assert len(skipped) == 1
    assert skipped[0]["WebhookEventsSkipped"] == [2.0]
    assert (skipped[0]["reason"], skipped[0]["channel"]) == ("no_text_or_rating", "webhook")


# --- AWS cannot serve a cold cache's read ----------------------------------------------------------------


@contextmanager
def refused_by_aws(service: str, operation: str, code: str = "ThrottlingException") -> Iterator[None]:
    """Every `operation` request to `service` inside the block is refused by AWS with `code`."""
    from botocore.exceptions import ClientError

    def refuse(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, operation)

    client = aws.client(service)
    client.meta.events.register(f"before-call.{service}.{operation}", refuse)
    try:
        yield
    finally:
        client.meta.events.unregister(f"before-call.{service}.{operation}", refuse)


# Zendesk retries a webhook only on 409, 429 and 503 (developer.zendesk.com/api-reference/webhooks/
# introduction, "Webhook retries"); Typeform retries a 503 for 10 hours and other codes five times
# (developer.typeform.com/webhooks, "Delivery retries"). A 500 on a cold cache's throttled read lost the
# delivery on Zendesk.
@pytest.mark.parametrize(("service", "operation"), [("dynamodb", "GetItem"), ("ssm", "GetParametersByPath")])
def test_a_source_or_secret_aws_cannot_read_now_is_a_503_the_platform_retries(
    channel_harness, service, operation
):
    harness = channel_harness("zendesk", table_for("zendesk").secrets)
    valid = _signed_case(harness)
    sources.clear_cache()
    with refused_by_aws(service, operation):
        result = harness.send(valid)
    assert result.status == 503, result.body
    assert result.headers.get("Retry-After") == "5"
    error = json.loads(result.body)["error"]
    assert error["code"] == "unavailable"
    assert "try again" in error["message"]
    assert (result.sends, result.events) == (0, [])
    # The retry, once AWS answers again, is stored.
    assert harness.send(valid).status == 200


# --- a refusal names the header to fix ---------------------------------------------------------------------

# Each timestamp header, and what a stale one looks like in its format.
TIMESTAMP_HEADERS = {
    "slack": ("x-slack-request-timestamp", "1000000000"),
    "zendesk": ("x-zendesk-webhook-signature-timestamp", "2001-09-09T01:46:40Z"),
    "webhook": ("webhook-timestamp", "1000000000"),
}


@pytest.mark.parametrize("channel_type", sorted(TIMESTAMP_HEADERS))
def test_a_timestamp_refusal_names_its_header_and_what_is_wrong(channel_harness, channel_type):
    """ "The request timestamp is missing, malformed or more than 300 s from now" left the integrator to
    guess which header, and which of the three."""
    header, stale = TIMESTAMP_HEADERS[channel_type]
    harness = channel_harness(channel_type, table_for(channel_type).secrets)
    valid = _signed_case(harness)
    headers = {name.lower(): value for name, value in valid.headers.items()}
    without = {name: value for name, value in headers.items() if name != header}
    expected = {
        "missing": (without, f"The request has no {header} header."),
        "malformed": ({**headers, header: "yesterday"}, f"The {header} header is not "),
        "stale": ({**headers, header: stale}, f"The {header} header is more than "),
    }
    for label, (sent, message) in expected.items():
        result = harness.send(WebhookCase(label, body=valid.body, headers=sent, sign=False, now=valid.now))
        assert result.status == 401, (label, result.body)
        error = json.loads(result.body)["error"]
        assert error["code"] == "timestamp_expired"
        # Named as the channel's module spells it (Zendesk's docs capitalise theirs).
        assert error["message"].lower().startswith(message.lower()), (label, error["message"])


def test_a_standard_webhook_without_its_id_names_webhook_id(channel_harness):
    harness = channel_harness("webhook", table_for("webhook").secrets)
    valid = _signed_case(harness)
    headers = {name: value for name, value in valid.headers.items() if name.lower() != "webhook-id"}
    result = harness.send(WebhookCase("no webhook-id", body=valid.body, headers=headers, sign=False))
    assert result.status == 401
    error = json.loads(result.body)["error"]
    assert (error["code"], error["message"]) == ("signature_missing", "The request has no webhook-id header.")
