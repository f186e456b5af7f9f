"""SES receipt rule → S3 → the receive_email function (channels/email/receiving.py): recipients decide the
source, the source's settings decide which of SES's verdicts refuse a mail, and one mail costs one S3 read
and one SQS request."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.email import receiving
from chalicelib.channels.sources import SourceConfig
from chalicelib.ingest.queue import decode_events
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import Channel, feedback_id_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
PASS = {"status": "PASS"}


def ses_event(message_id: str, recipients: list[str], **verdicts: str) -> dict[str, Any]:
    """The Lambda action's event as SES documents it (one record; the verdicts PASS unless given)."""
    receipt: dict[str, Any] = {
        "timestamp": "2024-12-03T10:00:00.000Z",
        "processingTimeMillis": 222,
        "recipients": recipients,
        "action": {"type": "Lambda", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:x"},
    }
    for name in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict"):
        receipt[name] = {"status": verdicts.get(name, "PASS")}
    if "dmarcPolicy" in verdicts:
        receipt["dmarcPolicy"] = verdicts["dmarcPolicy"]
    mail = {
        "timestamp": "2024-12-03T10:00:00.000Z",
        "source": "jane.doe@gmail.example",
        "messageId": message_id,
        "destination": recipients,
        "headersTruncated": False,
    }
    return {
        "Records": [
            {"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": receipt}}
        ]
    }


def store_raw(message_id: str, fixture: str) -> None:
    aws.client("s3").put_object(
        Bucket=receiving.inbound_bucket(),
        Key=receiving.inbound_prefix() + message_id,
        Body=(FIXTURES / fixture).read_bytes(),
    )


def email_source(source_id: str, recipients: str, **settings: str) -> SourceConfig:
    source = SourceConfig(
        source_id=source_id, type="email", name=source_id, settings={"recipients": recipients, **settings}
    )
    sources.save(source, {})
    return source


def queued_events(stack: Any) -> list[Any]:
    return [event for body in stack.queued_bodies() for event in decode_events(body)]


@pytest.fixture
def calls(stack: Any) -> Counter[str]:
    counted: Counter[str] = Counter()
    for service in ("s3", "sqs", "dynamodb", "ssm"):
        aws.client(service).meta.events.register(
            "before-call", lambda event_name, **_: counted.update([event_name.removeprefix("before-call.")])
        )
    return counted


def test_a_mail_to_a_feedback_address_is_queued_once_per_message_id(stack: Any, calls: Counter[str]):
    email_source("src_mail_1", "feedback@acme.example")
    store_raw("ses-1", "gmail_reply_en.eml")
    sources.list_cached()  # a warm function: the sources are in memory
    calls.clear()
    [outcome] = receiving.handle_ses_event(ses_event("ses-1", ["Feedback@Acme.example"]))
    assert calls == Counter({"s3.GetObject": 1, "sqs.SendMessage": 1})
    [event] = queued_events(stack)
    assert outcome.queued == [event.feedback_id]
    assert event.feedback_id == feedback_id_for("src_mail_1", "CAF=abc123XYZ@mail.gmail.example")
    assert event.channel is Channel.EMAIL and event.author.email == "jane.doe@gmail.example"
    assert event.metadata["recipient"] == "feedback@acme.example"
    assert event.text.startswith("The parcel arrived two days late")


def test_a_redelivered_mail_is_stored_once(stack: Any):
    from app import analyze

    email_source("src_mail_1", "feedback@acme.example")
    store_raw("ses-1", "apple_mail_fr.eml")
    store_raw("ses-2", "apple_mail_fr.eml")  # SES received the same mail twice: same Message-ID
    receiving.handle_ses_event(ses_event("ses-1", ["feedback@acme.example"]))
    receiving.handle_ses_event(ses_event("ses-2", ["feedback@acme.example"]))
    assert stack.queue_depth() == 2
    drained = SqsPoller(stack.queue_url, analyze).drain()
    assert drained.received == 2
    assert stack.table_item_count() == 1


