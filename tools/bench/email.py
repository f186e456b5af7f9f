"""Received mail: AWS requests per mail through the receive_email handler, per outcome.

Every mail of tests/fixtures/email/ is received through `receiving.handle_ses_event` on a moto stack, as SES's
Lambda action would invoke it, counting HTTP requests (botocore `before-send`) per scenario: a warm function
(the sources in memory), a cold one (its first mail reads them), mail refused by SES's verdicts, mail to no
source, and automatic mail (read, then skipped). Counts, not timings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.bench.counting import RequestCounter

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "email"
RECIPIENT = "feedback@bench.example"
# A mail the handler reads and queues costs at most this many AWS requests on a warm function.
TARGET_REQUESTS_PER_FEEDBACK_MAIL = 2


@dataclass
class EmailCost:
    """Requests by scenario: (mails received, requests by (service, operation))."""

    rows: dict[str, tuple[int, Counter[tuple[str, str]]]] = field(default_factory=dict)
    queued: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def per_mail(self, scenario: str) -> float:
        mails, requests = self.rows[scenario]
        return sum(requests.values()) / mails if mails else 0.0


def _ses_event(message_id: str, **verdicts: str) -> dict[str, Any]:
    receipt: dict[str, Any] = {"recipients": [RECIPIENT]}
    for name in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict"):
        receipt[name] = {"status": verdicts.get(name, "PASS")}
    mail = {"messageId": message_id, "source": "sender@bench.example", "destination": [RECIPIENT]}
    return {"Records": [{"eventSource": "aws:ses", "ses": {"mail": mail, "receipt": receipt}}]}


def measure_email_cost() -> EmailCost:
    """The measurement on its own moto stack."""
    from tools.bench.stack import prepare_environment, provision_stack, reset_process_caches

    prepare_environment()
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.setup_default_session()
        provision_stack()
        result = measure_in_stack(boto3.DEFAULT_SESSION.events)
    reset_process_caches()
    return result


def measure_in_stack(events: Any) -> EmailCost:
    """Receive every fixture mail per scenario on the current (moto) stack, counting on `events`."""
    from chalicelib import aws
    from chalicelib.channels import sources
    from chalicelib.channels.email import receiving
    from chalicelib.channels.sources import SourceConfig

    counter = RequestCounter()
    counter.attach(events)
    aws.reset_clients()  # clients copy their session's handlers when created: these see the counter
    sources.save(
        SourceConfig(source_id="bench-mail", type="email", name="Bench", settings={"recipients": RECIPIENT}),
        {},
    )
    s3 = aws.client("s3")
    fixtures = sorted(FIXTURES.glob("*.eml"))
    for path in fixtures:
        s3.put_object(
            Bucket=receiving.inbound_bucket(),
            Key=receiving.inbound_prefix() + path.stem,
            Body=path.read_bytes(),
        )
    result = EmailCost()
    scenarios: list[tuple[str, list[dict[str, Any]]]] = [
        ("cold function, first mail", [_ses_event(fixtures[0].stem)]),
        ("warm function, every fixture mail", [_ses_event(path.stem) for path in fixtures]),
        ("refused: spam verdict", [_ses_event(fixtures[0].stem, spamVerdict="FAIL")]),
        (
            "refused: neither SPF nor DKIM passes",
            [_ses_event(fixtures[0].stem, spfVerdict="FAIL", dkimVerdict="FAIL")],
        ),
        (
            "to no source's recipient",
            [{"Records": [_no_source(fixtures[0].stem)]}],
        ),
    ]
    for name, mail_events in scenarios:
        if name.startswith("cold"):
            sources.clear_cache()
        with counter.phase_of(name):
            for event in mail_events:
                for outcome in receiving.handle_ses_event(event):
                    if name.startswith("warm"):
                        result.queued += len(outcome.queued)
                        result.skipped.update(reason for _, reason in outcome.skipped)
        result.rows[name] = (len(mail_events), counter.requests(name))
    return result


def _no_source(message_id: str) -> dict[str, Any]:
    record = _ses_event(message_id)["Records"][0]
    record["ses"]["receipt"]["recipients"] = ["nobody@elsewhere.example"]
    return record


def email_checks(cost: EmailCost | None) -> list[tuple[str, str, str, bool]]:
    """(what, measured, target, met) rows for checks.py."""
    if cost is None:
        return []
    warm = cost.per_mail("warm function, every fixture mail")
    refused = sum(cost.per_mail(name) for name in cost.rows if name.startswith(("refused", "to no source")))
    return [
        (
            "e-mail: AWS requests per received mail, warm function (one S3 read, one SQS send at most)",
            f"{warm:.2f}",
            f"≤ {TARGET_REQUESTS_PER_FEEDBACK_MAIL}",
            0 < warm <= TARGET_REQUESTS_PER_FEEDBACK_MAIL,
        ),
        ("e-mail: AWS requests for a refused or unaddressed mail", f"{refused:g}", "= 0", refused == 0),
    ]


def email_section(cost: EmailCost | None) -> list[str]:
    """The BENCHMARKS.md lines."""
    if cost is None:
        return ["Not measured in this run."]
    lines = ["| scenario | mails | AWS requests per mail | requests |", "|---|---:|---:|---|"]
    for name, (mails, requests) in cost.rows.items():
        detail = ", ".join(
            f"{service} {operation} {count}" for (service, operation), count in sorted(requests.items())
        )
        lines.append(f"| {name} | {mails} | {cost.per_mail(name):.2f} | {detail or '—'} |")
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(cost.skipped.items()))
    lines += [
        "",
        f"Of the warm run's mails, {cost.queued} became feedback items; skipped: {skipped or 'none'}",
        "(automatic mail is read, then skipped: one S3 request, no SQS).",
        "Per 1,000 received feedback mails: 1,000 S3 GetObject and 1,000 SQS SendMessage; the sources",
        "are read once per function instance and CONFIG_CACHE_SECONDS. A refused mail, or one to no",
        "source, is never read.",
    ]
    return lines
