"""Filtered `GET /feedback` skips the days the counters rule out (store/listing_hints.py): a day is read only
when every counted filter may match there, or when its items may not all be counted; never an item hidden."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import aws, cli
from chalicelib.config import settings as app_settings
from chalicelib.models import Channel, Sentiment, StoredFeedback, ThemeTag
from chalicelib.store import counters, dynamo, feedback_pages, listing_hints
from tests.layout_support import old_layout_item
from tests.test_export import save
from tests.test_read_budget import follow, item

CHANNELS = [Channel.FORM.value, Channel.WEBHOOK.value, Channel.TRUSTPILOT.value]
SENTIMENTS = [Sentiment.POSITIVE.value, Sentiment.NEGATIVE.value]
THEMES = ["delivery", "delivery-speed", "price"]
# As the read API matches `theme=delivery` (the theme and its children).
THEME_FILTERS = {"delivery": ("delivery", "delivery-speed"), "price": ("price",)}
DAY_ONE = date(2026, 5, 1)


def at(day: date, second: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=second)


def tagged(feedback: StoredFeedback, *tags: tuple[str, str]) -> StoredFeedback:
    themes = [ThemeTag(id=theme, sentiment=Sentiment(s), evidence=theme) for theme, s in tags]
    return feedback.model_copy(update={"themes": themes or None})


def queried_days() -> list[str]:
    """The days whose shards the listing Queries from now on (filled as it reads)."""
    read: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **kwargs: read.append(params["ExpressionAttributeValues"][":day"]["S"].split("#")[1]),
    )
    return read


def three_days() -> list[date]:
    """Day one: form POSITIVE about delivery-speed; day two: webhook NEGATIVE about price; day three: none."""
    days = [DAY_ONE + timedelta(days=n) for n in range(3)]
    save(
        [
            tagged(item("one", at(days[0]), "form", sentiment="POSITIVE"), ("delivery-speed", "NEGATIVE")),
            tagged(item("two", at(days[1]), "webhook", sentiment="NEGATIVE"), ("price", "POSITIVE")),
        ]
    )
    return days


def test_the_counters_keep_only_the_days_every_counted_filter_may_match(stack):
    days = three_days()
    assert counters.mark_complete(days[0], date.today(), date.today())

    def kept(**filters) -> list[date] | None:
        return listing_hints.days_with_matches(days, feedback_pages.Filters(**filters))

    assert kept(channel="telegram") == []
    assert kept(channel="form") == [days[0]]
    assert kept(sentiment="NEGATIVE") == [days[1]]
    assert kept(channel="form", sentiment="NEGATIVE") == []
    assert kept(channel="webhook", sentiment="NEGATIVE") == [days[1]]
    assert kept(themes=THEME_FILTERS["delivery"]) == [days[0]]
    assert kept(themes=THEME_FILTERS["delivery"], theme_sentiment="POSITIVE") == []
    assert kept(themes=THEME_FILTERS["price"], theme_sentiment="POSITIVE") == [days[1]]
    assert kept(themes=THEME_FILTERS["price"], channel="form") == []
    # A customer is not counted: the counters leave such a listing alone.
    assert kept(customer_id="cus_" + "ab" * 12) is None


def test_an_absent_channel_reads_the_counters_only(stack):
    days = three_days()
    counters.mark_complete(days[0], date.today(), date.today())
    read = queried_days()

    pages = follow(days, feedback_pages.Filters(channel="telegram"), 10)

    assert [page.items for page in pages] == [[]] and pages[0].cursor is None
    assert read == []


def test_days_not_all_counted_are_read(stack):
    """An upgraded stage: items stored before the counters existed, and an erasure's negative counts."""
    days = three_days()
    uncounted = item("old", at(days[2], 5), "trustpilot", sentiment="NEGATIVE")
    dynamo.batch_write(app_settings().table_name, [dynamo.put_request(old_layout_item(uncounted))])
    dynamo.batch_write(
        app_settings().table_name,
        [dynamo.put_request({**counters.counter_key(days[1], 1), "s|trustpilot|NEGATIVE": -1})],
    )
    listing = feedback_pages.Filters(channel="trustpilot")

    # No mark: every day is read, and the uncounted item is listed.
    assert listing_hints.days_with_matches(days, listing) == days
    assert [i.external_id for page in follow(days, listing, 10) for i in page.items] == ["old"]
    # A mark after them: the days before it are still read.
    assert counters.mark_complete(days[2] + timedelta(days=1), date.today(), date.today())
    assert listing_hints.days_with_matches(days, listing) == days


