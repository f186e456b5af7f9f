"""Received mail → the ingest queue: the handler behind SES's receipt rule (and `make run`'s SMTP server).

On AWS a receipt rule stores each raw mail in S3 (`<INBOUND_MAIL_PREFIX><SES message id>`) and then invokes
this function with SES's event: the envelope recipients and SES's spam, virus, SPF, DKIM and DMARC verdicts,
but not the mail. Each recipient is matched to an `email` source by its `recipients` setting (exact
addresses first, then `@domain` entries); a mail to no source is dropped without reading it. The source's
settings decide whether SES's verdicts refuse it; only then is the mail read (one S3 GetObject), parsed
(message.py), and its events queued with one SQS request. Automatic mail (out-of-office, bounces) and mail
that is no mail at all are skipped with a reason. An S3 or SQS failure raises, so Lambda retries the
invocation (and, after its retries, sends the event to the function's dead-letter queue); the raw mail
stays in S3 until the bucket's lifecycle rule expires it, so a replay can read it again. Each event names
its raw mail's key (`raw_mail_key`, kept on the stored item and never shown), so erasing the customer who
wrote it deletes the raw mail too (privacy/erasure.py).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.email.message import MailRefused, parse, to_event
from chalicelib.channels.sources import SourceConfig
from chalicelib.config import settings
from chalicelib.ingest import queue
from chalicelib.models import FeedbackEvent, utc_now
from chalicelib.observability import logger

SOURCE_TYPE = "email"
DEFAULT_PREFIX = "inbound-mail/"
# A source's settings (all optional but `recipients`): which addresses are its feedback, and which of SES's
# verdicts it lets through.
RECIPIENTS = "recipients"
ACCEPT_SPAM = "accept_spam"
ACCEPT_VIRUS = "accept_virus"
ACCEPT_UNAUTHENTICATED = "accept_unauthenticated"
SETTING_HELP: Mapping[str, str] = {
    RECIPIENTS: "comma-separated addresses (feedback@example.com) or whole domains (@feedback.example.com)",
    ACCEPT_SPAM: "true to keep mail SES marks as spam (default: refused)",
    ACCEPT_VIRUS: "true to keep mail SES marks as carrying a virus (default: refused; attachments are never "
    "stored either way)",
    ACCEPT_UNAUTHENTICATED: "true to keep mail that passes neither SPF nor DKIM, or fails DMARC under a "
    "reject or quarantine policy (default: refused)",
}
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})
# An address, or `@domain` for all of a domain: one @, a domain after it (compiled by `sources add` only).
_RECIPIENT = r"[^@\s]*@[^@\s]+"


def setting_errors(settings: Mapping[str, str]) -> list[str]:
    """What `sources add` must refuse in an email source's settings: a recipient that is neither an address
    nor `@domain` (no mail is ever delivered to it), a verdict switch that is neither true nor false."""
    errors = [
        f"--setting {RECIPIENTS}: {entry!r} is neither an address (feedback@example.com) nor a domain "
        "(@feedback.example.com)"
        for entry in (part.strip() for part in settings.get(RECIPIENTS, "").split(","))
        if entry and not re.fullmatch(_RECIPIENT, entry)
    ]
    errors += [
        f"--setting {name}: must be true or false"
        for name in (ACCEPT_SPAM, ACCEPT_VIRUS, ACCEPT_UNAUTHENTICATED)
        if name in settings and settings[name].strip().lower() not in _TRUE | _FALSE
    ]
    return errors


def inbound_bucket() -> str:
    """The bucket SES writes raw mail to (INBOUND_MAIL_BUCKET, else the export bucket)."""
    return settings().inbound_mail_bucket


def inbound_prefix() -> str:
    """The key prefix of raw mail in that bucket (the receipt rule's S3 action `ObjectKeyPrefix`)."""
    return os.environ.get("INBOUND_MAIL_PREFIX", DEFAULT_PREFIX)


@dataclass(frozen=True)
class Verdicts:
    """SES's checks of one mail: each PASS, FAIL, GRAY or PROCESSING_FAILED (DISABLED: scanning is off)."""

    spam: str = "PASS"
    virus: str = "PASS"
    spf: str = "PASS"
    dkim: str = "PASS"
    dmarc: str = "PASS"
    # The sender domain's DMARC policy, which SES reports only when the mail fails DMARC.
    dmarc_policy: str | None = None

    @classmethod
    def from_receipt(cls, receipt: Mapping[str, Any]) -> Verdicts:
        def status(name: str) -> str:
            verdict = receipt.get(name)
            return str(verdict.get("status", "")).upper() if isinstance(verdict, Mapping) else ""

        policy = receipt.get("dmarcPolicy")
        return cls(
            spam=status("spamVerdict"),
            virus=status("virusVerdict"),
            spf=status("spfVerdict"),
            dkim=status("dkimVerdict"),
            dmarc=status("dmarcVerdict"),
            dmarc_policy=str(policy).lower() if policy else None,
        )

    def refusal(self, source: SourceConfig) -> str | None:
        """Why `source` refuses a mail with these verdicts (a stable reason), or None."""
        allowed = {name for name, value in source.settings.items() if value.strip().lower() in _TRUE}
        if self.virus == "FAIL" and ACCEPT_VIRUS not in allowed:
            return "virus"
        if self.spam == "FAIL" and ACCEPT_SPAM not in allowed:
            return "spam"
        unauthenticated = "PASS" not in (self.spf, self.dkim) or (
            self.dmarc == "FAIL" and self.dmarc_policy in ("reject", "quarantine")
        )
        if unauthenticated and ACCEPT_UNAUTHENTICATED not in allowed:
            return "unauthenticated"
        return None


@dataclass(frozen=True)
class InboundMail:
    """What the receiving side says about one mail before anyone reads it."""

    message_id: str
    recipients: list[str]
    envelope_sender: str | None
    verdicts: Verdicts
    received_at: datetime

    @classmethod
    def from_ses_record(cls, record: Mapping[str, Any]) -> InboundMail:
        ses = record["ses"]
        mail, receipt = ses["mail"], ses["receipt"]
        return cls(
            message_id=str(mail["messageId"]),
            recipients=[
                str(address) for address in receipt.get("recipients") or mail.get("destination") or []
            ],
            envelope_sender=mail.get("source"),
            verdicts=Verdicts.from_receipt(receipt),
            received_at=utc_now(),
        )


@dataclass
class Outcome:
    """What became of one mail: the feedback ids queued, and per recipient what was skipped and why."""

    message_id: str
    queued: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def email_sources() -> list[SourceConfig]:
    """The configured `email` sources, from memory (one Query when the cache is cold or stale)."""
    return [source for source in sources.list_cached() if source.type == SOURCE_TYPE]


def _addresses(source: SourceConfig) -> list[str]:
    return [
        entry.strip().lower() for entry in source.settings.get(RECIPIENTS, "").split(",") if entry.strip()
    ]


def source_for(recipient: str, candidates: Sequence[SourceConfig]) -> SourceConfig | None:
    """The source whose `recipients` name this address; an exact address wins over a whole domain."""
    address = recipient.strip().lower()
    domain = "@" + address.rsplit("@", 1)[-1]
    exact = [source for source in candidates if address in _addresses(source)]
    if exact:
        return exact[0]
    return next((source for source in candidates if domain in _addresses(source)), None)


def receive(mail: InboundMail, read_raw: Callable[[], bytes]) -> Outcome:
    """Decide, read, parse and queue one mail (one SQS request for all its events); see the module doc."""
    outcome = Outcome(mail.message_id)
    candidates = email_sources()
    accepted: dict[str, tuple[SourceConfig, str]] = {}
    for recipient in mail.recipients:
        source = source_for(recipient, candidates)
        reason = "unknown_recipient" if source is None else mail.verdicts.refusal(source)
        if reason:
            outcome.skipped.append((recipient, reason))
        elif source is not None and source.source_id not in accepted:
            accepted[source.source_id] = (source, recipient.strip().lower())
    if not accepted:
        _log(outcome)
        return outcome
    try:
        parsed = parse(
            read_raw(),
            envelope_sender=mail.envelope_sender,
            recipients=[recipient for _, recipient in accepted.values()],
        )
    except MailRefused as refused:
        outcome.skipped.extend((recipient, refused.reason) for _, recipient in accepted.values())
        _log(outcome)
        return outcome
    reason = parsed.automatic or (None if parsed.text.strip() else "no_text")
    if reason:
        outcome.skipped.extend((recipient, reason) for _, recipient in accepted.values())
        _log(outcome)
        return outcome
    events: list[FeedbackEvent] = [
        to_event(
            parsed,
            source_id=source.source_id,
            recipient=recipient,
            received_at=mail.received_at,
            language_hint=source.default_language,
            raw_mail_key=inbound_prefix() + mail.message_id,
        )
        for source, recipient in accepted.values()
    ]
    queue.enqueue(events)
    outcome.queued = [event.feedback_id for event in events]
    _log(outcome)
    return outcome


def read_from_s3(message_id: str) -> Callable[[], bytes]:
    """A reader of the raw mail SES's S3 action stored for `message_id`."""

    def read() -> bytes:
        response = aws.client("s3").get_object(Bucket=inbound_bucket(), Key=inbound_prefix() + message_id)
        return response["Body"].read()

    return read


def handle_ses_event(event: Mapping[str, Any]) -> list[Outcome]:
    """The Lambda action's event (one record per mail): each mail received as above."""
    outcomes = []
    for record in event.get("Records") or []:
        mail = InboundMail.from_ses_record(record)
        outcomes.append(receive(mail, read_from_s3(mail.message_id)))
    return outcomes


def _log(outcome: Outcome) -> None:
    # Ids and reasons only: addresses and text are personal data and stay out of the logs.
    logger.info(
        "mail received",
        extra={
            "ses_message_id": outcome.message_id,
            "queued": len(outcome.queued),
            "skipped": dict(Counter(reason for _, reason in outcome.skipped)),
        },
    )
