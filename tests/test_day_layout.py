"""The per-day index keyed by day and channel (store/day_layout.py): a channel listing reads its channel's
partitions only, readers find items an older version left in the old layout, and `feedback rekey` moves
them over without losing a concurrent write."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import aws, cli
from chalicelib.config import settings
from chalicelib.local.moto_patches import fit_for_threads
from chalicelib.models import Channel, StoredFeedback
from chalicelib.read import cursors
from chalicelib.store import counters, day_layout, dynamo, feedback_pages, feedback_rekey
from chalicelib.store import feedback as feedback_store
from chalicelib.store.day_layout import KEYED, DayPartition
from chalicelib.store.schema import DAY_PK
from tests.layout_support import forget_completeness, to_old_layout
from tests.test_export import save, stored

DAY = date(2026, 8, 3)
CHANNELS = ("form", "trustpilot", "webhook")


def item(n: int, channel: str, day: date = DAY) -> StoredFeedback:
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=n)
    return stored(f"{day.isoformat()}-{n}", at).model_copy(update={"channel": Channel(channel)})


def mixed_day(day: date = DAY) -> tuple[list[StoredFeedback], list[StoredFeedback]]:
    """30 items on three channels, the first 12 left in the old layout (as before an upgrade's deploy)."""
    items = [item(n, CHANNELS[n % 3], day) for n in range(30)]
    save(items)
    to_old_layout(items[:12])
    return items[:12], items[12:]


def query_log() -> list[tuple[str, int]]:
    """(partition, items evaluated) of every Query made from now on."""
    log: list[tuple[str, int]] = []
    pending: list[str] = []
    client = aws.client("dynamodb")
    client.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **kwargs: pending.append(params["ExpressionAttributeValues"][":day"]["S"]),
    )
    client.meta.events.register(
        "after-call.dynamodb.Query",
        lambda parsed, **kwargs: log.append((pending.pop(0), parsed.get("ScannedCount", 0))),
    )
    return log


def follow(days, filters, limit):
    found, cursor = [], None
    while True:
        page = feedback_pages.page_days(days, filters, limit, cursor)
        found += page.items
        cursor = page.cursor
        if cursor is None:
            return found


@pytest.fixture
def counted(stack):
    counters.mark_complete_if_unset(counters.EVERY_DAY)  # as the local stack marks a table it creates


def test_an_item_is_keyed_by_its_day_channel_and_a_shard_of_its_id():
    feedback = item(1, "trustpilot")
    partition = feedback_store.to_item(feedback)[DAY_PK]
    shard = feedback_store.shard_of(feedback.feedback_id, settings().channel_shards)
    assert partition == f"DAY#2026-08-03#trustpilot#{shard}"


def test_the_partitions_a_reader_queries():
    legacy = [DayPartition(None, n) for n in range(settings().day_shards)]
    both = [DayPartition(c, n) for c in ("form", "x") for n in range(settings().channel_shards)]
    keyed_day = {"s|x|POSITIVE": 2, "s|form|NONE": 1, KEYED: 3}
    named = {"x", "form"}
    assert day_layout.partitions(keyed_day, counted=True, channels=named) == both
    assert day_layout.partitions({**keyed_day, KEYED: 2}, counted=True, channels=named) == legacy + both
    assert day_layout.partitions(keyed_day, True, "x", named) == both[settings().channel_shards :]
    assert day_layout.partitions(keyed_day, True, "zendesk", named) == []
    # Not known to be counted: the old layout too.
    assert day_layout.partitions(keyed_day, counted=False, channels=named) == legacy + both
    every = day_layout.partitions({}, counted=False, channels=None)
    assert every[: len(legacy)] == legacy and len(every) == len(legacy) + 17 * settings().channel_shards
    assert [part.order for part in every] == sorted(part.order for part in every)
    # A channel whose items were all erased (its counts back at 0) is still named by its attributes: a day not
    # known counted reads it, a counted day (its counts hold every item) does not.
    assert day_layout.named_channels({"pk": "COUNTER#2026-08-03", "s|x|NONE": 0, "src|a": 1}) == {"x"}
    erased = {"s|x|POSITIVE": 0, "s|form|NONE": 1, KEYED: 1}
    assert day_layout.partitions(erased, counted=True, channels=named) == both[: settings().channel_shards]
    assert day_layout.partitions(erased, counted=False, channels=named) == legacy + both


