"""DynamoDB capacity units per phase, as on-demand mode bills them, and what the run leaves stored."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.bench.counting import RequestCounter, event_key
from tools.bench.storage import IndexShape, index_shapes
from tools.cost.units import ITEM_OVERHEAD_BYTES, item_size, read_units, write_units

ItemKey = tuple[str, str]  # (pk, sk)

# What a write stores, by its partition key's prefix: the WRU breakdown per stored item names these.
# An identity redirect shares the profiles' keys (CUSTOMER#…): told apart by its record type (REDIRECT_KIND).
WRITE_KINDS = (
    ("FEEDBACK#", "feedback"),
    ("IDENTITY#", "identity item"),
    ("CUSTOMER#", "profile"),
    ("COUNTER#", "counter"),
    ("NEGATIVE", "negative pointer"),
)


REDIRECT_KIND = "identity redirect"


def write_kind(partition_key: str, record_type: str = "") -> str:
    """The kind of item a write stores (`other` for config records and anything unnamed)."""
    if record_type == "REDIRECT":
        return REDIRECT_KIND
    return next((kind for prefix, kind in WRITE_KINDS if partition_key.startswith(prefix)), "other")


@dataclass(frozen=True)
class StoredItem:
    """An item's size in bytes (DynamoDB's rules) and its entries' sizes in the global secondary indexes
    holding it (by index name: the whole item for ALL, less for a narrower projection)."""

    size: int
    entries: dict[str, int] = field(default_factory=dict)
    record_type: str = ""

    @property
    def indexes(self) -> int:
        return len(self.entries)


def index_entries(item: dict[str, Any], indexes: Sequence[IndexShape]) -> dict[str, int]:
    """The entries an item (AttributeValue form) has in the indexes whose key it carries: name → bytes."""
    return {index.name: index.entry_size(item) for index in indexes if index.holds(item)}


class CapacityTally:
    """DynamoDB capacity units as on-demand mode bills them, per phase of a `RequestCounter`, from each
    request's parameters (`provide-client-params`) and response (`after-call`).

    * Writes, in 1 KB units of the item written: `transactional` (inside TransactWriteItems, which AWS bills
      twice) and `standard` (plain writes, and one entry per global secondary index holding the item, whose
      propagation is not transactional). A Put's size is known from the request; an Update's (or a
      ConditionCheck's, or a Delete's) only from the item, so those wait in `pending` until `resolve` is
      given the table's items (sizes after the run: an upper bound for items that grow, like profiles).
    * Reads, in 4 KB units, `eventual` or `strong`: per item for GetItem/BatchGetItem (a key not found costs
      one unit), per page for Query/Scan (the page's items summed, then rounded up).
    """

    def __init__(self, counter: RequestCounter, indexes: Sequence[IndexShape]) -> None:
        self.counter = counter
        self.indexes = list(indexes)
        self.write_1kb: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.read_4kb: defaultdict[str, Counter[str]] = defaultdict(Counter)
        # WRU billed per phase by what was written: `<kind>` for the item itself (transactions counted
        # twice), `<kind> in <index>` for its index entries.
        self.wru_by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.pending: list[tuple[str, str, ItemKey]] = []  # (phase, action, key), sized by `resolve`
        self._created: set[ItemKey] = set()  # items an Update has created, so has put in its indexes
        self._lock = threading.Lock()
        self._consistency = threading.local()

    def attach(self, events: Any) -> None:
        """Register on a session's event system (after the counter, whose phase it reads)."""
        suffix = str(id(self))
        events.register("provide-client-params.dynamodb.*", self._on_params, unique_id=f"bench-cap-{suffix}")
        events.register("after-call.dynamodb.*", self._on_result, unique_id=f"bench-cap-end-{suffix}")

    def _write(self, phase: str, item: dict[str, Any], transactional: bool) -> None:
        units = write_units(item_size(item))
        entries = {name: write_units(size) for name, size in index_entries(item, self.indexes).items()}
        with self._lock:
            self.write_1kb[phase]["transactional" if transactional else "standard"] += units
            self.write_1kb[phase]["standard"] += sum(entries.values())
            record_type = str(item.get("record_type", {}).get("S", ""))
            self._billed(phase, write_kind(_partition_key(item), record_type), units, transactional, entries)

    def _billed(
        self, phase: str, kind: str, units: int, transactional: bool, entries: dict[str, int]
    ) -> None:
        self.wru_by_kind[phase][kind] += 2 * units if transactional else units
        for name, entry_units in entries.items():
            self.wru_by_kind[phase][f"{kind} in {name}"] += entry_units

    def _later(self, phase: str, action: str, key: dict[str, Any]) -> None:
        with self._lock:
            self.pending.append((phase, action, _item_key(key)))

    def _on_params(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        phase = self.counter.phase
        if phase is None:
            return
        operation = model.name
        if operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                (kind, body), *_ = action.items()
                if kind == "Put":
                    self._write(phase, body["Item"], transactional=True)
                else:
                    self._later(phase, f"transactional {kind}", body["Key"])
        elif operation == "BatchWriteItem":
            for request in (r for requests in params.get("RequestItems", {}).values() for r in requests):
                if "PutRequest" in request:
                    self._write(phase, request["PutRequest"]["Item"], transactional=False)
                else:
                    self._later(phase, "Delete", request["DeleteRequest"]["Key"])
        elif operation == "PutItem":
            self._write(phase, params["Item"], transactional=False)
        elif operation in {"UpdateItem", "DeleteItem"}:
            self._later(phase, operation.removesuffix("Item"), params["Key"])
        else:
            self._on_read_params(phase, operation, params)

    def _on_read_params(self, phase: str, operation: str, params: dict[str, Any]) -> None:
        # Keys asked for cost a unit each at least (found items are sized in _on_result).
        specs = params.get("RequestItems", {}).values() if operation == "BatchGetItem" else [params]
        for spec in specs:
            consistency = "strong" if spec.get("ConsistentRead") else "eventual"
            self._consistency.value = consistency
            keys = len(spec.get("Keys", [])) if operation == "BatchGetItem" else int(operation == "GetItem")
            with self._lock:
                self.read_4kb[phase][consistency] += keys

    def _on_result(self, event_name: str, parsed: dict[str, Any], **kwargs: Any) -> None:
        phase = self.counter.phase
        if phase is None:
            return
        operation = event_key(event_name)[1]
        consistency = getattr(self._consistency, "value", "eventual")
        extra = 0
        if operation == "BatchGetItem":
            items = [item for found in parsed.get("Responses", {}).values() for item in found]
            extra = sum(read_units(item_size(item)) - 1 for item in items)
            unprocessed = parsed.get("UnprocessedKeys", {}).values()
            extra -= sum(len(spec.get("Keys", [])) for spec in unprocessed)  # requested again, counted then
        elif operation == "GetItem" and "Item" in parsed:
            extra = read_units(item_size(parsed["Item"])) - 1
        elif operation in {"Query", "Scan"}:
            extra = read_units(sum(item_size(item) for item in parsed.get("Items", [])))
        if extra:
            with self._lock:
                self.read_4kb[phase][consistency] += extra

    def resolve(self, stored: dict[ItemKey, StoredItem]) -> None:
        """Size the pending Updates, ConditionChecks and Deletes from the table's items (`inventory`)."""
        with self._lock:
            pending, self.pending = self.pending, []
        for phase, action, key in pending:
            found = stored.get(key, StoredItem(0))
            units = write_units(found.size)
            transactional = action.startswith("transactional")
            self.write_1kb[phase]["transactional" if transactional else "standard"] += units
            entries: dict[str, int] = {}
            if action.endswith("Update"):
                # An update rewrites the item's entry in an ALL index; in a narrower one only when it
                # creates the item (the profile updates change no projected attribute, keys included).
                first = key not in self._created
                self._created.add(key)
                projections = {index.name: index.projected for index in self.indexes}
                entries = {
                    name: write_units(size)
                    for name, size in found.entries.items()
                    if first or projections.get(name) is None
                }
                self.write_1kb[phase]["standard"] += sum(entries.values())
            self._billed(phase, write_kind(key[0], found.record_type), units, transactional, entries)


def _partition_key(item: dict[str, Any]) -> str:
    from chalicelib.store.schema import PK

    return str(item.get(PK, {}).get("S", ""))


def _item_key(key: dict[str, Any]) -> ItemKey:
    from chalicelib.store.schema import PK, SK

    return key[PK]["S"], key[SK]["S"]


# Items that grow with feedback (the rest, like forms and sources, are a fixed handful): what storage prices.
# A customer's first identity is its profile's key; its others are redirects (identity items: tables
# written before).
STORED_PER_ITEM = frozenset({"FEEDBACK", "IDENTITY", "PROFILE", "REDIRECT"})


@dataclass
class Inventory:
    """The table after the analyze phase, from one uncounted Scan: items by record_type, each item's size
    and indexes, and the bytes the per-item records (STORED_PER_ITEM) take with DynamoDB's 100-byte overhead
    per item, in the table and in each index holding them."""

    record_types: Counter[str] = field(default_factory=Counter)
    items: dict[ItemKey, StoredItem] = field(default_factory=dict)
    table_bytes: int = 0
    index_bytes: int = 0
    bytes_by_index: Counter[str] = field(default_factory=Counter)  # the per-item records' entries, per index
    item_bytes: Counter[str] = field(default_factory=Counter)  # item sizes summed by record_type


def global_index_keys() -> list[IndexShape]:
    """Each global secondary index of the table: its keys and projection."""
    return index_shapes()


def take_inventory() -> Inventory:
    """Scan the table (paginated, outside every counted phase) into an `Inventory`."""
    from chalicelib import aws
    from chalicelib.config import settings
    from chalicelib.store.schema import PK, RECORD_TYPE, SK

    indexes = global_index_keys()
    inventory = Inventory()
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=settings().table_name):
        for item in page["Items"]:
            record_type = item.get(RECORD_TYPE, {}).get("S", "(none)")
            size, entries = item_size(item), index_entries(item, indexes)
            inventory.record_types[record_type] += 1
            inventory.items[(item[PK]["S"], item[SK]["S"])] = StoredItem(size, entries, record_type)
            if record_type in STORED_PER_ITEM:
                inventory.item_bytes[record_type] += size
                inventory.table_bytes += size + ITEM_OVERHEAD_BYTES
                for name, entry in entries.items():
                    inventory.bytes_by_index[name] += entry + ITEM_OVERHEAD_BYTES
                    inventory.index_bytes += entry + ITEM_OVERHEAD_BYTES
    return inventory


def bucket_bytes() -> int:
    """Bytes of every object in the export bucket (listed outside every counted phase)."""
    from chalicelib import aws
    from chalicelib.config import settings

    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=settings().bucket_name)
    return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))
