"""The day counters `GET /stats` reads (chalicelib/store/counters.py) always equal a recount of the stored
items: whatever the order, batching and redeliveries of the writes, because the counters move in the same
transaction as the conditional Put of each item.

The property test stores random items (channels, sentiments, ratings, theme tags) in random batches, with
redeliveries both inside a batch and later (with a later stored_at, as a redelivery gets), and compares each
day's counters with a recount of the items as stored.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.local.moto_patches import fit_for_threads
from chalicelib.models import (
    Analysis,
    Author,
    Channel,
    FeedbackEvent,
    Kind,
    RatingScale,
    Sentiment,
    StoredFeedback,
    ThemeTag,
)
from chalicelib.store import counters, day_layout, dynamo, feedback_write
from chalicelib.store import feedback as feedback_store
from chalicelib.store.identities import Resolution
from chalicelib.store.schema import RECORD_TYPE

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
PARENTS = {"delivery": None, "delivery-speed": "delivery", "delivery-damage": "delivery", "price": None}
SOURCES = {Channel.FORM: "demo", Channel.TYPEFORM: "src_typeform_counters", Channel.WEBHOOK: "src_webhook"}
_examples = itertools.count()


@dataclass(frozen=True)
class Draft:
    """One item to store, before its example's namespace and day."""

    channel: Channel
    sentiment: Sentiment | None
    rating: tuple[RatingScale, int] | None
    tags: tuple[tuple[str, Sentiment], ...] | None
    day: int
    customer: int | None

    def stored(self, namespace: str, index: int, base: datetime, stored_late: int = 0) -> StoredFeedback:
        at = base + timedelta(days=self.day, minutes=index)
        event = FeedbackEvent.create(
            source_id=SOURCES[self.channel],
            external_id=f"{namespace}-{index}",
            channel=self.channel,
            kind=Kind.FORM_RESPONSE,
            text="Some feedback",
            rating=self.rating[1] if self.rating else None,
            rating_scale=self.rating[0] if self.rating else None,
            author=Author(
                email=f"c{self.customer}-{namespace}@example.com" if self.customer is not None else None
            ),
            occurred_at=at,
            received_at=at,
        )
        analysis = Analysis(sentiment=self.sentiment, language="en", analyzer="lexicon", analyzed_at=at)
        # A redelivery is stored (or rather refused) by a later batch, maybe on a later day.
        item = StoredFeedback.from_event(event, analysis, at + timedelta(days=stored_late))
        themes = (
            None if self.tags is None else [ThemeTag(id=i, sentiment=s, evidence=i) for i, s in self.tags]
        )
        customer = f"cust_{namespace}_{self.customer}" if self.customer is not None else None
        return item.model_copy(update={"themes": themes, "customer_id": customer})


RATINGS = st.one_of(
    st.none(),
    st.tuples(st.just(RatingScale.NPS), st.integers(0, 10)),
    st.tuples(st.sampled_from([RatingScale.CSAT, RatingScale.STARS]), st.integers(1, 5)),
)
TAGS = st.one_of(
    st.none(),
    st.lists(
        st.tuples(st.sampled_from([*PARENTS, "retired-theme"]), st.sampled_from(list(Sentiment))),
        max_size=3,
        unique_by=lambda tag: tag[0],
    ).map(tuple),
)
DRAFTS = st.builds(
    Draft,
    channel=st.sampled_from(list(SOURCES)),
    sentiment=st.one_of(st.none(), st.sampled_from(list(Sentiment))),
    rating=RATINGS,
    tags=TAGS,
    day=st.integers(0, 2),
    customer=st.one_of(st.none(), st.integers(0, 1)),
)


