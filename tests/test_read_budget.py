"""`GET /feedback` costs what it answers: every page reads within a fixed budget and continues with a signed
cursor, filters run in DynamoDB, and a customer's listing with dates reads the customer index only."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.config import settings as app_settings
from chalicelib.models import Channel, Sentiment, StoredFeedback
from chalicelib.read import cursors
from chalicelib.store import counters, feedback_pages, listing_hints, signing_keys
from chalicelib.store import feedback as feedback_store
from tests.layout_support import forget_completeness, to_old_layout
from tests.test_export import save, stored
from tests.test_openapi import validated

CUSTOMER = "cus_" + "ab" * 12
CHANNELS = [Channel.FORM.value, Channel.WEBHOOK.value, Channel.TRUSTPILOT.value]
SENTIMENTS = [Sentiment.POSITIVE.value, Sentiment.NEGATIVE.value]


@pytest.fixture
def headers(stack) -> dict[str, str]:
    tokens.clear_cache()
    signing_keys.clear_cache()
    token, _ = tokens.create_token("reader", ["read"])
    return {"Authorization": f"Bearer {token}"}


def item(external_id: str, at: datetime, channel: str, **changes) -> StoredFeedback:
    """A stored form response, stored when it occurred, on `channel`."""
    changes = {name: Sentiment(value) for name, value in changes.items()}
    return stored(external_id, at).model_copy(update={"channel": Channel(channel), **changes})


def get(client, path: str, headers: dict[str, str]):
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body)


def pages(client, headers, path: str) -> list[dict]:
    """Every page of a listing, following `next` to its end."""
    found, token = [], None
    while True:
        status, body = get(client, path + (f"&next={quote(token)}" if token else ""), headers)
        assert status == 200, body
        found.append(body)
        token = body["next"]
        if token is None:
            return found


def follow(days: list[date], filters: feedback_pages.Filters, limit: int) -> list[feedback_pages.Page]:
    pages, cursor = [], None
    while True:
        page = feedback_pages.page_days(days, filters, limit, cursor)
        pages.append(page)
        cursor = page.cursor
        if cursor is None:
            return pages


# --- the budget, as a property ------------------------------------------------------------------------------

example_days = itertools.count()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=st.lists(
        st.tuples(
            st.integers(0, 1), st.integers(0, 86_000), st.sampled_from(CHANNELS), st.sampled_from(SENTIMENTS)
        ),
        max_size=25,
    ),
    channel=st.none() | st.sampled_from(CHANNELS),
    sentiment=st.none() | st.sampled_from(SENTIMENTS),
    limit=st.integers(1, 6),
    item_budget=st.integers(1, 8),
    query_budget=st.integers(1, 4),
)
def test_tiny_budgets_give_partial_pages_that_add_up_to_the_filtered_listing(
    stack, monkeypatch, items, channel, sentiment, limit, item_budget, query_budget
):
    # Each example lists two days of its own, so the examples share the table without meeting.
    first = date(2026, 1, 1) + timedelta(days=3 * next(example_days))
    days = [first, first + timedelta(days=1)]
    save(
        [
            item(
                f"{first.isoformat()}-{n}",
                datetime.combine(days[day], datetime.min.time(), UTC) + timedelta(seconds=second),
                item_channel,
                sentiment=item_sentiment,
            )
            for n, (day, second, item_channel, item_sentiment) in enumerate(items)
        ]
    )
    everything = [item for page in follow(days, feedback_pages.Filters(), 500) for item in page.items]
    expected = [
        item.feedback_id
        for item in everything
        if channel in (None, item.channel) and sentiment in (None, item.sentiment)
    ]

    monkeypatch.setattr(feedback_pages, "PAGE_ITEM_BUDGET", item_budget)
    monkeypatch.setattr(feedback_pages, "PAGE_QUERY_BUDGET", query_budget)
    paged = follow(days, feedback_pages.Filters(channel=channel, sentiment=sentiment), limit)

    assert len(everything) == len(items)
    assert [item.feedback_id for page in paged for item in page.items] == expected
    assert all(len(page.items) <= limit for page in paged)


def _queries_per_page(days: list[date], channel: str) -> list[int]:
    """The Queries each page of a channel listing of `days` makes, following `next` until it is null (every
    page empty: the days hold no item)."""
    queries: list[int] = []

    def count(params, **kwargs) -> None:
        queries[-1] += 1

    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb.Query", count)
    cursor = None
    try:
        while True:
            queries.append(0)
            page = feedback_pages.page_days(days, feedback_pages.Filters(channel=channel), 10, cursor)
            cursor = page.cursor
            assert page.items == []
            if cursor is None:
                return queries
    finally:
        aws.client("dynamodb").meta.events.unregister("provide-client-params.dynamodb.Query", count)


def test_a_page_never_makes_more_queries_than_its_budget(stack):
    """Ten days not known counted whose counters name the channel (as `feedback rekey` names a day's channels
    before moving its items) are 90 partitions it may be in (8 old-layout shards and the channel's 1 each,
    CHANNEL_SHARDS): without a budget, one request would make 90 Queries."""
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(10)]
    forget_completeness()
    for day in days:
        counters.name_channels(day, ["telegram"])
    partitions = len(days) * (app_settings().day_shards + app_settings().channel_shards)

    queries = _queries_per_page(days, "telegram")

    assert max(queries) == feedback_pages.PAGE_QUERY_BUDGET
    # Every partition read once, and no page after the last partition (its `next` was null).
    assert sum(queries) == partitions
    assert len(queries) == math.ceil(partitions / feedback_pages.PAGE_QUERY_BUDGET)


def test_a_rare_match_does_not_cost_a_request_per_item(stack):
    """Limit grows with the share of items kept, so a 1-in-50 channel is not one request per page item
    (where a channel is still filtered: the old layout's shards, which mix the channels)."""
    at = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    items = [
        item(f"r{n:03d}", at + timedelta(seconds=n), "trustpilot" if n % 50 == 0 else "form")
        for n in range(400)
    ]
    save(items)
    to_old_layout(items)
    sizes: list[int] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **kwargs: sizes.append(params["Limit"])
    )

    page = feedback_pages.page_days([at.date()], feedback_pages.Filters(channel="trustpilot"), 8, None)

    assert len(page.items) == 8
    assert len(sizes) <= 8 + 8  # one request per shard, and a second where the first was too short
    assert max(sizes) > 8


