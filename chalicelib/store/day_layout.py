"""The per-day index's partitions: which a day's items are in, and which a reader must Query.

An item is indexed under `DAY#<yyyy-mm-dd>#<channel>#<n>` (its UTC stored day, its channel, a shard of its id
among `CHANNEL_SHARDS`), so a listing filtered by channel reads that channel's partitions only (every item it
evaluates is one it returns), and any reader skips the channels a day does not hold: the day's counters
(store/counters.py, kept in each item's write transaction) say which channels hold items.

Why shards at all: a partition of an index takes at most 1,000 write units a second, and its sort key (the
stored time) only grows, so DynamoDB cannot split a hot partition by key range. One shard (the default) takes
about 1,000 items a second of one channel, 43 times the mean rate of a 2,000,000-item day all from one
channel; every shard more adds as much, and costs an unfiltered page one more Query per channel present that
day (a small team's first page then reads many near-empty partitions, hence one by default). The count
may be raised, never lowered: readers Query shards 0..CHANNEL_SHARDS-1.

Tables written before held `DAY#<yyyy-mm-dd>#<n>` (the id's shard among `DAY_SHARDS`, the old layout). Every
write since counts its item under `ck` (KEYED) in the day's counters beside the channel counts, and every
removal or re-analysis moves it like the other counts (a re-analysis updates an item in place: an old item
stays old), so on a day whose counters are complete (`COUNTERS`/`COMPLETE` mark) the items left in the old
layout number at most `total - ck` (an erasure of an old item over-states them, never under-states).
Readers therefore Query the old layout's shards of a day when its counters are not complete or `ck` is below
the day's total, and the partitions of the channels its counter items name (see `partitions`; every
channel's on a day not known counted that has no counter item at all);
`cli feedback rekey` moves a range's old items to the new layout and settles `ck`, after which those days
cost the channel partitions only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from chalicelib.config import settings
from chalicelib.models import Channel
from chalicelib.records import ValueRecord

# Days whose counter items (counters.COUNTER_SHARDS a day) and the completeness mark fit one BatchGetItem
# (dynamo.MAX_BATCH_GET_ITEMS keys): what an unfiltered listing reads at a time.
COUNTS_WINDOW_DAYS = 49
# The counter (per day) of items written in this layout: counters.item_counts adds it for every item.
KEYED = "ck"
_MIX = "s|"  # counters.item_counts' `s|<channel>|<sentiment>`: every item once, by channel
# counters.item_counts' counts of a source's items: in the form channel under `src|<form>` and `fm|<form>`, in
# every other channel under `sc|<source>|<channel>`; items counted before `sc|` was under `src|<source>`
# alone. Spelled here, as `ck` is, since counters imports this module.
SOURCE_ITEMS, FORM_ITEMS, SOURCE_CHANNEL = "src", "fm", "sc"
EVERY_CHANNEL = tuple(sorted(channel.value for channel in Channel))


def legacy_partition(day: date, shard: int) -> str:
    """An old-layout partition `DAY#yyyy-mm-dd#n` (read until re-keyed)."""
    return f"DAY#{day.isoformat()}#{shard}"


def channel_partition(day: date, channel: str, shard: int) -> str:
    """A partition `DAY#yyyy-mm-dd#<channel>#n`."""
    return f"DAY#{day.isoformat()}#{channel}#{shard}"


# Plain slotted classes, read-only by convention (chalicelib/records.py says why).
class DayPartition(ValueRecord):
    """One partition of a day: an old-layout shard (`channel` None) or a channel's shard. Compared and hashed
    by value (a resumed listing merges its cursor's partition into the day's)."""

    __slots__ = ("channel", "shard")

    def __init__(self, channel: str | None, shard: int) -> None:
        self.channel = channel
        self.shard = shard

    def value(self, day: date) -> str:
        """The partition key value on `day`."""
        if self.channel is None:
            return legacy_partition(day, self.shard)
        return channel_partition(day, self.channel, self.shard)

    @property
    def order(self) -> tuple[int, str, int]:
        """Where it comes in a day's listing: the old shards first, then the channels by name."""
        return (0, "", self.shard) if self.channel is None else (1, self.channel, self.shard)


def legacy_partitions() -> list[DayPartition]:
    return [DayPartition(None, shard) for shard in range(settings().day_shards)]


def channel_partitions(channels: Sequence[str]) -> list[DayPartition]:
    shards = range(settings().channel_shards)
    return [DayPartition(channel, shard) for channel in sorted(channels) for shard in shards]


def channel_totals(counts: Mapping[str, int]) -> Counter[str]:
    """Items per channel in a day's counters (summed over shards)."""
    totals: Counter[str] = Counter()
    for name, count in counts.items():
        if name.startswith(_MIX):
            totals[name.split("|")[1]] += count
    return totals


def may_hold_legacy(counts: Mapping[str, int]) -> bool:
    """Whether a counted day may hold old-layout items: fewer counted as keyed than it holds."""
    return counts.get(KEYED, 0) < sum(channel_totals(counts).values())


