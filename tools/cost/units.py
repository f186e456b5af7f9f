"""DynamoDB item sizes and capacity units, and Comprehend billed units, by AWS's published rules.

DynamoDB capacity follows the developer guide ("DynamoDB item sizes and formats", "Read/write capacity
mode"): a write request unit per 1 KB of item written, two for a write inside TransactWriteItems, one per
1 KB more for each global secondary index the item is written to (index propagation is not transactional);
a read request unit per 4 KB read strongly consistent, half of one eventually consistent; a Query is
rounded up to 4 KB over the items of each page, BatchGetItem/GetItem per item (a missing item still costs
the minimum). Storage adds 100 bytes of overhead per item, in the table and in each index it is in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
ITEM_OVERHEAD_BYTES = 100  # storage overhead of every item, in the table and in each index
# Amazon Comprehend bills each request type per 100-character unit, 3 units minimum per document.
COMPREHEND_UNIT_CHARS = 100
COMPREHEND_MIN_UNITS = 3


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one AttributeValue ({"S": …}, {"N": …}, {"M": …} …), its name excluded."""
    (kind, data), *_ = value.items()
    sizes: dict[str, Callable[[Any], int]] = {
        "S": lambda text: len(str(text).encode("utf-8")),
        "N": lambda number: number_size(str(number)),
        "B": len,
        "BOOL": lambda _: 1,
        "NULL": lambda _: 1,
        "SS": lambda members: sum(len(str(m).encode("utf-8")) for m in members),
        "NS": lambda members: sum(number_size(str(m)) for m in members),
        "BS": lambda members: sum(len(m) for m in members),
        # Lists and maps: 3 bytes, and 1 byte per element (a map's element also has its name).
        "L": lambda members: 3 + sum(1 + attribute_value_size(m) for m in members),
        "M": lambda members: (
            3 + sum(1 + len(name.encode("utf-8")) + attribute_value_size(v) for name, v in members.items())
        ),
    }
    if kind not in sizes:
        raise ValueError(f"unknown AttributeValue type {kind!r}")
    return sizes[kind](data)


def number_size(number: str) -> int:
    """Bytes of a DynamoDB number: one per two significant digits, plus one."""
    digits = number.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB counts for an item in AttributeValue form: attribute names plus values."""
    return sum(len(name.encode("utf-8")) + attribute_value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """1 KB write units for writing an item of `size` bytes (one at least)."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int) -> int:
    """4 KB read units for reading `size` bytes (one at least: a missing item costs the minimum)."""
    return max(1, math.ceil(size / READ_UNIT_BYTES))


def comprehend_units(characters: float) -> int:
    """Comprehend units billed for one document of `characters`: 100-character units, 3 minimum."""
    return max(COMPREHEND_MIN_UNITS, math.ceil(characters / COMPREHEND_UNIT_CHARS))
