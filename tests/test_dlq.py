"""`dlq list|show|replay` through the CLI on the moto stack: messages reach the DLQ the real way (failed
analyze attempts past maxReceiveCount), and replay is checked by what the queues and the table hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib import aws, cli
from chalicelib.analysis import AnalysisFailed
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.local.provision import MAX_RECEIVE_COUNT
from chalicelib.models import FeedbackEvent
from chalicelib.operations import dlq as dlq_module
from chalicelib.store import customers
from chalicelib.store import feedback as feedback_store
from tests.factories import form_event

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TEXT = "The courier left my parcel in the rain"


@pytest.fixture(autouse=True)
def _short_polls(monkeypatch):
    # moto answers a short poll with every visible message; AWS needs the long poll the CLI uses.
    monkeypatch.setattr(dlq_module, "RECEIVE_WAIT_SECONDS", 0)


def event(external_id: str, text: str = TEXT, **fields) -> FeedbackEvent:
    return form_event(external_id, text, name="Jane Roe", **fields)


def body(*events: FeedbackEvent) -> str:
    [encoded] = encode_events(list(events))
    return encoded


class Failing:
    """An analyzer that always fails (Comprehend down): every record is retried until the DLQ."""

    name = "comprehend"

    def analyze(self, documents):
        return {d.key: AnalysisFailed("comprehend call failed: ThrottlingException") for d in documents}


def poller(stack, analyzer=None) -> SqsPoller:
    return SqsPoller(
        stack.queue_url,
        lambda e, context: processing.handle_sqs_batch(e, context, analyzer),
        wait_seconds=0,
    )


def fail_into_dlq(stack, bodies: list[str]) -> list[str]:
    """Send bodies to the ingest queue and let the analyze path fail them past maxReceiveCount."""
    sqs = aws.client("sqs")
    sqs.set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    ids = [sqs.send_message(QueueUrl=stack.queue_url, MessageBody=b)["MessageId"] for b in bodies]
    failing = poller(stack, Failing())
    for _ in range(MAX_RECEIVE_COUNT + 1):
        failing.poll_once()
    assert stack.queue_depth() == 0
    assert dlq_depth(stack) == len(bodies)
    return ids


def dlq_depth(stack) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources.dlq_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def visible_in_dlq(stack) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def peek_ingest(stack) -> list[str]:
    """The ingest queue's bodies (up to 10), left visible for the poller."""
    response = aws.client("sqs").receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [m["Body"] for m in response.get("Messages", [])]


def feedback_count(email: str) -> int:
    profile = customers.get_profile(customers.find_by_email(email))
    return profile["feedback_count"]


