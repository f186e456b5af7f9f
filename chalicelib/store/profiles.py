"""A customer profile's aggregates as DynamoDB Update actions that give the same profile in any order.

Two kinds of attributes:
- counters and sets (`feedback_count`, `channel_*`, `sentiment_*`, `rating_*`, `channels`, `emails`, …) are
  ADDed: addition commutes, and the conditional feedback Put in the same transaction makes sure an item is
  added once. The score sum is added as Decimal, so it is exactly the sum of the items' scores whatever the
  batching (floats would round differently per batch).
- ordered attributes (`first_seen`, `last_seen`, `latest_nps`, `latest_csat`, `display_name`) take the
  value of the item that occurred first or last; `occurred_at` decides, never the arrival, and the feedback
  id breaks ties so every order gives the same value. Each stores its order key (an ISO timestamp in UTC,
  plus `#feedback id` for the latest-* values) so that DynamoDB can compare it.

Why conditional SETs: an update expression cannot take a min or a max, and a read before every write would
add a round trip. So each ordered attribute is written as a guess about the stored profile, and the guess is
the action's condition: "set it, if what is stored is not newer" (the default for the max-kind, as feedback
usually arrives in order) or "keep what is stored, if it is not older" (the default for `first_seen`;
`if_not_exists` covers a new profile). A wrong guess cancels the transaction before anything is written;
the cancellation returns the stored profile (ReturnValuesOnConditionCheckFailure), from which the retry
guesses right. Feedback arriving in order costs nothing extra, a late item one more transaction attempt
and no read. Every writer (the analyze path and merges) moves a bound only outward under such a condition,
so concurrent writers can never move it back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.config import settings
from chalicelib.models import RatingScale, StoredFeedback
from chalicelib.store import dynamo, identities
from chalicelib.store.identities import PROFILE, profile_key  # the key is a first identity's: spelled there
from chalicelib.store.schema import CUSTOMER_PK, CUSTOMER_SK, RECORD_TYPE

# Numbers a profile adds up (merging two customers adds them too); sets it unions.
COUNTER_PREFIXES = ("feedback_count", "channel_", "sentiment_", "rating_")
# stored_days: the UTC days the customer's items were stored on, kept only with a retention (RETENTION_DAYS),
# so an erasure still finds the export days to rewrite after the items themselves expired.
# user_ids: the authors' `<source_id>#<channel user id>` identities, so that a customer's identity
# items (which have no customer index entry) can be found by merges, erasure and the customer view, as the
# email identities are from `emails` (identities.candidates).
SET_ATTRIBUTES = ("channels", "emails", "handles", "user_ids", "stored_days")
# Added to on every write of a profile's counters: a merge reads the absorbed profile, and its tombstone
# is written only if no write came in between (otherwise those counts would stay behind in the tombstone).
REVISION = "revision"


def instant(moment: datetime) -> str:
    """A timestamp as profiles store it: ISO 8601 in UTC, which sorts as text in time order (a whole second
    has no fraction, and `+` sorts before `.`)."""
    return moment.astimezone(UTC).isoformat()


def order_key(item: StoredFeedback) -> str:
    """When an item occurred, then its feedback id: a total order that does not depend on arrival."""
    return f"{instant(item.occurred_at)}#{item.feedback_id}"


# --- ordered attributes -------------------------------------------------------------------------------------


# Plain slotted classes, read-only by convention (chalicelib/records.py says why).
class Ordered:
    """A profile attribute taking the value of the item that sorts last (or first) by its order key. The five
    below are the only ones: dictionaries key them by identity."""

    __slots__ = ("lowest_wins", "name", "order")

    def __init__(self, name: str, order: str, lowest_wins: bool = False) -> None:
        self.name = name
        self.order = order  # the attribute holding the order key (the value itself for first/last seen)
        self.lowest_wins = lowest_wins


FIRST_SEEN = Ordered("first_seen", "first_seen", lowest_wins=True)
LAST_SEEN = Ordered("last_seen", "last_seen")
LATEST_RATING = {
    RatingScale.NPS: Ordered("latest_nps", "latest_nps_order"),
    RatingScale.CSAT: Ordered("latest_csat", "latest_csat_order"),
}
DISPLAY_NAME = Ordered("display_name", "display_name_order")
ORDERED = (FIRST_SEEN, LAST_SEEN, *LATEST_RATING.values(), DISPLAY_NAME)


class Candidate:
    """A value offered for an ordered attribute, with its order key."""

    __slots__ = ("order", "value")

    def __init__(self, value: Any, order: str) -> None:
        self.value = value
        self.order = order


def _better(attribute: Ordered, mine: str, theirs: str) -> bool:
    """Whether order key `mine` wins over `theirs` (or ties with it)."""
    return mine <= theirs if attribute.lowest_wins else mine >= theirs


def _pick(attribute: Ordered, candidates: Sequence[Candidate]) -> Candidate | None:
    if not candidates:
        return None
    choose = min if attribute.lowest_wins else max
    return choose(candidates, key=lambda candidate: candidate.order)


def item_candidates(items: Sequence[StoredFeedback]) -> dict[Ordered, Candidate]:
    """What a group of items offers each ordered attribute."""
    offers: dict[Ordered, list[Candidate]] = defaultdict(list)
    for item in items:
        at = instant(item.occurred_at)
        offers[FIRST_SEEN].append(Candidate(at, at))
        offers[LAST_SEEN].append(Candidate(at, at))
        latest = LATEST_RATING.get(item.rating_scale) if item.rating_scale else None
        if latest is not None and item.rating is not None:
            offers[latest].append(Candidate({"rating": item.rating, "at": at}, order_key(item)))
        if item.author.name:
            offers[DISPLAY_NAME].append(Candidate(item.author.name, order_key(item)))
    picked = {attribute: _pick(attribute, offers[attribute]) for attribute in ORDERED}
    return {attribute: candidate for attribute, candidate in picked.items() if candidate is not None}


def stored_candidates(profile: Mapping[str, Any]) -> dict[Ordered, Candidate]:
    """What a stored profile (one being merged away) offers each ordered attribute. A profile written before
    order keys were kept offers its latest ratings at their time, and its name below any other."""
    offers = {}
    for attribute in ORDERED:
        value = profile.get(attribute.name)
        if value is None:
            continue
        order = profile.get(attribute.order)
        if order is None:
            order = f"{value['at']}#" if isinstance(value, dict) and "at" in value else ""
        offers[attribute] = Candidate(value, order)
    return offers


def _wins(attribute: Ordered, candidate: Candidate, stored: Mapping[str, Any] | None) -> bool:
    """Whether to write the candidate, given the profile believed stored (None: nothing known, so guess
    that feedback arrives in order)."""
    if stored is None:
        return not attribute.lowest_wins
    current = stored.get(attribute.order)
    return current is None or _better(attribute, candidate.order, current)


# --- update expressions -------------------------------------------------------------------------------------


# A plain slotted class, not a dataclass: chalicelib/records.py says why.
class _Update:
    """An UpdateItem expression being built: SET and ADD clauses, conditions, placeholder values."""

    __slots__ = ("adds", "conditions", "sets", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sets: list[str] = []
        self.adds: list[str] = []
        self.conditions: list[str] = []

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def identity(self, customer_id: str, now: datetime) -> None:
        """The attributes that make the item a profile, and its creation and update times (written by every
        update: one may create it)."""
        self.sets += [
            f"customer_id = {self.value(customer_id)}",
            f"{RECORD_TYPE} = {self.value(PROFILE)}",
            f"created_at = if_not_exists(created_at, {self.value(now.isoformat())})",
            f"updated_at = {self.value(now.isoformat())}",
        ]

    def ordered(self, candidates: Mapping[Ordered, Candidate], stored: Mapping[str, Any] | None) -> None:
        """Write each candidate or keep the stored value, on the condition that the choice is right."""
        for attribute, candidate in candidates.items():
            value, order = self.value(candidate.value), self.value(candidate.order)
            name, key = attribute.name, attribute.order
            wins = _wins(attribute, candidate, stored)
            # "<=" reads "the stored key is not newer": what allows writing a max, and keeping a min.
            operator = "<=" if wins != attribute.lowest_wins else ">="
            self.conditions.append(f"(attribute_not_exists({key}) OR {key} {operator} {order})")
            if wins:
                self.sets.append(f"{name} = {value}")
                if key != name:
                    self.sets.append(f"{key} = {order}")
            else:
                self.sets.append(f"{name} = if_not_exists({name}, {value})")
                if key != name:
                    self.sets.append(f"{key} = if_not_exists({key}, {order})")

    def add(self, name: str, amount: Any) -> None:
        self.adds.append(f"{name} {self.value(amount)}")

    def action(self, customer_id: str, extra_condition: str | None = None) -> dict[str, Any]:
        expression = f"SET {', '.join(self.sets)}" + (f" ADD {', '.join(self.adds)}" if self.adds else "")
        conditions = ([extra_condition] if extra_condition else []) + self.conditions
        update: dict[str, Any] = {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(profile_key(customer_id)),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": dynamo.serialize(self.values),
        }
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
            # A cancelled transaction then hands back the stored profile: the retry's guesses come from it.
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return {"Update": update}


def decimal_score(item: StoredFeedback) -> Decimal | None:
    """The item's sentiment score as the profile sums it: Decimal, so any batching gives the same sum, and
    adding and later removing a score (reanalysis) leaves the sum exactly where it was."""
    score = item.sentiment_score
    return None if score is None else Decimal(str(score))


def profile_update(
    customer_id: str, items: Sequence[StoredFeedback], now: datetime, stored: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An Update action adding `items` to the customer's profile (creating it on first use), its ordered
    attributes guessed from `stored` (the profile as last seen, if known). Refused, and so retried by the
    caller, when a guess is wrong or when the customer was merged away meanwhile (`merged_into`)."""
    adds: dict[str, int | Decimal] = defaultdict(int)
    sets: dict[str, set[str]] = defaultdict(set)
    for item in items:
        adds["feedback_count"] += 1
        adds[f"channel_{item.channel}"] += 1
        sets["channels"].add(str(item.channel))
        if item.author.email:
            sets["emails"].add(item.author.email.lower())
        if item.author.handle:
            sets["handles"].add(item.author.handle)
        channel_identity = identities.channel_identity(item)
        if channel_identity:
            sets["user_ids"].add(channel_identity)
        if settings().retention_days:
            sets["stored_days"].add(item.stored_at.date().isoformat())
        if item.sentiment is not None:
            adds[f"sentiment_{item.sentiment}"] += 1
        score = decimal_score(item)
        if score is not None:
            adds["sentiment_scored"] += 1
            adds["sentiment_score_sum"] += score
        if item.rating is not None and item.rating_scale in LATEST_RATING:
            adds[f"rating_{item.rating_scale}_count"] += 1
            adds[f"rating_{item.rating_scale}_sum"] += item.rating
    adds[REVISION] = 1
    update = _Update()
    update.identity(customer_id, now)
    update.ordered(item_candidates(items), stored)
    for name, amount in sorted(adds.items()):
        update.add(name, amount)
    for name, members in sorted(sets.items()):
        update.add(name, members)
    return update.action(customer_id, "attribute_not_exists(merged_into)")