@pytest.mark.parametrize(
    ("verdicts", "settings", "reason"),
    [
        ({"spamVerdict": "FAIL"}, {}, "spam"),
        ({"virusVerdict": "FAIL"}, {}, "virus"),
        ({"spfVerdict": "FAIL", "dkimVerdict": "FAIL"}, {}, "unauthenticated"),
        ({"spfVerdict": "GRAY", "dkimVerdict": "GRAY"}, {}, "unauthenticated"),
        ({"dmarcVerdict": "FAIL", "dmarcPolicy": "reject"}, {}, "unauthenticated"),
        ({"spamVerdict": "FAIL"}, {"accept_spam": "true"}, None),
        ({"virusVerdict": "FAIL"}, {"accept_virus": "yes"}, None),
        ({"spfVerdict": "FAIL", "dkimVerdict": "FAIL"}, {"accept_unauthenticated": "true"}, None),
        # One of SPF and DKIM passing authenticates the mail, as DMARC reads them.
        ({"spfVerdict": "FAIL"}, {}, None),
        ({"dkimVerdict": "GRAY"}, {}, None),
        ({"dmarcVerdict": "FAIL", "dmarcPolicy": "none"}, {}, None),
        ({"spamVerdict": "GRAY", "virusVerdict": "PROCESSING_FAILED"}, {}, None),
    ],
)
def test_the_sources_settings_decide_which_verdicts_refuse_a_mail(
    stack: Any, calls: Counter[str], verdicts: dict[str, str], settings: dict[str, str], reason: str | None
):
    email_source("src_mail_1", "feedback@acme.example", **settings)
    store_raw("ses-1", "iphone_es.eml")
    [outcome] = receiving.handle_ses_event(ses_event("ses-1", ["feedback@acme.example"], **verdicts))
    if reason is None:
        assert len(outcome.queued) == 1 and len(queued_events(stack)) == 1
    else:
        assert outcome.skipped == [("feedback@acme.example", reason)]
        assert outcome.queued == [] and stack.queue_depth() == 0
        assert calls["s3.GetObject"] == 0  # a refused mail is never read


def test_recipients_pick_the_source_exact_address_before_domain_and_unknown_ones_are_not_read(
    stack: Any, calls: Counter[str]
):
    email_source("src_mail_dom", "@acme.example")
    email_source("src_mail_vip", "vip@acme.example, ceo@acme.example")
    store_raw("ses-1", "with_attachments.eml")
    [outcome] = receiving.handle_ses_event(
        ses_event("ses-1", ["ceo@acme.example", "help@acme.example", "someone@other.example"])
    )
    events = queued_events(stack)
    assert sorted(event.source_id for event in events) == ["src_mail_dom", "src_mail_vip"]
    assert outcome.skipped == [("someone@other.example", "unknown_recipient")]
    assert calls["sqs.SendMessage"] == 1  # both sources' events in one request

    calls.clear()
    [nobody] = receiving.handle_ses_event(ses_event("ses-2", ["x@elsewhere.example"]))
    assert nobody.skipped == [("x@elsewhere.example", "unknown_recipient")]
    assert "s3.GetObject" not in calls and "sqs.SendMessage" not in calls


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("out_of_office.eml", "auto_submitted"),
        ("bounce.eml", "bounce"),
        ("read_receipt.eml", "read_receipt"),  # was skipped as a bounce, which it is not
        ("not_a_mail.eml", "not_a_mail"),
        ("attachment_only.eml", "no_text"),
    ],
)
def test_automatic_mail_and_non_mail_are_skipped_with_their_reason(stack: Any, fixture: str, reason: str):
    email_source("src_mail_1", "feedback@acme.example")
    if fixture == "attachment_only.eml":  # no subject, no body: nothing to analyse
        raw = b"From: a@b.example\r\nMessage-ID: <only@b.example>\r\nContent-Type: image/png\r\n\r\niVBOR\r\n"
        aws.client("s3").put_object(Bucket=receiving.inbound_bucket(), Key="inbound-mail/ses-1", Body=raw)
    else:
        store_raw("ses-1", fixture)
    [outcome] = receiving.handle_ses_event(ses_event("ses-1", ["feedback@acme.example"]))
    assert outcome.skipped == [("feedback@acme.example", reason)]
    assert stack.queue_depth() == 0


