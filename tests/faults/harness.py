"""What every fault test shares: deliveries through the real ack path, a Lambda-like queue driver, and the
exactly-once check (each accepted item stored once or in the DLQ with its payload; profiles = a recount,
bounds and latest values included)."""

from __future__ import annotations

import base64
import json
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.webhook import StandardWebhooksChannel
from chalicelib.config import settings
from chalicelib.ingest.queue import decode_events
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import FeedbackEvent, StoredFeedback, feedback_id_for
from chalicelib.store import feedback as feedback_store
from chalicelib.store.profiles import PROFILE
from chalicelib.store.schema import RECORD_TYPE
from tests.faults.injection import LambdaKilled

FORM_ID = "demo"
WEBHOOK_SOURCE = "src_faults_webhook"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"fault-injection-signing-key!").decode()
COMMENTS = (
    "Love the new dashboard, great work",
    "Checkout is slow and the app keeps crashing, terrible",
    "It is fine I guess",
    "Great support but delivery was slow and the box was broken",
    "Excellent, fast and helpful",
    "Refund took three weeks, awful",
)

Handler = Callable[[dict[str, Any], Any], Any]


def form_responses(
    count: int, seed: int = 1, customers: int | None = None, email_every: int | None = None
) -> list[dict[str, Any]]:
    """`count` NPS responses with client ids (a resend is the same response). By default a third are
    anonymous and the rest written by `customers` people (default count // 3), so most profiles hold several
    items; with `email_every=n` only every n-th response leaves an email."""
    rng = random.Random(seed)
    people = customers or max(1, count // 3)
    responses = []
    for index in range(count):
        response: dict[str, Any] = {
            "response_id": f"resp-{seed}-{index:05d}",
            "rating": rng.randint(0, 10),
            "comment": rng.choice(COMMENTS),
        }
        if (index % email_every == 0) if email_every else index % 3:
            response["email"] = f"person{rng.randrange(people)}@example.com"
        responses.append(response)
    return responses


def form_feedback_id(response: dict[str, Any]) -> str:
    return feedback_id_for(FORM_ID, response["response_id"])


@dataclass
class Submission:
    """The answers the ack path gave: feedback ids of the 2xx answers, and every non-2xx response."""

    accepted: list[str] = field(default_factory=list)
    refused: list[Any] = field(default_factory=list)

    @property
    def statuses(self) -> Counter[int]:
        return Counter([202] * len(self.accepted) + [r.status_code for r in self.refused])


def submit_forms(client: Any, responses: Iterable[dict[str, Any]]) -> Submission:
    """POST each response to the demo form through chalice's test client."""
    result = Submission()
    for response in responses:
        answer = client.http.post(
            f"/forms/{FORM_ID}/responses",
            headers={"content-type": "application/json"},
            body=json.dumps(response).encode(),
        )
        if 200 <= answer.status_code < 300:
            assert json.loads(answer.body)["feedback_id"] == form_feedback_id(response)
            result.accepted.append(form_feedback_id(response))
        else:
            result.refused.append(answer)
    return result


def create_webhook_source() -> None:
    """A Standard Webhooks source the tests sign deliveries for."""
    sources.save(
        sources.SourceConfig(source_id=WEBHOOK_SOURCE, type="webhook", name="fault injection"),
        {"signing_secret": WEBHOOK_SECRET},
    )


def post_webhook(client: Any, delivery_id: str, objects: list[dict[str, Any]]) -> Any:
    """One signed Standard Webhooks delivery of `objects` (each with its own `id`)."""
    body = json.dumps({"type": "feedback.created", "data": objects}).encode()
    signed = StandardWebhooksChannel().sign(
        body, {"signing_secret": WEBHOOK_SECRET}, datetime.now(UTC), message_id=delivery_id
    )
    headers = {"content-type": "application/json", **signed.headers}
    return client.http.post(f"/webhooks/{WEBHOOK_SOURCE}", headers=headers, body=body)


def webhook_feedback_id(external_id: str) -> str:
    return feedback_id_for(WEBHOOK_SOURCE, external_id)


def post_webhooks(client: Any, deliveries: Mapping[str, list[dict[str, Any]]]) -> list[str]:
    """POST each signed delivery (delivery id → its objects), each answered 200; the accepted feedback ids."""
    accepted = []
    for delivery_id, objects in deliveries.items():
        assert post_webhook(client, delivery_id, objects).status_code == 200
        accepted += [webhook_feedback_id(o["id"]) for o in objects]
    return accepted


def accept_forms_and_webhooks(
    client: Any, forms: int, seed: int, deliveries: Mapping[str, list[dict[str, Any]]]
) -> list[str]:
    """A webhook source; `forms` form responses (`form_responses(forms, seed)`), then the webhook
    `deliveries`: the feedback ids the ack paths accepted, which must each be stored once."""
    create_webhook_source()
    accepted = list(submit_forms(client, form_responses(forms, seed=seed)).accepted)
    return accepted + post_webhooks(client, deliveries)


@dataclass
class DriveResult:
    invocations: int = 0
    received: int = 0
    deleted: int = 0
    failed_records: int = 0
    crashes: int = 0


class QueueDriver:
    """Runs a handler over the ingest queue through `SqsPoller` (Lambda's SQS contract) until it is empty.

    A failed record (listed in `batchItemFailures`, or every record of an invocation that raised or was
    killed) is made visible again at once instead of after the 30 s visibility timeout, so redeliveries and
    the redrive to the DLQ after maxReceiveCount happen within the test.
    """

    def __init__(self, queue_url: str, handler: Handler, batch_size: int = 25) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.poller = SqsPoller(queue_url, self._invoke, batch_size=batch_size, wait_seconds=0)
        self.result = DriveResult()
        self._failed: list[str] = []
        self._lock = threading.Lock()
        self.receive_counts: Counter[str] = Counter()
        self.killed: set[str] = set()

    def _invoke(self, event: dict[str, Any], context: Any) -> Any:
        records = event["Records"]
        with self._lock:
            self.result.invocations += 1
            self.receive_counts.update(r["messageId"] for r in records)
        try:
            response = self.handler(event, context)
        except BaseException as error:
            with self._lock:
                self._failed += [r["receiptHandle"] for r in records]
                if isinstance(error, LambdaKilled):
                    self.killed.update(r["messageId"] for r in records)
            raise
        failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        with self._lock:
            self._failed += [r["receiptHandle"] for r in records if r["messageId"] in failed]
        return response

    def poll_once(self) -> int:
        """One invocation (a crash counts as one); returns how many messages it received."""
        try:
            polled = self.poller.poll_once()
        except LambdaKilled:
            with self._lock:
                self.result.crashes += 1
            self._release_failed()
            return 1
        with self._lock:
            self.result.received += polled.received
            self.result.deleted += polled.deleted
            self.result.failed_records += polled.failed
        self._release_failed()
        return polled.received

    def _release_failed(self) -> None:
        with self._lock:
            handles, self._failed = self._failed, []
        sqs = aws.client("sqs")
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(handles[start : start + 10])
                ],
            )

    def drain(self, max_polls: int = 2_000) -> DriveResult:
        """Poll until a receive comes back empty."""
        for _ in range(max_polls):
            if self.poll_once() == 0:
                return self.result
        raise AssertionError(f"the queue did not drain in {max_polls} polls")


