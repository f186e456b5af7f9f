"""The CRM demo on the local stack (what `make run` starts): a stored item with an email reaches both demo
connections through the CRM queue and the `sync_crm` handler, and each fake prints what it received (a
HubSpot note, a Salesforce Task) without the customer's email or text."""

from __future__ import annotations

import time

from chalicelib.crm import connections
from chalicelib.crm import queue as crm_queue
from chalicelib.crm.queue import CrmMessage, Operation
from chalicelib.crm.salesforce_api import forget_sessions
from chalicelib.local.crm import start_crm
from tests.test_customers import event, process


def test_a_stored_item_is_printed_by_the_demo_hubspot_and_the_demo_salesforce(stack, monkeypatch, capsys):
    # start_crm sets them for the process (the local stack's); here they are restored after.
    monkeypatch.setenv("CRM_QUEUE_URL", "")
    monkeypatch.setenv("CRM_DLQ_URL", "")
    forget_sessions()
    from app import sync_crm

    crm = start_crm(sync_crm)
    # Its log lines name the function the CRM queue triggers when deployed, not analyze.
    assert crm.worker.function_name == "sync_crm"
    try:
        listed = {c.connection_id: c.type for c in connections.list_all()}
        assert listed == {crm.connection_id: "hubspot", crm.salesforce_connection_id: "salesforce"}
        assert crm.salesforce.fake.custom_fields["Contact"]  # `crm setup` ran against the demo org
        item = event("demo1", email="demo.probe@example.org", rating=9, text="Love the new app")
        process(item)
        crm_queue.enqueue([CrmMessage(op=Operation.SYNC, feedback_id=item.feedback_id)])
        printed = ""
        for _ in range(80):
            printed += capsys.readouterr().out
            if "[demo HubSpot] note" in printed and "[demo Salesforce] Task" in printed:
                break
            time.sleep(0.25)
    finally:
        crm.stop()
        connections.clear_cache()
        forget_sessions()
    (task,) = crm.salesforce.fake.records["Task"].values()
    (contact,) = crm.salesforce.fake.contacts_by("Email", "demo.probe@example.org")
    assert task["WhoId"] == contact["Id"]
    assert f"[demo Salesforce] Task {task['Id']} on contact {contact['Id']}: {task['Subject']}" in printed
    assert printed.count("[demo HubSpot] note") == 1 and printed.count("[demo Salesforce] Task") == 1
    assert "demo.probe" not in printed and "Love the new app" not in printed
