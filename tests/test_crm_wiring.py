"""The CRM sync running by itself: the table's stream (through the one fan-out reader) queues the CRM work,
the `sync_crm` function syncs, merges and erases against the fake HubSpot, failures wait in the DLQ for
`crm replay`, and `crm sync --from --to` pushes history resumably. Everything runs through app.py's
handlers, moto's stream and queues (redrive included) and the fake on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.crm import backfill, connections, consumer
from chalicelib.crm import queue as crm_queue
from chalicelib.crm.connections import Status
from chalicelib.crm.queue import CrmMessage, Operation
from chalicelib.local.crm import create_crm_queues
from chalicelib.local.lambda_runtime import lambda_context, to_lambda_record
from chalicelib.local.outbound import StreamPoller, enable_stream
from chalicelib.models import Channel, RatingScale
from chalicelib.privacy import erasure
from chalicelib.store import crm_links, dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store import merge as customer_merge
from chalicelib.store.profiles import PROFILE, profile_key
from chalicelib.store.schema import CUSTOMER_PK
from tests.test_crm_hubspot import TOKEN, Hub, make_hub
from tests.test_customers import customer_of, event, process

CONNECTION = "crm_hubspot_test"


@dataclass
class Rig:
    """The hub (fake HubSpot + connection), the stream reader and the CRM queues, as `make run` wires them."""

    hub: Hub
    stream: StreamPoller
    queue_url: str
    dlq_url: str

    def poll_once(self) -> int:
        """One `sync_crm` invocation as Lambda's SQS event source makes it: up to 100 messages received
        (held 60 s), the handler's failures made visible again at once (the visibility timeout passing
        without a wait), the rest deleted. SQS moves a message received MAX_RECEIVES times to the DLQ."""
        sqs, messages = aws.client("sqs"), []
        while len(messages) < 100:
            received = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
            ).get("Messages", [])
            messages += received
            if len(received) < 10:
                break
        if not messages:
            return 0
        region = sqs.meta.region_name
        event = {"Records": [to_lambda_record(m, "arn:aws:sqs:::crm", region) for m in messages]}
        try:
            response = _crm_handler(event, lambda_context("sync_crm"))
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:  # Lambda: a raised error fails the whole batch (Powertools raises when all failed)
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def drain(self) -> None:
        while self.poll_once():
            pass

    def flow(self) -> None:
        """Stream (until read to its end) → CRM queue → sync_crm until the queue is empty."""
        while self.stream.poll_once():
            pass
        self.drain()

    def depth(self, url: str) -> int:
        attributes = aws.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def notes_of_item(self, feedback_id: str) -> list[Any]:
        link = crm_links.activity_links(CONNECTION, [feedback_id]).get(feedback_id)
        return [n for n in self.hub.fake.notes.values() if link and n.id == link.get("note_id")]


def _stream_handler(event: dict[str, Any], context: Any) -> Any:
    from app import fan_out_webhooks

    return fan_out_webhooks(event, lambda_context("fan_out_webhooks"))


def _crm_handler(event: dict[str, Any], context: Any) -> Any:
    from app import sync_crm

    return sync_crm(event, context)


def make_rig(stack, monkeypatch, **hub_options) -> Iterator[Rig]:
    dlq_url, queue_url = create_crm_queues(visibility_timeout_seconds=0)
    monkeypatch.setenv("CRM_QUEUE_URL", queue_url)
    monkeypatch.setenv("CRM_DLQ_URL", dlq_url)
    stream = StreamPoller(enable_stream(), _stream_handler)
    for hub in make_hub(stack, **hub_options):
        monkeypatch.setattr(consumer, "SLEEP", hub.clock.sleep)
        yield Rig(hub, stream, queue_url, dlq_url)


@pytest.fixture
def rig(stack, monkeypatch) -> Iterator[Rig]:
    yield from make_rig(stack, monkeypatch)


def queued(url: str) -> list[dict[str, Any]]:
    sqs, bodies = aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        bodies += [json.loads(m["Body"]) for m in messages]
    return bodies


# --- the stream's records as CRM messages -----------------------------------------------------------------


def test_stream_records_become_sync_merge_and_erase_messages():
    def record(name: str, image: dict[str, Any] | None, keys: dict[str, Any]) -> dict[str, Any]:
        change: dict[str, Any] = {"Keys": dynamo.serialize(keys)}
        if image is not None:
            change["NewImage"] = dynamo.serialize(image)
        return {"eventName": name, "dynamodb": change}

    item_keys = feedback_store.feedback_key("fb_1")
    tombstone = {
        **profile_key("cus_b"),
        "record_type": PROFILE,
        "customer_id": "cus_b",
        "merged_into": "cus_a",
    }
    records = [
        record("INSERT", {**item_keys, "record_type": "FEEDBACK", CUSTOMER_PK: "CUSTOMER#cus_a"}, item_keys),
        record("INSERT", {**item_keys, "record_type": "FEEDBACK"}, item_keys),  # anonymous: nothing
        record("MODIFY", tombstone, profile_key("cus_b")),
        record("REMOVE", None, profile_key("cus_c")),  # only an erasure deletes a profile
        record("REMOVE", None, item_keys),  # an item's TTL expiry: the CRM keeps its note
    ]
    messages = [m for r in records for m in crm_queue.messages_from_stream_record(r)]
    assert messages == [
        CrmMessage(op=Operation.SYNC, feedback_id="fb_1"),
        CrmMessage(op=Operation.MERGE, customer_id="cus_a", absorbed_customer_id="cus_b"),
        CrmMessage(op=Operation.ERASE, customer_id="cus_c"),
    ]


def test_nothing_is_queued_while_no_crm_connection_exists(stack, monkeypatch):
    _, queue_url = create_crm_queues(visibility_timeout_seconds=0)
    monkeypatch.setenv("CRM_QUEUE_URL", queue_url)
    stream = StreamPoller(enable_stream(), _stream_handler)
    process(event("f1", email="ana@example.com"))
    stream.poll_once()
    assert queued(queue_url) == []


# --- stored items reach the CRM by themselves -------------------------------------------------------------


def test_a_stored_item_becomes_one_note_by_itself_and_a_redelivery_adds_none(rig):
    e = event("f1", email="ana@example.com", rating=9, scale=RatingScale.NPS)
    process(e)
    rig.flow()
    (note,) = rig.notes_of_item(e.feedback_id)
    (contact,) = rig.hub.fake.contacts.values()
    assert note.associations == {contact.id}
    before = rig.hub.fake.state()
    crm_queue.enqueue([CrmMessage(op=Operation.SYNC, feedback_id=e.feedback_id)] * 3)  # redeliveries
    rig.drain()
    assert rig.hub.fake.state() == before
    assert rig.depth(rig.queue_url) == 0 and rig.depth(rig.dlq_url) == 0


def test_a_note_created_before_the_process_died_is_found_not_created_twice(rig, monkeypatch):
    """The gap: HubSpot created the note, the process died before its id was saved. The pending link
    written before the create makes the retry search the contact's notes and update the one it finds."""
    e = event("f1", email="ana@example.com")
    process(e)
    real_save, calls = crm_links.save, []

    def dies_after_the_create(connection_id, contacts, activities):
        activities = list(activities)
        calls.append(activities)
        if activities and not activities[0].get("pending"):
            raise RuntimeError("the Lambda timed out")
        real_save(connection_id, contacts, activities)

    monkeypatch.setattr(crm_links, "save", dies_after_the_create)
    rig.stream.poll_once()
    rig.poll_once()
    assert len(rig.hub.fake.notes) == 1  # created in HubSpot, its id lost
    monkeypatch.setattr(crm_links, "save", real_save)
    rig.drain()
    assert len(rig.hub.fake.notes) == 1
    assert rig.hub.fake.count("/notes/search") == 1
    assert len(rig.notes_of_item(e.feedback_id)) == 1
    assert not crm_links.activity_links(CONNECTION, [e.feedback_id])[e.feedback_id].get("pending")


