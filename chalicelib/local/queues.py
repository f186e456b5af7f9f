"""A queue and its dead-letter queue on the local stack, as a room's infra module deploys them: the queue
redrives a message to the DLQ after `max_receives` receives, and the DLQ keeps it 14 days for a replay."""

from __future__ import annotations

import json

from chalicelib import aws

DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum, as deployed


def create_queue_with_dead_letters(
    name: str, *, max_receives: int, visibility_timeout_seconds: int, retention_seconds: int
) -> tuple[str, str]:
    """The DLQ `<name>-dlq` and the queue `name` redriving to it, created if missing; (dlq, queue) URLs."""
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    dlq_arn = attributes["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_seconds),
            "MessageRetentionPeriod": str(retention_seconds),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}),
        },
    )["QueueUrl"]
    return dlq_url, queue_url
