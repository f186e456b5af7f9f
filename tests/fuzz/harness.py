"""The fuzz run's world: a moto stack seeded with forms, sources, tokens, customers and an export, the spec
bound to the in-process gateway, and the tally every generated case is recorded in.

Profiles (`FUZZ_PROFILE`): `bounded` (default, part of `make test`: derandomized, ~1,000 cases) and `full`
(`make fuzz`: at least 10,000 cases over every operation, seeded from the clock unless FUZZ_SEED is set).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.schemas import BaseSchema

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.channels import sources
from chalicelib.channels.registry import CHANNELS
from chalicelib.channels.sources import SourceConfig
from chalicelib.config import settings
from chalicelib.export.day import MANIFEST_NAME, partition_prefix
from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.models import Channel, FeedbackEvent, RatingScale
from tests.fuzz.gateway import ChaliceWsgi

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
INGEST_OPERATIONS = {"POST /forms/{form_id}/responses", "POST /webhooks/{source_id}"}


@dataclass(frozen=True)
class Profile:
    name: str
    examples_per_operation: int  # hypothesis max_examples for each operation
    min_total_cases: int  # the run fails below this many executed cases
    derandomize: bool


PROFILES = {
    "bounded": Profile("bounded", examples_per_operation=60, min_total_cases=500, derandomize=True),
    "full": Profile("full", examples_per_operation=1000, min_total_cases=10_000, derandomize=False),
}


def profile() -> Profile:
    """The profile FUZZ_PROFILE names (bounded by default)."""
    name = os.environ.get("FUZZ_PROFILE", "bounded").strip().lower() or "bounded"
    if name not in PROFILES:
        raise ValueError(f"FUZZ_PROFILE must be one of {', '.join(PROFILES)}, got {name!r}")
    return PROFILES[name]


def load_schema(app: ChaliceWsgi | None = None) -> BaseSchema:
    """openapi.yaml, bound to the in-process gateway when given."""
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    if app is not None:
        schema.app = app
    return schema


@dataclass
class Tally:
    """What the run did: cases and statuses per operation, and what the ingest routes acknowledged."""

    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    form_ack_ids: list[str] = field(default_factory=list)  # 202 queued: the feedback ids answered
    hosted_acks: int = 0  # 303 from a hosted-page post: one queued event, no id in the answer
    webhook_ack_events: int = 0  # sum of `events` over webhook 200s
    erased_customers: list[str] = field(default_factory=list)
    written_forms: set[str] = field(default_factory=set)  # forms a PUT/PATCH with the admin token changed

    @property
    def total(self) -> int:
        return sum(sum(counter.values()) for counter in self.statuses.values())

    def by_status(self) -> Counter[int]:
        overall: Counter[int] = Counter()
        for counter in self.statuses.values():
            overall.update(counter)
        return overall

    def expected_queued_events(self) -> int:
        return len(self.form_ack_ids) + self.hosted_acks + self.webhook_ack_events

    def report(self) -> str:
        head = f"schemathesis fuzz ({profile().name} profile): {self.total} cases"
        lines = [f"{head} over {len(self.statuses)} operations"]
        for label in sorted(self.statuses):
            counts = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses[label].items()))
            lines.append(f"  {label:<40} {sum(self.statuses[label].values()):>6}  ({counts})")
        overall = ", ".join(f"{status}: {n}" for status, n in sorted(self.by_status().items()))
        lines.append(f"  per status: {overall}")
        lines.append(
            f"  ingest acks: {len(self.form_ack_ids)} form 202s with an id, {self.hosted_acks} hosted 303s, "
            f"{self.webhook_ack_events} webhook events"
        )
        return "\n".join(lines)


TALLY = Tally()


@dataclass
class World:
    """The seeded stack the fuzzer runs against."""

    app: ChaliceWsgi
    queue_url: str
    dlq_url: str
    tokens: dict[str, str]  # label → full Authorization header value
    form_ids: list[str]
    source_ids: list[str]
    telegram_secret: dict[str, str]  # the headers that authenticate a delivery to the fuzz telegram source
    trustpilot_query: dict[str, str]  # the query that authenticates one to the fuzz trustpilot source
    meta_verify_token: str
    customer_ids: list[str]
    erasable_customer: str
    export_day: str
    snapshot: dict[tuple[str, str], dict[str, Any]]
    erasable_keys: set[tuple[str, str]]
    erasable_counters: set[tuple[str, str]]  # the counter items an erasure of that customer moves


FUZZ_TELEGRAM = "fuzz-telegram"
FUZZ_TRUSTPILOT = "fuzz-trustpilot"
FUZZ_META = "fuzz-meta"
FUZZ_X = "fuzz-x"
TELEGRAM_SECRETS = {"secret_token": "fuzz_telegram_secret_0123456789"}
TRUSTPILOT_SECRETS = {"token": "fuzz-trustpilot-token-0123456789"}
META_VERIFY_TOKEN = "fuzz-meta-verify-token"


def authentication(channel_type: str, secrets: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query the platform authenticates a delivery with (the channel's own `sign`), for a
    scheme that does not cover the body, so they hold for every body the fuzzer generates."""
    channel = CHANNELS[channel_type]
    assert not channel.signs_body, f"{channel_type} signs the body: sign each generated body instead"
    signed = channel.sign(b"", secrets, datetime.now(UTC))
    return signed.headers, signed.query


