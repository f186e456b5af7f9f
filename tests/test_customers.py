"""Customer 360: identity resolution, profile aggregates counted once, automatic and manual links, and
profiles that depend on when feedback occurred, not on when it arrived or which customer absorbed which."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import aws
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.config import settings
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.models import (
    Analysis,
    Author,
    Channel,
    FeedbackEvent,
    Kind,
    RatingScale,
    Sentiment,
    SentimentScores,
    StoredFeedback,
)
from chalicelib.store import customers, dynamo, feedback_write, identities, schema
from chalicelib.store import feedback as feedback_store
from chalicelib.store.merge import merge
from tests.faults.harness import expected_profile, profile_facts
from tests.faults.injection import Chooser, FaultInjector, transaction_cancelled

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def event(
    external_id: str,
    *,
    email=None,
    user=None,
    source="demo",
    channel=Channel.FORM,
    text="Great service",
    rating=None,
    scale=None,
    minutes=0,
    name=None,
) -> FeedbackEvent:
    return FeedbackEvent.create(
        source_id=source,
        external_id=external_id,
        channel=channel,
        kind=Kind.FORM_RESPONSE if channel == Channel.FORM else Kind.MESSAGE,
        text=text,
        author=Author(email=email, channel_user_id=user, name=name),
        rating=rating,
        rating_scale=scale,
        occurred_at=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(minutes=minutes),
    )


def process(*events: FeedbackEvent) -> processing.BatchReport:
    """Run the analyze path over one SQS record per event."""
    bodies = [body for e in events for body in encode_events([e])]
    report = processing.analyze_and_store(bodies, LexiconAnalyzer())
    assert report.errors == [None] * len(bodies)
    return report


def customer_of(e: FeedbackEvent) -> str:
    return feedback_store.get(e.feedback_id).customer_id


def test_one_email_across_channels_is_one_customer_with_aggregates(stack):
    form = event("f1", email="Ana@Example.com", rating=9, scale=RatingScale.NPS, text="Love it", name="Ana")
    chat = event(
        "w1",
        email="ana@example.com",
        user="u-1",
        source="src_chat",
        channel=Channel.WEBHOOK,
        text="Terrible wait, awful",
        minutes=5,
    )
    process(form)
    process(chat)

    customer = customer_of(form)
    assert customer == customer_of(chat) == identities.customer_id_for("email#ana@example.com")
    summary = customers.summarize(customers.get_profile(customer))
    assert summary["feedback_count"] == 2
    assert summary["feedback_by_channel"] == {"form": 1, "webhook": 1}
    assert summary["sentiment_counts"] == {"POSITIVE": 1, "NEGATIVE": 1}
    assert summary["channels"] == ["form", "webhook"]
    assert summary["emails"] == ["ana@example.com"]
    assert summary["latest_nps"] == {"rating": 9, "at": form.occurred_at.isoformat()}
    assert summary["first_seen"] == form.occurred_at.isoformat()
    assert summary["last_seen"] == chat.occurred_at.isoformat()
    assert summary["display_name"] == "Ana"
    assert -1 <= summary["mean_sentiment_score"] <= 1
    # The channel identity now points at the same customer.
    assert identities.lookup_identities(["src_chat#u-1"]) == {"src_chat#u-1": customer}


def test_redelivery_and_replay_never_double_count(stack):
    first = event("f1", email="bo@example.com", rating=3, scale=RatingScale.CSAT)
    process(first)
    report = process(first, first)

    assert report.duplicates == 1
    assert customers.get_profile(customer_of(first))["feedback_count"] == 1


def test_concurrent_first_events_from_one_identity_make_one_customer(stack):
    a, b = event("a", email="cy@example.com"), event("b", email="cy@example.com", minutes=1)
    # Both invocations resolve before either writes, as two concurrent Lambdas would.
    resolution_a, resolution_b = identities.resolve([a]), identities.resolve([b])
    assert resolution_a.customers[a.feedback_id] == resolution_b.customers[b.feedback_id]

    for e, resolution in ((a, resolution_a), (b, resolution_b)):
        item = StoredFeedback.from_event(e, _analysis(), T0, resolution.customers[e.feedback_id])
        assert feedback_write.save_feedback([item], resolution, {}).created == [e.feedback_id]

    assert customers.get_profile(customer_of(a))["feedback_count"] == 2
    assert stack.table_item_count("PROFILE") == 1
    # The identity is the profile's key (identities.py): no identity item, no redirect.
    assert stack.table_item_count("IDENTITY") == stack.table_item_count("REDIRECT") == 0


def test_an_identity_claimed_meanwhile_by_another_customer_is_followed(stack):
    process(event("c0", user="u-9", source="src_chat", channel=Channel.WEBHOOK))
    known = customer_of(event("c0", user="u-9", source="src_chat", channel=Channel.WEBHOOK))
    late = event("late", email="di@example.com", minutes=2)
    stale = identities.resolve([late])  # resolved before the next batch links the email to `known`
    process(
        event(
            "both", email="di@example.com", user="u-9", source="src_chat", channel=Channel.WEBHOOK, minutes=1
        )
    )

    item = StoredFeedback.from_event(late, _analysis(), T0, stale.customers[late.feedback_id])
    outcome = feedback_write.save_feedback([item], stale, {})

    assert outcome.created == [late.feedback_id]
    assert customer_of(late) == known
    assert customers.get_profile(known)["feedback_count"] == 3
    # No customer was made for the email: its derived key holds only the redirect to `known`.
    assert customers.get_profile(identities.customer_id_for("email#di@example.com")) == {"merged_into": known}


def test_a_shared_email_links_two_customers_automatically(stack):
    by_email = event("e1", email="ed@example.com", rating=10, scale=RatingScale.NPS)
    by_chat = event("c1", user="u-7", source="src_chat", channel=Channel.WEBHOOK, text="Slow", minutes=1)
    process(by_email)
    process(by_chat)
    email_customer, chat_customer = customer_of(by_email), customer_of(by_chat)
    assert email_customer != chat_customer

    both = event(
        "b1", email="ed@example.com", user="u-7", source="src_chat", channel=Channel.WEBHOOK, minutes=2
    )
    process(both)

    assert {customer_of(by_email), customer_of(by_chat), customer_of(both)} == {email_customer}
    profile = customers.get_profile(email_customer)
    assert profile["feedback_count"] == 3
    assert profile["channel_webhook"] == 2
    assert customers.get_profile(chat_customer)["merged_into"] == email_customer
    view = customers.view(email_customer)
    assert {f.feedback_id for f in view.recent_feedback} == {
        by_email.feedback_id,
        by_chat.feedback_id,
        both.feedback_id,
    }
    assert {i["identity"] for i in view.identities} == {"email#ed@example.com", "src_chat#u-7"}


def test_merging_twice_adds_the_aggregates_once(stack):
    a, b = event("a", email="fa@example.com"), event("b", email="fb@example.com")
    process(a, b)

    first = merge(customer_of(a), customer_of(b))
    second = merge(customer_of(a), customer_of(b))

    assert (first.aggregates_added, first.feedback_moved, first.identities_moved) == (True, 1, 1)
    assert second.aggregates_added is False
    assert customers.get_profile(customer_of(a))["feedback_count"] == 2
    assert customers.find_by_email("FB@example.com") == customer_of(a)


def test_profile_and_recent_feedback_come_from_one_query_and_one_batch_get(stack):
    events = [event(f"g{i}", email="gi@example.com", minutes=i) for i in range(5)]
    process(*events)
    customer = customer_of(events[0])
    calls: Counter[str] = Counter()
    fetched: list[int] = []

    def count(event_name, params, **kwargs):
        calls.update([event_name.rsplit(".", 1)[1]])
        fetched.extend(len(spec["Keys"]) for spec in params.get("RequestItems", {}).values())

    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb", count)

    view = customers.view(customer, recent=3)

    assert calls == Counter({"Query": 1, "BatchGetItem": 1})
    assert fetched == [1 + 3]  # the profile and the 3 newest items, not all 5; the identity is the profile's
    assert view.profile["feedback_count"] == 5
    assert [f.external_id for f in view.recent_feedback] == ["g4", "g3", "g2"]  # newest first
    assert all(f.text and f.sentiment for f in view.recent_feedback)  # whole items, read by key
    assert [i["identity"] for i in view.identities] == ["email#gi@example.com"]


def test_customer_index_holds_keys_record_type_channel_and_sentiment_only(stack):
    process(event("k1", email="keys@example.com"))
    response = aws.client("dynamodb").query(
        TableName=settings().table_name,
        IndexName=schema.CUSTOMER_INDEX,
        KeyConditionExpression="#pk = :customer",
        ExpressionAttributeNames={"#pk": schema.CUSTOMER_PK},
        ExpressionAttributeValues={":customer": {"S": schema.customer_partition(customer_of(event("k1")))}},
    )
    keys = {schema.PK, schema.SK, schema.CUSTOMER_PK, schema.CUSTOMER_SK}
    # The feedback only: the profile is read by its key and names the identities, so neither has an entry.
    assert sorted(e["record_type"]["S"] for e in response["Items"]) == ["FEEDBACK"]
    for entry in response["Items"]:
        assert set(entry) <= keys | set(schema.CUSTOMER_INDEX_ATTRIBUTES)
    feedback_entry = next(e for e in response["Items"] if e["record_type"]["S"] == "FEEDBACK")
    assert set(feedback_entry) == keys | {"record_type", "channel", "sentiment"}


def test_anonymous_feedback_has_no_customer(stack):
    anonymous = event("anon")
    process(anonymous)

    assert customer_of(anonymous) is None
    assert stack.table_item_count("PROFILE") == 0


def _analysis():
    from chalicelib.models import Analysis, Sentiment

    return Analysis(sentiment=Sentiment.NEUTRAL, analyzer="lexicon", analyzed_at=T0)


# --- order of arrival and merges (issue 11, item 4; end to end in test_profile_order.py) --------------------


def assert_profile_is_a_recount(customer_id: str) -> dict:
    """The customer's profile says what a recount of their stored feedback says (tests/faults/harness.py)."""
    items = customers.customer_items(customer_id)
    feedback = [feedback_store.from_item(i) for i in items if i["record_type"] == "FEEDBACK"]
    profile = customers.get_profile(customer_id)
    assert profile_facts(profile) == expected_profile(feedback)
    return profile


