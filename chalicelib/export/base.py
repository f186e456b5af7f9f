"""The contract every export file writer follows, and the row layout the flat formats share."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from chalicelib.models import StoredFeedback

# One row per feedback item; the order is the CSV header and the column order of every flat format.
FEEDBACK_COLUMNS = (
    "feedback_id",
    "source_id",
    "channel",
    "kind",
    "external_id",
    "thread_id",
    "occurred_at",
    "received_at",
    "stored_at",
    "text",
    "language",
    "rating",
    "rating_scale",
    "author_channel_user_id",
    "author_handle",
    "author_name",
    "author_email",
    "permalink",
    "sentiment",
    "sentiment_positive",
    "sentiment_negative",
    "sentiment_neutral",
    "sentiment_mixed",
    "analyzer",
    "analyzed_at",
    "skipped_reason",
    "customer_id",
    "pii_redacted",
)


def feedback_row(feedback: StoredFeedback) -> dict[str, Any]:
    """A stored item flattened to FEEDBACK_COLUMNS (None where absent)."""
    data = feedback.model_dump(mode="json")
    author = data.pop("author") or {}
    scores = data.pop("sentiment_scores") or {}
    flat = {
        **data,
        **{f"author_{key}": value for key, value in author.items()},
        **{f"sentiment_{key}": value for key, value in scores.items()},
    }
    return {column: flat.get(column) for column in FEEDBACK_COLUMNS}


class ExportWriter(Protocol):
    """Writes one export file from a stream of items, to a local path, then reports what it wrote."""

    filename: str
    content_type: str

    def write(self, feedback: StoredFeedback) -> None:
        """Add one item."""
        ...

    def close(self) -> Path:
        """Finish the file and return its path."""
        ...

    @property
    def rows(self) -> int:
        """How many items were written."""
        ...
