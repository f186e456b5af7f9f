"""No log line the product writes holds an identifier: representative requests (a form with an email, webhooks
with an author, both email lookups, a customer read and an erasure, the analyze function in between) run
with every logger at its most verbose, and every captured line is searched for the emails, names, handles,
texts, user ids, customer ids and tokens those requests carried.

(The local stack's own HTTP request log is chalicelib/local/'s and tested there.)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.auth import tokens
from chalicelib.channels import sources
from chalicelib.channels.sources import SourceConfig
from chalicelib.channels.webhook import StandardWebhooksChannel
from chalicelib.observability import IdentifierFreeFormatter, logger
from chalicelib.store import customers
from chalicelib.store.identities import customer_id_for

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EMAIL = "Ann.Privacy@Example.com"
NAME = "Annabel Privatename"
HANDLE = "annabel_private_handle"
USER_ID = "U-PRIVATE-4711"
FORM_TEXT = "Secret complaint about the parcel to Elm Street"
WEBHOOK_TEXT = "Private message about my account renewal"


class Lines(logging.Handler):
    """Every record, formatted as it would be written."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Captured:
    ours: Lines
    others: Lines

    @property
    def lines(self) -> list[str]:
        return self.ours.lines + self.others.lines


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The product's logger at DEBUG and everything else (libraries, Chalice) at INFO, captured."""
    capture = Captured(Lines(logger.registered_formatter), Lines(logging.Formatter("%(name)s %(message)s")))
    root = logging.getLogger()
    previous = (logger.log_level, root.level)
    logger.addHandler(capture.ours)
    logger.setLevel("DEBUG")
    root.addHandler(capture.others)
    root.setLevel(logging.INFO)
    yield capture
    logger.removeHandler(capture.ours)
    root.removeHandler(capture.others)
    logger.setLevel(previous[0])
    root.setLevel(previous[1])


def _signed_webhook(client, source_id: str, message_id: str, data: dict) -> None:
    body = json.dumps({"type": "feedback.created", "data": data}).encode()
    signed = StandardWebhooksChannel().sign(
        body, {"signing_secret": SECRET}, datetime.now(UTC), message_id=message_id
    )
    headers = {"content-type": "application/json", **signed.headers}
    response = client.http.post(f"/webhooks/{source_id}", headers=headers, body=body)
    assert response.status_code == 200, response.body


def _analyze_queue(client, stack) -> None:
    bodies = stack.queued_bodies()
    event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="feedback-ingest-test")
    for index, record in enumerate(event["Records"]):
        record["messageId"] = f"m{index}"
    assert client.lambda_.invoke("analyze", event).payload == {"batchItemFailures": []}


