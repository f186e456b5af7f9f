"""A listing filtered by a source or a form Queries only the partitions of the channels the day's counters
prove hold its items (store/day_layout.py, source_channels), and every partition where they cannot."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import aws, cli
from chalicelib.config import settings
from chalicelib.models import Channel, StoredFeedback
from chalicelib.read import stats
from chalicelib.store import counters, day_layout, feedback_pages
from tests.layout_support import forget_completeness
from tests.test_day_layout import follow, query_log
from tests.test_export import save, stored

DAY = date(2026, 8, 3)
EVERY_CHANNEL = [channel.value for channel in Channel]
FORM = "demo"
META = "meta-page"


def source_of(channel: str) -> str:
    """The bench's naming: the form `demo`, one source a channel, a Meta Page source for its two channels."""
    if channel == Channel.FORM:
        return FORM
    return META if channel in (Channel.FACEBOOK, Channel.MESSENGER) else f"src-{channel}"


def item(n: int, channel: str, day: date = DAY) -> StoredFeedback:
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=n)
    return stored(f"{day.isoformat()}-{n}", at).model_copy(
        update={"channel": Channel(channel), "source_id": source_of(channel)}
    )


def busy_day(day: date = DAY, per_channel: int = 3) -> list[StoredFeedback]:
    """`per_channel` items in each of the 17 channels."""
    items = [
        item(n * len(EVERY_CHANNEL) + position, channel, day)
        for n in range(per_channel)
        for position, channel in enumerate(EVERY_CHANNEL)
    ]
    save(items)
    return items


def queried_channels(log: list[tuple[str, int]]) -> list[str]:
    """The channel of each Query's partition (`DAY#<day>#<channel>#<n>`; "" for an old-layout shard)."""
    return [partition.split("#")[2] if partition.count("#") == 3 else "" for partition, _ in log]


@pytest.fixture
def counted(stack):
    counters.mark_complete_if_unset(counters.EVERY_DAY)  # as the local stack marks a table it creates


def test_the_channels_a_days_counters_prove_a_source_has():
    form_day = {"src|demo": 4, "fm|demo": 4, "sc|x-1|x": 2}
    assert day_layout.source_channels(form_day, "demo") == {"form"}
    assert day_layout.source_channels(form_day, "x-1") == {"x"}
    assert day_layout.source_channels(form_day, "absent") == set()  # counted at none: nothing to read
    meta = {"sc|page|facebook": 3, "sc|page|messenger": 2}
    assert day_layout.source_channels(meta, "page") == {"facebook", "messenger"}
    assert day_layout.source_items(meta, "page") == 5
    # Items counted before `sc|` (under `src|` alone; a form's before `fm|`): nothing is proven.
    assert day_layout.source_items({**meta, "src|page": 1}, "page") == 6
    assert day_layout.source_channels({**meta, "src|page": 1}, "page") is None
    assert day_layout.source_channels({"src|demo": 4, "fm|demo": 3}, "demo") is None
    # One such item erased since (its `sc|` taken off although never added): a count below zero.
    assert day_layout.source_channels({"src|page": 1, "sc|page|x": 2, "sc|page|facebook": -1}, "page") is None
    assert day_layout.source_channels({"sc|page|x": 2, "sc|page|facebook": -1}, "page") is None
    # A channel whose items were all erased is left out; another source's id that extends this one's is not
    # this source's.
    assert day_layout.source_channels({"sc|a|x": 1, "sc|a|slack": 0, "sc|a|b|x": 7}, "a") == {"x"}
    shards = settings().channel_shards
    day = {**meta, day_layout.KEYED: 6, "s|facebook|NONE": 3, "s|messenger|NONE": 2, "s|x|NONE": 1}
    named = {"facebook", "messenger", "x"}
    assert [part.channel for part in day_layout.partitions(day, True, None, named, "page")] == [
        "facebook"
    ] * shards + ["messenger"] * shards
    # Not known counted: every named channel, and the old layout.
    assert {part.channel for part in day_layout.partitions(day, False, None, named, "page")} == {None, *named}


def test_an_item_counts_under_its_source_and_channel_a_forms_under_the_form():
    parents: dict[str, str | None] = {}
    source_counts = counters.item_counts(item(1, "trustpilot"), parents)
    # In place of `src|`, not beside it: the counter item does not grow by a name per source.
    assert source_counts["sc|src-trustpilot|trustpilot"] == 1 and "src|src-trustpilot" not in source_counts
    form_counts = counters.item_counts(item(2, "form"), parents)
    assert form_counts["fm|demo"] == form_counts["src|demo"] == 1
    assert not [name for name in form_counts if name.startswith("sc|")]