def seed_sources() -> list[str]:
    """Sources whose secrets the fuzzer knows (so a share of deliveries get past verification)."""
    from chalicelib.local.provision import create_demo_sources

    sources.save(
        SourceConfig(source_id=FUZZ_TELEGRAM, type="telegram", name="Fuzz Telegram"), TELEGRAM_SECRETS
    )
    sources.save(
        SourceConfig(source_id=FUZZ_TRUSTPILOT, type="trustpilot", name="Fuzz Trustpilot"), TRUSTPILOT_SECRETS
    )
    sources.save(
        SourceConfig(source_id=FUZZ_META, type="meta", name="Fuzz Meta"),
        {"app_secret": "fuzz-app-secret", "verify_token": META_VERIFY_TOKEN},
    )
    sources.save(
        SourceConfig(source_id=FUZZ_X, type="x", name="Fuzz X"), {"consumer_secret": "fuzz-x-secret"}
    )
    demo = [source.source_id for source in create_demo_sources()]
    return [FUZZ_TELEGRAM, FUZZ_TRUSTPILOT, FUZZ_META, FUZZ_X, *demo]


def seed_forms() -> list[str]:
    form_store.save(
        FormConfig(
            form_id="csat-shop",
            name="Shop CSAT",
            rating_scale=RatingScale.CSAT,
            allowed_origins=["https://shop.example.com"],
            require_email=True,
        )
    )
    form_store.save(FormConfig(form_id="stars", name="Stars", rating_scale=RatingScale.STARS))
    return ["demo", "csat-shop", "stars"]


def seed_tokens() -> dict[str, str]:
    tokens.clear_cache()
    headers = {}
    for label, scopes in {
        "read": ["read"],
        "export": ["export"],
        "erase": ["erase"],
        "admin": ["admin"],  # the form writer and the delivery log, past their 401/403
        "all": ["read", "export", "erase"],
    }.items():
        token, _ = tokens.create_token(f"fuzz {label}", scopes)
        headers[label] = f"Bearer {token}"
    revoked, info = tokens.create_token("fuzz revoked", ["read", "export", "erase"])
    tokens.revoke_token(info.token_id)
    headers["revoked"] = f"Bearer {revoked}"
    headers["garbage"] = "Bearer fbk_0123456789ab_" + "A" * 43
    headers["basic"] = "Basic dXNlcjpwYXNz"
    return headers


def seed_feedback() -> tuple[list[str], str]:
    """A few customers with feedback stored today; returns (customer ids, one to be erased)."""
    from tests.test_customers import customer_of, event, process

    now = datetime.now(UTC)
    events: list[FeedbackEvent] = [
        event("fz-a", email="ann@example.com", text="Love it", rating=10, scale=RatingScale.NPS),
        event("fz-b", email="ann@example.com", text="Awful, broken", minutes=1),
        event("fz-c", user="u-1", source="src_chat", channel=Channel.WEBHOOK, text="Great help", minutes=2),
        event("fz-d", email="bob@example.com", text="Terrible and slow", minutes=3),
        event("fz-e", email="erase.me@example.com", text="Please forget me", minutes=4),
    ]
    events = [e.model_copy(update={"occurred_at": now, "received_at": now}) for e in events]
    process(*events)
    customer_ids = sorted({customer_of(e) for e in events if customer_of(e)})
    return customer_ids, customer_of(events[-1])


def seed_export(day: date) -> None:
    """A manifest (and its one file) for `day`, as the nightly export writes them."""
    s3, bucket, prefix = aws.client("s3"), settings().bucket_name, partition_prefix(day)
    s3.put_object(Bucket=bucket, Key=prefix + "feedback.jsonl", Body=b"{}\n")
    manifest = {
        "date": day.isoformat(),
        "generated_at": datetime.now(UTC).isoformat(),
        "counts": {"feedback": 1},
        "files": [
            {
                "key": prefix + "feedback.jsonl",
                "rows": 1,
                "bytes": 3,
                "sha256": "0" * 64,
                "content_type": "application/x-ndjson",
            }
        ],
    }
    s3.put_object(Bucket=bucket, Key=prefix + MANIFEST_NAME, Body=json.dumps(manifest).encode())


def table_snapshot() -> dict[tuple[str, str], dict[str, Any]]:
    """Every item in the table by (pk, sk)."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    client = aws.client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": settings().table_name}
    while True:
        page = client.scan(**kwargs)
        for item in page["Items"]:
            items[(item["pk"]["S"], item["sk"]["S"])] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def queued_events(queue_url: str) -> list[dict[str, Any]]:
    """Every event in every message of a queue (messages are received and left in flight)."""
    sqs = aws.client("sqs")
    events: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600).get(
            "Messages", []
        )
        if not messages:
            return events
        for message in messages:
            events.extend(json.loads(message["Body"])["events"])


def drain(queue_url: str) -> None:
    """Delete every message of a queue."""
    aws.client("sqs").purge_queue(QueueUrl=queue_url)