def scored(e: FeedbackEvent, positive: float) -> StoredFeedback:
    analysis = Analysis(
        sentiment=Sentiment.POSITIVE,
        scores=SentimentScores(positive=positive, negative=0.0, neutral=1 - positive, mixed=0.0),
        analyzer="lexicon",
        analyzed_at=T0,
    )
    return StoredFeedback.from_event(e, analysis, T0)


def test_the_score_sum_is_exact_whatever_the_batching(stack):
    # 0.1 + 0.2 is 0.30000000000000004 in floats: the sum must not depend on which items share a batch.
    events = [event("s1", email="sum@example.com"), event("s2", email="sum@example.com", minutes=1)]
    resolution = identities.resolve(events)
    items = [
        scored(e, positive).model_copy(update={"customer_id": resolution.customers[e.feedback_id]})
        for e, positive in zip(events, (0.1, 0.2), strict=True)
    ]
    feedback_write.save_feedback(items, resolution, {})

    profile = assert_profile_is_a_recount(customer_of(events[0]))
    assert profile["sentiment_score_sum"] == 0.3


def test_a_merge_takes_each_ordered_value_from_the_item_that_occurred_last(stack):
    by_email = event("m1", email="mo@example.com", rating=9, scale=RatingScale.NPS, name="Mo")
    older = event(
        "m2", user="u-mo", source="src_chat", channel=Channel.WEBHOOK, rating=3, scale=RatingScale.NPS,
        minutes=-3 * 24 * 60,
    )  # fmt: skip
    newer_name = event(
        "m3", user="u-mo", source="src_chat", channel=Channel.WEBHOOK, minutes=10, name="Mo Li"
    )
    process(by_email)
    process(older, newer_name)
    keep, absorb = customer_of(by_email), customer_of(older)

    merge(keep, absorb)

    profile = assert_profile_is_a_recount(keep)
    assert profile["display_name"] == "Mo Li"  # the absorbed customer's name is the newer one
    assert profile["latest_nps"] == {"rating": 9, "at": by_email.occurred_at.isoformat()}
    assert (profile["first_seen"], profile["last_seen"]) == (
        older.occurred_at.isoformat(),
        newer_name.occurred_at.isoformat(),
    )


