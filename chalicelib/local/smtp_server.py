"""`make run`'s SMTP server on loopback (aiosmtpd): mail sent to it reaches the same handler SES invokes.

It stands in for SES's receipt rule: a recipient no `email` source names is refused at RCPT time (550, as
a receipt rule's recipient list would refuse it), the raw mail is put in the local S3 under the same prefix
SES's S3 action uses, and the app's `receive_email` function is invoked with an SES-shaped event. Nothing
here checks spam, viruses, SPF or DKIM, so the event reports them all as passed; the sources' verdict
settings are tested against real SES verdicts in tests/channels/test_email_receiving.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from chalicelib import aws
from chalicelib.channels.email import receiving
from chalicelib.local.lambda_runtime import lambda_context
from chalicelib.observability import logger

DEFAULT_SMTP_PORT = 2525
# SES accepts mail up to 40 MB; the local server takes the same.
MAX_MESSAGE_BYTES = 40 * 1024 * 1024
Handler = Callable[[dict[str, Any], Any], Any]


def smtp_port() -> int:
    """The local SMTP port: SMTP_PORT, default 2525 (no root needed, unlike 25)."""
    return int(os.environ.get("SMTP_PORT", str(DEFAULT_SMTP_PORT)))


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (aiosmtpd cannot start on port 0: it connects to its port to check)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ses_event(message_id: str, sender: str, recipients: list[str]) -> dict[str, Any]:
    """The event SES's Lambda action sends for one mail, every verdict PASS (see the module doc)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    passed = {"status": "PASS"}
    receipt = {
        "timestamp": now,
        "recipients": recipients,
        **{
            name: passed
            for name in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")
        },
        "action": {"type": "Lambda", "invocationType": "Event"},
    }
    mail = {"timestamp": now, "source": sender, "messageId": message_id, "destination": recipients}
    return {
        "Records": [
            {"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": receipt}}
        ]
    }


class FeedbackMailHandler:
    """aiosmtpd hooks: recipients checked against the sources, each accepted mail stored and handed on."""

    def __init__(self, receive_email: Handler) -> None:
        self.receive_email = receive_email

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        loop = asyncio.get_running_loop()
        candidates = await loop.run_in_executor(None, receiving.email_sources)
        if receiving.source_for(address, candidates) is None:
            return "550 5.1.1 No feedback source receives mail for this address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        message_id = uuid.uuid4().hex  # SES's message ids name the S3 object the same way
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self._store_and_receive, message_id, raw, envelope.mail_from, list(envelope.rcpt_tos)
            )
        except Exception as error:
            logger.warning("local mail not received", extra={"error": type(error).__name__})
            return "451 4.3.0 The mail could not be received; please retry"
        return f"250 2.0.0 Ok: queued as {message_id}"

    def _store_and_receive(self, message_id: str, raw: bytes, sender: str, recipients: list[str]) -> None:
        aws.client("s3").put_object(
            Bucket=receiving.inbound_bucket(), Key=receiving.inbound_prefix() + message_id, Body=raw
        )
        self.receive_email(ses_event(message_id, sender, recipients), lambda_context("receive_email", 1024))


class LocalSmtpServer:
    """An SMTP server on 127.0.0.1 feeding `receive_email` (aiosmtpd runs it in its own thread)."""

    def __init__(self, receive_email: Handler, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = smtp_port() if port is None else port
        self._controller = Controller(
            FeedbackMailHandler(receive_email),
            hostname=host,
            port=self.port,
            data_size_limit=MAX_MESSAGE_BYTES,
            # Keep the raw bytes as sent (no decoding), as SES's S3 action does.
            decode_data=False,
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