def test_stats_count_a_source_by_its_channels_and_what_was_counted_before():
    # A day upgraded mid-way: one of the Meta source's items counted before `sc|`, three since.
    day = Counter({"src|page": 1, "sc|page|facebook": 2, "sc|page|messenger": 1, "src|demo": 3, "fm|demo": 3})
    assert {row["source_id"]: row["total"] for row in stats.by_source(day)} == {"page": 4, "demo": 3}
    assert stats.sliced(day, stats.Slice("source", "page"))["src|page"] == 4
    assert stats.sliced(day, stats.Slice("source", "pag"))["src|pag"] == 0


@pytest.mark.parametrize(
    ("source", "channels"),
    [("src-trustpilot", {"trustpilot"}), (FORM, {"form"}), (META, {"facebook", "messenger"})],
)
def test_a_source_filter_on_a_day_of_17_channels_queries_only_its_own(counted, source, channels):
    items = busy_day()
    log = query_log()

    found = follow([DAY], feedback_pages.Filters(source_id=source), 2)

    expected = sorted(i.feedback_id for i in items if i.source_id == source)
    assert sorted(i.feedback_id for i in found) == expected  # each once: the ids are distinct
    assert set(queried_channels(log)) == channels
    # Each page resumes where the last stopped: at most one Query more than the pages, and never 17 a page.
    pages = -(-len(expected) // 2)
    assert len(log) <= pages + len(channels) * settings().channel_shards


def test_a_source_filter_skips_the_days_without_its_items(counted):
    days = [DAY + timedelta(days=n) for n in range(4)]
    trustpilot = [item(n, "trustpilot", days[2]) for n in range(3)]
    save([item(n, "form", days[0]) for n in range(3)] + [item(n, "zendesk", days[1]) for n in range(3)])
    save(trustpilot)
    log = query_log()

    page = feedback_pages.page_days(days, feedback_pages.Filters(source_id="src-trustpilot"), 10)

    assert sorted(i.feedback_id for i in page.items) == sorted(i.feedback_id for i in trustpilot)
    assert page.cursor is None
    shards = range(settings().channel_shards)
    assert [partition for partition, _ in log] == [
        day_layout.channel_partition(days[2], "trustpilot", shard) for shard in shards
    ]


def test_a_day_counted_before_source_channels_reads_every_channel_it_holds(counted):
    """An item the version before `sc|` counted (under `src|` only): the day's counts no longer add up, so the
    source's listing reads every channel the day holds and still finds it."""
    items = busy_day(per_channel=1)
    older = next(i for i in items if i.source_id == "src-x")
    as_before = {f"sc|{older.source_id}|x": -1, f"src|{older.source_id}": 1}
    aws.client("dynamodb").update_item(**counters.counter_update(DAY, 0, as_before)["Update"])
    log = query_log()

    found = follow([DAY], feedback_pages.Filters(source_id="src-x"), 5)

    assert [i.feedback_id for i in found] == [older.feedback_id]
    assert set(queried_channels(log)) == set(EVERY_CHANNEL)


def test_counters_rebuild_counts_a_sources_channels(counted):
    """A day stored before `sc|` (its sources' items under `src|`, as that version left them) proves nothing
    until `counters rebuild` recounts it from the items."""
    items = busy_day(per_channel=1)
    meta = [i for i in items if i.source_id == META]
    for each in meta:
        delta = {f"sc|{META}|{each.channel.value}": -1, f"src|{META}": 1}
        aws.client("dynamodb").update_item(**counters.counter_update(DAY, 0, delta)["Update"])
    assert day_layout.source_channels(day_layout.read_counts([DAY]).per_day[DAY], META) is None

    assert cli.main(["counters", "rebuild", "--from", DAY.isoformat(), "--to", DAY.isoformat()]) == 0

    proven = day_layout.source_channels(day_layout.read_counts([DAY]).per_day[DAY], META)
    assert proven == {"facebook", "messenger"}


def test_a_day_not_known_counted_reads_every_partition(stack):
    forget_completeness()
    items = busy_day(per_channel=1)
    log = query_log()

    found = follow([DAY], feedback_pages.Filters(source_id=META), 10)

    assert sorted(i.feedback_id for i in found) == sorted(i.feedback_id for i in items if i.source_id == META)
    assert set(queried_channels(log)) == {"", *EVERY_CHANNEL}  # the old layout's shards too
