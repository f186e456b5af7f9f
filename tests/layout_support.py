"""Tables as an upgrade finds them: items in the per-day index's old layout (`DAY#<day>#<n>`), as the version
before the channel partitions wrote them (store/day_layout.py)."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import StoredFeedback
from chalicelib.store import counters, dynamo
from chalicelib.store.day_layout import KEYED, legacy_partition
from chalicelib.store.feedback import feedback_key, shard_of, to_item
from chalicelib.store.schema import DAY_PK


def to_old_layout(items: Iterable[StoredFeedback]) -> None:
    """Move stored items back to the old layout and uncount them as keyed, as the old version left them: its
    partition key, and day counters that counted each item but never `ck`."""
    dynamodb = aws.client("dynamodb")
    for item in items:
        day = item.stored_at.date()
        dynamodb.update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(feedback_key(item.feedback_id)),
            UpdateExpression="SET #day = :old",
            ExpressionAttributeNames={"#day": DAY_PK},
            ExpressionAttributeValues=dynamo.serialize(
                {":old": legacy_partition(day, shard_of(item.feedback_id, settings().day_shards))}
            ),
        )
        dynamodb.update_item(**counters.counter_update(day, 0, {KEYED: -1})["Update"])


def old_layout_item(item: StoredFeedback) -> dict:
    """The table item an older version wrote for a stored feedback: in the per-day index's old layout."""
    day = item.stored_at.date()
    return {
        **to_item(item),
        DAY_PK: legacy_partition(day, shard_of(item.feedback_id, settings().day_shards)),
    }


def forget_completeness() -> None:
    """Remove the counters' completeness mark: no day is known to be counted (a table upgraded from a
    version without counters, before its nightly run)."""
    aws.client("dynamodb").delete_item(
        TableName=settings().table_name, Key=dynamo.serialize(counters.COMPLETE_KEY)
    )