def test_the_crm_down_for_a_day_loses_nothing_and_syncs_each_item_once(rig):
    events = [event(f"f{n}", email=f"c{n}@example.com") for n in range(12)]
    rig.hub.fake.unavailable = True
    process(*events)
    rig.flow()  # every attempt answers 503: each message is retried, then moved to the DLQ
    assert rig.depth(rig.queue_url) == 0 and rig.depth(rig.dlq_url) == len(events)
    assert rig.hub.fake.notes == {} and rig.hub.fake.count("/notes/batch/create") == 0
    rig.hub.clock.sleep(24 * 3600)  # a day later HubSpot is back
    rig.hub.fake.unavailable = False
    assert crm_queue.replay_dead_letters().replayed == len(events)
    rig.drain()
    for e in events:
        assert len(rig.notes_of_item(e.feedback_id)) == 1
    assert len(rig.hub.fake.notes) == len(events)
    assert rig.depth(rig.queue_url) == 0 and rig.depth(rig.dlq_url) == 0


def test_a_429_storm_is_waited_out_and_every_item_synced_once(stack, monkeypatch):
    for rig in make_rig(stack, monkeypatch, per_window=2):
        events = [event(f"s{n}", email=f"s{n}@example.com") for n in range(30)]
        process(*events)
        rig.flow()
        statuses = [r.status for r in rig.hub.fake.requests]
        assert 429 in statuses
        assert len(rig.hub.fake.notes) == len(events)
        assert rig.depth(rig.dlq_url) == 0
        assert rig.hub.clock.slept and all(0 < s <= 10 for s in rig.hub.clock.slept)


