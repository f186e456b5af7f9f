"""The ingest queue's dead-letter queue: look at what failed, replay it into the ingest queue, or delete a
message no replay can fix. The CRM sync's and the outbound webhooks' DLQs are read and pruned by the same
class, given their queue's own check and routing facts (`check`, `describe`: their rooms own the format).

SQS has no way to read a queue without receiving: listing receives every message with a short hold (so
one pass sees each message once) and then makes them visible again. That adds one to each message's
receive count, which the DLQ does not act on (it has no redrive policy of its own).

Replay sends first and deletes from the DLQ only after SQS accepted the send, so a crash in between can only
duplicate a message, never lose one; the analyze path stores by deterministic feedback id with conditional
writes, so the duplicate stores nothing twice and moves no profile count twice.

Why not SQS's native redrive (StartMessageMoveTask)? It moves *every* message of the DLQ, cannot replay one
chosen message, does not look at bodies (a malformed envelope would fail five more times and come back),
and moto does not implement it, so it could not be tested here. `replay --all` does the same job with
ReceiveMessage → SendMessageBatch → DeleteMessageBatch, ten messages a request.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.channels.sources import mask
from chalicelib.ingest.queue import QueueMessageError, decode_events, ingest_queue_url

SQS_BATCH = 10
# Long enough for one pass over a large DLQ: a message seen once must not come round again in the same pass.
HOLD_SECONDS = 300
# Long polling asks every SQS server, so an empty answer means the queue is empty (short polling samples
# a subset and may answer empty while messages remain). Tests set 0: moto answers everything at once.
RECEIVE_WAIT_SECONDS = 1
# Keys whose values are masked in `dlq show`, wherever they appear in the envelope.
SECRET_KEY = re.compile(r"secret|token|password|passwd|signature|authorization|api[_-]?key|cookie", re.I)


# A body → why it can never be processed (None: it can); a body → the routing facts a listing may show.
Check = Callable[[str], str | None]
Describe = Callable[[str], dict[str, str]]


class UnknownMessage(LookupError):
    """No message with that id is in the DLQ."""


@dataclass(frozen=True)
class DlqMessage:
    """One received DLQ message (its receipt handle is valid until it is released or deleted)."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]
    message_attributes: dict[str, Any]

    @classmethod
    def from_sqs(cls, message: dict[str, Any]) -> DlqMessage:
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message["Body"],
            attributes=message.get("Attributes", {}),
            message_attributes=message.get("MessageAttributes", {}),
        )

    def _time(self, name: str) -> datetime | None:
        value = self.attributes.get(name)
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None

    @property
    def sent_at(self) -> datetime | None:
        """When the message was first sent to the ingest queue (SQS keeps it through the DLQ move)."""
        return self._time("SentTimestamp")

    @property
    def first_received_at(self) -> datetime | None:
        """When the message was first received (by the analyze function)."""
        return self._time("ApproximateFirstReceiveTimestamp")

    @property
    def receive_count(self) -> int:
        """Receives so far, the failed analyze attempts included (and this listing's)."""
        return int(self.attributes.get("ApproximateReceiveCount", "0"))

    @property
    def size(self) -> int:
        """Body size in bytes."""
        return len(self.body.encode())

    @cached_property
    def envelope(self) -> dict[str, Any] | None:
        """The parsed body, or None when it is not JSON."""
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def problem(self) -> str | None:
        """Why this message can never be processed (not an envelope v1 of valid events), or None."""
        return ingest_problem(self.body)


@dataclass(frozen=True)
class ListedMessage:
    """What every listing shows of a message: its id, times, receive count and size."""

    message_id: str
    sent_at: datetime | None
    first_received_at: datetime | None
    receive_count: int
    size: int

    @staticmethod
    def fields_of(message: DlqMessage) -> dict[str, Any]:
        """A received message's id, times, receive count and size, as these fields."""
        return {
            "message_id": message.message_id,
            "sent_at": message.sent_at,
            "first_received_at": message.first_received_at,
            "receive_count": message.receive_count,
            "size": message.size,
        }

    @classmethod
    def of(cls, message: DlqMessage) -> ListedMessage:
        """What every listing shows of a received message."""
        return ListedMessage(**ListedMessage.fields_of(message))

    def listed_json(self) -> dict[str, Any]:
        """Those fields JSON-ready (times in ISO 8601)."""
        return {
            "message_id": self.message_id,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "first_received_at": self.first_received_at.isoformat() if self.first_received_at else None,
            "receive_count": self.receive_count,
            "size": self.size,
        }