def test_a_missing_raw_mail_raises_so_lambda_retries_the_invocation(stack: Any):
    email_source("src_mail_1", "feedback@acme.example")
    with pytest.raises(Exception, match=r"NoSuchKey|does not exist"):
        receiving.handle_ses_event(ses_event("never-stored", ["feedback@acme.example"]))
    assert stack.queue_depth() == 0


def test_other_source_types_are_never_mail_sources(stack: Any):
    sources.save(
        SourceConfig(source_id="src_slack_1", type="slack", name="s", settings={"recipients": "@a.b"}), {}
    )
    email_source("src_mail_1", "feedback@acme.example")
    assert [source.source_id for source in receiving.email_sources()] == ["src_mail_1"]


def test_the_cli_adds_an_email_source_with_recipients_and_refuses_secrets_or_unknown_settings(
    stack: Any, capsys: pytest.CaptureFixture[str]
):
    from chalicelib import cli

    add = ["sources", "add", "--type", "email", "--name", "Support inbox", "--id", "src_mail_cli"]
    assert (
        cli.main([*add, "--setting", "recipients=feedback@acme.example", "--setting", "accept_spam=true"])
        == 0
    )
    assert "mail to:    feedback@acme.example" in capsys.readouterr().out
    assert (
        receiving.source_for("Feedback@acme.example", receiving.email_sources()).source_id == "src_mail_cli"
    )
    # Refused for what they say, under an id of their own (an existing id is refused before anything else).
    another = [*add[:-1], "src_mail_cli_2"]
    assert cli.main([*another, "--secret", "x=y", "--setting", "recipients=a@b.example"]) == 2
    assert cli.main([*another, "--setting", "recipients=a@b.example", "--setting", "accept_all=true"]) == 2
    assert cli.main([*another]) == 2
    refusals = capsys.readouterr().err
    assert refusals.count("needs --setting recipients") == 3 and "exists" not in refusals
    assert [source.source_id for source in receiving.email_sources()] == ["src_mail_cli"]
    assert cli.main(["sources", "rotate", "src_mail_cli", "--generate", "x"]) == 2


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        # Session 30: stored, then no mail ever reached it (no such address), or spam still refused.
        ("recipients=feedback", "'feedback' is neither an address"),
        ("recipients=feedback@acme.example,support", "'support' is neither an address"),
        ("accept_spam=maybe", "--setting accept_spam: must be true or false"),
    ],
)
def test_the_cli_refuses_a_recipient_that_is_no_address_and_a_switch_that_is_no_boolean(
    stack: Any, capsys: pytest.CaptureFixture[str], setting: str, said: str
):
    from chalicelib import cli

    add = ["sources", "add", "--type", "email", "--name", "Support inbox", "--id", "src_mail_bad"]
    extra = [] if setting.startswith("recipients=") else ["--setting", "recipients=a@b.example"]
    assert cli.main([*add, "--setting", setting, *extra]) == 2
    assert said in capsys.readouterr().err
    assert receiving.email_sources() == []


def test_a_sites_own_contact_form_address_is_known_by_the_recipient_it_mailed(stack: Any):
    """The site's domain is the recipient's: its form's mail is the visitor's in Reply-To, not the site's."""
    email_source("src_site", "@shop.example")
    store_raw("ses-site-1", "contact_form_own_domain.eml")
    receiving.handle_ses_event(ses_event("ses-site-1", ["feedback@shop.example"]))
    [event] = queued_events(stack)
    assert (event.author.email, event.author.name) == ("li.wei@mail.example", "Li Wei")