def merged_aggregates(
    keep_id: str, absorb: Mapping[str, Any], stored: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """An Update action adding the `absorb` profile's counters and sets to customer `keep_id`'s and offering
    it its ordered attributes, guessed from `stored` (keep's profile as read)."""
    update = _Update()
    update.identity(keep_id, now)
    update.ordered(stored_candidates(absorb), stored)
    # Remember whom this profile absorbed (and they had absorbed), so erasing it removes their tombstones.
    update.add("absorbed", {absorb["customer_id"], *absorb.get("absorbed", [])})
    update.add(REVISION, 1)
    for name, value in sorted(absorb.items()):
        if name.startswith(COUNTER_PREFIXES) and isinstance(value, int | float):
            update.add(name, Decimal(str(value)) if isinstance(value, float) else value)
        elif name in SET_ATTRIBUTES and value:
            update.add(name, set(value))
    return update.action(keep_id)


def tombstone(absorb: Mapping[str, Any], keep_id: str) -> dict[str, Any]:
    """An Update action marking the absorbed profile as merged into `keep_id`, on the condition that it was
    not merged yet and has not changed since it was read (its revision)."""
    revision = absorb.get(REVISION)
    unchanged = f"{REVISION} = :revision" if revision is not None else f"attribute_not_exists({REVISION})"
    values: dict[str, Any] = {":keep": keep_id}
    if revision is not None:
        values[":revision"] = revision
    return {
        "Update": {
            "TableName": settings().table_name,
            "Key": dynamo.serialize(profile_key(absorb["customer_id"])),
            # Out of the customer index, pointing at the survivor: GET /customers/<absorbed> can redirect.
            "UpdateExpression": f"SET merged_into = :keep REMOVE {CUSTOMER_PK}, {CUSTOMER_SK}",
            "ConditionExpression": f"attribute_not_exists(merged_into) AND {unchanged}",
            "ExpressionAttributeValues": dynamo.serialize(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def stored_profile(reason: Mapping[str, Any]) -> dict[str, Any] | None:
    """The profile a cancellation reason hands back (ReturnValuesOnConditionCheckFailure), if any."""
    item = reason.get("Item")
    return dynamo.deserialize(item) if item else None
