"""Outbound webhooks: signatures the official Standard Webhooks library verifies, the versioned events built
from stream records (documented in openapi.yaml), subscription filters, and the admin delivery log route."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import botocore.utils
import jsonschema
import pytest
import yaml
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.local.outbound import create_delivery_queues, enable_stream
from chalicelib.models import Channel, RatingScale, Sentiment, ThemeTag
from chalicelib.outbound import deliveries, events, fanout, signing, subscriptions
from chalicelib.outbound.events import EventType
from chalicelib.outbound.subscriptions import Filters, Subscription
from chalicelib.store import dynamo
from chalicelib.store.profiles import PROFILE
from tests.factories import form_event, stored_positive
from tests.fuzz.harness import SPEC_PATH
from tests.outbound_support import stream_record
from tools import webhook_docs

SENT_AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def item(n: int = 1, **changes):
    stored = stored_positive(form_event(f"resp-{n}", text="The delivery was late"))
    return stored.model_copy(update=changes)


# --- signing ----------------------------------------------------------------------------------------------


def test_secrets_are_whsec_base64_of_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and signing.is_secret(secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != signing.new_secret()
    assert not signing.is_secret("whsec_short") and not signing.is_secret("sk_" + secret)


def test_the_official_library_verifies_what_we_sign_and_refuses_a_changed_body():
    secret, body = signing.new_secret(), b'{"type":"feedback.stored","data":{}}'
    headers = signing.headers([secret], "msg_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_the_signature_is_the_specified_hmac():
    """`v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), computed with the standard library."""
    import hashlib
    import hmac

    secret, body = signing.new_secret(), b'{"a":1}'
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, b"msg_2." + str(int(SENT_AT.timestamp())).encode() + b"." + body, hashlib.sha256)
    header = signing.headers([secret], "msg_2", SENT_AT, body)
    assert header["webhook-signature"] == "v1," + base64.b64encode(expected.digest()).decode()
    assert header["webhook-timestamp"] == str(int(SENT_AT.timestamp()))


def test_two_secrets_give_two_space_separated_signatures():
    new, old = signing.new_secret(), signing.new_secret()
    signature = signing.signature_header([new, old], "msg_3", SENT_AT, b"{}")
    assert [part[:3] for part in signature.split(" ")] == ["v1,", "v1,"]
    with pytest.raises(ValueError):
        signing.signature_header([], "msg_3", SENT_AT, b"{}")


# --- events -----------------------------------------------------------------------------------------------


def test_a_stored_item_is_feedback_stored_and_if_negative_feedback_negative():
    positive = events.events_from_stream_record(stream_record(item(1)))
    negative = events.events_from_stream_record(stream_record(item(2, sentiment=Sentiment.NEGATIVE)))
    assert [e.type for e in positive] == [EventType.FEEDBACK_STORED]
    assert [e.type for e in negative] == [EventType.FEEDBACK_STORED, EventType.FEEDBACK_NEGATIVE]
    assert len({e.webhook_id for e in negative}) == 2
    body = json.loads(negative[1].body())
    assert body["type"] == "feedback.negative" and body["version"] == events.PAYLOAD_VERSION
    assert body["data"]["sentiment"] == "NEGATIVE" and "author" not in body["data"]


def test_only_inserts_of_feedback_are_events():
    assert events.events_from_stream_record(stream_record(item(), "MODIFY")) == []
    assert events.events_from_stream_record(stream_record(item(), "REMOVE")) == []
    config = {"eventName": "INSERT", "dynamodb": {"NewImage": dynamo.serialize({"record_type": "FORM"})}}
    assert events.events_from_stream_record(config) == []


def test_a_merge_tombstone_and_an_erasure_record_are_customer_events():
    tombstone = {"record_type": PROFILE, "customer_id": "cus_b", "merged_into": "cus_a"}
    record = {"eventName": "MODIFY", "dynamodb": {"NewImage": dynamo.serialize(tombstone)}}
    [merged] = events.events_from_stream_record(record)
    assert merged.type is EventType.CUSTOMER_MERGED
    assert json.loads(merged.body())["data"] == {"customer_id": "cus_a", "absorbed_customer_id": "cus_b"}
    assert merged.webhook_id == events.events_from_stream_record(record)[0].webhook_id
    erasure = {
        "record_type": "ERASURE",
        "customer_hash": "ab" * 32,
        "requested_at": "2026-12-04T12:00:00+00:00",
        "feedback_deleted": 3,
    }
    [erased] = events.events_from_stream_record(
        {"eventName": "INSERT", "dynamodb": {"NewImage": dynamo.serialize(erasure)}}
    )
    data = json.loads(erased.body())["data"]
    assert erased.type is EventType.CUSTOMER_ERASED and data["feedback_deleted"] == 3
    assert "customer_id" not in data, "the erasure event names nobody"


MERGED_AT = datetime(2026, 12, 4, 12, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "created",
    [
        MERGED_AT.timestamp(),  # Lambda's stream event: epoch seconds
        botocore.utils.parse_timestamp(int(MERGED_AT.timestamp())),  # boto3's GetRecords: a tz-aware datetime
        MERGED_AT.astimezone(timezone(timedelta(hours=-5))),  # another zone, the same instant
        MERGED_AT.replace(tzinfo=None),  # naive: read as UTC
    ],
    ids=["epoch", "boto3", "other-zone", "naive"],
)
def test_a_merge_is_timed_by_its_stream_record_whichever_way_the_time_was_parsed(created):
    tombstone = {"record_type": PROFILE, "customer_id": "cus_b", "merged_into": "cus_a"}
    record = {
        "eventName": "MODIFY",
        "dynamodb": {"NewImage": dynamo.serialize(tombstone), "ApproximateCreationDateTime": created},
    }
    [merged] = events.events_from_stream_record(record)
    assert merged.timestamp == MERGED_AT and merged.timestamp.tzinfo is not None
    assert json.loads(merged.body())["timestamp"] == "2026-12-04T12:30:05Z"


def test_a_merge_record_read_from_the_stream_with_boto3_is_an_event(stack):
    """GetRecords as boto3 returns it (no Lambda in between): its time is a datetime, not epoch seconds."""
    from chalicelib.config import settings
    from chalicelib.local.outbound import streams_client

    stream_arn = enable_stream()
    streams = streams_client()
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
    )["ShardIterator"]
    tombstone = {"pk": "CUSTOMER#cus_b", "sk": "PROFILE", "record_type": PROFILE}
    tombstone |= {"customer_id": "cus_b", "merged_into": "cus_a"}
    aws.client("dynamodb").put_item(TableName=settings().table_name, Item=dynamo.serialize(tombstone))
    (record,) = streams.get_records(ShardIterator=iterator)["Records"]
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], datetime)
    [merged] = events.events_from_stream_record(record)
    assert merged.type is EventType.CUSTOMER_MERGED
    assert abs(merged.timestamp - datetime.now(UTC)) < timedelta(minutes=5)


def test_every_event_type_is_documented_with_the_schemas_its_model_gives():
    """openapi.yaml's x-webhooks and the events' schemas are what tools/webhook_docs derives from the models
    now (`python -m tools.webhook_docs` rewrites them): a model changed without the file fails here."""
    text = SPEC_PATH.read_text(encoding="utf-8")
    assert webhook_docs.rewritten(text) == text, "run `python -m tools.webhook_docs`"
    spec = yaml.safe_load(text)
    documented = spec["x-webhooks"]
    assert set(documented) == {t.value for t in EventType}
    for event_type, model in events.DATA_MODELS.items():
        operation = documented[event_type.value]["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header" and p["required"]}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}, event_type
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        data_ref = schema["allOf"][1]["properties"]["data"]["$ref"].rsplit("/", 1)[1]
        documented_fields = set(spec["components"]["schemas"][data_ref]["properties"])
        assert documented_fields == set(model.model_fields), event_type


def test_a_model_that_changes_changes_its_documented_schema():
    class WithMore(events.CustomerMergedData):
        merged_at: datetime

    class Optional(events.CustomerMergedData):
        note: str | None = None

    assert webhook_docs.data_schema(WithMore)["required"] == [
        "customer_id",
        "absorbed_customer_id",
        "merged_at",
    ]
    assert webhook_docs.data_schema(WithMore)["properties"]["merged_at"] == {
        "type": "string",
        "format": "date-time",
    }
    # Left out of the body when None (exclude_none): optional, never null.
    assert "note" not in webhook_docs.data_schema(Optional)["required"]
    assert webhook_docs.data_schema(Optional)["properties"]["note"] == {"type": "string"}


def _bodies() -> dict[EventType, bytes]:
    stored = item(
        sentiment=Sentiment.NEGATIVE,
        rating=3,
        rating_scale=RatingScale.NPS,
        themes=[ThemeTag(id="delivery", sentiment=Sentiment.NEGATIVE, evidence="late")],
    )
    feedback = {event.type: event.body() for event in events.feedback_events(stored)}
    merged = events.OutboundEvent(
        type=EventType.CUSTOMER_MERGED,
        subject="b>a",
        timestamp=datetime(2026, 12, 4, tzinfo=UTC),
        data=events.CustomerMergedData(customer_id="cus_a", absorbed_customer_id="cus_b"),
    )
    erased = events.OutboundEvent(
        type=EventType.CUSTOMER_ERASED,
        subject="x",
        timestamp=datetime(2026, 12, 4, tzinfo=UTC),
        data=events.CustomerErasedData(
            customer_hash="ab" * 32, requested_at=datetime(2026, 12, 4, tzinfo=UTC), feedback_deleted=2
        ),
    )
    alert = events.alert_event(
        events.AlertTriggeredData(
            alert_id="al_1",
            rule_id="r_1",
            rule_kind="spike",
            summary="12 negative in the last hour",
            fired_at=datetime(2026, 12, 4, tzinfo=UTC),
            top_themes=[events.ThemeCount(theme="delivery", items=7)],
            region="eu",  # an alert's extra fields are allowed
        )
    )
    return {**feedback, merged.type: merged.body(), erased.type: erased.body(), alert.type: alert.body()}


def test_every_event_body_the_code_sends_validates_against_its_documented_schema():
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    bodies = _bodies()
    assert set(bodies) == set(EventType)
    for event_type, body in bodies.items():
        operation = spec["x-webhooks"][event_type.value]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        validator = jsonschema.Draft7Validator({**schema, "components": spec["components"]})
        validator.validate(json.loads(body))
        # A body of another type, or data the model would refuse, does not validate.
        wrong = {**json.loads(body), "type": "feedback.other"}
        assert not validator.is_valid(wrong), event_type
    feedback_schema = spec["x-webhooks"]["feedback.stored"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    validator = jsonschema.Draft7Validator({**feedback_schema["schema"], "components": spec["components"]})
    body = json.loads(bodies[EventType.FEEDBACK_STORED])
    assert not validator.is_valid({**body, "data": {**body["data"], "unexpected": 1}})
    assert not validator.is_valid({**body, "data": {**body["data"], "sentiment": None}})


# --- filters ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        ({}, True),
        ({"forms": ["demo"]}, True),
        ({"forms": ["other"]}, False),
        ({"sources": ["demo"]}, True),
        ({"channels": ["slack"]}, False),
        ({"sentiments": ["NEGATIVE"]}, True),
        ({"sentiments": ["POSITIVE"]}, False),
        ({"themes": ["delivery"]}, True),
        ({"themes": ["pricing"]}, False),
        ({"rating_scale": "nps", "rating_max": 6}, True),
        ({"rating_scale": "nps", "rating_min": 9}, False),
        ({"rating_scale": "csat"}, False),
    ],
)
def test_filters(filters, matches):
    stored = item(
        sentiment=Sentiment.NEGATIVE,
        rating=3,
        rating_scale=RatingScale.NPS,
        themes=[ThemeTag(id="delivery", sentiment=Sentiment.NEGATIVE, evidence="late")],
    )
    assert stored.channel is Channel.FORM
    assert Filters.model_validate(filters).matches(stored) is matches


def test_a_band_upside_down_or_an_unknown_filter_is_refused():
    with pytest.raises(ValueError):
        Filters(rating_min=9, rating_max=2)
    with pytest.raises(ValueError):
        Filters.model_validate({"colour": ["red"]})


def test_subscription_urls_and_event_types_are_checked():
    for url in ("ftp://example.com/x", "https://user:pw@example.com/x", "not a url"):
        with pytest.raises(ValueError):
            Subscription(subscription_id="sub_abcdefghijkmnop", url=url, event_types=["feedback.stored"])
    with pytest.raises(ValueError):
        Subscription(subscription_id="sub_abcdefghijkmnop", url="https://a.example", event_types=["nope"])
    with pytest.raises(ValueError):
        Subscription(subscription_id="sub_abcdefghijkmnop", url="https://a.example", event_types=[])


# --- the stream as moto keeps it --------------------------------------------------------------------------


def test_items_written_to_the_table_reach_the_queue_once_per_subscribed_event(stack, monkeypatch):
    """Through the real write path and the table's stream: 3 stored items, 2 subscriptions (one for
    everything, one for negative items from the demo form) → 3 + 1 deliveries."""
    from chalicelib.local.outbound import StreamPoller
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution

    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    _, queue_url = create_delivery_queues()
    monkeypatch.setenv("DELIVERY_QUEUE_URL", queue_url)
    subscriptions.clear_cache()
    subscriptions.create("http://127.0.0.1:9/all", ["feedback.stored"])
    subscriptions.create(
        "http://127.0.0.1:9/negative", ["feedback.negative"], {"forms": ["demo"], "sentiments": ["NEGATIVE"]}
    )
    poller = StreamPoller(enable_stream(), fanout.handle_stream_batch)
    items = [item(1), item(2, sentiment=Sentiment.NEGATIVE), item(3)]
    feedback_write.save_feedback(items, Resolution(), {})
    feedback_write.save_feedback(items, Resolution(), {})  # a redelivery: stored once, so no second event
    poller.poll_once()
    sqs, queued = aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        queued += [json.loads(m["Body"]) for m in messages]
    assert sorted(q["event_type"] for q in queued) == ["feedback.negative"] + ["feedback.stored"] * 3
    subscriptions.clear_cache()


# --- GET /subscriptions/{id}/deliveries -------------------------------------------------------------------


def test_the_delivery_log_route_needs_admin_and_answers_404_and_400(client):
    subscription, _ = subscriptions.create("https://hooks.example.com/in", ["feedback.stored"])
    entry = deliveries.DeliveryRecord(
        subscription_id=subscription.subscription_id,
        webhook_id="msg_1",
        event_type="feedback.stored",
        enqueued_at=SENT_AT.isoformat(),
        status=deliveries.Status.RETRYING,
        attempts=2,
        updated_at=SENT_AT.isoformat(),
        last_status_code=500,
        latency_ms=12,
        last_error="HTTP 500",
    )
    deliveries.record(entry, SENT_AT)
    admin, _ = tokens.create_token("ops", ["admin"])
    reader, _ = tokens.create_token("bi", ["read"])
    path = f"/subscriptions/{subscription.subscription_id}/deliveries"

    def get(url: str, token: str):
        return client.http.get(url, headers={"Authorization": f"Bearer {token}"})

    assert get(path, reader).status_code == 403
    response = get(path, admin)
    assert response.status_code == 200
    [listed] = response.json_body["deliveries"]
    assert listed["status"] == "retrying" and listed["attempts"] == 2 and listed["last_status_code"] == 500
    assert "url" not in json.dumps(response.json_body), "the endpoint URL may hold a secret"
    assert get("/subscriptions/sub_unknownunknown1/deliveries", admin).json_body["error"]["code"] == (
        "subscription_not_found"
    )
    for bad in ("?limit=0", "?limit=x", "?colour=red"):
        assert get(path + bad, admin).status_code == 400


def test_an_alert_is_published_to_the_subscriptions_of_alert_triggered_whatever_their_filters(
    stack, monkeypatch
):
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    _, queue_url = create_delivery_queues()
    monkeypatch.setenv("DELIVERY_QUEUE_URL", queue_url)
    subscriptions.clear_cache()
    wanted, _ = subscriptions.create("http://127.0.0.1:9/alerts", ["alert.triggered"], {"forms": ["demo"]})
    subscriptions.create("http://127.0.0.1:9/items", ["feedback.stored"])
    fired = events.AlertTriggeredData(
        alert_id="alr_1", rule_id="rule_spike", rule_kind="spike", summary="12 complaints", fired_at=SENT_AT
    )
    assert fanout.publish([events.alert_event(fired)]) == 1
    [message] = aws.client("sqs").receive_message(QueueUrl=queue_url)["Messages"]
    queued = json.loads(message["Body"])
    assert queued["subscription_id"] == wanted.subscription_id and queued["event_type"] == "alert.triggered"
    assert json.loads(queued["body"])["data"]["rule_kind"] == "spike"
    assert queued["webhook_id"] == events.alert_event(fired).webhook_id, "one id per alert"
    subscriptions.clear_cache()
