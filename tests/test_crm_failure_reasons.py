"""What an admin reads when CRM sync work fails: the consumer logs why each failed message failed (a
property deleted in the CRM, a record it refuses), never the personal data the CRM's message may quote."""

from __future__ import annotations

import logging

from chalicelib.crm import consumer
from chalicelib.crm.queue import CrmMessage, Operation
from chalicelib.ingest.batch import QueueRecord
from tests.test_crm_hubspot import hub, stored  # noqa: F401 - the fixture
from tests.test_customers import event


def records(*feedback_ids: str) -> list[QueueRecord]:
    return [
        QueueRecord(f"m{n}", CrmMessage(op=Operation.SYNC, feedback_id=f).model_dump_json(exclude_none=True))
        for n, f in enumerate(feedback_ids)
    ]


def logged(caplog) -> str:
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


def test_a_partial_failure_logs_why_the_failed_messages_failed(hub, caplog):  # noqa: F811
    """A property deleted in HubSpot failed one customer's messages: the log said only "crm messages
    failed" with a count, and `crm dlq` cannot say why, so the admin had nothing to go on."""
    first, second = stored(event("f1", email="a@example.com"), event("f2", email="b@example.com"))
    assert not consumer.decide_batch(records(first.feedback_id))[0]  # a's contact synced
    del hub.fake.contact_properties["feedback_latest_nps"]  # renamed or deleted in HubSpot since
    changed = stored(event("f3", email="b@example.com", rating=9, scale="nps"))[0]
    caplog.set_level(logging.INFO)

    errors = consumer.decide_batch(records(first.feedback_id, changed.feedback_id))

    assert errors[0] is None and 'Property "feedback_latest_nps" does not exist' in str(errors[1])
    [record] = [r for r in caplog.records if r.getMessage() == "crm messages failed"]
    [(reason, count)] = record.reasons.items()
    assert count == 1 and reason.startswith("crm_hubspot_test: VALIDATION_ERROR")
    assert 'Property "feedback_latest_nps" does not exist' in reason
    assert second.customer_id not in logged(caplog)


def test_a_crm_message_quoting_an_email_is_logged_and_returned_without_it(hub, caplog, monkeypatch):  # noqa: F811
    """HubSpot validates emails more strictly than a form does, and its refusal quotes the address; the
    reason went into the batch's error (which Lambda logs when the whole batch fails) as it came."""
    (item,) = stored(event("f1", email="ana.lopez@example.com"))

    def refuse(properties, owner):
        email = properties.get("email")
        return (
            hub.fake._input_error("VALIDATION_ERROR", f"Email address {email} is invalid") if email else None
        )

    monkeypatch.setattr(hub.fake, "_property_problem", refuse)
    caplog.set_level(logging.INFO)

    [error] = consumer.decide_batch(records(item.feedback_id))

    assert error and "VALIDATION_ERROR: Email address" in error and "is invalid" in error
    assert "ana.lopez" not in error and "ana.lopez" not in logged(caplog)
    assert "Email address" in logged(caplog)


def test_crm_sync_says_why_the_items_it_queued_for_retry_failed(hub, capsys, monkeypatch):  # noqa: F811
    """An admin backfilling after a property was deleted in HubSpot read "queued for retry 2" and nothing
    about why."""
    from chalicelib.cli import main
    from chalicelib.local.crm import create_crm_queues
    from chalicelib.store import feedback as feedback_store

    dlq_url, queue_url = create_crm_queues()
    monkeypatch.setenv("CRM_QUEUE_URL", queue_url)
    monkeypatch.setenv("CRM_DLQ_URL", dlq_url)
    items = stored(event("f1", email="ana.lopez@example.com"), event("f2", email="b@example.com"))
    del hub.fake.contact_properties["feedback_count"]
    day = feedback_store.get(items[0].feedback_id).stored_at.date().isoformat()

    assert main(["crm", "sync", "--from", day, "--to", day]) == 0

    out = capsys.readouterr().out
    assert "queued for retry 2" in out
    assert '2 item(s): crm_hubspot_test: VALIDATION_ERROR: Property "feedback_count" does not exist' in out
    assert "ana.lopez" not in out


def test_an_erasure_reaches_a_connection_an_operator_paused(hub):  # noqa: F811
    """`crm pause` (a mapping to change, a quiet week) held erasures too: each waited in the DLQ, and one
    not replayed within its 14 days was gone with the customer still in the CRM."""
    from chalicelib.crm import connections
    from chalicelib.crm.connections import PAUSED_BY_OPERATOR, Status

    (item,) = stored(event("f1", email="a@example.com"))
    assert not consumer.decide_batch(records(item.feedback_id))[0]
    assert hub.fake.contacts
    connections.set_status("crm_hubspot_test", Status.PAUSED, PAUSED_BY_OPERATOR)
    erase = CrmMessage(op=Operation.ERASE, customer_id=item.customer_id).model_dump_json(exclude_none=True)

    assert consumer.decide_batch([QueueRecord("m-erase", erase)]) == [None]
    assert not hub.fake.contacts and not hub.fake.notes
    (later,) = stored(event("f2", email="b@example.com"))
    assert "is paused" in str(consumer.decide_batch(records(later.feedback_id))[0])  # syncs still wait
