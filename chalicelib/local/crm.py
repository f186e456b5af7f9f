"""The CRM sync on the local stack: the CRM queue and its DLQ (as deployed), a poller feeding the queue to
the same `sync_crm` handler Lambda runs, and the fake HubSpot and the fake Salesforce org on loopback, each
with a demo connection, printing each note and each Task they are sent (`make run`: submit feedback with an
email and watch the note and the Task appear)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings
from chalicelib.crm import connections
from chalicelib.crm.connections import CrmConnection, CrmSettings
from chalicelib.crm.queue import CRM_QUEUE_NAME, MAX_RECEIVES
from chalicelib.crm.sync import target_for
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.local.queues import create_queue_with_dead_letters

if TYPE_CHECKING:
    from tools.fakes.hubspot import HubSpotServer, Record
    from tools.fakes.salesforce import SalesforceServer

QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DEMO_CONNECTION_ID = "crm_hubspot_demo"
DEMO_TOKEN = "pat-na1-local-demo"  # noqa: S105 - the local fake's token, nothing real
DEMO_SALESFORCE_CONNECTION_ID = "crm_salesforce_demo"
DEMO_CLIENT_ID = "3MVG9local.demo"
DEMO_CLIENT_SECRET = "local-demo-secret"  # noqa: S105 - the local fake's connected app, nothing real
SqsHandler = Callable[[dict[str, Any], Any], Any]


def create_crm_queues(visibility_timeout_seconds: int = 60) -> tuple[str, str]:
    """The CRM queue and its DLQ (redrive after MAX_RECEIVES receives, as deployed); (dlq, queue)."""
    return create_queue_with_dead_letters(
        CRM_QUEUE_NAME.format(stage=settings().stage),
        max_receives=MAX_RECEIVES,
        visibility_timeout_seconds=visibility_timeout_seconds,
        retention_seconds=QUEUE_RETENTION_SECONDS,
    )


def _print_note(note: Record) -> None:
    """One line per note the demo HubSpot receives: its ids and subject (not the feedback's text)."""
    body = note.properties.get("hs_note_body", "")
    subject = re.search(r"<strong>(.*?)</strong>", body)
    about = html.unescape(subject.group(1)) if subject else ""
    contacts = ",".join(sorted(note.associations))
    print(f"[demo HubSpot] note {note.id} on contact {contacts}: {about}", flush=True)


def _print_task(task: dict[str, Any]) -> None:
    """One line per Task the demo Salesforce org receives: its ids and subject (not the feedback's text)."""
    print(
        f"[demo Salesforce] Task {task['Id']} on contact {task.get('WhoId')}: {task.get('Subject')}",
        flush=True,
    )


@dataclass
class LocalCrm:
    worker: SqsPoller
    hubspot: HubSpotServer
    connection_id: str
    salesforce: SalesforceServer
    salesforce_connection_id: str

    def stop(self) -> None:
        self.worker.stop()
        self.hubspot.__exit__(None, None, None)
        self.salesforce.__exit__(None, None, None)


def _demo_connection(connection_id: str, crm_type: str, name: str, url: str, secrets: dict[str, str]) -> str:
    """A connection to a fake, saved with its secrets and set up (`crm setup`) against it; its id."""
    connection = CrmConnection(
        connection_id=connection_id, type=crm_type, name=name, settings=CrmSettings(api_url=url)
    )
    connections.save(connection, secrets)
    target_for(connection).setup()
    return connection.connection_id


def _start_salesforce(port: int) -> tuple[SalesforceServer, str]:
    """The fake Salesforce org (login and instance URL in one) and a client-credentials demo connection."""
    from tools.fakes.salesforce import ConnectedApp, FakeSalesforce, SalesforceServer

    app = ConnectedApp(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, usernames={"integration@example.com"})
    fake = FakeSalesforce(apps=[app])
    fake.on_task_created = _print_task
    server = SalesforceServer(fake, port=port).__enter__()
    secrets = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}
    name = "make run's demo Salesforce org (local fake)"
    return server, _demo_connection(DEMO_SALESFORCE_CONNECTION_ID, "salesforce", name, server.url, secrets)


def start_crm(sync_crm: SqsHandler, hubspot_port: int = 0, salesforce_port: int = 0) -> LocalCrm:
    """The CRM queues and worker, and the fake HubSpot and Salesforce, each with a demo connection set up
    against it."""
    # The fakes are development tools (tools/ is not in the Lambda package): imported when serving only.
    from tools.fakes.hubspot import FakeHubSpot, HubSpotServer

    dlq_url, queue_url = create_crm_queues(visibility_timeout_seconds=30)
    os.environ["CRM_QUEUE_URL"], os.environ["CRM_DLQ_URL"] = queue_url, dlq_url
    fake = FakeHubSpot(tokens={DEMO_TOKEN})
    fake.on_note_created = _print_note
    server = HubSpotServer(fake, port=hubspot_port).__enter__()
    name = "make run's demo HubSpot (local fake)"
    connection_id = _demo_connection(DEMO_CONNECTION_ID, "hubspot", name, server.url, {"token": DEMO_TOKEN})
    salesforce, salesforce_connection_id = _start_salesforce(salesforce_port)
    worker = SqsPoller(queue_url, sync_crm, batch_size=100, function_name="sync_crm")
    worker.start()
    return LocalCrm(worker, server, connection_id, salesforce, salesforce_connection_id)
