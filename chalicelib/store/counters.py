"""Per-(day, shard) counters of stored feedback, kept in the same transaction that stores, changes or erases
an item, so that `GET /stats` reads a few counter items instead of every item of its range.

A counter item (`COUNTER#yyyy-mm-dd`, `SHARD#n`) holds flat number attributes, each one count of the items
stored that UTC day:

- `s|<channel>|<sentiment or NONE>`: by channel and sentiment (the day's mix is their sum);
- `n|<channel>|p`, `…|a`, `…|d`: NPS promoters, passives and detractors by channel;
- `src|<form id>`, `sc|<source>|<channel>`, `r|<scale>|<rating>`: by form, by source and channel (a
  source's items outside the form channel, so a listing filtered by a source Queries only the partitions of
  the channels it has: store/day_layout.py, source_channels), by rating value. A source's total is its
  `src|` and `sc|` counts (day_layout.source_items): items of a source were counted under `src|` alone
  before `sc|` was, and `sc|` takes the place of `src|` rather than adding a name to the item (the
  counter item's size sets each write's units);
- `fs|<source>|<sentiment or NONE>`, `fr|<source>|<scale>|<rating>`, `cr|<channel>|<scale>|<rating>`: the
  sentiment mix and the ratings of each source or form, the ratings of each channel (so `/stats` answers a
  form's or a channel's scores, and filters by one of them, from the counters too);
- `ck`: items in the per-day index's channel layout (store/day_layout.py: readers Query the old layout's
  shards of a day while it is below the day's total);
- `tg`: items with at least one theme; `t|<theme>` and `t|<theme>|<sentiment>`: items about a theme (a parent
  counting the items tagged with it or one of its children, each once) and the sentiments they express about
  it, as `GET /stats` has always counted them (read/theme_stats.py);
- `fm|<form>`, `ftg|<form>`, `ft|<form>|<theme>` and `ft|<form>|<theme>|<sentiment>`: a form's items, and
  the same theme counts per form (so a form's page, and `/stats?source=<form>`, count the form's own themes;
  `fm|` tells a form from a source, whose themes are not counted apart). Forms only, since a counter item
  grows with the forms times the themes talked about that day (at most 5 names each): 1 form of 6 sources
  at 11,100 items a day adds 2 KB to a 3.6 KB item; 20 forms each talking about 100 themes in every
  sentiment on one day would be 10,000 names (over DynamoDB's 400 KB item), far from what feedback shows.

A transaction adds one Update per day it touches, to one shard chosen by its first item: concurrent analyze
functions then rarely contend for one counter item, and `/stats` reads `COUNTER_SHARDS` items a day. Items
are counted under their parents as the taxonomy stood when they were written; `cli counters rebuild`
recounts a range after a taxonomy change.

One more item (`COUNTERS`, `COMPLETE`) says from which day on every stored item is in the counters
(`since`). It is set without a manual step where absent (mark_complete_if_unset): by the nightly run, to the
day after it (items stored before may predate the counters), and by the local stack at start-up, to every day
when it has just created the table. `counters rebuild` moves it earlier when the range it recounted reaches
today. Before that day a stage upgraded from a version without counters may hold uncounted items (and an
erasure or backfill there moves counts that were never added), so only days from `since` on may be ruled out
by a filtered listing.

Alerts read per-hour counters (`COUNTER#yyyy-mm-ddThh`, `SHARD#n`, record type HOUR_COUNTER), moved in the
same transaction as the day's by every write, re-analysis and delete: the same names as a day's, but only
those the alert rules read (HOUR_COUNTER_PREFIXES: the sentiment mix overall, per channel and per source or
form, which ids are forms, and the themes with their sentiments). Each hour item expires (TTL) after
HOUR_COUNTER_RETENTION, so they do not pile up: the alerts' baseline looks four weeks back.

The newest negative feedback is listed by the sparse index of negative items (schema.NEGATIVE_INDEX): an
item carries its key while its sentiment is negative, so one Query finds the newest of any range. A table
written before it held pointer items (`NEGATIVE`, `<stored_at>#<feedback id>`) instead: `cli counters
rebuild` puts a day's negatives in the index and removes its pointers (README, upgrading).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import Channel, RatingScale, Sentiment, StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store.day_layout import FORM_ITEMS, KEYED, SOURCE_CHANNEL, SOURCE_ITEMS
from chalicelib.store.feedback import feedback_key, is_negative, shard_of
from chalicelib.store.schema import (
    DAY_SK,
    NEGATIVE_INDEX,
    NEGATIVE_PARTITION,
    NEGATIVE_PK,
    PK,
    RECORD_TYPE,
    SK,
    TTL_ATTRIBUTE,
)

COUNTER = "COUNTER"
COMPLETE_KEY = {PK: "COUNTERS", SK: "COMPLETE"}
# The partition of the pointer items that listed negatives before the sparse index did.
NEGATIVE_POINTER = "NEGATIVE"
# Two items a day: /stats reads 93 days and the 93 before them in 4 BatchGetItem requests.
COUNTER_SHARDS = 2
UNANALYSED = "NONE"
THEME_SENTIMENTS = tuple(s.value for s in Sentiment)
PROMOTER_MIN, DETRACTOR_MAX = 9, 6
TAGGED = "tg"
SOURCE_TAGGED, SOURCE_THEME = "ftg", "ft"
# An UpdateExpression holds at most 4 KB: a transaction's counter update names at most this many attributes.
MAX_COUNTER_ATTRIBUTES = 250

# The per-hour counters alerts read: the names of item_counts that start with one of these.
HOUR_COUNTER = "HOUR_COUNTER"
HOUR_COUNTER_PREFIXES = ("s|", "fs|", f"{FORM_ITEMS}|", "t|")
# Long enough for a four-week baseline of the same hour a week, plus a week of slack.
HOUR_COUNTER_RETENTION = timedelta(days=36)

ThemeParents = Mapping[str, str | None]
Unit = TypeVar("Unit")


def counter_key(day: date, shard: int) -> dict[str, str]:
    """The key of one counter item."""
    return {PK: f"{COUNTER}#{day.isoformat()}", SK: f"SHARD#{shard}"}


def counter_keys(days: Iterable[date]) -> list[dict[str, str]]:
    """Every counter item of `days`."""
    return [counter_key(day, shard) for day in days for shard in range(COUNTER_SHARDS)]


def negative_key(item: StoredFeedback) -> dict[str, str]:
    """The key of the pointer item that listed a negative item in a table written before the sparse index."""
    return {PK: NEGATIVE_POINTER, SK: f"{item.stored_at.isoformat()}#{item.feedback_id}"}


def nps_band(rating: int) -> str:
    """p (promoter, 9-10), a (passive, 7-8) or d (detractor, 0-6)."""
    if rating >= PROMOTER_MIN:
        return "p"
    return "d" if rating <= DETRACTOR_MAX else "a"


def theme_matches(tags: Any, parents: ThemeParents) -> dict[str, set[str]]:
    """Theme id → the sentiments of the item's tags that match it (the tag's own theme and its parent)."""
    matches: dict[str, set[str]] = {}
    for tag in tags if isinstance(tags, list) else ():
        theme_id = tag.get("id") if isinstance(tag, dict) else None
        if not isinstance(theme_id, str):
            continue
        sentiment = tag.get("sentiment")
        for matched in {theme_id, parents.get(theme_id)} - {None}:
            sentiments = matches.setdefault(str(matched), set())
            if sentiment in THEME_SENTIMENTS:
                sentiments.add(sentiment)
    return matches


def form_theme_counts(form: str, matches: Mapping[str, set[str]]) -> Counter[str]:
    """What a form's item adds to its form's counters: the item, and its themes as `t|` counts them."""
    counts = Counter({f"{FORM_ITEMS}|{form}": 1})
    if matches:
        counts[f"{SOURCE_TAGGED}|{form}"] += 1
    for theme_id, sentiments in matches.items():
        counts[f"{SOURCE_THEME}|{form}|{theme_id}"] += 1
        for sentiment in sentiments:
            counts[f"{SOURCE_THEME}|{form}|{theme_id}|{sentiment}"] += 1
    return counts


def item_counts(item: StoredFeedback, parents: ThemeParents) -> Counter[str]:
    """What one item adds to its day's counters."""
    counts: Counter[str] = Counter()
    channel = str(item.channel or "unknown")
    counts[f"s|{channel}|{item.sentiment or UNANALYSED}"] += 1
    # Every item is written in the channel layout of the per-day index (day_layout.py says why it is counted).
    counts[KEYED] += 1
    counts[f"fs|{item.source_id}|{item.sentiment or UNANALYSED}"] += 1
    if item.rating is not None and item.rating_scale is not None:
        counts[f"r|{item.rating_scale}|{item.rating}"] += 1
        counts[f"fr|{item.source_id}|{item.rating_scale}|{item.rating}"] += 1
        counts[f"cr|{channel}|{item.rating_scale}|{item.rating}"] += 1
        if item.rating_scale == RatingScale.NPS:
            counts[f"n|{channel}|{nps_band(item.rating)}"] += 1
    tags = [tag.model_dump(mode="json") for tag in item.themes or ()]
    matches = theme_matches(tags, parents)
    if matches:
        counts[TAGGED] += 1
    for theme_id, sentiments in matches.items():
        counts[f"t|{theme_id}"] += 1
        for sentiment in sentiments:
            counts[f"t|{theme_id}|{sentiment}"] += 1
    if channel == Channel.FORM.value:
        counts[f"{SOURCE_ITEMS}|{item.source_id}"] += 1
        counts.update(form_theme_counts(item.source_id, matches))
    else:
        counts[f"{SOURCE_CHANNEL}|{item.source_id}|{channel}"] += 1
    return counts


