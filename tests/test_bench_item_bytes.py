"""The bench's bytes per item by record type, and the share of feedback items over one write unit."""

from __future__ import annotations

from collections import Counter

from tools.bench.capacity import Inventory, StoredItem
from tools.bench.storage import item_bytes_by_type


def test_bytes_per_record_type_and_the_feedback_share_over_one_write_unit():
    inventory = Inventory(
        record_types=Counter({"FEEDBACK": 4, "IDENTITY": 2}),
        items={
            ("FEEDBACK#fb_1", "FEEDBACK"): StoredItem(700),
            ("FEEDBACK#fb_2", "FEEDBACK"): StoredItem(1024),
            ("FEEDBACK#fb_3", "FEEDBACK"): StoredItem(1025),
            ("FEEDBACK#fb_4", "FEEDBACK"): StoredItem(651),
            ("IDENTITY#email#a@b.c", "IDENTITY"): StoredItem(180),
            ("IDENTITY#demo#u-1", "IDENTITY"): StoredItem(160),
        },
        item_bytes=Counter({"FEEDBACK": 3400, "IDENTITY": 340}),
    )

    assert item_bytes_by_type(inventory) == "FEEDBACK 850 (25.0% over 1 KB), IDENTITY 170"
