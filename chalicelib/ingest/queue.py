"""The ingest queue: one SQS message per accepted delivery, carrying that delivery's normalized events.

This is the only AWS call on the ack path. A delivery that would not fit in one message (a large batched
webhook) is split across up to ten messages sent in a single SendMessageBatch request, so it is still one
request and the 2xx still means every event is durably queued.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import FeedbackEvent, PlatformDeletion

ENVELOPE_VERSION = 1
# SQS accepts 1 MiB per message and per batch request. 100 KiB messages keep a 10-message batch under that
# limit and a 25-record Lambda batch well under Lambda's 6 MB invocation payload.
MAX_MESSAGE_BYTES = 100 * 1024
MAX_MESSAGES_PER_BATCH = 10
# SQS takes at most 1 MiB in one request, a single message or a batch of ten.
MAX_REQUEST_BYTES = 1024 * 1024


class QueueMessageError(ValueError):
    """A queue message that is not a valid envelope: it can never succeed, so it goes to the DLQ."""


class QueueRequestTooLarge(ValueError):
    """Events that do not fit in the one SQS request an acknowledgement stands for."""


def encode_events(events: Sequence[FeedbackEvent], deletions: Sequence[PlatformDeletion] = ()) -> list[str]:
    """Serialise events into as few message bodies as fit under the SQS size limit; a platform's deletions
    (a few ids each) ride in the first body, or in a body of their own when there are no events."""
    bodies: list[str] = []
    chunk: list[dict[str, Any]] = []
    chunk_bytes = 0
    for event in events:
        item = event.model_dump(mode="json", exclude_none=True)
        item_bytes = len(json.dumps(item, separators=(",", ":")).encode())
        if chunk and chunk_bytes + item_bytes > MAX_MESSAGE_BYTES:
            bodies.append(_envelope(chunk))
            chunk, chunk_bytes = [], 0
        chunk.append(item)
        chunk_bytes += item_bytes + 1
    if chunk:
        bodies.append(_envelope(chunk))
    if deletions:
        marks = [deletion.model_dump(mode="json") for deletion in deletions]
        first = json.loads(bodies[0]) if bodies else {"events": []}
        bodies[:1] = [_envelope(first["events"], marks)]
    return bodies


def encode_request(events: Sequence[FeedbackEvent], deletions: Sequence[PlatformDeletion] = ()) -> list[str]:
    """The message bodies that queue `events` with one SQS request (≤ 10 messages, ≤ 1 MiB in all), or
    QueueRequestTooLarge: a body under the size limit can still expand past that once encoded (thousands of
    tiny messages, each event carrying ids and times)."""
    bodies = encode_events(events, deletions)
    if len(bodies) > MAX_MESSAGES_PER_BATCH or sum(len(body.encode()) for body in bodies) > MAX_REQUEST_BYTES:
        raise QueueRequestTooLarge(f"{len(events)} events need more than one SQS request")
    return bodies


# SQS accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a message body. json.dumps escapes
# control characters and the parsers refuse lone surrogates; the two noncharacters are escaped here, so such
# feedback is queued (and decodes to the same text) instead of being refused by SQS on every retry.
_SQS_NONCHARACTER_ESCAPES = str.maketrans({"\ufffe": "\\ufffe", "\uffff": "\\uffff"})


def _envelope(items: list[dict[str, Any]], deletions: list[dict[str, Any]] | None = None) -> str:
    envelope: dict[str, Any] = {"v": ENVELOPE_VERSION, "events": items}
    if deletions:
        envelope["deletions"] = deletions  # an optional key: messages without it decode as before
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    return body.translate(_SQS_NONCHARACTER_ESCAPES)


def decode_events(body: str) -> list[FeedbackEvent]:
    """Parse a message body back into events, or raise QueueMessageError."""
    return decode_message(body)[0]


def decode_message(body: str) -> tuple[list[FeedbackEvent], list[PlatformDeletion]]:
    """Parse a message body back into its events and platform deletions, or raise QueueMessageError."""
    try:
        envelope = json.loads(body)
        if not isinstance(envelope, dict) or envelope.get("v") != ENVELOPE_VERSION:
            raise QueueMessageError("unknown envelope version")
        events = [FeedbackEvent.model_validate(item) for item in envelope["events"]]
        deletions = [PlatformDeletion.model_validate(item) for item in envelope.get("deletions") or []]
        return events, deletions
    except (ValueError, KeyError, TypeError, ValidationError) as error:
        raise QueueMessageError(f"malformed queue message: {type(error).__name__}") from error


@cache
def ingest_queue_url() -> str:
    """The ingest queue's URL: from INGEST_QUEUE_URL, else looked up once per process by its name."""
    configured = settings().queue_url
    if configured:
        return configured
    name = os.environ.get("INGEST_QUEUE_NAME", f"feedback-ingest-{settings().stage}")
    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def enqueue(events: Sequence[FeedbackEvent]) -> None:
    """Durably queue one delivery's events with exactly one SQS request; 503 if SQS refuses."""
    if events:
        send_bodies(encode_events(events))


def send_bodies(bodies: Sequence[str]) -> None:
    """Queue message bodies made by `encode_events` with exactly one SQS request; 503 if SQS refuses."""
    if not bodies:
        return
    if len(bodies) > MAX_MESSAGES_PER_BATCH:
        raise ValueError("a delivery of this size must be refused before it reaches the queue")
    # Imported here: the analyze function reads this module's decoder only and answers no HTTP request.
    from chalicelib.http import ServiceUnavailable

    sqs = aws.client("sqs")
    try:
        queue_url = ingest_queue_url()
        if len(bodies) == 1:
            sqs.send_message(QueueUrl=queue_url, MessageBody=bodies[0])
            return
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)],
        )
    except (ClientError, BotoCoreError) as error:
        raise ServiceUnavailable("The feedback could not be queued; please retry.") from error
    if response.get("Failed"):
        # Some parts were queued and some not: the sender must retry, and the redelivered parts are
        # deduplicated by their feedback ids downstream.
        raise ServiceUnavailable("Part of the delivery could not be queued; please retry.")