def partitions(
    counts: Mapping[str, int],
    counted: bool,
    channel: str | None = None,
    channels: Iterable[str] | None = None,
    source: str | None = None,
) -> list[DayPartition]:
    """The partitions a reader Queries on a day, in listing order: the old layout's shards unless the day is
    `counted` (its counters count every item of it) and they count no item in the old layout, and the
    partitions of `channels` (None: every channel), or of `channel` only among them; with `source` on a
    counted day, only of the channels its counters prove hold the source's items (source_channels; every
    channel's when they cannot).

    `channels` are those the day's counter items name (any `s|<channel>|…` attribute, whatever its value):
    an item is put in the channel layout only by the write that stores it (a re-analysis updates it in place,
    `feedback rekey` names the channel first), in the transaction that adds its channel's count, and no
    write removes a counter attribute (day counter items have no TTL; `counters rebuild` rewrites a day's
    from the items it finds in every partition), so a channel partition holding items the app wrote is
    always named.
    """
    legacy = not counted or may_hold_legacy(counts)
    present = list(EVERY_CHANNEL) if channels is None else sorted(set(channels))
    if counted and channels is not None:
        # A counted day's counts hold every item of it: a channel named but counted at zero (its items
        # erased, or named by a re-key of none) has nothing left to read.
        totals = channel_totals(counts)
        present = [name for name in present if totals[name] > 0]
    if channel is not None:
        present = [name for name in present if name == channel]
    if counted and source is not None:
        holding = source_channels(counts, source)
        if holding is not None:
            present = [name for name in present if name in holding]
    return [*(legacy_partitions() if legacy else []), *channel_partitions(present)]


def _source_channel_counts(counts: Mapping[str, int], source: str) -> dict[str, int]:
    """A source's `sc|<source>|<channel>` counts by channel (a longer id that starts the same is not it)."""
    prefix, found = f"{SOURCE_CHANNEL}|{source}|", {}
    for name, count in counts.items():
        channel = name[len(prefix) :]
        if name.startswith(prefix) and "|" not in channel:
            found[channel] = found.get(channel, 0) + count
    return found


def source_items(counts: Mapping[str, int], source: str) -> int:
    """A source's or form's items in a day's counters (summed over shards): its `src|` and `sc|` counts."""
    return counts.get(f"{SOURCE_ITEMS}|{source}", 0) + sum(_source_channel_counts(counts, source).values())


def source_channels(counts: Mapping[str, int], source: str) -> set[str] | None:
    """The channels holding a source's items on a counted day, from its counters (summed over shards): its
    count per channel (`fm|` for the form channel, `sc|` for the others) when they add up to all of its items
    (source_items), else None (some were counted before `sc|` was, under `src|` alone: nothing proves where
    those are).

    Why counters and not the source's configured type: a type may yield two channels (a Meta Page source:
    `facebook` and `messenger`), and an id deleted and created again under another type keeps its old items;
    the counts say where the day's items are, whatever the configuration says today."""
    per_channel = {
        Channel.FORM.value: counts.get(f"{FORM_ITEMS}|{source}", 0),
        **_source_channel_counts(counts, source),
    }
    adds_up = sum(per_channel.values()) == source_items(counts, source)
    # A count below zero is a removal of an item counted before `sc|` was (no write leaves one otherwise).
    if not adds_up or min(per_channel.values()) < 0:
        return None
    return {channel for channel, count in per_channel.items() if count > 0}


def named_channels(counter_item: Mapping[str, object]) -> set[str]:
    """The channels a counter item (as read) names."""
    return {name.split("|")[1] for name in counter_item if name.startswith(_MIX)}


class DayCounts:
    """Days' counters (summed over shards), the channels their items name, and the first day from which they
    count every item (None: no day is known to)."""

    __slots__ = ("channels", "complete_since", "per_day")

    def __init__(
        self,
        per_day: Mapping[date, Mapping[str, int]],
        channels: Mapping[date, frozenset[str]],
        complete_since: date | None,
    ) -> None:
        self.per_day = per_day
        self.channels = channels
        self.complete_since = complete_since

    def counted(self, day: date) -> bool:
        return self.complete_since is not None and day >= self.complete_since

    def partitions(
        self, day: date, channel: str | None = None, source: str | None = None
    ) -> list[DayPartition]:
        counts, named = self.per_day.get(day, Counter()), self.channels.get(day)
        if named is None and not self.counted(day):
            # No counter item on a day not known counted: nothing says which channels it holds (items
            # written around the counters, as the bench's and tests' seeders write them, or by hand), so
            # every channel's partitions are read.
            return partitions(counts, False, channel, None)
        return partitions(counts, self.counted(day), channel, named or frozenset(), source)


def read_counts(days: Sequence[date], assume_counted: bool = False) -> DayCounts:
    """The counters of `days` and the completeness mark: one BatchGetItem per 50 days. `assume_counted`
    reads the day counters only (a role that may not read the mark: the alerts' samples of recent hours,
    which the counters hold), taking every day as counted."""
    # Imported here: counters imports feedback, which imports this module.
    from chalicelib.store import counters
    from chalicelib.store.schema import PK

    day_items, since = counters.read_day_items(days, with_completeness=not assume_counted)
    if assume_counted:
        since = counters.EVERY_DAY
    channels: dict[date, set[str]] = {}
    for item in day_items:
        day = date.fromisoformat(str(item[PK]).removeprefix(f"{counters.COUNTER}#"))
        channels.setdefault(day, set()).update(named_channels(item))
    return DayCounts(
        counters.sum_counters(day_items),
        {day: frozenset(names) for day, names in channels.items()},
        since,
    )


def parse_channel(value: object) -> str | None:
    """A channel name as a cursor may carry it, or None when it names none."""
    return value if isinstance(value, str) and value in EVERY_CHANNEL else None