def test_a_rebuild_reaching_today_marks_its_range_counted(stack, capsys):
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in (2, 1, 0)]
    uncounted = item("old", at(days[0], 5), "trustpilot", sentiment="NEGATIVE")
    dynamo.batch_write(app_settings().table_name, [dynamo.put_request(old_layout_item(uncounted))])
    listing = feedback_pages.Filters(channel="trustpilot")

    # A range that stops before today leaves the mark alone (days after it may be uncounted).
    assert cli.main(["counters", "rebuild", "--from", days[0].isoformat(), "--to", days[1].isoformat()]) == 0
    assert listing_hints.days_with_matches(days, listing) == days
    assert cli.main(["counters", "rebuild", "--from", days[1].isoformat(), "--to", today.isoformat()]) == 0
    # From days[1] on: the first day stays unknown (not marked), the others hold no trustpilot item.
    assert listing_hints.days_with_matches(days, listing) == [days[0]]
    # A later rebuild that leaves a gap does not move the mark; one that reaches it does.
    assert not counters.mark_complete(days[0] - timedelta(days=5), days[0] - timedelta(days=4), today)
    assert cli.main(["counters", "rebuild", "--from", days[0].isoformat(), "--to", today.isoformat()]) == 0
    assert listing_hints.days_with_matches(days, listing) == [days[0]]
    assert listing_hints.days_with_matches(days, feedback_pages.Filters(channel="form")) == []
    assert "filtered listings now skip the days from" in capsys.readouterr().out


def test_the_cursor_crosses_skipped_days(stack, monkeypatch):
    days = [DAY_ONE + timedelta(days=n) for n in range(6)]
    save([item(f"d{n}", at(days[n], n), "trustpilot") for n in (0, 3, 5)])
    save([item(f"f{n}", at(days[n], n), "form") for n in range(6)])
    counters.mark_complete(days[0], date.today(), date.today())
    monkeypatch.setattr(feedback_pages, "PAGE_QUERY_BUDGET", 3)
    read = queried_days()

    pages = follow(days, feedback_pages.Filters(channel="trustpilot"), 1)

    assert [i.external_id for page in pages for i in page.items] == ["d0", "d3", "d5"]
    assert set(read) == {days[n].isoformat() for n in (0, 3, 5)}
    # Each shard of the channel's partition on a kept day is queried once, and again only where a page
    # stopped inside it (no other channel's, no old-layout shard: every item was written in the new layout).
    shards = app_settings().channel_shards
    assert 3 * shards <= len(read) <= 3 * shards + len(pages)


