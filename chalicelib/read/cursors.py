"""The read API's `next` cursors: opaque to clients, tamper-proof, and checked again before use.

A cursor is `<payload>.<mac>`: the JSON of where a listing stopped, and an HMAC-SHA256 over it with a key only
the API knows (store/signing_keys.py). It is accepted only when the MAC is right and the payload is exactly
what the listing it comes back with would issue; anything else is 400 `invalid_cursor`. README, "Read API
and tokens", says why the key lives in the table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from chalicelib.config import settings
from chalicelib.http import BadRequest
from chalicelib.store import signing_keys
from chalicelib.store.day_layout import DayPartition, parse_channel
from chalicelib.store.feedback import ITEM_TYPE
from chalicelib.store.feedback_pages import customer_sort_range
from chalicelib.store.identities import is_customer_id
from chalicelib.store.schema import (
    CUSTOMER_PK,
    CUSTOMER_SK,
    DAY_PK,
    DAY_SK,
    PK,
    SK,
    customer_partition,
)

MAX_CURSOR_CHARS = 2048
MAX_KEY_VALUE_CHARS = 1024  # DynamoDB's limit for a sort key value (bytes; ours are ASCII)
_TOKEN = re.compile(r"(?P<payload>[A-Za-z0-9_-]+)\.(?P<mac>[A-Za-z0-9_-]{43})")
_MAC_CONTEXT = b"feedback-read-api-cursor-v1."
_DAY_KEY_NAMES = frozenset({PK, SK, DAY_PK, DAY_SK})
_CUSTOMER_KEY_NAMES = frozenset({PK, SK, CUSTOMER_PK, CUSTOMER_SK})


class InvalidCursor(BadRequest):
    """400 invalid_cursor: the `next` is not one this API issued for this listing."""

    def __init__(self) -> None:
        super().__init__(
            "next is not a cursor this API issued for this listing; start again without next.",
            code="invalid_cursor",
        )


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, _MAC_CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# --- issuing and reading ----------------------------------------------------------------------------------


def fingerprint(**listing: Any) -> str:
    """A short digest of what a listing is (its days, filters …): a cursor is valid for that listing only."""
    canonical = json.dumps(listing, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def issue(position: dict[str, Any] | None, listing: str) -> str | None:
    """The `next` token for a position in a listing (None at the end)."""
    if position is None:
        return None
    payload_json = json.dumps({"listing": listing, **position}, separators=(",", ":"), sort_keys=True)
    payload = base64.urlsafe_b64encode(payload_json.encode()).decode().rstrip("=")
    key = signing_keys.cursor_key(create=True)
    assert key is not None  # created when missing
    return f"{payload}.{_mac(key, payload)}"


def _verified_payload(token: str, listing: str) -> dict[str, Any]:
    """The payload of a token this API issued for `listing`, or InvalidCursor."""
    match = _TOKEN.fullmatch(token) if len(token) <= MAX_CURSOR_CHARS else None
    if match is None:
        raise InvalidCursor()
    key = signing_keys.cursor_key(create=False)
    if key is None or not hmac.compare_digest(_mac(key, match["payload"]), match["mac"]):
        raise InvalidCursor()
    try:
        payload = json.loads(base64.urlsafe_b64decode(match["payload"] + "=" * (-len(match["payload"]) % 4)))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor() from error
    if not isinstance(payload, dict) or payload.pop("listing", None) != listing:
        raise InvalidCursor()
    return payload


def _is_index(value: Any, size: int) -> bool:
    return type(value) is int and 0 <= value < size


def _string_values(key: Any, names: frozenset[str]) -> dict[str, str] | None:
    """`key`'s plain string values when it is a DynamoDB key with exactly `names`, each a bounded string."""
    if not isinstance(key, dict) or set(key) != names:
        return None
    values = {}
    for name, value in key.items():
        if not isinstance(value, dict) or set(value) != {"S"} or not isinstance(value["S"], str):
            return None
        if not 0 < len(value["S"]) <= MAX_KEY_VALUE_CHARS:
            return None
        values[name] = value["S"]
    return values


def _is_feedback_key(values: dict[str, str]) -> bool:
    return values[PK].startswith(f"{ITEM_TYPE}#") and values[SK] == ITEM_TYPE


def read_days_cursor(token: str | None, listing: str, days: Sequence[date]) -> dict[str, Any] | None:
    """The position (`day`, `channel`, `shard`, `key`) of a day listing's `next`, checked; None without one.

    `channel` names a channel partition of the per-day index, None an old-layout shard (store/day_layout.py);
    a cursor issued before the channel partitions has no `channel` and names an old-layout shard, as it did.
    """
    if token is None:
        return None
    payload = _verified_payload(token, listing)
    if set(payload) not in ({"day", "shard", "key"}, {"day", "channel", "shard", "key"}):
        raise InvalidCursor()
    day, channel, shard, key = payload["day"], payload.get("channel"), payload["shard"], payload["key"]
    if channel is not None and parse_channel(channel) is None:
        raise InvalidCursor()
    shards = settings().day_shards if channel is None else settings().channel_shards
    if not _is_index(day, len(days)) or not _is_index(shard, shards):
        raise InvalidCursor()
    if key is not None:
        values = _string_values(key, _DAY_KEY_NAMES)
        if values is None or not _is_feedback_key(values):
            raise InvalidCursor()
        if values[DAY_PK] != DayPartition(channel, shard).value(days[day]):
            raise InvalidCursor()
    return {"day": day, "channel": channel, "shard": shard, "key": key}


def read_newest_cursor(token: str | None, listing: str, days: Sequence[date]) -> dict[str, Any] | None:
    """The position (`day`, `before`: the sort key to list below, None for the day's newest) of a newest-first
    day listing's `next`, checked; None without one."""
    if token is None:
        return None
    payload = _verified_payload(token, listing)
    if set(payload) != {"day", "before"} or not _is_index(payload["day"], len(days)):
        raise InvalidCursor()
    before = payload["before"]
    if before is not None and not (
        isinstance(before, str)
        and len(before) <= MAX_KEY_VALUE_CHARS
        and before.startswith(days[payload["day"]].isoformat())
    ):
        raise InvalidCursor()
    return {"day": payload["day"], "before": before}


def read_customer_cursor(
    token: str | None, listing: str, customer_id: str, days: Sequence[date] | None = None
) -> dict[str, Any] | None:
    """The position (`key`) of a customer listing's `next`, checked (inside the days' sort keys when the
    listing has days); None without one. A listing of a merged customer's old id pages its survivor's
    feedback: its cursors also name the survivor (`merged_into`), signed with the rest."""
    if token is None:
        return None
    payload = _verified_payload(token, listing)
    survivor = payload.get("merged_into")
    if set(payload) - {"merged_into"} != {"key"} or not (survivor is None or is_customer_id(survivor)):
        raise InvalidCursor()
    values = _string_values(payload["key"], _CUSTOMER_KEY_NAMES)
    if values is None or not _is_feedback_key(values):
        raise InvalidCursor()
    paged = survivor or customer_id
    if values[CUSTOMER_PK] != customer_partition(paged) or not values[CUSTOMER_SK].startswith("FB#"):
        raise InvalidCursor()
    if days:
        first, last = customer_sort_range(days)
        if not first <= values[CUSTOMER_SK] <= last:
            raise InvalidCursor()
    return {"key": payload["key"], **({"merged_into": survivor} if survivor else {})}