def test_a_day_in_both_layouts_is_read_whole_and_once(counted):
    old, new = mixed_day()
    everything = sorted(i.feedback_id for i in old + new)

    assert sorted(i.feedback_id for i in feedback_store.list_day(DAY)) == everything
    assert sorted(i.feedback_id for i in follow([DAY], feedback_pages.Filters(), 4)) == everything
    assert feedback_pages.count_days([DAY]) == 30
    trustpilot = follow([DAY], feedback_pages.Filters(channel="trustpilot"), 3)
    assert sorted(i.feedback_id for i in trustpilot) == sorted(
        i.feedback_id for i in old + new if i.channel == "trustpilot"
    )


def test_a_day_without_counters_not_known_counted_reads_every_partition(stack):
    forget_completeness()
    items = [item(n, CHANNELS[n % 3]) for n in range(6)]
    aws_items = [dynamo.put_request(feedback_store.to_item(each)) for each in items]
    dynamo.batch_write(settings().table_name, aws_items)  # written around the counters (a restore)
    every_partition = settings().day_shards + 17 * settings().channel_shards
    assert len(day_layout.read_counts([DAY]).partitions(DAY)) == every_partition
    assert sorted(i.feedback_id for i in feedback_store.list_day(DAY)) == sorted(i.feedback_id for i in items)


def test_a_day_not_known_counted_reads_the_old_layout_and_the_channels_named(stack):
    forget_completeness()
    old, new = mixed_day()
    parts = day_layout.read_counts([DAY]).partitions(DAY)
    assert {part.channel for part in parts} == {None, *CHANNELS}
    assert sorted(i.feedback_id for i in feedback_store.list_day(DAY)) == sorted(
        i.feedback_id for i in old + new
    )


def test_rekey_names_the_channels_it_moves_items_to(stack):
    """A day without counters (stored before they existed): its items moved are still found."""
    forget_completeness()
    old = [item(n, CHANNELS[n % 3]) for n in range(6)]
    save(old)
    to_old_layout(old)
    for key in counters.counter_keys([DAY]):
        aws.client("dynamodb").delete_item(TableName=settings().table_name, Key=dynamo.serialize(key))
    # A counter item naming another channel only (e.g. an erased item's): the day's channels are its names.
    aws.client("dynamodb").update_item(**counters.counter_update(DAY, 1, {"s|email|NONE": 0})["Update"])
    assert {part.channel for part in day_layout.read_counts([DAY]).partitions(DAY)} == {None, "email"}
    assert feedback_rekey.rekey_day(DAY) == (6, 0)
    assert sorted(i.feedback_id for i in feedback_store.list_day(DAY)) == sorted(i.feedback_id for i in old)


def test_a_page_ending_where_nothing_after_may_hold_an_item_has_no_next(counted, monkeypatch):
    """`next` names a partition only while one after the page may hold an item: a page whose budget runs out
    with the range's last trustpilot partition ends the listing, the later days (form items only, or none)
    ruled out by their counters; an unfiltered one moves on to the next day that holds items."""
    days = [DAY + timedelta(days=n) for n in range(4)]
    save([item(n, "trustpilot" if n < 3 else "form", days[0]) for n in range(6)])
    save([item(n, "form", days[2]) for n in range(2)])
    monkeypatch.setattr(feedback_pages, "PAGE_QUERY_BUDGET", 1)

    trustpilot = feedback_pages.page_days(days, feedback_pages.Filters(channel="trustpilot"), 10)
    monkeypatch.setattr(feedback_pages, "PAGE_QUERY_BUDGET", 2)
    first_day = feedback_pages.page_days(days, feedback_pages.Filters(), 10)
    rest = feedback_pages.page_days(days, feedback_pages.Filters(), 10, first_day.cursor)

    assert len(trustpilot.items) == 3 and trustpilot.cursor is None
    assert len(first_day.items) == 6
    assert first_day.cursor == {"day": 2, "channel": "form", "shard": 0, "key": None}
    assert len(rest.items) == 2 and rest.cursor is None