def day_deltas(
    added: Iterable[StoredFeedback], removed: Iterable[StoredFeedback], parents: ThemeParents
) -> dict[date, Counter[str]]:
    """Per stored day, what the counters gain from `added` and lose from `removed` (zeros dropped)."""
    deltas: dict[date, Counter[str]] = defaultdict(Counter)
    for item in added:
        deltas[item.stored_at.date()].update(item_counts(item, parents))
    for item in removed:
        deltas[item.stored_at.date()].subtract(item_counts(item, parents))
    return {
        day: Counter({name: n for name, n in counts.items() if n})
        for day, counts in deltas.items()
        if any(counts.values())
    }


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in (its counter item's)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_counts(item: StoredFeedback, parents: ThemeParents) -> Counter[str]:
    """What one item adds to its hour's counters: its day counts that alerts read (HOUR_COUNTER_PREFIXES)."""
    return Counter(
        {name: n for name, n in item_counts(item, parents).items() if name.startswith(HOUR_COUNTER_PREFIXES)}
    )


def hour_deltas(
    added: Iterable[StoredFeedback], removed: Iterable[StoredFeedback], parents: ThemeParents
) -> dict[datetime, Counter[str]]:
    """Per stored hour, what the hour counters gain from `added` and lose from `removed` (zeros dropped):
    day_deltas' twin, for whatever moves the counters (a transaction here, or a stream consumer)."""
    deltas: dict[datetime, Counter[str]] = defaultdict(Counter)
    for item in added:
        deltas[hour_of(item.stored_at)].update(hour_counts(item, parents))
    for item in removed:
        deltas[hour_of(item.stored_at)].subtract(hour_counts(item, parents))
    return {
        hour: Counter({name: n for name, n in counts.items() if n})
        for hour, counts in deltas.items()
        if any(counts.values())
    }


def attribute_count(items: Sequence[StoredFeedback], parents: ThemeParents) -> int:
    """How many counter attributes `items` touch (the most of any one day)."""
    per_day: dict[date, set[str]] = defaultdict(set)
    for item in items:
        per_day[item.stored_at.date()].update(item_counts(item, parents))
    return max((len(names) for names in per_day.values()), default=0)


def action_count(items: Sequence[StoredFeedback]) -> int:
    """Counter Updates (one per day and one per hour) that `items` bring to a transaction."""
    return len({item.stored_at.date() for item in items}) + len({hour_of(item.stored_at) for item in items})


def transaction_chunks(
    units: Sequence[Unit],
    room: int,
    parents: ThemeParents,
    items_of: Callable[[Unit], Sequence[StoredFeedback]],
) -> list[list[Unit]]:
    """`units` (each one action on the items `items_of` gives) in chunks that fit `room` actions with their
    counter actions, and whose counter update stays within the expression limit."""
    chunks: list[list[Unit]] = [[]]
    for unit in units:
        candidate = [*chunks[-1], unit]
        items = [item for each in candidate for item in items_of(each)]
        too_big = len(candidate) + action_count(items) > room or (
            attribute_count(items, parents) > MAX_COUNTER_ATTRIBUTES
        )
        if too_big and chunks[-1]:
            chunks.append([unit])
        else:
            chunks[-1] = candidate
    return [chunk for chunk in chunks if chunk]


def just(item: StoredFeedback) -> Sequence[StoredFeedback]:
    """`items_of` for units that are items."""
    return (item,)


def counter_update(day: date, shard: int, delta: Mapping[str, int]) -> dict[str, Any]:
    """One unconditional Update adding `delta` to a counter item (creating it, and its attributes, at 0)."""
    names = {"#rt": RECORD_TYPE}
    values: dict[str, Any] = {":rt": COUNTER}
    adds = dynamo.add_clauses(delta, names, values, "c")
    return {
        "Update": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(counter_key(day, shard)),
            "UpdateExpression": f"SET #rt = :rt ADD {', '.join(adds)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.serialize(values),
        }
    }