example_days = itertools.count()
TAGS = st.lists(
    st.tuples(st.sampled_from(THEMES), st.sampled_from(SENTIMENTS)), max_size=2, unique_by=lambda t: t[0]
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(CHANNELS),
            st.none() | st.sampled_from(SENTIMENTS),
            TAGS,
            st.booleans(),
        ),
        max_size=14,
    ),
    channel=st.none() | st.sampled_from([*CHANNELS, "telegram"]),
    sentiment=st.none() | st.sampled_from(SENTIMENTS),
    theme=st.none() | st.sampled_from(sorted(THEME_FILTERS)),
    theme_sentiment=st.none() | st.sampled_from(SENTIMENTS),
    limit=st.integers(1, 4),
    marked_from=st.integers(0, 4),
)
def test_skipping_never_hides_an_item(
    stack, monkeypatch, items, channel, sentiment, theme, theme_sentiment, limit, marked_from
):
    """The filtered listing equals the unfiltered one filtered here, whichever days are counted, with some
    items stored without counters before the mark (an upgraded stage)."""
    first = date(2027, 1, 1) + timedelta(days=5 * next(example_days))
    days = [first + timedelta(days=n) for n in range(4)]
    mark = first + timedelta(days=marked_from)
    counted, uncounted = [], []
    for n, (day, item_channel, item_sentiment, tags, skip_counters) in enumerate(items):
        changes = {"sentiment": item_sentiment} if item_sentiment else {}
        feedback = tagged(item(f"{first}-{n}", at(days[day], n), item_channel, **changes), *tags)
        (uncounted if skip_counters and days[day] < mark else counted).append(feedback)
    save(counted)
    if uncounted:
        writes = [dynamo.put_request(old_layout_item(each)) for each in uncounted]
        dynamo.batch_write(app_settings().table_name, writes)
    monkeypatch.setattr(counters, "COMPLETE_KEY", {"pk": f"COUNTERS#{first}", "sk": "COMPLETE"})
    assert counters.mark_complete(mark, date.today(), date.today())
    filters = feedback_pages.Filters(
        channel=channel,
        sentiment=sentiment,
        themes=THEME_FILTERS[theme] if theme else (),
        theme_sentiment=theme_sentiment if theme else None,
    )
    everything = [each for page in follow(days, feedback_pages.Filters(), 500) for each in page.items]
    expected = [
        each.feedback_id
        for each in everything
        if channel in (None, each.channel) and sentiment in (None, each.sentiment) and filters.keeps(each)
    ]

    paged = follow(days, filters, limit)

    assert len(everything) == len(items)
    assert [each.feedback_id for page in paged for each in page.items] == expected
    kept = listing_hints.days_with_matches(days, filters)
    matching_days = {each.stored_at.date() for each in everything if each.feedback_id in expected}
    assert kept is None or matching_days <= set(kept)


def test_the_bench_check_misses_a_listing_that_reads_more_than_three_items_per_item_returned():
    from tools.bench.checks import listing_checks
    from tools.bench.listings import ListingFigures, listings_section

    skipped = ListingFigures("absent channel", 90, 1000, pages=1, requests=2, days_skipped=90)
    skipped.counter_reads = 2
    rare = ListingFigures("rare channel", 7, 1000, pages=3, items=70, requests=60, evaluated=7000)
    unseen = ListingFigures("absent channel", 7, 1000, pages=1)  # no request seen: a broken measurement

    assert [check.ok for check in listing_checks([skipped, rare, unseen])] == [True, False, False]
    assert "90 empty days skipped for 2 counter reads" in listing_checks([skipped])[0].name
    table_rows = listings_section([skipped, rare])[-2:]
    assert [line.split("|")[-3].strip() for line in table_rows] == ["met", "MISSED"]


def completeness() -> date | None:
    return counters.read_days_and_completeness([])[1]


def test_the_mark_is_set_where_absent_never_moved_later_and_a_rebuild_still_moves_it_earlier(stack):
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    assert completeness() is None

    assert counters.mark_complete_if_unset(tomorrow)
    assert completeness() == tomorrow
    # Set once: neither a later nor an earlier day replaces it (a second nightly run, a redeploy).
    assert not counters.mark_complete_if_unset(tomorrow + timedelta(days=3))
    assert not counters.mark_complete_if_unset(counters.EVERY_DAY)
    assert completeness() == tomorrow
    # A recount reaching today still moves it earlier, so days recounted are skipped too.
    first = today - timedelta(days=10)
    assert cli.main(["counters", "rebuild", "--from", first.isoformat(), "--to", today.isoformat()]) == 0
    assert completeness() == first


def test_a_fresh_local_stack_trusts_the_counters_for_every_day_and_a_kept_table_from_tomorrow(stack):
    from chalicelib.local import provision

    assert stack.resources.table_created  # the fixture's provision created the table: it holds nothing
    assert provision.mark_counters_complete(stack.resources)
    assert completeness() == counters.EVERY_DAY
    days = [DAY_ONE + timedelta(days=n) for n in range(3)]
    save([item("f1", at(days[1]), "form")])
    # Every day counted: the days without a match are skipped, however long ago.
    assert listing_hints.days_with_matches(days, feedback_pages.Filters(channel="form")) == [days[1]]

    again = provision.provision(os.environ["INGEST_QUEUE_NAME"])
    assert not again.table_created
    dynamo.batch_write(
        app_settings().table_name, [{"DeleteRequest": {"Key": dynamo.serialize(counters.COMPLETE_KEY)}}]
    )
    assert provision.mark_counters_complete(again)
    assert completeness() == datetime.now(UTC).date() + timedelta(days=1)