def test_a_channel_listing_evaluates_only_what_it_returns(counted):
    days = [DAY + timedelta(days=n) for n in range(3)]
    channels = ["trustpilot" if n % 10 == 0 else "form" if n % 2 else "webhook" for n in range(60)]
    save([item(n, channel, day) for day in days for n, channel in enumerate(channels)])
    log = query_log()

    found = follow(days, feedback_pages.Filters(channel="trustpilot"), 4)

    assert len(found) == 18 and {i.channel for i in found} == {Channel.TRUSTPILOT}
    assert sum(evaluated for _, evaluated in log) == len(found)
    assert {partition.split("#")[2] for partition, _ in log} == {"trustpilot"}


def test_the_cursor_crosses_channel_partitions_and_old_cursors_still_work(counted):
    old, new = mixed_day()
    listing = cursors.fingerprint(days=[DAY.isoformat()])
    seen, cursor = [], None
    while True:
        page = feedback_pages.page_days([DAY], feedback_pages.Filters(), 1, cursor)
        seen += [i.feedback_id for i in page.items]
        if page.cursor is None:
            break
        # Every cursor goes through the API's signing and checking.
        cursor = cursors.read_days_cursor(cursors.issue(page.cursor, listing), listing, [DAY])
    assert sorted(seen) == sorted(i.feedback_id for i in old + new) and len(seen) == len(set(seen))

    # A cursor issued before the channel partitions names an old-layout shard: it resumes there.
    before = cursors.read_days_cursor(
        cursors.issue({"day": 0, "shard": 3, "key": None}, listing), listing, [DAY]
    )
    assert before == {"day": 0, "channel": None, "shard": 3, "key": None}
    rest = follow([DAY], feedback_pages.Filters(), 100)
    resumed = feedback_pages.page_days([DAY], feedback_pages.Filters(), 100, before).items
    assert {i.feedback_id for i in new} <= {i.feedback_id for i in resumed} <= {i.feedback_id for i in rest}


@pytest.mark.parametrize(
    "position",
    [
        {"day": 0, "channel": "myspace", "shard": 0, "key": None},
        {"day": 0, "channel": "form", "shard": 2, "key": None},
        {"day": 0, "channel": 7, "shard": 0, "key": None},
        {"day": 0, "channel": None, "shard": 8, "key": None},
        {"day": 0, "channel": "form", "shard": 0, "extra": 1, "key": None},
    ],
)
def test_a_cursor_naming_no_partition_is_refused(stack, position):
    listing = cursors.fingerprint(days=[DAY.isoformat()])
    with pytest.raises(cursors.InvalidCursor):
        cursors.read_days_cursor(cursors.issue(position, listing), listing, [DAY])


def test_a_cursor_key_must_be_in_the_partition_it_names(stack):
    listing = cursors.fingerprint(days=[DAY.isoformat()])
    feedback = item(1, "form")
    shard = feedback_store.shard_of(feedback.feedback_id, settings().channel_shards)
    whole = feedback_store.to_item(feedback)
    key = dynamo.serialize({name: whole[name] for name in feedback_pages.DAY_KEY_NAMES})
    good = {"day": 0, "channel": "form", "shard": shard, "key": key}
    assert cursors.read_days_cursor(cursors.issue(good, listing), listing, [DAY]) == good
    for wrong in ({**good, "channel": "webhook"}, {**good, "channel": None}, {**good, "shard": 1 - shard}):
        with pytest.raises(cursors.InvalidCursor):
            cursors.read_days_cursor(cursors.issue(wrong, listing), listing, [DAY])


def test_rekey_moves_old_items_and_settles_the_count(counted, capsys):
    old, new = mixed_day()
    other_day = DAY + timedelta(days=1)
    save([item(1, "webhook", other_day)])
    assert len(day_layout.read_counts([DAY]).partitions(DAY)) > 3 * settings().channel_shards

    assert cli.main(["feedback", "rekey", "--from", DAY.isoformat(), "--to", other_day.isoformat()]) == 0

    assert feedback_rekey.count_legacy(DAY) == 0
    counts = day_layout.read_counts([DAY])
    assert counts.per_day[DAY][KEYED] == 30
    # Only the channel partitions are read now, and they hold every item.
    assert all(part.channel is not None for part in counts.partitions(DAY))
    assert sorted(i.feedback_id for i in feedback_store.list_day(DAY)) == sorted(
        i.feedback_id for i in old + new
    )
    assert "12 re-keyed" in capsys.readouterr().out
    # Idempotent: a second run finds nothing to move and changes no count.
    assert cli.main(["feedback", "rekey", "--from", DAY.isoformat(), "--to", DAY.isoformat()]) == 0
    assert day_layout.read_counts([DAY]).per_day[DAY][KEYED] == 30