# --- the table and the DLQ ---------------------------------------------------------------------------------


def scan_all() -> list[dict[str, Any]]:
    """Every item of the table (paginated: a single Scan page stops at 1 MB)."""
    from chalicelib.store import dynamo

    paginator = aws.client("dynamodb").get_paginator("scan")
    return [
        dynamo.deserialize(item)
        for page in paginator.paginate(TableName=settings().table_name)
        for item in page["Items"]
    ]


def dlq_events(dlq_url: str) -> list[tuple[str, list[FeedbackEvent]]]:
    """Each DLQ message's body and events (left in flight: read once)."""
    found = []
    sqs = aws.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
            "Messages", []
        )
        if not messages:
            return found
        found += [(m["Body"], decode_events(m["Body"])) for m in messages]


@dataclass
class Outcome:
    stored: int
    in_dlq: int
    customers: int
    dlq_ids: set[str] = field(default_factory=set)


def expected_aggregates(items: Sequence[StoredFeedback]) -> dict[str, int]:
    """A profile's counters recounted from its stored feedback (independently of store/profiles.py)."""
    counts: Counter[str] = Counter()
    for item in items:
        counts["feedback_count"] += 1
        counts[f"channel_{item.channel}"] += 1
        if item.sentiment is not None:
            counts[f"sentiment_{item.sentiment}"] += 1
        if item.sentiment_score is not None:
            counts["sentiment_scored"] += 1
        if item.rating is not None and item.rating_scale in ("nps", "csat"):
            counts[f"rating_{item.rating_scale}_count"] += 1
            counts[f"rating_{item.rating_scale}_sum"] += item.rating
    return {key: value for key, value in counts.items() if value}


def profile_counters(profile: dict[str, Any]) -> dict[str, int]:
    return {
        key: value
        for key, value in profile.items()
        if key.startswith(("feedback_count", "channel_", "sentiment_", "rating_"))
        and key != "sentiment_score_sum"
        and isinstance(value, int)
        and value != 0
    }