def _stale_once(monkeypatch, customer_id: str, stale: dict) -> None:
    """get_profile answers `stale` for `customer_id` once: the profile changed after the merge read it."""
    real = customers.get_profile
    answers = [stale]
    monkeypatch.setattr(
        customers, "get_profile", lambda cid: answers.pop() if cid == customer_id and answers else real(cid)
    )


def test_a_merge_never_moves_a_bound_back_when_the_kept_profile_changed_after_it_was_read(stack, monkeypatch):
    first = event("k1", email="ki@example.com")
    other = event("k2", user="u-ki", source="src_chat", channel=Channel.WEBHOOK, minutes=-60)
    process(first, other)
    keep, absorb = customer_of(first), customer_of(other)
    stale_keep = customers.get_profile(keep)
    later = event("k3", email="ki@example.com", minutes=60)
    process(later)  # after the merge read the kept profile
    _stale_once(monkeypatch, keep, stale_keep)

    merge(keep, absorb)

    assert assert_profile_is_a_recount(keep)["last_seen"] == later.occurred_at.isoformat()


def test_a_merge_adds_what_the_absorbed_profile_received_after_it_was_read(stack, monkeypatch):
    first = event("r1", email="ri@example.com")
    other = event("r2", user="u-ri", source="src_chat", channel=Channel.WEBHOOK, minutes=1)
    process(first, other)
    keep, absorb = customer_of(first), customer_of(other)
    stale_absorb = customers.get_profile(absorb)
    process(event("r3", user="u-ri", source="src_chat", channel=Channel.WEBHOOK, minutes=2))
    _stale_once(monkeypatch, absorb, stale_absorb)

    merge(keep, absorb)

    assert assert_profile_is_a_recount(keep)["feedback_count"] == 3