def hour_key(hour: datetime, shard: int) -> dict[str, str]:
    """The key of one hour counter item."""
    return {PK: f"{COUNTER}#{hour_of(hour):%Y-%m-%dT%H}", SK: f"SHARD#{shard}"}


def hour_keys(hours: Iterable[datetime]) -> list[dict[str, str]]:
    """Every counter item of `hours`."""
    return [hour_key(hour, shard) for hour in hours for shard in range(COUNTER_SHARDS)]


def hour_update(hour: datetime, shard: int, delta: Mapping[str, int]) -> dict[str, Any]:
    """One unconditional Update adding `delta` to an hour counter item, which expires (TTL) once no
    baseline reads it."""
    names = {"#rt": RECORD_TYPE, "#ttl": TTL_ATTRIBUTE}
    expires_at = int((hour_of(hour) + HOUR_COUNTER_RETENTION).timestamp())
    values: dict[str, Any] = {":rt": HOUR_COUNTER, ":ttl": expires_at}
    adds = dynamo.add_clauses(delta, names, values, "c")
    return {
        "Update": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(hour_key(hour, shard)),
            "UpdateExpression": f"SET #rt = :rt, #ttl = :ttl ADD {', '.join(adds)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.serialize(values),
        }
    }


def counter_actions(
    added: Sequence[StoredFeedback], removed: Sequence[StoredFeedback], parents: ThemeParents
) -> list[dict[str, Any]]:
    """The counter Updates of one transaction: one per day and one per hour touched, each on the shard of
    its first item. (The items' entries in the sparse index of negatives move with the items themselves.)"""
    first_id: dict[date, str] = {}
    first_in_hour: dict[datetime, str] = {}
    for item in [*added, *removed]:
        first_id.setdefault(item.stored_at.date(), item.feedback_id)
        first_in_hour.setdefault(hour_of(item.stored_at), item.feedback_id)
    days = [
        counter_update(day, shard_of(first_id[day], COUNTER_SHARDS), delta)
        for day, delta in sorted(day_deltas(added, removed, parents).items())
    ]
    hours = [
        hour_update(hour, shard_of(first_in_hour[hour], COUNTER_SHARDS), delta)
        for hour, delta in sorted(hour_deltas(added, removed, parents).items())
    ]
    return days + hours


