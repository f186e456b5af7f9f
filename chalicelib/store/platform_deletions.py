"""A platform's deletion recorded on the stored item: `platform_deleted_at` set once, nothing removed.

One conditional UpdateItem per deletion: set only where the item exists and is not marked yet, so a repeated
deletion (a reconcile run again, a redelivered message) changes nothing. The counters are not touched: the
review was received and stays counted (see README, Pulled reviews), as an edit's earlier version does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import PlatformDeletion
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import PK

MARK_FIELD = "platform_deleted_at"


@dataclass
class MarkOutcome:
    marked: list[str] = field(default_factory=list)
    # Already marked (a repeat), or nothing stored under the id (erased meanwhile, or never stored).
    unchanged: list[str] = field(default_factory=list)


def mark_deleted(deletions: Sequence[PlatformDeletion]) -> MarkOutcome:
    """Mark each item its platform deleted; ClientError (other than the condition) propagates: retried."""
    outcome = MarkOutcome()
    dynamodb = aws.client("dynamodb")
    for deletion in {d.feedback_id: d for d in deletions}.values():
        key = feedback_store.feedback_key(deletion.feedback_id)
        try:
            dynamodb.update_item(
                TableName=settings().table_name,
                Key={name: {"S": value} for name, value in key.items()},
                UpdateExpression="SET #mark = :at",
                ConditionExpression="attribute_exists(#pk) AND attribute_not_exists(#mark)",
                ExpressionAttributeNames={"#mark": MARK_FIELD, "#pk": PK},
                ExpressionAttributeValues={":at": {"S": deletion.deleted_at.isoformat()}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            outcome.unchanged.append(deletion.feedback_id)
            continue
        outcome.marked.append(deletion.feedback_id)
    return outcome