def test_a_merge_cancelled_by_contention_is_tried_again(stack):
    first, other = event("c1", email="co@example.com"), event("c2", email="cp@example.com", minutes=1)
    process(first, other)
    keep, absorb = customer_of(first), customer_of(other)
    conflict = transaction_cancelled(["None", "TransactionConflict"])

    with FaultInjector(
        aws.client("dynamodb"), "TransactWriteItems", conflict, chooser=Chooser(every=1, limit=1), per="call"
    ) as injected:
        report = merge(keep, absorb)

    assert injected.stats.injected >= 1
    assert report.aggregates_added is True
    assert assert_profile_is_a_recount(keep)["feedback_count"] == 2


def test_feedback_for_a_customer_merged_meanwhile_is_counted_by_the_survivor(stack, monkeypatch):
    by_email = event("d1", email="de@example.com")
    by_chat = event("d2", user="u-de", source="src_chat", channel=Channel.WEBHOOK, minutes=1)
    process(by_email, by_chat)
    keep, absorb = customer_of(by_email), customer_of(by_chat)

    def died(*args, **kwargs):
        raise RuntimeError("the merging invocation died before it moved the items")

    # The merge's transaction committed (absorb is a tombstone) but its identities still point to it.
    monkeypatch.setattr(dynamo, "batch_write", died)
    with pytest.raises(RuntimeError):
        merge(keep, absorb)
    monkeypatch.undo()
    late = event("d3", user="u-de", source="src_chat", channel=Channel.WEBHOOK, minutes=2)
    process(late)

    assert customer_of(late) == keep
    assert customers.get_profile(absorb)["feedback_count"] == 1  # the tombstone counted nothing more
    merge(keep, absorb)  # a redelivery finishes it
    assert assert_profile_is_a_recount(keep)["feedback_count"] == 3