def sum_counters(items: Iterable[dict[str, Any]]) -> dict[date, Counter[str]]:
    """Counter items (as read) summed per day over their shards."""
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for item in items:
        day = date.fromisoformat(str(item[PK]).removeprefix(f"{COUNTER}#"))
        for name, value in item.items():
            if name not in (PK, SK, RECORD_TYPE) and isinstance(value, int):
                per_day[day][name] += value
    return {day: Counter({k: v for k, v in counts.items() if v}) for day, counts in per_day.items()}


def _whole_decimal(text: str) -> int | None:
    """A number DynamoDB sends in decimal notation, when whole (what sum_counters counts)."""
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else None


def sum_wire_counters(items: Iterable[dict[str, Any]]) -> dict[date, Counter[str]]:
    """Counter items as DynamoDB sends them (dynamo.batch_get_unparsed) summed per day over their shards: what
    sum_counters gives for the same items deserialised, for a fifth of the CPU of parsing and deserialising
    them (a 90-day `/stats` at 11,100 items a day reads 95,000 counters). The key and record type are strings,
    so every number is a counter."""
    per_day: dict[date, dict[str, int]] = {}
    for item in items:
        day = date.fromisoformat(str(item[PK]["S"]).removeprefix(f"{COUNTER}#"))
        counts = None
        for name, value in item.items():
            text = value.get("N")
            if text is None:
                continue
            try:
                number: int | None = int(text)
            except ValueError:
                number = _whole_decimal(text)
            if number is not None:
                counts = per_day.setdefault(day, {}) if counts is None else counts
                counts[name] = counts.get(name, 0) + number
    return {day: Counter({k: v for k, v in counts.items() if v}) for day, counts in per_day.items()}


