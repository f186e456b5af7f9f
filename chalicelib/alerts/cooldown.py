"""A rule's cool-down: one state record per (rule, slice) in the ALERT_STATE partition, claimed by one
conditional write, so a fired alert is not repeated while it cools down, however many evaluations (or
retried stream batches) see its condition meanwhile. Nothing is read per run: the condition does the check.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.store import dynamo
from chalicelib.store.config_records import ALERT_STATE
from chalicelib.store.schema import PK, RECORD_TYPE, TTL_ATTRIBUTE

# State records outlive their cool-down by this much, then DynamoDB's TTL removes them.
STATE_RETENTION = timedelta(days=7)


def alert_id_for(rule_id: str, slice_key: str, fired_at: datetime) -> str:
    """Stable for one firing: the `alert.triggered` event's webhook-id derives from it."""
    digest = hashlib.sha256(f"{rule_id}|{slice_key}|{int(fired_at.timestamp())}".encode()).hexdigest()
    return f"alt_{digest[:24]}"


def claim(rule_id: str, slice_key: str, now: datetime, cooldown_minutes: int) -> str | None:
    """Record that the rule fired for this slice now, unless it fired within its cool-down: the new
    alert's id, or None when the claim was refused (still cooling down, or another run claimed it)."""
    alert_id = alert_id_for(rule_id, slice_key, now)
    fired = int(now.timestamp())
    item = {
        **ALERT_STATE.key(f"{rule_id}#{slice_key}"),
        RECORD_TYPE: ALERT_STATE.kind,
        "rule_id": rule_id,
        "slice": slice_key,
        "alert_id": alert_id,
        "fired_at": fired,
        "quiet_until": fired + cooldown_minutes * 60,
        TTL_ATTRIBUTE: fired + cooldown_minutes * 60 + int(STATE_RETENTION.total_seconds()),
    }
    try:
        aws.client("dynamodb").put_item(
            TableName=settings().table_name,
            Item=dynamo.serialize(item),
            ConditionExpression="attribute_not_exists(#pk) OR #quiet <= :now",
            ExpressionAttributeNames={"#pk": PK, "#quiet": "quiet_until"},
            ExpressionAttributeValues={":now": {"N": str(fired)}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return alert_id
