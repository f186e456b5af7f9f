"""Customer 360: identity resolution, profile aggregates counted once, automatic and manual links."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from chalicelib import aws, processing
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.models import Author, Channel, FeedbackEvent, Kind, RatingScale, StoredFeedback
from chalicelib.queue import encode_events
from chalicelib.store import customers
from chalicelib.store import feedback as feedback_store

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
    assert customer == customer_of(chat) == customers.customer_id_for("email#ana@example.com")
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
    assert customers.lookup_identities(["src_chat#u-1"]) == {"src_chat#u-1": customer}


def test_redelivery_and_replay_never_double_count(stack):
    first = event("f1", email="bo@example.com", rating=3, scale=RatingScale.CSAT)
    process(first)
    report = process(first, first)

    assert report.duplicates == 1
    assert customers.get_profile(customer_of(first))["feedback_count"] == 1


def test_concurrent_first_events_from_one_identity_make_one_customer(stack):
    a, b = event("a", email="cy@example.com"), event("b", email="cy@example.com", minutes=1)
    # Both invocations resolve before either writes, as two concurrent Lambdas would.
    resolution_a, resolution_b = customers.resolve([a]), customers.resolve([b])
    assert resolution_a.customers[a.feedback_id] == resolution_b.customers[b.feedback_id]

    for e, resolution in ((a, resolution_a), (b, resolution_b)):
        item = StoredFeedback.from_event(e, _analysis(), T0, resolution.customers[e.feedback_id])
        assert customers.save_feedback([item], resolution).created == [e.feedback_id]

    assert customers.get_profile(customer_of(a))["feedback_count"] == 2
    assert stack.table_item_count("PROFILE") == 1
    assert stack.table_item_count("IDENTITY") == 1


def test_an_identity_claimed_meanwhile_by_another_customer_is_followed(stack):
    process(event("c0", user="u-9", source="src_chat", channel=Channel.WEBHOOK))
    known = customer_of(event("c0", user="u-9", source="src_chat", channel=Channel.WEBHOOK))
    late = event("late", email="di@example.com", minutes=2)
    stale = customers.resolve([late])  # resolved before the next batch links the email to `known`
    process(
        event(
            "both", email="di@example.com", user="u-9", source="src_chat", channel=Channel.WEBHOOK, minutes=1
        )
    )

    item = StoredFeedback.from_event(late, _analysis(), T0, stale.customers[late.feedback_id])
    outcome = customers.save_feedback([item], stale)

    assert outcome.created == [late.feedback_id]
    assert customer_of(late) == known
    assert customers.get_profile(known)["feedback_count"] == 3
    assert customers.get_profile(customers.customer_id_for("email#di@example.com")) is None


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

    first = customers.merge(customer_of(a), customer_of(b))
    second = customers.merge(customer_of(a), customer_of(b))

    assert (first.aggregates_added, first.feedback_moved, first.identities_moved) == (True, 1, 1)
    assert second.aggregates_added is False
    assert customers.get_profile(customer_of(a))["feedback_count"] == 2
    assert customers.find_by_email("FB@example.com") == customer_of(a)


def test_profile_and_recent_feedback_come_from_one_query(stack):
    events = [event(f"g{i}", email="gi@example.com", minutes=i) for i in range(5)]
    process(*events)
    customer = customer_of(events[0])
    calls: Counter[str] = Counter()
    aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb", lambda event_name, **kwargs: calls.update([event_name.rsplit(".", 1)[1]])
    )

    view = customers.view(customer, recent=3)

    assert calls == Counter({"Query": 1})
    assert view.profile["feedback_count"] == 5
    assert [f.external_id for f in view.recent_feedback] == ["g4", "g3", "g2"]  # newest first


def test_anonymous_feedback_has_no_customer(stack):
    anonymous = event("anon")
    process(anonymous)

    assert customer_of(anonymous) is None
    assert stack.table_item_count("PROFILE") == 0


def _analysis():
    from chalicelib.models import Analysis, Sentiment

    return Analysis(sentiment=Sentiment.NEUTRAL, analyzer="lexicon", analyzed_at=T0)