@dataclass(frozen=True)
class MessageSummary(ListedMessage):
    """What `dlq list` shows of a message: routing facts only, never the text or the author."""

    events: int
    channels: list[str]
    source_ids: list[str]
    external_ids: list[str]
    problem: str | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601)."""
        return {
            **self.listed_json(),
            "events": self.events,
            "channels": self.channels,
            "source_ids": self.source_ids,
            "external_ids": self.external_ids,
            "problem": self.problem,
        }


def summarize(message: DlqMessage) -> MessageSummary:
    """The listing line of a message, read from its envelope without validating (a broken one is listed)."""
    raw_events = (message.envelope or {}).get("events")
    events = [e for e in raw_events if isinstance(e, dict)] if isinstance(raw_events, list) else []

    def distinct(name: str) -> list[str]:
        return sorted({str(e[name]) for e in events if e.get(name) is not None})

    return MessageSummary(
        **ListedMessage.fields_of(message),
        events=len(events),
        channels=distinct("channel"),
        source_ids=distinct("source_id"),
        external_ids=distinct("external_id"),
        problem=message.problem(),
    )


def ingest_problem(body: str) -> str | None:
    """Why an ingest message can never be processed (not an envelope v1 of valid events), or None."""
    try:
        decode_events(body)
    except QueueMessageError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class RoutedSummary(ListedMessage):
    """What a listing shows of another queue's message: its times and the routing facts its room names."""

    facts: dict[str, str]
    problem: str | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601)."""
        return {**self.listed_json(), **self.facts, "problem": self.problem}


def masked(value: Any) -> Any:
    """`value` with every secret-looking key's value masked, at any depth."""
    if isinstance(value, dict):
        return {
            k: mask(str(v)) if SECRET_KEY.search(str(k)) and v is not None else masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


@dataclass
class ReplayReport:
    """What a replay did, by message id."""

    replayed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    # Sent to the ingest queue but still in the DLQ (the delete failed): a later replay sends it again,
    # which the idempotent store makes harmless.
    not_deleted: list[str] = field(default_factory=list)


@dataclass
class DeleteReport:
    """What a delete did: the summaries of the messages deleted, and why others were not (by id)."""

    deleted: list[Any] = field(default_factory=list)  # MessageSummary, or RoutedSummary for another queue
    failed: dict[str, str] = field(default_factory=dict)


Progress = Callable[[int, int], None]  # (replayed, failed) in the batch just done


def dlq_url_for(queue_url: str) -> str:
    """The DLQ of a queue, from its RedrivePolicy (DLQ_URL overrides): the same lookup on AWS and locally."""
    configured = os.environ.get("DLQ_URL")
    if configured:
        return configured
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    if "RedrivePolicy" not in attributes:
        raise LookupError(f"the queue {queue_url} has no dead-letter queue")
    arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    _, _, _, _, account, name = arn.split(":", 5)
    return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


class DeadLetterQueue:
    """The ingest queue's DLQ (or, given `check` and `describe`, another queue's) and the operations on it."""

    def __init__(
        self,
        url: str | None = None,
        target_url: str | None = None,
        check: Check | None = None,
        describe: Describe | None = None,
    ) -> None:
        self.target_url = target_url or ingest_queue_url()
        self.url = url or dlq_url_for(self.target_url)
        self.sqs = aws.client("sqs")
        self.check = check or ingest_problem
        self.describe = describe

    def problem(self, message: DlqMessage) -> str | None:
        """Why this message can never be processed by its queue's consumer, or None."""
        return self.check(message.body)

    def summarize(self, message: DlqMessage) -> Any:
        """The listing line of a message: the ingest envelope's routing, or the facts `describe` names."""
        if self.describe is None:
            return summarize(message)
        return RoutedSummary(
            **ListedMessage.fields_of(message),
            facts=self.describe(message.body),
            problem=self.problem(message),
        )

    def depth(self) -> int:
        """Messages in the DLQ, visible or held (approximate, as SQS reports it)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def _receive(self) -> list[DlqMessage]:
        response = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=SQS_BATCH,
            VisibilityTimeout=HOLD_SECONDS,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [DlqMessage.from_sqs(m) for m in response.get("Messages", [])]

    def _batches(self) -> Iterator[list[DlqMessage]]:
        """Each message once, ten at a time, held until released or deleted; ends when SQS has no new one."""
        seen: set[str] = set()
        while True:
            fresh = []
            for message in self._receive():
                if message.message_id not in seen:
                    seen.add(message.message_id)
                    fresh.append(message)
            if not fresh:
                return
            yield fresh

    def release(self, messages: Iterable[DlqMessage]) -> None:
        """Make held messages visible again at once (best effort: an expired handle is already visible)."""
        messages = list(messages)
        for start in range(0, len(messages), SQS_BATCH):
            batch = messages[start : start + SQS_BATCH]
            try:
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                        for i, m in enumerate(batch)
                    ],
                )
            except (ClientError, BotoCoreError):
                continue  # they reappear when the hold ends anyway

    def messages(self) -> list[DlqMessage]:
        """Every message in the DLQ (received once, then released)."""
        found = [m for batch in self._batches() for m in batch]
        self.release(found)
        return found

    def list(self) -> list[Any]:
        """A summary of every message, oldest sent first."""
        summaries = [self.summarize(m) for m in self.messages()]
        return sorted(summaries, key=lambda s: (s.sent_at or datetime.min.replace(tzinfo=UTC), s.message_id))

    def find(self, message_id: str) -> DlqMessage:
        """One message by id (released again); UnknownMessage if it is not in the DLQ."""
        held: list[DlqMessage] = []
        try:
            for batch in self._batches():
                held += batch
                found = next((m for m in batch if m.message_id == message_id), None)
                if found is not None:
                    return found
        finally:
            self.release(held)
        raise UnknownMessage(message_id)

    def replay(
        self, message_ids: Iterable[str] | None = None, progress: Progress | None = None
    ) -> ReplayReport:
        """Send messages (all, or those ids) to the ingest queue, then delete them from the DLQ.

        A message that is not a valid envelope stays in the DLQ: replaying it would only bring it back.
        Raises UnknownMessage when a requested id is not in the DLQ (nothing is replayed then).
        """
        wanted = set(message_ids) if message_ids is not None else None
        report = ReplayReport()
        left: list[DlqMessage] = []
        try:
            if wanted is None:
                # Only what was in the DLQ when the replay began: a replayed message that fails again comes
                # back as a new message, and must wait for the next replay rather than go round again.
                started = datetime.now(UTC)
                for batch in self._batches():
                    later = [m for m in batch if m.sent_at and m.sent_at >= started]
                    left += later
                    current = [m for m in batch if m not in later]
                    left += self._replay_batch(current, report, progress) if current else []
            else:
                chosen = self._take(wanted, left)
                for start in range(0, len(chosen), SQS_BATCH):
                    left += self._replay_batch(chosen[start : start + SQS_BATCH], report, progress)
        finally:
            self.release(left)
        return report

    def _take(self, wanted: set[str], left: list[DlqMessage]) -> list[DlqMessage]:
        """Hold the messages with those ids (the others seen meanwhile go to `left`, to release); raises
        UnknownMessage, with every message in `left`, when an id is not in the DLQ."""
        chosen: list[DlqMessage] = []
        for batch in self._batches():
            for message in batch:
                (chosen if message.message_id in wanted else left).append(message)
            if len(chosen) == len(wanted):
                break
        missing = wanted - {m.message_id for m in chosen}
        if missing:
            left += chosen
            raise UnknownMessage(", ".join(sorted(missing)))
        return chosen

    def delete(self, message_ids: Iterable[str]) -> DeleteReport:
        """Delete messages from the DLQ for good (a poison message replay cannot fix, which would otherwise
        stay 14 days with the DeadLetterQueueNotEmpty alarm). Raises UnknownMessage when an id is not in the
        DLQ: nothing is deleted then."""
        left: list[DlqMessage] = []
        report = DeleteReport()
        try:
            chosen = self._take(set(message_ids), left)
            for start in range(0, len(chosen), SQS_BATCH):
                batch = chosen[start : start + SQS_BATCH]
                failed: dict[str, str] = {}
                try:
                    response = self.sqs.delete_message_batch(
                        QueueUrl=self.url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(batch)
                        ],
                    )
                    for failure in response.get("Failed", []):
                        failed[batch[int(failure["Id"])].message_id] = failure.get("Code", "unknown")
                except (ClientError, BotoCoreError) as error:
                    failed = {m.message_id: type(error).__name__ for m in batch}
                report.failed.update(failed)
                report.deleted += [self.summarize(m) for m in batch if m.message_id not in failed]
                left += [m for m in batch if m.message_id in failed]
        finally:
            self.release(left)
        return report

    def _replay_batch(
        self, batch: list[DlqMessage], report: ReplayReport, progress: Progress | None
    ) -> list[DlqMessage]:
        """Replay up to ten messages; returns those that stay in the DLQ (to release)."""
        left = []
        sendable = []
        for message in batch:
            problem = self.problem(message)
            if problem:
                report.failed[message.message_id] = problem
                left.append(message)
            else:
                sendable.append(message)
        sent = self._send(sendable, report)
        left += [m for m in sendable if m.message_id not in sent]
        self._delete([m for m in sendable if m.message_id in sent], report)
        report.replayed += [m.message_id for m in sendable if m.message_id in sent]
        if progress:
            progress(len(sent), len(batch) - len(sent))
        return left

    def _send(self, messages: list[DlqMessage], report: ReplayReport) -> set[str]:
        if not messages:
            return set()
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message.body}
            if message.message_attributes:
                entry["MessageAttributes"] = message.message_attributes
            entries.append(entry)
        try:
            response = self.sqs.send_message_batch(QueueUrl=self.target_url, Entries=entries)
        except (ClientError, BotoCoreError) as error:
            for message in messages:
                report.failed[message.message_id] = f"send failed: {type(error).__name__}"
            return set()
        for failure in response.get("Failed", []):
            message = messages[int(failure["Id"])]
            report.failed[message.message_id] = f"send failed: {failure.get('Code', 'unknown')}"
        return {messages[int(ok["Id"])].message_id for ok in response.get("Successful", [])}

    def _delete(self, messages: list[DlqMessage], report: ReplayReport) -> None:
        if not messages:
            return
        try:
            response = self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(messages)],
            )
        except (ClientError, BotoCoreError):
            report.not_deleted += [m.message_id for m in messages]
            return
        report.not_deleted += [messages[int(f["Id"])].message_id for f in response.get("Failed", [])]