def _bounded(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples * (10 if THOROUGH else 1),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def recount(days: list[date]) -> dict[date, Counter[str]]:
    """The counters as the stored items say they should be: each item read back through the day index."""
    stored = [item for day in days for item in feedback_store.list_day(day)]
    return counters.day_deltas(stored, [], PARENTS)


def assert_counters_match_a_recount(days: list[date]) -> dict[date, Counter[str]]:
    expected = recount(days)
    assert counters.read_days(days) == expected
    # The hour counters alerts read move in the same transactions: each hour equals its recount too.
    stored = [item for day in days for item in feedback_store.list_day(day)]
    hours = sorted({counters.hour_of(item.stored_at) for item in stored})
    assert counters.read_hours(hours) == counters.hour_deltas(stored, [], PARENTS)
    return expected


def test_any_order_batching_and_redelivery_counts_each_item_once(stack):
    @_bounded(30)
    @given(drafts=st.lists(DRAFTS, min_size=1, max_size=12), data=st.data())
    def any_order(drafts: list[Draft], data: st.DataObject) -> None:
        example = next(_examples)
        namespace = f"k{example}"
        # Each example on days of its own: the counters of one example's days are its items' alone.
        base = datetime(2027, 1, 1, 9, 0, tzinfo=UTC) + timedelta(days=10 * example)
        originals = [(index, draft) for index, draft in enumerate(drafts)]
        redelivered = data.draw(st.lists(st.sampled_from(originals), max_size=5), label="redelivered")
        order = data.draw(
            st.permutations([(i, d, 0) for i, d in originals] + [(i, d, 1) for i, d in redelivered])
        )
        sizes = data.draw(st.lists(st.integers(1, 8), min_size=1, max_size=3), label="batch sizes")
        start = 0
        for size in itertools.cycle(sizes):
            if start >= len(order):
                break
            batch = [
                draft.stored(namespace, index, base, late)
                for index, draft, late in order[start : start + size]
            ]
            start += size
            outcome = feedback_write.save_feedback(batch, Resolution(), PARENTS)
            assert not outcome.failed

        days = [base.date() + timedelta(days=n) for n in range(4)]
        expected = assert_counters_match_a_recount(days)
        # Every original is counted once, on the day it was first stored, and never again.
        assert sum(
            day_layout.source_items(c, source) for c in expected.values() for source in SOURCES.values()
        ) == len(drafts)

    with fit_for_threads():
        any_order()


def test_a_batch_holding_a_duplicate_stores_and_counts_the_rest(stack):
    at = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
    draft = Draft(
        Channel.FORM,
        Sentiment.NEGATIVE,
        (RatingScale.NPS, 3),
        (("delivery-speed", Sentiment.NEGATIVE),),
        0,
        0,
    )
    first = draft.stored("dup", 0, at)
    feedback_write.save_feedback([first], Resolution(), PARENTS)
    others = [
        Draft(Channel.WEBHOOK, Sentiment.POSITIVE, None, None, 0, None).stored("dup", n, at) for n in (1, 2)
    ]

    outcome = feedback_write.save_feedback([*others, first], Resolution(), PARENTS)

    assert outcome.already_present == [first.feedback_id]
    assert sorted(outcome.created) == sorted(item.feedback_id for item in others)
    counted = assert_counters_match_a_recount([at.date()])[at.date()]
    assert counted["s|form|NEGATIVE"] == 1 and counted["s|webhook|POSITIVE"] == 2
    assert (counted["t|delivery"], counted["t|delivery-speed|NEGATIVE"], counted["n|form|d"]) == (1, 1, 1)
    newest = counters.newest_negative_ids(at.date(), at.date(), 10)
    assert newest == [(first.stored_at.isoformat(), first.feedback_id)]


COUNTER_NAMES = st.sampled_from(["s|form|POSITIVE", "s|form|NONE", "t|price", "r|nps|9", "src|demo", "tg"])
WIRE_NUMBERS = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["1E+2", "-3.0", "2.5", "0", "1e-3", "7.000"]),  # decimal notation, whole or not
)


@_bounded(200)
@given(
    items=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 1),
            st.dictionaries(COUNTER_NAMES, WIRE_NUMBERS, max_size=6),
        ),
        max_size=8,
    )
)
def test_counter_items_summed_from_the_wire_equal_the_deserialised_sum(items):
    wire = [
        {
            **dynamo.serialize({**counters.counter_key(date(2026, 3, 1) + timedelta(days=day), shard)}),
            RECORD_TYPE: {"S": counters.COUNTER},
            **{name: {"N": number} for name, number in numbers.items()},
        }
        for day, shard, numbers in items
    ]
    assert counters.sum_wire_counters(wire) == counters.sum_counters(map(dynamo.deserialize, wire))
