"""The single DynamoDB table's keys and indexes: one definition for the local stack, tests and infra/."""

from __future__ import annotations

from typing import Any

PK = "pk"
SK = "sk"
# Per-day index for the nightly export: DAY#yyyy-mm-dd#n, sharded so one busy day spreads over n partitions.
DAY_INDEX = "by_day"
DAY_PK = "gsi1pk"
DAY_SK = "gsi1sk"
# Per-customer index: a customer's feedback (newest first) in one Query (the profile is read
# by its key, identities are found from it: profiles and identities written before this still have an entry,
# which readers ignore or take along).
CUSTOMER_INDEX = "by_customer"
CUSTOMER_PK = "gsi2pk"
CUSTOMER_SK = "gsi2sk"
# Sparse index of negative feedback, newest first: only negative items carry its partition key (its sort key
# is the per-day index's `<stored_at>#<id>`), so `/stats` finds the latest negatives in one Query, and an
# entry (keys only) costs one write unit, written with the item rather than as an item of its own.
NEGATIVE_INDEX = "by_negative"
NEGATIVE_PK = "gsi3pk"
NEGATIVE_PARTITION = "NEGATIVE"
# Epoch seconds after which DynamoDB deletes an item (TTL, enabled on the table); set on feedback only when
# a retention is configured (RETENTION_DAYS), so by default nothing expires.
TTL_ATTRIBUTE = "expires_at"
# Every item says what it is (FEEDBACK, FORM, SOURCE …), apart from its keys.
RECORD_TYPE = "record_type"
# What the customer index holds beside the keys: what tells its entries apart and what a customer's
# listing filters on (channel, sentiment). Readers fetch the items themselves by key (BatchGetItem), so an
# index entry stays under 1 KB and a profile update, which changes none of these, rewrites no entry.
CUSTOMER_INDEX_ATTRIBUTES = (RECORD_TYPE, "channel", "sentiment")
INDEX_KEYS = frozenset({PK, SK, DAY_PK, DAY_SK, CUSTOMER_PK, CUSTOMER_SK, NEGATIVE_PK, RECORD_TYPE})

KEY_SCHEMA = [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}]
KEY_ATTRIBUTES = (PK, SK, DAY_PK, DAY_SK, CUSTOMER_PK, CUSTOMER_SK, NEGATIVE_PK)
ATTRIBUTE_DEFINITIONS = [{"AttributeName": name, "AttributeType": "S"} for name in KEY_ATTRIBUTES]
GLOBAL_SECONDARY_INDEXES = [
    {
        "IndexName": DAY_INDEX,
        "KeySchema": [
            {"AttributeName": DAY_PK, "KeyType": "HASH"},
            {"AttributeName": DAY_SK, "KeyType": "RANGE"},
        ],
        # ALL: the export, the listings by day and /stats read whole items from the index, each once;
        # projecting less would make each of them read every item a second time, by key.
        "Projection": {"ProjectionType": "ALL"},
    },
    {
        "IndexName": CUSTOMER_INDEX,
        "KeySchema": [
            {"AttributeName": CUSTOMER_PK, "KeyType": "HASH"},
            {"AttributeName": CUSTOMER_SK, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(CUSTOMER_INDEX_ATTRIBUTES)},
    },
    {
        "IndexName": NEGATIVE_INDEX,
        "KeySchema": [
            {"AttributeName": NEGATIVE_PK, "KeyType": "HASH"},
            {"AttributeName": DAY_SK, "KeyType": "RANGE"},
        ],
        # The readers take the feedback id from the sort key and read the items by key.
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    },
]


def create_table_arguments(table_name: str) -> dict[str, Any]:
    """CreateTable arguments for an on-demand table with every index."""
    return {
        "TableName": table_name,
        "KeySchema": KEY_SCHEMA,
        "AttributeDefinitions": ATTRIBUTE_DEFINITIONS,
        "GlobalSecondaryIndexes": GLOBAL_SECONDARY_INDEXES,
        "BillingMode": "PAY_PER_REQUEST",
    }


def customer_partition(customer_id: str) -> str:
    """The per-customer index partition holding a customer's profile, identities and feedback."""
    return f"CUSTOMER#{customer_id}"
