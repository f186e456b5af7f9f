"""The old layout's items (a day's `DAY_SHARDS` shards, before the per-channel partitions): counting them
and re-keying them to their channel partitions (`cli feedback rekey`; `counters rebuild` subtracts those left
from its `ck` count). Maintenance only: no function's handler loads it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.store import counters, day_layout, dynamo
from chalicelib.store.feedback import day_partition
from chalicelib.store.feedback_layout import id_of
from chalicelib.store.feedback_pages import count_partition
from chalicelib.store.schema import DAY_INDEX, DAY_PK, DAY_SK, PK, SK


def count_legacy(day: date) -> int:
    """How many of a day's items are still in the old layout (its `DAY_SHARDS` shards)."""
    return sum(count_partition(day, part) for part in day_layout.legacy_partitions())


def legacy_keys(day: date) -> Iterator[dict[str, Any]]:
    """The old-layout items of a day, as (deserialized) keys with their channel: what a re-key needs."""
    for part in day_layout.legacy_partitions():
        yield from dynamo.query_pages(
            TableName=settings().table_name,
            IndexName=DAY_INDEX,
            KeyConditionExpression="#pk = :day",
            ExpressionAttributeNames={"#pk": DAY_PK, "#sk": DAY_SK, "#pk0": PK, "#sk0": SK, "#ch": "channel"},
            ExpressionAttributeValues={":day": {"S": part.value(day)}},
            ProjectionExpression="#pk0, #sk0, #pk, #sk, #ch",
        )


def rekey_day(day: date) -> tuple[int, int]:
    """Move a day's old-layout items to their channel partitions: one conditional UpdateItem each, applied
    only while the item is still where it was read (a rewrite or erasure meanwhile wins; nothing it wrote is
    lost). Idempotent: a second run finds what the first left. (moved, left as they were)."""
    dynamodb = aws.client("dynamodb")
    moved = left = 0
    found = list(legacy_keys(day))
    # The channels are named in the day's counters before any item moves, so readers find their partitions.
    counters.name_channels(day, {str(item.get("channel")) for item in found} & set(day_layout.EVERY_CHANNEL))
    for item in found:
        channel = day_layout.parse_channel(item.get("channel"))
        if channel is None:
            left += 1
            continue
        try:
            dynamodb.update_item(
                TableName=settings().table_name,
                Key=dynamo.serialize({PK: item[PK], SK: item[SK]}),
                UpdateExpression="SET #day = :new",
                ConditionExpression="#day = :old",
                ExpressionAttributeNames={"#day": DAY_PK},
                ExpressionAttributeValues=dynamo.serialize(
                    {":new": day_partition(day, channel, id_of(item)), ":old": item[DAY_PK]}
                ),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            left += 1
            continue
        moved += 1
    return moved, left
