"""`crm dlq list|show|delete` and `subscriptions dlq list|show|delete`: the CRM sync's and the outbound
webhooks' dead-letter queues read and pruned as `dlq` does the ingest queue's (a poison message no replay
can fix is dropped by id, nothing else touched)."""

from __future__ import annotations

import json

import pytest

from chalicelib import aws
from chalicelib.cli import main
from chalicelib.crm.queue import CrmMessage, Operation
from chalicelib.local.crm import create_crm_queues
from chalicelib.local.outbound import create_delivery_queues
from chalicelib.operations import dlq as dlq_module
from chalicelib.outbound.delivery import QueuedDelivery, message_body

SECRET_TEXT = "Jane Roe <jane@example.com> said the courier was rude"


@pytest.fixture(autouse=True)
def _short_polls(monkeypatch):
    monkeypatch.setattr(dlq_module, "RECEIVE_WAIT_SECONDS", 0)


@pytest.fixture
def crm_queues(stack, monkeypatch) -> tuple[str, str]:
    dlq_url, queue_url = create_crm_queues(visibility_timeout_seconds=0)
    monkeypatch.setenv("CRM_QUEUE_URL", queue_url)
    monkeypatch.setenv("CRM_DLQ_URL", dlq_url)
    return dlq_url, queue_url


def depth(url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def visible(url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def send(url: str, body: str) -> str:
    return aws.client("sqs").send_message(QueueUrl=url, MessageBody=body)["MessageId"]


def test_crm_dlq_lists_shows_and_deletes_a_poison_message(crm_queues, capsys):
    dlq_url, queue_url = crm_queues
    good = CrmMessage(op=Operation.SYNC, feedback_id="fb_123", connection_id="crm_hubspot_x")
    good_id = send(dlq_url, good.model_dump_json(exclude_none=True))
    poison_id = send(dlq_url, '{"op": "sync", "feedback_id": "fb_9", "text": "' + SECRET_TEXT + '"}')

    assert main(["crm", "dlq", "list"]) == 0
    out = capsys.readouterr().out
    assert good_id in out and poison_id in out and "2 message(s)" in out
    assert "sync" in out and "fb_123" in out and "crm_hubspot_x" in out
    assert "[unreplayable:" in out and SECRET_TEXT not in out

    assert main(["crm", "dlq", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["message_id"]: r["problem"] is None for r in rows} == {good_id: True, poison_id: False}

    assert main(["crm", "dlq", "show", good_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["message"] == {"op": "sync", "feedback_id": "fb_123", "connection_id": "crm_hubspot_x"}
    assert shown["problem"] is None

    assert main(["crm", "dlq", "delete", poison_id]) == 0
    out = capsys.readouterr().out
    assert f"deleted {poison_id}" in out and "deleted 1 message(s) from the CRM DLQ; 0 failed" in out
    assert SECRET_TEXT not in out
    assert depth(dlq_url) == 1 and visible(dlq_url) == 1  # the other one kept, visible again
    assert depth(queue_url) == 0  # deleted, not replayed


def test_crm_dlq_refuses_unknown_ids_and_deletes_nothing(crm_queues, capsys):
    dlq_url, _ = crm_queues
    erase = CrmMessage(op=Operation.ERASE, customer_id="cus_1")
    kept = send(dlq_url, erase.model_dump_json(exclude_none=True))

    assert main(["crm", "dlq", "delete", kept, "no-such-message"]) == 2
    assert "not in the CRM DLQ (nothing deleted): no-such-message" in capsys.readouterr().err
    assert main(["crm", "dlq", "show", "no-such-message"]) == 2
    assert "no message 'no-such-message' in the CRM DLQ" in capsys.readouterr().err
    assert depth(dlq_url) == 1 and visible(dlq_url) == 1


@pytest.fixture
def delivery_queues(stack) -> tuple[str, str]:
    return create_delivery_queues()


def test_subscriptions_dlq_lists_and_deletes_without_the_event_body(delivery_queues, capsys):
    dlq_url, queue_url = delivery_queues
    queued = QueuedDelivery(
        subscription_id="sub_gone", webhook_id="msg_1", event_type="feedback.stored",
        body=json.dumps({"data": {"text": SECRET_TEXT}}), enqueued_at="2026-12-04T12:00:00+00:00",
    )  # fmt: skip
    good_id = send(dlq_url, message_body(queued))
    poison_id = send(dlq_url, "not a delivery")

    assert main(["subscriptions", "dlq", "list"]) == 0
    out = capsys.readouterr().out
    assert good_id in out and "sub_gone" in out and "msg_1" in out and "feedback.stored" in out
    assert f"{poison_id}" in out and "[unreplayable:" in out
    assert SECRET_TEXT not in out

    assert main(["subscriptions", "dlq", "delete", good_id, poison_id]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 message(s) from the delivery DLQ; 0 failed" in out and SECRET_TEXT not in out
    assert depth(dlq_url) == 0 and depth(queue_url) == 0


def test_crm_replay_leaves_a_message_no_consumer_can_read_and_says_so(crm_queues, capsys):
    """A poison message used to go back to the CRM queue, fail ten receives and return: replay said only
    "replayed 2" and exited 0."""
    dlq_url, queue_url = crm_queues
    good = CrmMessage(op=Operation.SYNC, feedback_id="fb_1")
    send(dlq_url, good.model_dump_json(exclude_none=True))
    poison_id = send(dlq_url, '{"op": "resync"}')

    assert main(["crm", "replay"]) == 1

    captured = capsys.readouterr()
    assert "replayed 1 message(s) from the CRM DLQ" in captured.out
    assert f"{poison_id}: not a CRM message" in captured.err and "crm dlq delete" in captured.err
    assert depth(queue_url) == 1 and depth(dlq_url) == 1 and visible(dlq_url) == 1


def test_crm_replay_refuses_a_limit_below_one(crm_queues, capsys):
    """`--limit 0` (or -5) replayed nothing and said "replayed 0 message(s)", exit 0, as if the DLQ were
    empty."""
    dlq_url, _ = crm_queues
    send(dlq_url, CrmMessage(op=Operation.SYNC, feedback_id="fb_1").model_dump_json(exclude_none=True))
    for limit in ("0", "-5"):
        with pytest.raises(SystemExit) as exit_info:
            main(["crm", "replay", "--limit", limit])
        assert exit_info.value.code == 2
    assert "--limit" in capsys.readouterr().err
    assert depth(dlq_url) == 1


def _commands(parser, path=()):
    """Every leaf command of the CLI with its parser, walked through argparse's subparsers."""
    import argparse

    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not actions:
        yield path, parser
    for action in actions:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*path, name))


def test_no_limit_option_of_the_cli_takes_a_number_below_one():
    """The same class across the CLI: a `--limit 0` that does nothing reads like an empty queue or log."""
    import argparse

    from chalicelib.cli import build_parser

    loose = []
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            if "--limit" in action.option_strings:
                try:
                    action.type("0")
                except (argparse.ArgumentTypeError, ValueError):
                    continue
                loose.append(" ".join(path))
    assert loose == []