def read_days(days: Sequence[date]) -> dict[date, Counter[str]]:
    """The counters of `days`, summed over shards: one BatchGetItem per 50 days."""
    return sum_wire_counters(dynamo.batch_get_unparsed(settings().table_name, counter_keys(days)))


def read_hours(hours: Sequence[datetime]) -> dict[datetime, Counter[str]]:
    """The hour counters of `hours` (UTC hours), summed over shards: one BatchGetItem per 50 hours, however
    much history the table holds. An hour nothing was stored in is absent."""
    per_hour: dict[datetime, Counter[str]] = defaultdict(Counter)
    for item in dynamo.batch_get(settings().table_name, hour_keys(hours)):
        hour = datetime.strptime(str(item[PK]).removeprefix(f"{COUNTER}#"), "%Y-%m-%dT%H").replace(tzinfo=UTC)
        for name, value in item.items():
            if name not in (PK, SK, RECORD_TYPE, TTL_ATTRIBUTE) and isinstance(value, int):
                per_hour[hour][name] += value
    return {hour: Counter({k: v for k, v in counts.items() if v}) for hour, counts in per_hour.items()}


def read_day_items(
    days: Sequence[date], with_completeness: bool = True
) -> tuple[list[dict[str, Any]], date | None]:
    """The counter items of `days` as read (every shard) and, `with_completeness`, the first day whose items
    are all counted (None when not known or not asked), in the same BatchGetItem requests."""
    keys = counter_keys(days)
    found = dynamo.batch_get(settings().table_name, [COMPLETE_KEY, *keys] if with_completeness else keys)
    complete = [item for item in found if item[PK] == COMPLETE_KEY[PK]]
    since = complete[0].get("since") if complete else None
    day_items = [item for item in found if str(item[PK]).startswith(f"{COUNTER}#")]
    return day_items, date.fromisoformat(since) if isinstance(since, str) else None