def test_a_paused_connection_keeps_its_items_in_the_dlq_until_test_and_replay(rig, capsys):
    from chalicelib.cli import main

    rig.hub.fake.tokens.clear()  # the private app's token was revoked
    e = event("f1", email="ana@example.com")
    process(e)
    rig.flow()
    assert connections.get(CONNECTION).status is Status.PAUSED
    assert rig.depth(rig.dlq_url) == 1 and rig.hub.fake.notes == {}
    later = event("f2", email="bo@example.com")
    process(later)  # stored while paused: no request to HubSpot, kept too
    requests = len(rig.hub.fake.requests)
    rig.flow()
    assert len(rig.hub.fake.requests) == requests and rig.depth(rig.dlq_url) == 2
    rig.hub.fake.tokens.add(TOKEN)
    assert main(["crm", "test", CONNECTION]) == 0
    assert main(["crm", "replay"]) == 0
    assert "replayed 2 message(s)" in capsys.readouterr().out
    rig.drain()
    assert len(rig.notes_of_item(e.feedback_id)) == 1 and len(rig.notes_of_item(later.feedback_id)) == 1


# --- merges and erasures ----------------------------------------------------------------------------------


def test_a_merge_merges_the_contacts_and_the_absorbed_notes_follow(rig):
    by_email = event("f1", email="ana@example.com", name="Ana")
    by_chat = event("w1", user="u-9", source="src_chat", channel=Channel.WEBHOOK)
    process(by_email, by_chat)
    rig.flow()
    keep, absorbed = customer_of(by_email), customer_of(by_chat)
    assert len(rig.hub.fake.contacts) == 2
    customer_merge.merge(keep, absorbed)
    rig.flow()
    (merged,) = rig.hub.fake.contacts.values()
    assert {n.id for n in rig.hub.fake.notes_of(merged.id)} == {
        rig.notes_of_item(f.feedback_id)[0].id for f in (by_email, by_chat)
    }
    link = crm_links.contact_links(CONNECTION, [keep, absorbed])
    assert set(link) == {keep} and link[keep]["contact_id"] == merged.id
    assert set(link[keep]["feedback_ids"]) == {by_email.feedback_id, by_chat.feedback_id}
    # The merge message again (a stream redelivery) changes nothing.
    before = rig.hub.fake.state()
    crm_queue.enqueue([CrmMessage(op=Operation.MERGE, customer_id=keep, absorbed_customer_id=absorbed)])
    rig.drain()
    assert rig.hub.fake.state() == before


def test_an_erasure_reaches_the_crm_through_the_stream(rig):
    e1, e2 = event("f1", email="ana@example.com"), event("f2", email="ana@example.com", minutes=5)
    other = event("f3", email="bo@example.com")
    process(e1, e2, other)
    rig.flow()
    customer = customer_of(e1)
    (ana,) = [c for c in rig.hub.fake.contacts.values() if c.properties["email"] == "ana@example.com"]
    assert len(rig.hub.fake.notes_of(ana.id)) == 2
    erasure.erase_customer(customer)
    rig.flow()
    assert ana.id in rig.hub.fake.gdpr_deleted and ana.id not in rig.hub.fake.contacts
    assert len(rig.hub.fake.notes) == 1  # only the other customer's note is left
    assert crm_links.contact_links(CONNECTION, [customer]) == {}
    assert rig.depth(rig.dlq_url) == 0


# --- crm sync --from --to ---------------------------------------------------------------------------------


