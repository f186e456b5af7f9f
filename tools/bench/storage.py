"""Storage per stored item: bytes in the table and in each global secondary index (by its projection), and
DynamoDB write request units per stored item, from the capacity tally of the analyze phase."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.cost.units import WRITE_UNIT_BYTES, item_size, write_units

# Target (issue 15): WRU billed per stored feedback item on the analyze path, index entries included.
TARGET_WRU_PER_ITEM = 5.5


@dataclass(frozen=True)
class IndexShape:
    """A global secondary index: its name, key attributes, and what it projects (None: ALL)."""

    name: str
    keys: frozenset[str]
    projected: frozenset[str] | None

    def holds(self, item: Mapping[str, Any]) -> bool:
        """Whether an item (AttributeValue form) has an entry in the index: it carries the index's keys."""
        return self.keys <= item.keys()

    def entry_size(self, item: Mapping[str, Any]) -> int:
        """Bytes of the item's entry in the index (DynamoDB's rules): the whole item for ALL, else the
        table's and the index's keys and the projected attributes."""
        if self.projected is None:
            return item_size(item)
        return item_size({name: value for name, value in item.items() if name in self.projected})


def index_shapes() -> list[IndexShape]:
    """The table's global secondary indexes as chalicelib/store/schema.py defines them."""
    from chalicelib.store.schema import GLOBAL_SECONDARY_INDEXES, KEY_SCHEMA

    table_keys = {element["AttributeName"] for element in KEY_SCHEMA}
    shapes = []
    for index in GLOBAL_SECONDARY_INDEXES:
        keys = frozenset(element["AttributeName"] for element in index["KeySchema"])
        projection = index["Projection"]
        projected = None
        if projection["ProjectionType"] != "ALL":
            projected = frozenset(table_keys | keys | set(projection.get("NonKeyAttributes", [])))
        shapes.append(IndexShape(index["IndexName"], keys, projected))
    return shapes


def wru_per_item(write_1kb: Mapping[str, int], items: int) -> float:
    """On-demand WRU per stored item: transactional 1 KB units count twice, the rest once."""
    return (2 * write_1kb.get("transactional", 0) + write_1kb.get("standard", 0)) / max(1, items)


def stored_items(result: Any) -> int:
    """Feedback items the analyze phase stored (the table's FEEDBACK records after it)."""
    return int(result.analyze.record_types["FEEDBACK"]) or int(result.items)


def wru_per_stored_item(result: Any) -> float:
    """WRU the analyze phase was billed per stored feedback item (a BenchResult's capacity tally)."""
    if result.capacity is None:
        return 0.0
    return wru_per_item(result.capacity.write_1kb["analyze"], stored_items(result))


def wru_breakdown(wru_by_kind: Mapping[str, int], items: int) -> str:
    """WRU per stored item by what was written, largest first: `feedback 3.45, feedback in by_day 1.73`."""
    ranked = sorted(wru_by_kind.items(), key=lambda entry: (-entry[1], entry[0]))
    return ", ".join(f"{kind} {units / max(1, items):.2f}" for kind, units in ranked if units)


def item_bytes_by_type(inventory: Any) -> str:
    """Mean bytes of each per-item record type, and the share of feedback items over one write unit:
    `FEEDBACK 686 (2.0% over 1 KB), PROFILE 696, REDIRECT 70`."""
    parts = []
    for record_type in sorted(inventory.item_bytes):
        count = inventory.record_types[record_type]
        parts.append(f"{record_type} {inventory.item_bytes[record_type] / max(1, count):,.0f}")
    sizes = [item.size for (pk, _), item in inventory.items.items() if pk.startswith("FEEDBACK#")]
    if sizes and parts:
        over = sum(size > WRITE_UNIT_BYTES for size in sizes) / len(sizes)
        parts = [f"{part} ({over:.1%} over 1 KB)" if part.startswith("FEEDBACK ") else part for part in parts]
    return ", ".join(parts)


def identity_cost() -> str:
    """What storing an identity costs (chalicelib/store/identities.py), from the items the code writes."""
    from chalicelib.store import dynamo, identities

    customer = identities.customer_id_for("email#someone@example.com")
    redirect = identities.redirect_item(identities.derived_key("src_chat#U0123456789"), customer)
    size = item_size(dynamo.serialize(redirect))
    return (
        "a customer's first identity: no item (its profile's key); any other: a redirect of "
        f"{size} bytes ({2 * write_units(size)} WRU in the item's transaction, no index entry); "
        "a lookup reads 2 keys an identity (the identity item of tables written before, the derived profile)"
    )


def storage_figures(result: Any) -> list[tuple[str, str]]:
    """Bytes per stored feedback item (its identities and profiles included, 100 bytes of overhead per
    item and entry) in the table and in each index, and the write units behind the WRU figure."""
    inventory = result.inventory
    if inventory is None or result.capacity is None:
        return []
    items = stored_items(result)
    per_index = ", ".join(
        f"{name} {inventory.bytes_by_index[name] / items:,.0f}" for name in sorted(inventory.bytes_by_index)
    )
    writes = result.capacity.write_1kb["analyze"]
    return [
        (
            "storage: bytes per stored item in the table / in its indexes (feedback, profiles, identity "
            "redirects)",
            f"{inventory.table_bytes / items:,.0f} / {per_index} "
            f"({inventory.index_bytes / max(1, inventory.table_bytes):.2f} x the table)",
        ),
        (
            "storage: bytes per item by record type (DynamoDB's size rules; feedback items over 1 KB)",
            item_bytes_by_type(inventory),
        ),
        ("storage: what an identity costs", identity_cost()),
        (
            "analyze: 1 KB write units per stored item, in transactions (billed twice) / index entries and "
            "plain writes",
            f"{writes['transactional'] / items:.3f} / {writes['standard'] / items:.3f}",
        ),
        (
            "analyze: WRU per stored item by what is written (items in transactions billed twice; "
            "`X in I`: X's entries in index I)",
            wru_breakdown(result.capacity.wru_by_kind["analyze"], items),
        ),
    ]