def test_no_identifier_reaches_a_log_line(client, stack, captured):
    tokens.clear_cache()
    reader, _ = tokens.create_token("reader", ["read"])
    eraser, _ = tokens.create_token("eraser", ["erase"])
    read = {"Authorization": f"Bearer {reader}"}
    sources.save(SourceConfig(source_id="crm-hooks", type="webhook", name="CRM"), {"signing_secret": SECRET})

    # A chat user first known by their user id, then a form with their email, then a webhook with both:
    # two customers found to be one, merged by the analyze function.
    _signed_webhook(
        client, "crm-hooks", "msg_1", {"id": "evt_1", "text": WEBHOOK_TEXT, "author": {"id": USER_ID}}
    )
    _analyze_queue(client, stack)
    form = client.http.post(
        "/forms/demo/responses",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"rating": 3, "comment": FORM_TEXT, "email": EMAIL, "name": NAME}),
    )
    assert form.status_code == 202, form.body
    _analyze_queue(client, stack)
    author = {"id": USER_ID, "name": NAME, "email": EMAIL, "handle": HANDLE}
    _signed_webhook(client, "crm-hooks", "msg_2", {"id": "evt_2", "text": WEBHOOK_TEXT, "author": author})
    _analyze_queue(client, stack)

    customer_id = customers.find_by_email(EMAIL)
    absorbed = customer_id_for(f"crm-hooks#{USER_ID}")
    assert customer_id and customers.get_profile(absorbed)["merged_into"] == customer_id
    assert client.http.get(f"/customers?email={EMAIL}", headers=read).status_code == 200
    search = client.http.post(
        "/customers/search",
        headers={**read, "Content-Type": "application/json"},
        body=json.dumps({"email": EMAIL}),
    )
    assert search.status_code == 200
    assert client.http.get(f"/customers/{absorbed}", headers=read).status_code == 200
    assert client.http.get(f"/feedback?customer_id={customer_id}&limit=1", headers=read).status_code == 200
    # Refusals log too: a bad token, a wrong scope, an unknown customer, a bad body.
    assert (
        client.http.get("/customers/cus_0", headers={"Authorization": f"Bearer {reader}x"}).status_code == 401
    )
    assert (
        client.http.get(
            f"/customers/{customer_id}", headers={"Authorization": f"Bearer {eraser}"}
        ).status_code
        == 403
    )
    bad = client.http.post(
        "/customers/search",
        headers={**read, "Content-Type": "application/json"},
        body=json.dumps({"e": EMAIL}),
    )
    assert bad.status_code == 422
    erased = client.http.delete(f"/customers/{customer_id}", headers={"Authorization": f"Bearer {eraser}"})
    assert erased.status_code == 200

    text = "\n".join(captured.lines).lower()
    assert "customer erased" in text and "customers merged" in text and "webhook accepted" in text
    identifiers = {
        EMAIL,
        NAME,
        HANDLE,
        USER_ID,
        FORM_TEXT,
        WEBHOOK_TEXT,
        "privatename",
        "ann.privacy",
        reader,
        eraser,
        reader.rsplit("_", 1)[1],
        customer_id,
        absorbed,
        "email=",
    }
    leaked = sorted(value for value in identifiers if value.lower() in text)
    assert leaked == []


def test_an_unexpected_error_is_logged_without_its_message(client, stack, captured, monkeypatch):
    """An exception's message may quote the data that caused it; the log keeps its type and frames."""
    tokens.clear_cache()
    token, _ = tokens.create_token("reader", ["read"])

    def fail(email: str) -> str:
        raise ValueError(f"no identity for {email!r}") from KeyError(email)

    monkeypatch.setattr(customers, "find_by_email", fail)
    response = client.http.post(
        "/customers/search",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps({"email": EMAIL}),
    )

    assert response.status_code == 500
    [line] = [json.loads(line) for line in captured.ours.lines if "unhandled error" in line]
    assert EMAIL.lower() not in json.dumps(line).lower()
    assert line["exception_name"] == "ValueError"
    assert "in fail" in line["exception"] and line["exception"].rstrip().endswith("ValueError")
    assert "KeyError" in line["exception"]  # the cause is named too


def test_the_formatter_keeps_aws_error_codes_and_drops_messages():
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "ValidationException", "Message": f"bad key {EMAIL}"}}, "GetItem")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, (ClientError, error, None))

    line = IdentifierFreeFormatter().format(record)

    assert "ValidationException (GetItem)" in line
    assert EMAIL not in line


def test_the_environment_cannot_turn_on_request_logging(tmp_path):
    """POWERTOOLS_LOGGER_LOG_EVENT=true would log every request whole (body, Authorization header, query)."""
    script = (
        "from chalice.test import Client\n"
        "from app import app\n"
        "with Client(app) as client:\n"
        "    response = client.http.get('/widget.js?email=ann.leak@example.com',\n"
        "                               headers={'Authorization': 'Bearer fbk_leakysecret'})\n"
        "    assert response.status_code == 200\n"
        "    response = client.http.get('/assets/' + 'ann.leak@example.com')\n"
        "    assert response.status_code == 404\n"
    )
    environment = {
        **os.environ,
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
        "POWERTOOLS_TRACER_CAPTURE_ERROR": "true",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "true",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }
    run = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr[-2000:]
    output = run.stdout + run.stderr
    assert "fbk_leakysecret" not in output
    assert "ann.leak@example.com" not in output