def _last(items: Iterable[StoredFeedback]) -> StoredFeedback | None:
    """The item that occurred last; the greater feedback id among those that occurred at the same time."""
    return max(items, key=lambda item: (item.occurred_at, item.feedback_id), default=None)


def expected_profile(items: Sequence[StoredFeedback]) -> dict[str, Any]:
    """Everything a profile says, recounted from its stored feedback (independently of store/profiles.py): the
    counters, the exact score sum, the channels, emails, handles and channel user ids, first and last seen
    (the earliest and latest `occurred_at`), and the latest NPS, CSAT and name (of the item that occurred
    last)."""
    facts: dict[str, Any] = dict(expected_aggregates(items))
    scores = [Decimal(str(item.sentiment_score)) for item in items if item.sentiment_score is not None]
    if scores:
        facts["sentiment_score_sum"] = float(sum(scores))
    for name, members in (
        ("channels", {str(item.channel) for item in items}),
        ("emails", {item.author.email.lower() for item in items if item.author.email}),
        ("handles", {item.author.handle for item in items if item.author.handle}),
        (
            "user_ids",
            {f"{i.source_id}#{i.author.channel_user_id}" for i in items if i.author.channel_user_id},
        ),
    ):
        if members:
            facts[name] = members
    if items:
        facts["first_seen"] = min(item.occurred_at for item in items).isoformat()
        facts["last_seen"] = max(item.occurred_at for item in items).isoformat()
    for scale in ("nps", "csat"):
        rated = _last(item for item in items if item.rating is not None and item.rating_scale == scale)
        if rated is not None:
            facts[f"latest_{scale}"] = {"rating": rated.rating, "at": rated.occurred_at.isoformat()}
    named = _last(item for item in items if item.author.name)
    if named is not None:
        facts["display_name"] = named.author.name
    return facts


def profile_facts(profile: dict[str, Any]) -> dict[str, Any]:
    """What a stored profile says, in the shape of `expected_profile`."""
    facts: dict[str, Any] = dict(profile_counters(profile))
    if "sentiment_score_sum" in profile:
        facts["sentiment_score_sum"] = float(profile["sentiment_score_sum"])
    for name in ("channels", "emails", "handles", "user_ids"):
        if profile.get(name):
            facts[name] = set(profile[name])
    for name in ("first_seen", "last_seen", "latest_nps", "latest_csat", "display_name"):
        if profile.get(name) is not None:
            facts[name] = profile[name]
    return facts


def assert_profiles_match_a_recount(items: Iterable[dict[str, Any]]) -> int:
    """Every live profile among the table's `items` says what a recount of its customer's stored feedback
    says; feedback never points at a customer without one. Returns how many live profiles there are."""
    items = list(items)
    by_customer: dict[str, list[StoredFeedback]] = defaultdict(list)
    for item in items:
        if item.get(RECORD_TYPE) == feedback_store.ITEM_TYPE and item.get("customer_id"):
            by_customer[item["customer_id"]].append(feedback_store.from_item(item))
    profiles = {
        p["customer_id"]: p for p in items if p.get(RECORD_TYPE) == PROFILE and not p.get("merged_into")
    }
    assert set(by_customer) <= set(profiles), "feedback points at a customer without a live profile"
    for customer_id, profile in profiles.items():
        recount = expected_profile(by_customer.get(customer_id, []))
        assert profile_facts(profile) == recount, f"{customer_id}: {profile_facts(profile)} != {recount}"
    return len(profiles)


def check_exactly_once(
    accepted: Iterable[str], dlq_url: str, events: dict[str, FeedbackEvent] | None = None
) -> Outcome:
    """Every accepted feedback id is stored exactly once or sits in the DLQ with its full payload; nothing
    else is stored; every live profile equals a recount of the feedback stored for it."""
    accepted = set(accepted)
    items = scan_all()
    feedback = [feedback_store.from_item(i) for i in items if i.get(RECORD_TYPE) == feedback_store.ITEM_TYPE]
    per_delivery = Counter((f.source_id, f.external_id) for f in feedback)
    assert [key for key, n in per_delivery.items() if n > 1] == [], "a delivery stored twice"
    stored = {f.feedback_id for f in feedback}
    assert len(stored) == len(feedback)
    assert stored <= accepted, f"stored without a 2xx: {sorted(stored - accepted)[:5]}"

    in_dlq: set[str] = set()
    for body, dead in dlq_events(dlq_url):
        for event in dead:
            in_dlq.add(event.feedback_id)
            if events is not None and event.feedback_id in events:
                # The payload is intact: the very event that was accepted.
                assert event == events[event.feedback_id], body
    missing = accepted - stored - in_dlq
    assert not missing, f"{len(missing)} accepted items neither stored nor in the DLQ: {sorted(missing)[:5]}"

    live_profiles = assert_profiles_match_a_recount(items)
    return Outcome(
        stored=len(stored), in_dlq=len(in_dlq & accepted), customers=live_profiles, dlq_ids=in_dlq & accepted
    )


