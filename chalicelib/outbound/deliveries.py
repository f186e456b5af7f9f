"""The delivery log: one item per (subscription, event), rewritten by each attempt, expiring after a while.

`pk = DELIVERY#<subscription_id>`, `sk = <enqueued_at>#<webhook_id>`: a subscription's recent deliveries are
one Query, newest first, and every attempt of one event lands on the same item (the queued message, and so
its `enqueued_at`, never changes between attempts). Items carry a TTL, so the log stays bounded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.store import dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK, TTL_ATTRIBUTE

LOG_RECORD = "DELIVERY"
LOG_RETENTION = timedelta(days=14)
MAX_LISTED = 100


class Status(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"  # the retry schedule ran out: the event went to the DLQ
    HELD = "held"  # the subscription is paused: the event waits on the retry schedule


@dataclass
class DeliveryRecord:
    subscription_id: str
    webhook_id: str
    event_type: str
    enqueued_at: str
    status: Status
    attempts: int
    updated_at: str
    last_status_code: int | None = None
    latency_ms: int | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None


def partition(subscription_id: str) -> str:
    return f"{LOG_RECORD}#{subscription_id}"


def record(entry: DeliveryRecord, now: datetime) -> None:
    """Write (or overwrite) the entry: one PutItem."""
    item = {
        PK: partition(entry.subscription_id),
        SK: f"{entry.enqueued_at}#{entry.webhook_id}",
        RECORD_TYPE: LOG_RECORD,
        TTL_ATTRIBUTE: int((now + LOG_RETENTION).timestamp()),
        **{k: v for k, v in asdict(entry).items() if v is not None},
    }
    aws.client("dynamodb").put_item(TableName=settings().table_name, Item=dynamo.serialize(item))


def recent(subscription_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The subscription's latest deliveries, newest first (at most MAX_LISTED)."""
    response = aws.client("dynamodb").query(
        TableName=settings().table_name,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": PK},
        ExpressionAttributeValues={":pk": {"S": partition(subscription_id)}},
        ScanIndexForward=False,
        Limit=max(1, min(limit, MAX_LISTED)),
    )
    hidden = {PK, SK, RECORD_TYPE, TTL_ATTRIBUTE, "subscription_id"}
    return [{k: v for k, v in dynamo.deserialize(i).items() if k not in hidden} for i in response["Items"]]


def delivered_since(subscription_id: str, since: str, max_pages: int = 5) -> bool:
    """Whether any event enqueued at or after `since` was delivered (a bounded Query, run only when an
    event ran out of retries, to tell a dead endpoint from a flaky one)."""
    items = dynamo.query_pages(
        max_pages=max_pages,
        TableName=settings().table_name,
        KeyConditionExpression="#pk = :pk AND #sk >= :since",
        FilterExpression="#status = :delivered",
        ExpressionAttributeNames={"#pk": PK, "#sk": SK, "#status": "status"},
        ExpressionAttributeValues={
            ":pk": {"S": partition(subscription_id)},
            ":since": {"S": since},
            ":delivered": {"S": Status.DELIVERED.value},
        },
    )
    return any(True for _ in items)