def test_the_history_backfill_resumes_where_the_crm_stopped_it(stack):
    from chalicelib.cli import main

    events = [event(f"h{n}", email=f"h{n}@example.com") for n in range(7)]
    process(*events)  # stored before any connection existed: nothing was synced
    running = make_hub(stack)  # kept referenced: closing the generator stops the fake's server
    hub = next(running)
    day = feedback_store.get(events[0].feedback_id).stored_at.date()
    job, resumed = backfill.prepare(day, day, None)
    assert not resumed
    pages: list[backfill.Counts] = []

    def down_after_two_pages(counts: backfill.Counts) -> None:
        pages.append(counts)
        if len(pages) == 2:
            hub.fake.unavailable = True

    with pytest.raises(backfill.Stopped):
        backfill.run(job, sleep=hub.clock.sleep, progress=down_after_two_pages, page_size=2)
    synced = len(hub.fake.notes)
    assert synced == 4
    hub.fake.unavailable = False
    job, resumed = backfill.prepare(day, day, None)
    assert resumed and job.counts.synced == synced
    backfill.run(job, sleep=hub.clock.sleep, page_size=2)
    assert len(hub.fake.notes) == len(events)
    assert backfill.Job.load(job.job_id).finished
    assert main(["crm", "sync", "--from", day.isoformat(), "--to", day.isoformat()]) == 0
    assert len(hub.fake.notes) == len(events)  # a second run syncs again, duplicating nothing


def test_crm_sync_refuses_a_bad_range_and_an_unknown_connection(stack, capsys):
    from chalicelib.cli import main

    assert main(["crm", "sync", "--from", "2026-02-01", "--to", "2026-01-01"]) == 2
    assert main(["crm", "sync", "--from", "2026-01-01", "--to", "2026-01-02", "--connection", "nope"]) == 2
    assert "no CRM connection nope" in capsys.readouterr().err


def test_a_batch_reports_only_the_messages_that_failed(rig):
    """Powertools' partial batch response: the good message is done (deleted), the bad one comes back."""
    e = event("f1", email="ana@example.com")
    process(e)
    good = CrmMessage(op=Operation.SYNC, feedback_id=e.feedback_id).model_dump_json(exclude_none=True)
    records = [
        to_lambda_record({"MessageId": "m-good", "ReceiptHandle": "r1", "Body": good}, "arn:q", "us-east-1"),
        to_lambda_record(
            {"MessageId": "m-bad", "ReceiptHandle": "r2", "Body": '{"op": "dance"}'}, "arn:q", "x"
        ),
    ]
    response = _crm_handler({"Records": records}, lambda_context("sync_crm"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert len(rig.notes_of_item(e.feedback_id)) == 1


def test_folding_links_on_a_merge_adds_the_absorbed_themes_once_even_when_retried(stack, monkeypatch):
    crm_links.save(
        CONNECTION,
        [
            {
                "customer_id": "cus_a",
                "contact_id": "c1",
                "created": True,
                "theme_counts": {"price": 2},
                "feedback_ids": ["fb_1"],
            },
            {
                "customer_id": "cus_b",
                "contact_id": "c2",
                "created": False,
                "theme_counts": {"price": 1, "ux": 1},
                "feedback_ids": ["fb_2"],
            },
        ],
        [
            {"feedback_id": "fb_1", "contact_id": "c1", "note_id": "n1"},
            {"feedback_id": "fb_2", "contact_id": "c2", "note_id": "n2"},
        ],
    )
    real_batch_write = dynamo.batch_write

    def dies_before_the_delete(table, requests):
        if any("DeleteRequest" in r for r in requests):
            raise RuntimeError("the Lambda timed out")
        real_batch_write(table, requests)

    monkeypatch.setattr(dynamo, "batch_write", dies_before_the_delete)
    with pytest.raises(RuntimeError):
        crm_links.merge_links(CONNECTION, "cus_a", "cus_b", contact_id="c9")
    monkeypatch.setattr(dynamo, "batch_write", real_batch_write)
    assert crm_links.merge_links(CONNECTION, "cus_a", "cus_b", contact_id="c9") == 1  # the retry
    links = crm_links.contact_links(CONNECTION, ["cus_a", "cus_b"])
    assert set(links) == {"cus_a"}
    survivor = links["cus_a"]
    assert survivor["theme_counts"] == {"price": 3, "ux": 1}
    assert survivor["contact_id"] == "c9" and survivor["created"] is False  # the team's contact was merged in
    assert sorted(survivor["feedback_ids"]) == ["fb_1", "fb_2"]
    activities = crm_links.activity_links(CONNECTION, ["fb_1", "fb_2"])
    assert {a["contact_id"] for a in activities.values()} == {"c9"}
