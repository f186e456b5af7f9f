"""The mail failures queue (Lambda's on-failure destination of receive_email): `mail failures` lists its
invocation records without personal data, `mail replay` runs each SES event through the handler again and
deletes only the records that succeeded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import aws, cli
from chalicelib.channels.email import failures
from chalicelib.config import settings
from chalicelib.ingest.queue import decode_events
from tests.channels.test_email_receiving import email_source, ses_event, store_raw


def invocation_record(event: dict[str, Any]) -> str:
    """An on-failure destination's record, as Lambda documents it for asynchronous invocations."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-12-04T10:00:03.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:receive_email:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": "An error occurred (NoSuchKey)", "errorType": "NoSuchKey"},
        }
    )


@pytest.fixture
def failures_queue(stack: Any) -> str:
    name = failures.QUEUE_NAME.format(stage=settings().stage)
    return aws.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def depth(url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_replay_sends_a_failed_mail_again_once_its_cause_is_fixed(stack: Any, failures_queue: str, capsys):
    email_source("src_mail_1", "feedback@acme.example")
    sqs = aws.client("sqs")
    sqs.send_message(
        QueueUrl=failures_queue, MessageBody=invocation_record(ses_event("ses-1", ["feedback@acme.example"]))
    )
    sqs.send_message(QueueUrl=failures_queue, MessageBody="not an invocation record")

    assert cli.main(["mail", "failures"]) == 0
    listed = capsys.readouterr().out
    assert "RetriesExhausted after 3" in listed and "SES message ses-1" in listed and "2 failed" in listed
    assert "jane.doe" not in listed  # the sender's address is personal data
    assert depth(failures_queue) == 2  # listing changes nothing

    # The raw mail is not in S3 yet: the replay fails again and the record stays.
    assert cli.main(["mail", "replay"]) == 1
    assert "1 failed again" in capsys.readouterr().out
    assert stack.queue_depth() == 0 and depth(failures_queue) == 2

    store_raw("ses-1", "gmail_reply_en.eml")
    report = failures.replay_failures()
    assert report.replayed == ["ses-1"] and report.failed == {} and len(report.unreadable) == 1
    [event] = [event for body in stack.queued_bodies() for event in decode_events(body)]
    assert event.text.startswith("The parcel arrived two days late")
    assert depth(failures_queue) == 1  # the unreadable record is left for a person to look at

    # Nothing more to replay: a second run queues nothing.
    assert failures.replay_failures().replayed == []
    assert stack.queue_depth() == 1


@pytest.mark.parametrize("command", ["failures", "replay"])
def test_the_local_stack_has_no_failures_queue_and_says_so(stack: Any, monkeypatch, capsys, command):
    from chalicelib.local import environment

    monkeypatch.setattr(environment, "use_local_stack", lambda: None)  # this test's moto stands in for it

    assert cli.main(["mail", command, "--local"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: the local stack has no mail failures queue")
    assert "451" in err and "AWS refused" not in err
