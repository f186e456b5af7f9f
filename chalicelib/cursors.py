"""The read API's `next` cursors: opaque to clients, tamper-proof, and checked again before use.

A cursor is `<payload>.<mac>`, both base64url: the payload is the JSON of where a listing stopped (the
listing's fingerprint, then a day index, a shard and DynamoDB's LastEvaluatedKey, or only the key), the mac
an HMAC-SHA256 over the payload with a key only the API knows. A `next` is accepted only when
1. its MAC is right, so only cursors this API issued pass, and
2. its payload is exactly what the listing it comes back with would issue: the same fingerprint (same days
   and filters), a day and shard in range, and a key of the index's shape in that day's or customer's
   partition. A second line of defence: nothing in a cursor reaches DynamoDB unchecked even if the key
   leaked or a bug issued a bad one.
Anything else is 400 `invalid_cursor`.

The MAC key: 32 random bytes created once per table by the first call that issues a cursor, stored in the
table itself (`pk = SIGNING_KEY, sk = cursor`) with a conditional put so that concurrent cold starts agree on
one key, then kept in memory for CONFIG_CACHE_SECONDS like the other config records. Why the table and not
an SSM SecureString: it works alike on AWS, under `make run` and in tests with nothing to provision (an SSM
SecureString cannot be created by CloudFormation, so it would need a deploy-time step), the API already
reads the table (one PutItem permission, limited to this partition, is added), and the key guards against
clients, not against principals who can read the table (they can read the feedback itself). Deleting the
record rotates the key: outstanding cursors are then refused with 400 `invalid_cursor`. Checking a cursor
never creates the key: when there is none, no cursor was ever issued.

Written by hand rather than with the Powertools parameters provider the config records use, because that
provider caches a missing record as missing, and the key must be created on a miss.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.http import BadRequest
from chalicelib.store import dynamo
from chalicelib.store.feedback import ITEM_TYPE, day_partition
from chalicelib.store.schema import (
    CUSTOMER_PK,
    CUSTOMER_SK,
    DAY_PK,
    DAY_SK,
    PK,
    RECORD_TYPE,
    SK,
    customer_partition,
)

KEY_PARTITION = "SIGNING_KEY"
KEY_ID = "cursor"
KEY_BYTES = 32
MAX_CURSOR_CHARS = 2048
MAX_KEY_VALUE_CHARS = 1024  # DynamoDB's limit for a sort key value (bytes; ours are ASCII)
_TOKEN = re.compile(r"(?P<payload>[A-Za-z0-9_-]+)\.(?P<mac>[A-Za-z0-9_-]{43})")
_MAC_CONTEXT = b"feedback-read-api-cursor-v1."
_DAY_KEY_NAMES = frozenset({PK, SK, DAY_PK, DAY_SK})
_CUSTOMER_KEY_NAMES = frozenset({PK, SK, CUSTOMER_PK, CUSTOMER_SK})

# table name → (key, monotonic time it was read)
_keys: dict[str, tuple[bytes, float]] = {}


class InvalidCursor(BadRequest):
    """400 invalid_cursor: the `next` is not one this API issued for this listing."""

    def __init__(self) -> None:
        super().__init__(
            "next is not a cursor this API issued for this listing; start again without next.",
            code="invalid_cursor",
        )


# --- the key ----------------------------------------------------------------------------------------------


def _key_item_key() -> dict[str, str]:
    return {PK: KEY_PARTITION, SK: KEY_ID}


def _stored_key() -> bytes | None:
    item = dynamo.get_item(settings().table_name, _key_item_key(), consistent=True)
    return base64.b64decode(item["secret"]) if item else None


def _create_key() -> bytes:
    """Store a new random key unless one exists; the key that is stored either way."""
    candidate = secrets.token_bytes(KEY_BYTES)
    item = {**_key_item_key(), RECORD_TYPE: KEY_PARTITION, "secret": base64.b64encode(candidate).decode()}
    try:
        aws.client("dynamodb").put_item(
            TableName=settings().table_name,
            Item=dynamo.serialize(item),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": PK},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        stored = _stored_key()  # another process created it first: use theirs
        if stored is None:
            raise
        return stored
    return candidate


def signing_key(create: bool) -> bytes | None:
    """The MAC key (from memory while fresh); created when missing and `create`, else None."""
    table = settings().table_name
    cached = _keys.get(table)
    if cached and time.monotonic() - cached[1] < settings().config_cache_seconds:
        return cached[0]
    key = _stored_key()
    if key is None and create:
        key = _create_key()
    if key is not None:
        _keys[table] = (key, time.monotonic())
    return key


def clear_cache() -> None:
    """Forget the key held in memory (tests)."""
    _keys.clear()


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
    key = signing_key(create=True)
    assert key is not None  # created when missing
    return f"{payload}.{_mac(key, payload)}"


def _verified_payload(token: str, listing: str) -> dict[str, Any]:
    """The payload of a token this API issued for `listing`, or InvalidCursor."""
    match = _TOKEN.fullmatch(token) if len(token) <= MAX_CURSOR_CHARS else None
    if match is None:
        raise InvalidCursor()
    key = signing_key(create=False)
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
    """The position (`day`, `shard`, `key`) of a day listing's `next`, checked; None without one."""
    if token is None:
        return None
    payload = _verified_payload(token, listing)
    day, shard, key = payload.get("day"), payload.get("shard"), payload.get("key")
    if set(payload) != {"day", "shard", "key"}:
        raise InvalidCursor()
    if not _is_index(day, len(days)) or not _is_index(shard, settings().day_shards):
        raise InvalidCursor()
    if key is not None:
        values = _string_values(key, _DAY_KEY_NAMES)
        if values is None or not _is_feedback_key(values):
            raise InvalidCursor()
        if values[DAY_PK] != day_partition(days[day], shard):
            raise InvalidCursor()
    return {"day": day, "shard": shard, "key": key}


def read_customer_cursor(token: str | None, listing: str, customer_id: str) -> dict[str, Any] | None:
    """The position (`key`) of a customer listing's `next`, checked; None without one."""
    if token is None:
        return None
    payload = _verified_payload(token, listing)
    if set(payload) != {"key"}:
        raise InvalidCursor()
    values = _string_values(payload["key"], _CUSTOMER_KEY_NAMES)
    if values is None or not _is_feedback_key(values):
        raise InvalidCursor()
    if values[CUSTOMER_PK] != customer_partition(customer_id) or not values[CUSTOMER_SK].startswith("FB#"):
        raise InvalidCursor()
    return {"key": payload["key"]}