def test_list_shows_routing_facts_and_no_text_or_personal_data(stack, capsys):
    first, second = event("ext-1"), event("ext-2", rating=3, rating_scale="nps")
    message_ids = fail_into_dlq(stack, [body(first), body(second)])

    assert cli.main(["dlq", "list"]) == 0

    out = capsys.readouterr().out
    for message_id in message_ids:
        assert message_id in out
    assert "ext-1" in out and "ext-2" in out and "form" in out and "demo" in out
    assert "2 message(s)" in out
    assert TEXT not in out and "courier" not in out
    assert "example.com" not in out and "Jane" not in out
    # Listing hands the messages back at once: they are all visible again.
    assert visible_in_dlq(stack) == 2

    assert cli.main(["dlq", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["message_id"] for r in rows} == set(message_ids)
    assert all(r["receive_count"] >= MAX_RECEIVE_COUNT for r in rows)
    assert all(r["events"] == 1 and r["channels"] == ["form"] and r["problem"] is None for r in rows)
    assert sorted(r["size"] for r in rows) == sorted(len(body(e).encode()) for e in (first, second))
    assert all(r["sent_at"].startswith(str(datetime.now(UTC).year)) for r in rows)


def test_show_prints_the_envelope_with_secrets_masked(stack, capsys):
    secret = "sk_live_abcdefghijklmnopqrstuvwxyz0123"
    [message_id] = fail_into_dlq(stack, [body(event("ext-1", metadata={"api_key": secret, "plan": "pro"}))])

    assert cli.main(["dlq", "show", message_id]) == 0

    shown = json.loads(capsys.readouterr().out)
    [shown_event] = shown["envelope"]["events"]
    assert shown["message_id"] == message_id
    assert shown_event["text"] == TEXT  # the operator asked for this message: its payload is shown
    assert shown_event["metadata"]["plan"] == "pro"
    assert secret not in json.dumps(shown)
    assert shown_event["metadata"]["api_key"] == "sk_l…0123"
    assert visible_in_dlq(stack) == 1

    assert cli.main(["dlq", "show", "no-such-message"]) == 2
    assert "no message" in capsys.readouterr().err


def test_replay_one_message_stores_it_once_and_leaves_the_others(stack, capsys):
    chosen, other = event("ext-1"), event("ext-2")
    chosen_id, other_id = fail_into_dlq(stack, [body(chosen), body(other)])

    assert cli.main(["dlq", "replay", chosen_id]) == 0

    assert "replayed 1 message(s)" in capsys.readouterr().out
    assert peek_ingest(stack) == [body(chosen)]
    assert dlq_depth(stack) == 1
    aws.client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    assert poller(stack).drain().deleted == 1
    assert feedback_store.get(chosen.feedback_id) is not None
    assert feedback_store.get(other.feedback_id) is None

    # Gone from the DLQ: a second replay of the same id is refused and changes nothing.
    assert cli.main(["dlq", "replay", chosen_id]) == 2
    assert "not in the DLQ" in capsys.readouterr().err
    assert stack.queue_depth() == 0
    assert [s.message_id for s in dlq_module.DeadLetterQueue().list()] == [other_id]


def test_a_crash_between_send_and_delete_duplicates_the_message_but_stores_it_once(
    stack, monkeypatch, capsys
):
    doomed = event("ext-1")
    [message_id] = fail_into_dlq(stack, [body(doomed)])

    def killed(self, messages, report):
        raise KeyboardInterrupt("killed after the send")

    # The dead process's hold on the message ends after HOLD_SECONDS; 0 makes it end at once.
    monkeypatch.setattr(dlq_module, "HOLD_SECONDS", 0)
    with monkeypatch.context() as patch:
        patch.setattr(dlq_module.DeadLetterQueue, "_delete", killed)
        with pytest.raises(KeyboardInterrupt):
            cli.main(["dlq", "replay", message_id])

    assert stack.queue_depth() == 1  # sent …
    assert dlq_depth(stack) == 1  # … and not deleted
    assert cli.main(["dlq", "replay", "--all"]) == 0

    assert dlq_depth(stack) == 0
    assert peek_ingest(stack) == [body(doomed), body(doomed)]
    aws.client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})
    poller(stack).drain()
    assert stack.table_item_count() == 1
    assert feedback_count("ext-1@example.com") == 1


def test_replay_all_sends_batches_of_ten_and_keeps_malformed_messages(stack, monkeypatch, capsys):
    sqs = aws.client("sqs")
    events = [event(f"ext-{n}") for n in range(23)]
    for start in range(0, 23, 10):
        sqs.send_message_batch(
            QueueUrl=stack.resources.dlq_url,
            Entries=[
                {"Id": str(i), "MessageBody": body(e)} for i, e in enumerate(events[start : start + 10])
            ],
        )
    sqs.send_message(QueueUrl=stack.resources.dlq_url, MessageBody='{"v": 99, "events": []}')
    batch_sizes = []
    send_batch = sqs.send_message_batch

    def counting(**request):
        batch_sizes.append(len(request["Entries"]))
        return send_batch(**request)

    monkeypatch.setattr(sqs, "send_message_batch", counting)

    assert cli.main(["dlq", "replay", "--all", "--no-progress"]) == 1

    out = capsys.readouterr().out
    assert "replayed 23 message(s) into the ingest queue; 1 failed" in out
    assert "malformed queue message" in out
    assert sum(batch_sizes) == 23 and max(batch_sizes) <= 10
    assert sorted(stack.queued_bodies()) == sorted(body(e) for e in events)
    [left] = dlq_module.DeadLetterQueue().list()
    assert left.problem is not None
    assert visible_in_dlq(stack) == 1