class QueueTap:
    """Records every event the ack path hands to SQS (sent or not), by feedback id: the accepted payloads
    the DLQ must hold intact."""

    def __init__(self) -> None:
        self.events: dict[str, FeedbackEvent] = {}
        self.bodies: list[str] = []
        self.requests = 0
        self._lock = threading.Lock()

    def __enter__(self) -> QueueTap:
        events = aws.client("sqs").meta.events
        events.register("provide-client-params.sqs.SendMessage", self._record, unique_id="tap-send")
        events.register("provide-client-params.sqs.SendMessageBatch", self._record, unique_id="tap-batch")
        return self

    def __exit__(self, *exc_info: object) -> None:
        events = aws.client("sqs").meta.events
        events.unregister("provide-client-params.sqs.SendMessage", unique_id="tap-send")
        events.unregister("provide-client-params.sqs.SendMessageBatch", unique_id="tap-batch")

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        bodies = (
            [params["MessageBody"]]
            if "MessageBody" in params
            else [e["MessageBody"] for e in params["Entries"]]
        )
        with self._lock:
            self.requests += 1
            self.bodies += bodies
            for body in bodies:
                for event in decode_events(body):
                    self.events[event.feedback_id] = event


def peek_queue(queue_url: str) -> list[str]:
    """Every message body in the queue, each once, leaving them all visible again."""
    sqs = aws.client("sqs")
    bodies: dict[str, str] = {}
    handles = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            bodies[message["MessageId"]] = message["Body"]
            handles.append(message["ReceiptHandle"])
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles[start : start + 10])
            ],
        )
    return list(bodies.values())


def assert_unavailable(response: Any) -> None:
    """A 503 the sender can act on: Retry-After in seconds and the JSON error shape."""
    assert response.status_code == 503, response.body
    assert int(response.headers["Retry-After"]) > 0
    error = json.loads(response.body)["error"]
    assert error["code"] == "unavailable" and error["message"]


def split_people(client: Any, people: int) -> list[str]:
    """Each person writes twice through the webhook channel (a channel id `p<n>` only) and once through the
    form (the email `p<n>@example.com` only): two customers per person. Returns the accepted ids."""
    accepted = post_webhooks(
        client,
        {
            f"msg_m1_{n}": [
                {"id": f"m1-{n}-{k}", "text": "Great app", "author": {"id": f"p{n}"}} for k in range(2)
            ]
            for n in range(people)
        },
    )
    forms = form_responses(people, seed=31)
    for n, response in enumerate(forms):
        response["email"] = f"p{n}@example.com"
    submitted = submit_forms(client, forms)
    assert not submitted.refused
    return accepted + submitted.accepted


def join_people(client: Any, people: int) -> list[str]:
    """Each person then writes with both the channel id and the email: their two customers are one."""
    return post_webhooks(
        client,
        {
            f"msg_m2_{n}": [
                {
                    "id": f"m2-{n}",
                    "text": "Slow refund",
                    "author": {"id": f"p{n}", "email": f"p{n}@example.com"},
                }
            ]
            for n in range(people)
        },
    )


def split_people_then_queue_their_joins(client: Any, stack: Any, people: int) -> list[str]:
    """A webhook source; `split_people` processed (two customers per person); then `join_people` queued, not
    yet processed: what a merge test then runs under its fault. Returns every accepted id."""
    from app import analyze

    create_webhook_source()
    accepted = split_people(client, people)
    QueueDriver(stack.queue_url, analyze).drain()
    return accepted + join_people(client, people)


def check_people_joined_once(accepted: list[str], people: int, stack: Any, tap: QueueTap) -> Outcome:
    """After `split_people_then_queue_their_joins`: every item stored once, none in the DLQ, and each
    person one customer (see `assert_people_joined`)."""
    outcome = check_exactly_once(accepted, stack.resources.dlq_url, tap.events)
    assert (outcome.stored, outcome.in_dlq) == (people * 4, 0)
    assert_people_joined(people)
    return outcome


def assert_people_joined(people: int) -> None:
    """One live customer per person, holding all four of their items and both identities."""
    from chalicelib.store import customers

    for n in range(people):
        view = customers.view(customers.find_by_email(f"p{n}@example.com"))
        assert view is not None and view.profile["feedback_count"] == 4
        assert {i["identity"] for i in view.identities} == {
            f"email#p{n}@example.com",
            f"{WEBHOOK_SOURCE}#p{n}",
        }