def test_days_the_counters_rule_out_are_never_read(stack, monkeypatch):
    days = [date(2026, 5, 1) + timedelta(days=n) for n in range(3)]
    save([item(f"d{n}", datetime.combine(day, datetime.min.time(), UTC), "x") for n, day in enumerate(days)])
    monkeypatch.setattr(listing_hints, "matching_days", lambda asked, filters, counts: [asked[-1]])
    read: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **kwargs: read.append(params["ExpressionAttributeValues"][":day"]["S"]),
    )

    pages = follow(days, feedback_pages.Filters(channel="x"), 10)

    assert [item.external_id for page in pages for item in page.items] == ["d2"]
    assert {partition.split("#")[1] for partition in read} == {days[-1].isoformat()}


def test_the_hook_leaves_uncounted_filters_alone():
    """A customer is not counted (tests/test_listing_hints.py tests what the counters answer)."""
    by_customer = feedback_pages.Filters(customer_id="c")
    assert listing_hints.days_with_matches([date(2026, 5, 1)], by_customer) is None


# --- through the API ----------------------------------------------------------------------------------------


def test_partial_pages_carry_signed_cursors_and_validate_against_the_spec(client, headers, monkeypatch):
    from werkzeug.test import Client as WsgiClient

    from app import app
    from tests.fuzz.gateway import ChaliceWsgi
    from tests.fuzz.harness import load_schema

    at = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    items = [item(f"p{n}", at + timedelta(minutes=n), "trustpilot" if n == 5 else "form") for n in range(6)]
    save(items)
    to_old_layout(items)  # the old layout's 8 shards: a channel is found by reading them all
    monkeypatch.setattr(feedback_pages, "PAGE_QUERY_BUDGET", 2)
    api, schema = WsgiClient(ChaliceWsgi(app)), load_schema()

    response = api.get("/feedback?date=2026-06-01&channel=trustpilot&limit=5", headers=headers)
    first = validated(schema, "/feedback", "GET", response)
    listing = pages(client, headers, "/feedback?date=2026-06-01&channel=trustpilot&limit=5")

    assert first["items"] == [] and first["next"] is not None  # partial: nothing yet, but more to read
    assert [i["external_id"] for page in listing for i in page["items"]] == ["p5"]
    assert len(listing) == 5  # 8 old-layout shards and the channel's 2, 2 per page
    payload, mac = first["next"].split(".")
    tampered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + mac
    status, body = get(
        client, f"/feedback?date=2026-06-01&channel=trustpilot&limit=5&next={tampered}", headers
    )
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