def test_a_refused_send_leaves_the_message_in_the_dlq(stack, monkeypatch, capsys):
    message_ids = fail_into_dlq(stack, [body(event("ext-1")), body(event("ext-2"))])
    sqs = aws.client("sqs")
    send_batch = sqs.send_message_batch

    def second_refused(**request):
        first, *rest = request["Entries"]
        response = send_batch(QueueUrl=request["QueueUrl"], Entries=[first])
        response["Failed"] = [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in rest]
        return response

    monkeypatch.setattr(sqs, "send_message_batch", second_refused)

    assert cli.main(["dlq", "replay", *message_ids]) == 1

    assert "send failed: InternalError" in capsys.readouterr().out
    assert stack.queue_depth() == 1
    assert dlq_depth(stack) == 1 and visible_in_dlq(stack) == 1


def test_replay_usage_errors(stack, capsys):
    assert cli.main(["dlq", "replay"]) == 2
    assert cli.main(["dlq", "replay", "some-id", "--all"]) == 2
    assert "message ids or --all" in capsys.readouterr().err


def test_the_progress_bar_goes_to_stderr_on_a_terminal_only(stack, monkeypatch, capsys):
    fail_into_dlq(stack, [body(event("ext-1")), body(event("ext-2"))])
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)

    assert cli.main(["dlq", "replay", "--all"]) == 0

    captured = capsys.readouterr()
    assert "2/2" in captured.err
    assert "2/2" not in captured.out


def test_replay_all_leaves_messages_that_arrived_after_it_began(stack, monkeypatch, capsys):
    # A replayed message that fails again returns to the DLQ as a new message: it waits for the next replay.
    fail_into_dlq(stack, [body(event("ext-1"))])

    class Earlier(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2000, 1, 1, tzinfo=tz)

    with monkeypatch.context() as patch:
        patch.setattr(dlq_module, "datetime", Earlier)
        assert cli.main(["dlq", "replay", "--all"]) == 0
    assert "replayed 0 message(s)" in capsys.readouterr().out
    assert stack.queue_depth() == 0 and visible_in_dlq(stack) == 1

    assert cli.main(["dlq", "replay", "--all"]) == 0
    assert stack.queue_depth() == 1 and dlq_depth(stack) == 0


def test_delete_removes_a_poison_message_and_says_what_it_was(stack, capsys):
    [kept_id] = fail_into_dlq(stack, [body(event("ext-1"))])
    sqs = aws.client("sqs")
    poison_id = sqs.send_message(QueueUrl=stack.resources.dlq_url, MessageBody='{"v": 99, "events": []}')[
        "MessageId"
    ]

    assert cli.main(["dlq", "delete", poison_id]) == 0

    out = capsys.readouterr().out
    assert f"deleted {poison_id}: 0 event(s)" in out and "unreplayable" in out
    assert "deleted 1 message(s) from the DLQ; 0 failed" in out
    assert [s.message_id for s in dlq_module.DeadLetterQueue().list()] == [kept_id]
    assert visible_in_dlq(stack) == 1
    assert stack.queue_depth() == 0  # deleted, not replayed


def test_delete_names_the_routing_of_a_valid_message_never_its_text(stack, capsys):
    [message_id] = fail_into_dlq(stack, [body(event("ext-7"))])

    assert cli.main(["dlq", "delete", message_id]) == 0

    out = capsys.readouterr().out
    assert f"deleted {message_id}: 1 event(s), channel form, source/form demo, external id ext-7" in out
    assert TEXT not in out and "Jane" not in out and "example.com" not in out
    assert dlq_depth(stack) == 0


def test_delete_of_an_unknown_id_deletes_nothing(stack, capsys):
    message_ids = fail_into_dlq(stack, [body(event("ext-1")), body(event("ext-2"))])

    assert cli.main(["dlq", "delete", message_ids[0], "no-such-message"]) == 2

    assert "not in the DLQ (nothing deleted): no-such-message" in capsys.readouterr().err
    assert dlq_depth(stack) == 2 and visible_in_dlq(stack) == 2
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["dlq", "delete"])
    assert exit_info.value.code == 2
