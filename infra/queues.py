"""A work queue and its dead-letter queue, as every queue-fed function of the stack has them: both
SSE-encrypted and refusing plain HTTP, the DLQ keeping what failed every receive for 14 days (SQS's maximum)
so it can be inspected and replayed, and the queue hiding a received message six function timeouts.

The construct ids are the callers': they are the logical ids of the deployed queues, and a changed id would
replace a queue (losing what it holds).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.settings import StageSettings

DLQ_RETENTION = cdk.Duration.days(14)


def queue_with_dead_letters(
    scope: Construct,
    settings: StageSettings,
    *,
    queue_id: str,
    dead_letters_id: str,
    name: str,
    consumer: str,
    max_receives: int,
    retention: cdk.Duration,
) -> tuple[sqs.Queue, sqs.Queue]:
    """The DLQ `<name>-dlq` and the queue `name` that redrives to it after `max_receives` receives, in that
    order; `consumer` is the app.py function its event source feeds."""
    dead_letter_queue = sqs.Queue(
        scope,
        dead_letters_id,
        queue_name=f"{name}-dlq",
        retention_period=DLQ_RETENTION,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    queue = sqs.Queue(
        scope,
        queue_id,
        queue_name=name,
        retention_period=retention,
        # AWS's guidance for an SQS event source: at least six times the function timeout.
        visibility_timeout=cdk.Duration.seconds(6 * settings.function_timeout(consumer)),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receives, queue=dead_letter_queue),
    )
    return dead_letter_queue, queue
