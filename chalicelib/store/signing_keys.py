"""The read API's cursor MAC key: 32 random bytes created once per table by the first call that issues a
cursor, with a conditional put so concurrent cold starts agree on one key, then kept in memory for
CONFIG_CACHE_SECONDS. Deleting the record rotates the key. Written by hand rather than with the Powertools
provider the config records use, because that provider caches a missing record, and the key must be created
on a miss.
"""

from __future__ import annotations

import base64
import secrets
import time

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.store import dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK

KEY_PARTITION = "SIGNING_KEY"
KEY_ID = "cursor"
KEY_BYTES = 32

# table name → (key, monotonic time it was read)
_keys: dict[str, tuple[bytes, float]] = {}


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


def cursor_key(create: bool) -> bytes | None:
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
