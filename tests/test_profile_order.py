"""A customer's profile depends on when feedback occurred, never on when it arrived (issue 11, item 4).

`first_seen`/`last_seen` are the min/max of `occurred_at`, `latest_nps`/`latest_csat`/`display_name` come
from the item that occurred last (ties broken by feedback id), and the counters add up once per item. The
regression test replays the issue's scenario through the real ack routes; the property test sends the same
deliveries in any order and batching, with redeliveries and customer merges, and compares every profile
with a recount from the stored items (the fault suite's recount, tests/faults/harness.py).
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.channels import sources
from chalicelib.channels.typeform import TypeformChannel
from chalicelib.config import settings as app_settings
from chalicelib.export import crm
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.local.moto_patches import fit_for_threads
from chalicelib.models import Author, Channel, FeedbackEvent, Kind, RatingScale, utc_now
from chalicelib.store import customers, dynamo, profiles
from chalicelib.store import feedback as feedback_store
from chalicelib.store import merge as merging
from chalicelib.store.identities import lookup_identities
from tests.faults.harness import (
    assert_profiles_match_a_recount,
    create_webhook_source,
    post_webhook,
)

TYPEFORM_SOURCE = "src_typeform_profile"
TYPEFORM_SECRET = "d41c9c5e0b7a4f3e8a1b2c3d4e5f60718293a4b5"
EMAIL = "ana@example.com"


def _typeform_response(token: str, submitted_at: str, nps: int) -> bytes:
    """A Typeform form_response with an NPS answer and an email answer (the documented shape)."""
    return json.dumps(
        {
            "event_id": f"evt-{token}",
            "event_type": "form_response",
            "form_response": {
                "form_id": "F0rm1d",
                "token": token,
                "submitted_at": submitted_at,
                "definition": {
                    "id": "F0rm1d",
                    "title": "NPS",
                    "fields": [
                        {"id": "n1", "type": "nps", "title": "How likely are you to recommend us?"},
                        {"id": "e1", "type": "email", "title": "Your email"},
                    ],
                },
                "answers": [
                    {"type": "number", "number": nps, "field": {"id": "n1", "type": "nps"}},
                    {"type": "email", "email": EMAIL, "field": {"id": "e1", "type": "email"}},
                ],
            },
        }
    ).encode()


def _drain(stack) -> None:
    from app import analyze

    drained = SqsPoller(stack.queue_url, analyze).drain()
    assert drained.received == drained.deleted >= 1


def test_a_late_delivery_neither_rewinds_last_seen_nor_replaces_the_latest_nps(client, stack):
    sources.save(
        sources.SourceConfig(source_id=TYPEFORM_SOURCE, type="typeform", name="Typeform NPS"),
        {"secret": TYPEFORM_SECRET},
    )
    create_webhook_source()

    # Form response, NPS 9, today.
    answer = client.http.post(
        "/forms/demo/responses",
        headers={"content-type": "application/json"},
        body=json.dumps({"rating": 9, "comment": "Great support", "email": EMAIL}).encode(),
    )
    assert answer.status_code == 202, answer.body
    _drain(stack)
    # Typeform response, NPS 7, today (after the form response).
    typeform_at = utc_now()
    body = _typeform_response("tok-late-1", typeform_at.isoformat(), 7)
    answer = client.http.post(
        f"/webhooks/{TYPEFORM_SOURCE}",
        headers={
            "content-type": "application/json",
            **TypeformChannel().sign(body, {"secret": TYPEFORM_SECRET}, typeform_at).headers,
        },
        body=body,
    )
    assert answer.status_code == 200, answer.body
    _drain(stack)
    # Then a Standard Webhooks item, rating 3 (nps), that occurred three days ago.
    late_at = typeform_at - timedelta(days=3)
    late = {
        "id": "late-1",
        "text": "Slow delivery",
        "author": {"email": EMAIL},
        "rating": 3,
        "rating_scale": "nps",
        "occurred_at": late_at.isoformat(),
    }
    assert post_webhook(client, "msg_late_1", [late]).status_code == 200
    _drain(stack)

    profile = customers.get_profile(customers.find_by_email(EMAIL))
    summary = customers.summarize(profile)
    assert summary["feedback_count"] == 3
    assert summary["latest_nps"] == {"rating": 7, "at": typeform_at.isoformat()}
    assert summary["first_seen"] == late_at.isoformat()
    assert summary["last_seen"] == typeform_at.isoformat()
    # contacts.csv copies the profile.
    row = crm.contact_row(profile)
    assert row["Feedback Latest NPS"] == 7
    assert row["Feedback First Seen"] == late_at.date().isoformat()
    assert row["Feedback Last Seen"] == typeform_at.date().isoformat()


# --- the property: any order and batching, with redeliveries and merges, gives the recount ----------------

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TEXTS = ("Great support, thank you", "Terrible wait, awful", "The parcel arrived on Tuesday")
NAMES = ("Ana", "Ana López", "Bo")
CHANNELS = {
    Channel.FORM: ("demo", Kind.FORM_RESPONSE),
    Channel.TYPEFORM: ("src_typeform_any_order", Kind.FORM_RESPONSE),
    Channel.WEBHOOK: ("src_webhook_any_order", Kind.MESSAGE),
}
_namespaces = itertools.count()


@dataclass(frozen=True)
class Delivery:
    """One piece of feedback as a channel would deliver it (before namespacing)."""

    channel: Channel
    person: int
    with_email: bool  # a form or Typeform response always gives the email; a webhook item may not
    with_user_id: bool  # only the webhook channel has user ids
    rating: tuple[RatingScale, int] | None
    day: int
    minute: int
    text: str
    name: str | None
    handle: str | None

    def event(self, namespace: str, index: int) -> FeedbackEvent:
        source, kind = CHANNELS[self.channel]
        at = T0 + timedelta(days=self.day, minutes=self.minute)
        return FeedbackEvent.create(
            source_id=source,
            external_id=f"{namespace}-{index}",
            channel=self.channel,
            kind=kind,
            text=self.text,
            rating=self.rating[1] if self.rating else None,
            rating_scale=self.rating[0] if self.rating else None,
            author=Author(
                email=f"p{self.person}-{namespace}@example.com" if self.with_email else None,
                channel_user_id=f"u{self.person}-{namespace}" if self.with_user_id else None,
                name=self.name,
                handle=self.handle,
            ),
            occurred_at=at,
            # Received in whatever order the test sends them: arrival is not what the profile may follow.
            received_at=T0 + timedelta(days=1),
        )


RATINGS = st.one_of(
    st.none(),
    st.tuples(st.just(RatingScale.NPS), st.integers(0, 10)),
    st.tuples(st.just(RatingScale.CSAT), st.integers(1, 5)),
)


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    channel = draw(st.sampled_from(list(CHANNELS)))
    webhook = channel is Channel.WEBHOOK
    with_user_id = webhook and draw(st.booleans())
    rating = draw(RATINGS)
    if channel is Channel.FORM and rating is not None:
        # The demo form asks NPS (0-10).
        rating = (RatingScale.NPS, rating[1] if rating[0] is RatingScale.NPS else rating[1] * 2)
    return Delivery(
        channel=channel,
        person=draw(st.integers(0, 1)),
        with_email=not with_user_id or draw(st.booleans()),
        with_user_id=with_user_id,
        rating=rating,
        # Few distinct times, so that items tie and the feedback id has to decide.
        day=draw(st.integers(-3, 0)),
        minute=draw(st.sampled_from([0, 30])),
        text=draw(st.sampled_from(TEXTS)),
        name=draw(st.sampled_from([None, *NAMES])),
        handle=draw(st.sampled_from([None, "@ana", "@bo"])) if webhook else None,
    )


def _person_zero(**fields: object) -> Delivery:
    base = Delivery(Channel.WEBHOOK, 0, False, True, None, 0, 0, TEXTS[0], None, None)
    return replace(base, **fields)


# Person 0 always writes by email, by webhook user id alone, and with both: their two customers become one
# whenever the joining item arrives after the other two.
JOINED = (
    _person_zero(channel=Channel.FORM, with_email=True, with_user_id=False, rating=(RatingScale.NPS, 9)),
    _person_zero(day=-3, rating=(RatingScale.NPS, 3), name="Ana"),
    _person_zero(with_email=True, minute=30, rating=(RatingScale.CSAT, 4), name="Ana López"),
)


def _bounded(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples * (10 if THOROUGH else 1),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _process_in(batches: list[list[str]]) -> None:
    for bodies in batches:
        report = processing.analyze_and_store(bodies, LexiconAnalyzer())
        assert report.errors == [None] * len(bodies)


def _cut(bodies: list[str], sizes: list[int]) -> list[list[str]]:
    """`bodies` in consecutive batches of the given sizes (cycled), as SQS hands them to the function."""
    batches, start = [], 0
    for size in itertools.cycle(sizes):
        if start >= len(bodies):
            return batches
        batches.append(bodies[start : start + size])
        start += size
    return batches


def test_any_order_and_batching_gives_the_profile_a_recount_gives(stack, monkeypatch):
    merges: list[merging.MergeReport] = []
    merge = merging.merge

    def recorded_merge(keep: str, absorb: str) -> merging.MergeReport:
        merges.append(merge(keep, absorb))
        return merges[-1]

    monkeypatch.setattr(merging, "merge", recorded_merge)

    @_bounded(25)
    @given(extra=st.lists(deliveries(), max_size=7), data=st.data())
    def any_order(extra: list[Delivery], data: st.DataObject) -> None:
        namespace = f"n{next(_namespaces)}"
        events = [delivery.event(namespace, index) for index, delivery in enumerate([*JOINED, *extra])]
        bodies = [body for event in events for body in encode_events([event])]
        redelivered = data.draw(st.lists(st.sampled_from(bodies), max_size=4), label="redelivered")
        order = data.draw(st.permutations(bodies + redelivered), label="order")
        sizes = data.draw(st.lists(st.integers(1, 10), min_size=1, max_size=4), label="batch sizes")
        _process_in(_cut(order, sizes))

        # The example's customers: each person's email customer, and a user id's customer where no item of
        # the person gave the email too (a Query each, where a Scan would read every earlier example).
        identities = [
            f"email#p{d.person}-{namespace}@example.com" for d in (*JOINED, *extra) if d.with_email
        ] + [
            f"{CHANNELS[Channel.WEBHOOK][0]}#u{d.person}-{namespace}"
            for d in (*JOINED, *extra)
            if d.with_user_id
        ]
        owners = set(lookup_identities(identities, consistent=True).values())
        # Profiles are not in the customer index (read by key): the owners' items and their profiles.
        keys = [profiles.profile_key(owner) for owner in owners]
        owned = [item for owner in owners for item in customers.customer_items(owner)]
        assert_profiles_match_a_recount([*owned, *dynamo.batch_get(app_settings().table_name, keys, True)])
        # A person is one customer holding all their feedback, whatever the order, once an item of theirs
        # gives both the email and the user id (person 0's always does); until then the email's customer
        # holds the items that give the email, the user id's customer the others.
        for person in {delivery.person for delivery in (*JOINED, *extra)}:
            written = [(e, d) for e, d in zip(events, (*JOINED, *extra), strict=True) if d.person == person]
            joined = any(d.with_email and d.with_user_id for _, d in written)
            by_email = {e.feedback_id for e, d in written if joined or d.with_email}
            by_user_id = {e.feedback_id for e, d in written if not joined and not d.with_email}
            for identity, mine in (
                (f"email#p{person}-{namespace}@example.com", by_email),
                (f"{CHANNELS[Channel.WEBHOOK][0]}#u{person}-{namespace}", by_user_id),
            ):
                if mine:
                    customer = lookup_identities([identity], consistent=True)[identity]
                    assert {feedback_store.get(feedback_id).customer_id for feedback_id in mine} == {customer}
                    assert customers.get_profile(customer)["feedback_count"] == len(mine)

    # moto's own transactions copy the whole table per action, and the table grows with every example.
    with fit_for_threads():
        any_order()
    assert any(report.aggregates_added for report in merges), "no example merged two customers"