@pytest.fixture
def customer_items(stack) -> list[str]:
    """Three items of the customer that occurred on 2026-07-01..03 (stored later), one of another customer."""
    items = []
    for n, day in enumerate((1, 2, 3)):
        occurred = datetime(2026, 7, day, 12, 0, tzinfo=UTC)
        item = stored(f"c{day}", occurred).model_copy(
            update={"customer_id": CUSTOMER, "stored_at": occurred + timedelta(days=5 + n)}
        )
        items.append(item)
    other = stored("other", datetime(2026, 7, 2, 12, 0, tzinfo=UTC)).model_copy(
        update={"customer_id": "cus_" + "cd" * 12}
    )
    save([*items, other])
    return [item.feedback_id for item in items]


@pytest.fixture
def queries_by_index(client, headers) -> Iterator[Counter[str]]:
    """Query calls from here on, by IndexName (the token and the cursor key are read first)."""
    assert client.http.get("/feedback?date=2026-01-01", headers=headers).status_code == 200
    calls: Counter[str] = Counter()

    def count(params, **kwargs) -> None:
        calls.update([params.get("IndexName", "(table)")])

    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb.Query", count)
    yield calls
    aws.client("dynamodb").meta.events.unregister("provide-client-params.dynamodb.Query", count)


def test_customer_with_dates_reads_the_customer_index_once(client, headers, customer_items, queries_by_index):
    status, body = get(client, f"/feedback?customer_id={CUSTOMER}&from=2026-07-02&to=2026-07-03", headers)

    assert status == 200, body
    assert [item["external_id"] for item in body["items"]] == [
        "c3",
        "c2",
    ]  # occurred on those days, newest first
    assert body["next"] is None
    assert queries_by_index == Counter({"by_customer": 1})


def test_customer_with_dates_pages_with_cursors_for_that_listing_only(client, headers, customer_items):
    path = f"/feedback?customer_id={CUSTOMER}&from=2026-07-01&to=2026-07-03&limit=1"
    listing = pages(client, headers, path)
    _, first = get(client, path, headers)
    token = quote(first["next"])

    assert [i["external_id"] for page in listing for i in page["items"]] == ["c3", "c2", "c1"]
    for other in (
        f"/feedback?customer_id={CUSTOMER}&limit=1",
        f"/feedback?customer_id={CUSTOMER}&from=2026-07-01&to=2026-07-02&limit=1",
        "/feedback?from=2026-07-01&to=2026-07-03&limit=1",
    ):
        status, body = get(client, f"{other}&next={token}", headers)
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), other


def test_a_signed_customer_cursor_outside_the_days_is_refused(client, headers, customer_items):
    days = [date(2026, 7, 2), date(2026, 7, 3)]
    listing = cursors.fingerprint(
        customer=CUSTOMER, customer_id=None, days=days, channel=None, sentiment=None
    )
    key = {
        "pk": {"S": f"FEEDBACK#{customer_items[0]}"},
        "sk": {"S": "FEEDBACK"},
        "gsi2pk": {"S": f"CUSTOMER#{CUSTOMER}"},
        "gsi2sk": {"S": f"FB#2026-07-01T12:00:00+00:00#{customer_items[0]}"},  # a day before the listing's
    }
    newest = feedback_store.get(customer_items[2])
    assert newest is not None
    inside = {
        **key,
        "pk": {"S": f"FEEDBACK#{newest.feedback_id}"},
        "gsi2sk": {"S": feedback_store.customer_sort_key(newest)},
    }
    path = f"/feedback?customer_id={CUSTOMER}&from=2026-07-02&to=2026-07-03"

    status, body = get(client, f"{path}&next={quote(cursors.issue({'key': key}, listing))}", headers)
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    status, body = get(client, f"{path}&next={quote(cursors.issue({'key': inside}, listing))}", headers)
    assert (status, [i["external_id"] for i in body["items"]]) == (200, ["c2"])
