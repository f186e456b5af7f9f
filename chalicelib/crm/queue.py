"""The CRM queue: what the table's stream asks the CRM sync to do, and the operator's replay of its DLQ.

The table stream already has its consumer (the outbound fan-out); AWS advises at most two readers per shard,
so the CRM reads no stream of its own. The fan-out function's wiring (app.py) also calls
`forward_stream_batch`, which turns the batch's records into CRM messages, ten a SendMessageBatch:

- a feedback item written (INSERT, or a MODIFY: re-analysis, re-tagging, a merge moving it) → `sync` (the
  consumer reads the item again by id, so it sends what is stored *now*, and nothing once it is erased);
- a profile tombstoned by a merge (`merged_into` set) → `merge`;
- a profile deleted (REMOVE; only an erasure deletes profiles) → `erase`, the customer id read from the
  record's key (an erasure's own log record names the customer by a one-way hash only).

Nothing is forwarded while no CRM connection exists. Items are forwarded while a connection is paused too:
the consumer fails them for that connection, so they wait in the DLQ until `crm test` re-activates it and
`crm replay` sends them again (14 days' retention, and the DLQ alarm says they are there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import message_problem, routing_facts
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.config_records import CRM_CONNECTIONS
from chalicelib.store.profiles import PROFILE
from chalicelib.store.schema import CUSTOMER_PK, PK, RECORD_TYPE, SK

CRM_QUEUE_NAME = "feedback-crm-{stage}"  # the local stack and the deployed stack name it so
SEND_BATCH = 10  # SendMessageBatch's limit
# A message is received this many times (a paused connection's item, a CRM down) before it goes to the DLQ.
MAX_RECEIVES = 10
CUSTOMER_PREFIX = "CUSTOMER#"


class Operation(StrEnum):
    SYNC = "sync"
    MERGE = "merge"
    ERASE = "erase"


class CrmMessage(BaseModel):
    """One thing for the CRM sync to do; `connection_id` limits it to one connection (a backfill's retry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Operation
    feedback_id: str | None = None
    customer_id: str | None = None
    absorbed_customer_id: str | None = None
    connection_id: str | None = None


# What `crm dlq list` shows of a message: its operation and ids (pseudonymous), never another key's value.
ROUTING_FIELDS = ("op", "feedback_id", "customer_id", "absorbed_customer_id", "connection_id")


def problem(body: str) -> str | None:
    """Why a CRM queue message can never be processed (the consumer refuses it as "not a CRM message")."""
    return message_problem(CrmMessage, body, "CRM message")


def describe(body: str) -> dict[str, str]:
    """A CRM queue message's routing facts, read without validating (a broken message is listed too)."""
    return routing_facts(body, ROUTING_FIELDS)


class EnqueueFailed(Exception):
    """SQS refused some CRM messages; the stream batch is retried (the sync is idempotent)."""


def queue_url(dead_letters: bool = False) -> str:
    """The CRM queue's (or its DLQ's) URL: from the environment, else by the local stack's name."""
    name = CRM_QUEUE_NAME.format(stage=settings().stage) + ("-dlq" if dead_letters else "")
    return aws.queue_url("CRM_DLQ_URL" if dead_letters else "CRM_QUEUE_URL", name)


def messages_from_stream_record(record: dict[str, Any]) -> list[CrmMessage]:
    """What one DynamoDB stream record (NEW_IMAGE; keys always present) asks of the CRM sync."""
    change = record.get("dynamodb", {})
    name = record.get("eventName")
    if name == "REMOVE":
        keys = dynamo.deserialize(change.get("Keys") or {})
        partition = str(keys.get(PK, ""))
        if keys.get(SK) == PROFILE and partition.startswith(CUSTOMER_PREFIX):
            return [CrmMessage(op=Operation.ERASE, customer_id=partition.removeprefix(CUSTOMER_PREFIX))]
        return []
    image = change.get("NewImage")
    if not image:
        return []
    item = dynamo.deserialize(image)
    kind = item.get(RECORD_TYPE)
    if kind == feedback_store.ITEM_TYPE and item.get(CUSTOMER_PK):  # anonymous items never sync
        return [CrmMessage(op=Operation.SYNC, feedback_id=feedback_store.id_of(item))]
    if kind == PROFILE and item.get("merged_into"):
        return [
            CrmMessage(
                op=Operation.MERGE,
                customer_id=str(item["merged_into"]),
                absorbed_customer_id=str(item["customer_id"]),
            )
        ]
    return []


def any_connection() -> bool:
    """Whether a CRM connection (active or paused) exists; read cached, so a stream batch costs nothing."""
    return bool(CRM_CONNECTIONS.get_multiple(CRM_CONNECTIONS.kind, max_age=settings().config_cache_seconds))


def enqueue(messages: Sequence[CrmMessage], url: str | None = None) -> int:
    """Send the messages ten a request; returns how many were sent."""
    target = url or queue_url()
    sqs = aws.client("sqs")
    for start in range(0, len(messages), SEND_BATCH):
        entries = [
            {"Id": str(n), "MessageBody": message.model_dump_json(exclude_none=True)}
            for n, message in enumerate(messages[start : start + SEND_BATCH])
        ]
        response = sqs.send_message_batch(QueueUrl=target, Entries=entries)
        if response.get("Failed"):
            raise EnqueueFailed(f"{len(response['Failed'])} CRM messages were not queued")
    return len(messages)


def forward_stream_batch(event: dict[str, Any]) -> int:
    """The stream batch's CRM work, queued (none while no connection exists); returns the messages sent."""
    records: Iterable[dict[str, Any]] = event.get("Records", [])
    messages = [m for record in records for m in messages_from_stream_record(record)]
    if not messages or not any_connection():
        return 0
    return enqueue(list(dict.fromkeys(messages)))  # a batch holding a record twice queues it once


@dataclass
class ReplayReport:
    replayed: int = 0
    not_deleted: int = 0  # sent again but still in the DLQ: a later replay repeats it, which is harmless
    # Left in the DLQ (message id → why): no consumer can read them, so sending them would only bring them
    # back after ten more receives; `crm dlq delete` drops them.
    unreadable: dict[str, str] = field(default_factory=dict)


def replay_dead_letters(limit: int = 10_000) -> ReplayReport:
    """Move the DLQ's messages back to the CRM queue (send first, then delete: a crash between repeats one,
    which the idempotent sync makes harmless); a message that is no CRM message stays, visible again."""
    sqs, report = aws.client("sqs"), ReplayReport()
    source, target = queue_url(dead_letters=True), queue_url()
    seen: set[str] = set()
    left: list[dict[str, Any]] = []
    try:
        while report.replayed < limit:
            messages = sqs.receive_message(
                QueueUrl=source, MaxNumberOfMessages=SEND_BATCH, VisibilityTimeout=300
            )
            fresh = [m for m in messages.get("Messages", []) if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update(m["MessageId"] for m in fresh)
            for message in fresh:
                why = problem(message["Body"])
                if why:
                    report.unreadable[message["MessageId"]] = why
                    left.append(message)
            fresh = [m for m in fresh if m["MessageId"] not in report.unreadable]
            if not fresh:
                continue
            entries = [{"Id": str(n), "MessageBody": m["Body"]} for n, m in enumerate(fresh)]
            sent = sqs.send_message_batch(QueueUrl=target, Entries=entries)
            done = [fresh[int(ok["Id"])] for ok in sent.get("Successful", [])]
            if done:
                deleted = sqs.delete_message_batch(
                    QueueUrl=source,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
                )
                report.not_deleted += len(deleted.get("Failed", []))
            report.replayed += len(done)
            if sent.get("Failed"):
                break  # SQS refused sends: stop, what is left stays in the DLQ
    finally:
        _release(sqs, source, left)
    return report


def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    """Make held messages visible again at once, so `crm dlq` sees them now (best effort)."""
    for start in range(0, len(messages), SEND_BATCH):
        batch = messages[start : start + SEND_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(batch)
            ],
        )
