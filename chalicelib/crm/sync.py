"""What the stream/queue consumer calls: `sync(items)` pushes a batch of stored items to every active CRM
connection, `erase(customer_ids)` removes customers from them. A connection whose credentials are refused is
paused (nothing more is sent to it until `crm test` succeeds) and CredentialsRejected is raised after the
other connections had their turn, so the failure is alerted on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from chalicelib.crm import connections
from chalicelib.crm.base import CrmTarget, ErasureReport, SyncReport, selected
from chalicelib.crm.connections import CrmConnection, Status
from chalicelib.crm.exceptions import CredentialsRejected, CrmError
from chalicelib.models import StoredFeedback
from chalicelib.observability import logger


def target_for(
    connection: CrmConnection,
    sleep: Callable[[float], None] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> CrmTarget:
    """The connection's target with its credentials (cached SSM read), or with `secrets` (new credentials
    `crm rotate` checks before it saves them)."""

    def read(name: str) -> str | None:
        if secrets is not None:
            return secrets.get(name)
        return connections.secret(connection.connection_id, name)

    if connection.type == "hubspot":
        from chalicelib.crm import hubspot

        token = read("token")
        if not token:
            raise CredentialsRejected(connection.connection_id, "no token stored")
        return hubspot.target_for(connection, token, sleep)
    if connection.type == "salesforce":
        from chalicelib.crm import salesforce
        from chalicelib.crm.salesforce_api import Credentials

        client_id, secret, key = read("client_id"), read("client_secret"), read("private_key")
        if not client_id or not (secret or key):
            raise CredentialsRejected(
                connection.connection_id, "no client id with a client secret or key stored"
            )
        credentials = Credentials(client_id, secret, key, read("username"))
        return salesforce.target_for(connection, credentials, sleep)
    raise CrmError(f"no target for CRM type {connection.type!r}")


def sync_connection(
    connection: CrmConnection, items: Sequence[StoredFeedback], sleep: Callable[[float], None] | None = None
) -> SyncReport:
    """Sync the items the connection's settings select; pauses the connection if its credentials fail."""
    chosen = [item for item in items if selected(connection, item)]
    skipped = [item.feedback_id for item in items if not selected(connection, item)]
    if not chosen:
        return SyncReport(skipped=skipped)
    try:
        report = target_for(connection, sleep).sync(chosen)
    except CredentialsRejected as error:
        connections.set_status(connection.connection_id, Status.PAUSED, error.reason)
        logger.error(
            "crm connection paused", extra={"connection_id": connection.connection_id, "reason": error.reason}
        )
        raise
    report.skipped += skipped
    return report


def sync(items: Sequence[StoredFeedback]) -> dict[str, SyncReport]:
    """Push a batch of stored items to every active connection; connection id → what it did."""
    reports: dict[str, SyncReport] = {}
    rejected: CredentialsRejected | None = None
    for connection in connections.list_all():
        if connection.status is not Status.ACTIVE:
            continue
        try:
            reports[connection.connection_id] = sync_connection(connection, items)
        except CredentialsRejected as error:
            rejected = rejected or error
    if rejected:
        raise rejected
    return reports


def erase(customer_ids: Sequence[str]) -> dict[str, ErasureReport]:
    """Remove the customers from every connection (paused ones too: an erasure is owed regardless)."""
    return {c.connection_id: target_for(c).erase(customer_ids) for c in connections.list_all()}