def test_rekey_never_overwrites_a_concurrent_rewrite(counted, monkeypatch):
    old, _ = mixed_day()
    read_first = list(feedback_rekey.legacy_keys(DAY))
    # The item is rewritten (a re-analysis puts it in its channel partition) after the re-key read it.
    moved_meanwhile = next(i for i in old if i.feedback_id in {feedback_store.id_of(k) for k in read_first})
    save_again = feedback_store.to_item(moved_meanwhile.model_copy(update={"text": "rewritten"}))
    aws.client("dynamodb").put_item(TableName=settings().table_name, Item=dynamo.serialize(save_again))
    monkeypatch.setattr(feedback_rekey, "legacy_keys", lambda day: iter(read_first))

    moved, left = feedback_rekey.rekey_day(DAY)

    assert (moved, left) == (11, 1)
    assert feedback_store.get(moved_meanwhile.feedback_id).text == "rewritten"


def test_counters_rebuild_counts_what_is_still_old(counted):
    mixed_day()
    counts = counters.rebuild_day(DAY, feedback_store.list_day(DAY, every_partition=True), {})
    assert counts[KEYED] == 18
    assert day_layout.read_counts([DAY]).partitions(DAY)[0] == DayPartition(None, 0)
    assert Counter(day_layout.channel_totals(counts)) == Counter(
        {"form": 10, "trustpilot": 10, "webhook": 10}
    )


def test_an_unfiltered_listings_counter_window_is_one_batch_get():
    from chalicelib.store import counters, dynamo

    assert day_layout.COUNTS_WINDOW_DAYS * counters.COUNTER_SHARDS + 1 <= dynamo.MAX_BATCH_GET_ITEMS
    assert (day_layout.COUNTS_WINDOW_DAYS + 1) * counters.COUNTER_SHARDS + 1 > dynamo.MAX_BATCH_GET_ITEMS


def test_rekey_walks_days_in_parallel_in_day_order_and_names_the_first_day_to_run_again(
    counted, capsys, monkeypatch
):
    """An upgrade re-keys from the first day with items, perhaps years back: several days at once, said in
    calendar order; a day that fails is named and the others still re-keyed."""
    mixed_day()
    days = [DAY + timedelta(days=n) for n in range(4)]
    rekey_day = feedback_rekey.rekey_day

    def failing_on_the_third_day(day):
        if day == days[2]:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return rekey_day(day)

    monkeypatch.setattr(feedback_rekey, "rekey_day", failing_on_the_third_day)
    arguments = ["feedback", "rekey", "--from", days[0].isoformat(), "--to", days[-1].isoformat()]
    with fit_for_threads():
        assert cli.main([*arguments, "--workers", "3"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:4]] == [day.isoformat() for day in days]
    assert lines[0].startswith(f"{DAY.isoformat()}: 12 re-keyed, none left")
    assert lines[2] == f"{days[2].isoformat()}: failed: ProvisionedThroughputExceededException"
    assert lines[4].startswith(f"1 day(s) to run again, from {days[2].isoformat()}")
    assert feedback_rekey.count_legacy(DAY) == 0


def test_a_walk_stops_at_an_error_no_day_escapes_and_says_it_once(counted, capsys, monkeypatch):
    """Expired credentials fail every day alike: one error line, not a `failed` line per day of years."""
    from botocore.exceptions import ClientError

    def expired(day):
        raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "The token has expired"}}, "Query")

    monkeypatch.setattr(feedback_rekey, "rekey_day", expired)
    arguments = [
        "feedback",
        "rekey",
        "--from",
        DAY.isoformat(),
        "--to",
        (DAY + timedelta(days=30)).isoformat(),
    ]
    assert cli.main(arguments) == 1
    captured = capsys.readouterr()
    assert "failed:" not in captured.out
    assert captured.err.count("error: AWS refused Query: ExpiredToken") == 1 and "renew them" in captured.err
