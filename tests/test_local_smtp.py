"""`make run`'s SMTP server (chalicelib/local/smtp_server.py): a mail sent with smtplib to a feedback address
is stored as one item, through the same receive_email handler SES invokes; other recipients are refused."""

from __future__ import annotations

import json
import re
import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from chalicelib.channels import sources
from chalicelib.channels.sources import SourceConfig
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.local.smtp_server import LocalSmtpServer, free_port
from chalicelib.models import Channel, feedback_id_for
from chalicelib.store import feedback as feedback_store
from tests.test_local_stack import cli, local_stack  # noqa: F401 - the `make run` fixture


@pytest.fixture
def smtp(stack: Any) -> Iterator[LocalSmtpServer]:
    from app import receive_email

    sources.save(
        SourceConfig(
            source_id="demo-email", type="email", name="Demo", settings={"recipients": "feedback@localhost"}
        ),
        {},
    )
    server = LocalSmtpServer(receive_email, port=free_port())
    server.start()
    yield server
    server.stop()


def _mail(text: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Jane Doe <Jane@Example.com>"
    message["To"] = "feedback@localhost"
    message["Subject"] = "Delivery"
    message["Message-ID"] = message_id
    message.set_content(
        text + "\n\nOn Mon, 2 Dec 2024 at 09:15, Shop <shop@example.com> wrote:\n> Shipped!\n"
    )
    message.add_alternative(f"<p>{text}</p>", subtype="html")
    return message


def test_a_mail_sent_with_smtplib_is_stored_once(stack: Any, smtp: LocalSmtpServer):
    from app import analyze

    with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
        client.send_message(_mail("The courier was rude and late.", "<local-1@example.com>"))
        client.send_message(_mail("The courier was rude and late.", "<local-1@example.com>"))  # a resend
    drained = SqsPoller(stack.queue_url, analyze).drain()
    assert drained.received == 2
    assert stack.table_item_count() == 1
    stored = feedback_store.get(feedback_id_for("demo-email", "local-1@example.com"))
    assert stored is not None and stored.channel is Channel.EMAIL
    assert stored.text == "The courier was rude and late."  # the quoted reply left out
    assert stored.author.email == "jane@example.com" and stored.customer_id
    assert stored.metadata["subject"] == "Delivery"


def test_a_recipient_no_source_names_is_refused_at_rcpt(stack: Any, smtp: LocalSmtpServer):
    message = _mail("Hello", "<local-2@example.com>")
    message.replace_header("To", "someone@elsewhere.example")
    with (
        smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        client.send_message(message)
    assert stack.queue_depth() == 0


def test_make_run_receives_mail_on_loopback_and_stores_it(local_stack: Any):  # noqa: F811
    env, banner, _ = local_stack
    host, port = re.search(r"smtp://(127\.0\.0\.1):(\d+)", banner).groups()
    assert "feedback@localhost" in banner
    with smtplib.SMTP(host, int(port), timeout=30) as client:
        client.send_message(_mail("Checkout keeps timing out on mobile.", "<run-1@example.com>"))
    today = datetime.now(UTC).date().isoformat()
    deadline = time.monotonic() + 60
    texts: dict[str, Any] = {}
    while time.monotonic() < deadline and "Checkout keeps timing out on mobile." not in texts:
        time.sleep(1)
        listing = cli(env, "feedback", "list", "--date", today, "--json")
        texts = {item["text"]: item for item in map(json.loads, listing.stdout.splitlines())}
    stored = texts["Checkout keeps timing out on mobile."]
    assert stored["channel"] == "email" and stored["source_id"] == "demo-email"
    assert stored["author"]["email"] == "jane@example.com"