def read_days_and_completeness(days: Sequence[date]) -> tuple[dict[date, Counter[str]], date | None]:
    """The counters of `days` (as read_days) and the first day whose items are all counted (None when not
    known), in the same BatchGetItem requests."""
    day_items, since = read_day_items(days)
    return sum_counters(day_items), since


def mark_complete(first: date, last: date, today: date) -> bool:
    """After `first`..`last` were recounted: every item from `first` on is counted when the recount reached
    `today` (later days are written by the counting code only) and `first` is on or before any day already
    marked (so no gap of uncounted days is trusted). Whether the mark moved to `first`."""
    if last < today:
        return False
    return _set_since(
        first,
        "attribute_not_exists(#since) OR (#since > :since AND #since <= :after_last)",
        {":after_last": (last + timedelta(days=1)).isoformat()},
    )


# `since` of a table that held no feedback when the counters were set up: every day is counted.
EVERY_DAY = date(1970, 1, 1)


def mark_complete_if_unset(since: date) -> bool:
    """Mark the counters complete from `since` unless a mark exists (one conditional write: an existing mark
    is never moved later; `counters rebuild` may still move it earlier). Whether the mark was set."""
    return _set_since(since, "attribute_not_exists(#since)", {})


def _set_since(since: date, condition: str, values: dict[str, str]) -> bool:
    """The completeness mark moved to `since` under `condition`; False when the condition refused it."""
    try:
        aws.client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(COMPLETE_KEY),
            UpdateExpression="SET #since = :since, #rt = :rt",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#since": "since", "#rt": RECORD_TYPE},
            ExpressionAttributeValues=dynamo.serialize(
                {":since": since.isoformat(), ":rt": "COUNTERS_COMPLETE", **values}
            ),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def newest_negative_ids(first: date, last: date, limit: int) -> list[tuple[str, str]]:
    """(stored_at, feedback id) of the newest negative items stored from `first` to `last`, newest first: one
    Query on the sparse index of negatives."""
    response = dynamo.query_pages(
        max_pages=1,
        TableName=settings().table_name,
        IndexName=NEGATIVE_INDEX,
        KeyConditionExpression="#pk = :negative AND #sk BETWEEN :first AND :last",
        ExpressionAttributeNames={"#pk": NEGATIVE_PK, "#sk": DAY_SK},
        ExpressionAttributeValues={
            ":negative": {"S": NEGATIVE_PARTITION},
            ":first": {"S": first.isoformat()},
            # "~" sorts after every character of a timestamp: the whole last day is included.
            ":last": {"S": f"{last.isoformat()}~"},
        },
        ScanIndexForward=False,
        Limit=limit,
    )
    return [tuple(str(item[DAY_SK]).rsplit("#", 1)) for item in response]  # type: ignore[misc]


def _day_pointers(day: date) -> list[dict[str, Any]]:
    return list(
        dynamo.query_pages(
            TableName=settings().table_name,
            KeyConditionExpression="#pk = :negative AND begins_with(#sk, :day)",
            ExpressionAttributeNames={"#pk": PK, "#sk": SK},
            ExpressionAttributeValues={":negative": {"S": NEGATIVE_POINTER}, ":day": {"S": day.isoformat()}},
            ProjectionExpression="#pk, #sk",
        )
    )


