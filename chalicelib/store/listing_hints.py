"""What a filtered listing may skip without reading: the hook the per-(day, shard) counters answer.

`page_days` asks before it reads; None means "unknown, read every day", so a listing stays correct whether
or not counters exist for its days (counters kept since a date, a rebuild under way).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.store.feedback import Filters


def days_with_matches(days: Sequence[date], filters: Filters) -> list[date] | None:
    """The days among `days` that may hold an item `filters` keeps (a superset is fine: a day listed is
    read; a day left out must hold no match), or None when that is unknown.

    Unknown for now. The counters (counts per day and shard by channel and sentiment, kept in the same
    conditional write as the item) answer it for `channel` and `sentiment`: a day is left out when its
    count for the asked value is zero in every shard; any other filter, or a day without counters, keeps it.
    """
    return None