def index_negative(item: StoredFeedback) -> None:
    """Put a stored negative item in the sparse index (an item written before it): a conditional Update,
    so an item erased or re-analysed meanwhile is left as it is."""
    try:
        aws.client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(feedback_key(item.feedback_id)),
            UpdateExpression="SET #negative = :negative",
            ConditionExpression=(
                "attribute_exists(#pk) AND sentiment = :sentiment AND attribute_not_exists(#negative)"
            ),
            ExpressionAttributeNames={"#pk": PK, "#negative": NEGATIVE_PK},
            ExpressionAttributeValues=dynamo.serialize(
                {":negative": NEGATIVE_PARTITION, ":sentiment": Sentiment.NEGATIVE.value}
            ),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _hour_rebuild_writes(day: date, items: Sequence[StoredFeedback], parents: ThemeParents) -> list[Any]:
    """The day's 24 hour counters replaced by a recount of its items (in shard 0, the others removed)."""
    recount = hour_deltas(items, [], parents)
    writes: list[Any] = []
    for hour in (datetime(day.year, day.month, day.day, h, tzinfo=UTC) for h in range(24)):
        counts = recount.get(hour)
        if counts:
            expires_at = int((hour + HOUR_COUNTER_RETENTION).timestamp())
            fields = {RECORD_TYPE: HOUR_COUNTER, TTL_ATTRIBUTE: expires_at, **counts}
            writes.append(dynamo.put_request({**hour_key(hour, 0), **fields}))
        else:
            writes.append({"DeleteRequest": {"Key": dynamo.serialize(hour_key(hour, 0))}})
        writes += [
            {"DeleteRequest": {"Key": dynamo.serialize(hour_key(hour, s))}} for s in range(1, COUNTER_SHARDS)
        ]
    return writes


def rebuild_day(day: date, items: Iterable[StoredFeedback], parents: ThemeParents) -> Counter[str]:
    """Replace a day's counters with a recount of `items` (the day's stored items): the recount in shard 0,
    the other shards removed, and likewise its hour counters; and put the day's negatives in the sparse
    index (items written before it), their pointer items (an older table's) removed. Idempotent; writes that
    land on the day while it runs may be lost, so rebuild days no longer written to (after a backfill or a
    taxonomy change)."""
    # Imported here: the re-key module imports this one, and no function's handler rebuilds (the CLI does).
    from chalicelib.store.feedback_rekey import count_legacy

    items = list(items)
    counts = day_deltas(items, [], parents).get(day, Counter())
    # The recount counts every item as keyed; those still in the old layout are not (day_layout.py).
    counts[KEYED] -= count_legacy(day)
    counts = Counter({name: n for name, n in counts.items() if n})
    writes = [dynamo.put_request({**counter_key(day, 0), RECORD_TYPE: COUNTER, **counts})]
    writes += [
        {"DeleteRequest": {"Key": dynamo.serialize(counter_key(day, s))}} for s in range(1, COUNTER_SHARDS)
    ]
    writes += _hour_rebuild_writes(day, items, parents)
    for item in items:
        if is_negative(item):
            index_negative(item)
    writes += [
        {"DeleteRequest": {"Key": dynamo.serialize({PK: pointer[PK], SK: pointer[SK]})}}
        for pointer in _day_pointers(day)
    ]
    dynamo.batch_write(settings().table_name, writes)
    return counts


def settle_keyed(day: date) -> int:
    """After a day's old-layout items were all re-keyed (`cli feedback rekey`): raise its `ck` count to its
    total, so readers stop Querying the old shards. Safe beside concurrent writes: every write and removal
    since the channel layout moves `ck` and the total alike, so their difference read at any moment is what
    the re-key settled. Only on a counted day (others are read whole anyway). What `ck` was raised by."""
    per_day, since = read_days_and_completeness([day])
    if since is None or day < since:
        return 0
    counts = per_day.get(day, Counter())
    missing = sum(n for name, n in counts.items() if name.startswith("s|")) - counts.get(KEYED, 0)
    if missing <= 0:
        return 0
    aws.client("dynamodb").update_item(**counter_update(day, 0, {KEYED: missing})["Update"])
    return missing


def name_channels(day: date, channels: Iterable[str]) -> None:
    """Make the day's counters name `channels` (an `s|<channel>|NONE` attribute, added 0 where absent) without
    changing a count: readers Query the channel partitions a day's counters name (day_layout.partitions)."""
    names = sorted(channels)
    if names:
        delta = {f"s|{channel}|{UNANALYSED}": 0 for channel in names}
        aws.client("dynamodb").update_item(**counter_update(day, 0, delta)["Update"])
