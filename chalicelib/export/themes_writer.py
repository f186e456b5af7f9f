"""feedback_themes.parquet: one row per item and theme, so "negative share per theme per week" is one GROUP BY
in Athena (infra/athena/feedback_themes.sql is its table) without unnesting the `themes` list of
feedback.parquet.

Columns: feedback_id, day (the UTC day the item was stored: the export day), occurred_at, channel,
source_id, theme_id, theme_name and parent_id (from the taxonomy in force at export time; a theme the
taxonomy no longer has keeps its id as name and no parent), sentiment (about that theme), taxonomy_version
(the version the item was tagged with). An item without themes, or stored before tagging, has no row. No
customer text: the evidence spans stay in feedback.jsonl.gz.

Like feedback.parquet it has a prefix of its own (Athena reads every object under a table's location) and
is deterministic: identical rows give identical bytes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.export.base import ThemeNames
from chalicelib.export.parquet_writer import (
    PARQUET_CONTENT_TYPE,
    ROW_GROUP_ROWS,
    ParquetRows,
    RowsFactory,
    load_pyarrow,
)
from chalicelib.export.streams import FileTarget, WrittenFile, as_target
from chalicelib.models import StoredFeedback

if TYPE_CHECKING:
    import pyarrow as pa


@cache
def themes_schema() -> pa.Schema:
    """The schema of feedback_themes.parquet (the Glue table mirrors it)."""
    pa = load_pyarrow()
    text = pa.string()
    return pa.schema(
        [
            pa.field("feedback_id", text, nullable=False),
            pa.field("day", pa.date32(), nullable=False),
            pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("channel", text, nullable=False),
            pa.field("source_id", text, nullable=False),
            pa.field("theme_id", text, nullable=False),
            pa.field("theme_name", text, nullable=False),
            pa.field("parent_id", text),
            pa.field("sentiment", text, nullable=False),
            pa.field("taxonomy_version", pa.int32()),
        ]
    )


class FeedbackThemesWriter:
    """Streams one row per item and theme to feedback_themes.parquet."""

    filename = "feedback_themes.parquet"
    content_type = PARQUET_CONTENT_TYPE
    # export_day puts this file at exports/feedback_themes/dt=YYYY-MM-DD/feedback_themes.parquet.
    key_prefix = "exports/feedback_themes/"
    manifest_count = "feedback_themes"

    def __init__(
        self,
        where: Path | FileTarget,
        row_group_rows: int = ROW_GROUP_ROWS,
        names: ThemeNames | None = None,
        rows: RowsFactory = ParquetRows,
    ) -> None:
        output = as_target(where).open(self.filename, self.key_prefix, self.content_type)
        self._file = rows(output, themes_schema(), row_group_rows)
        self._names = names or ThemeNames()

    def write(self, feedback: StoredFeedback) -> None:
        for tag in feedback.themes or []:
            self._file.append(
                {
                    "feedback_id": feedback.feedback_id,
                    "day": feedback.stored_at.date(),
                    "occurred_at": feedback.occurred_at,
                    "channel": str(feedback.channel),
                    "source_id": feedback.source_id,
                    "theme_id": tag.id,
                    "theme_name": self._names.name(tag.id),
                    "parent_id": self._names.parent(tag.id),
                    "sentiment": str(tag.sentiment),
                    "taxonomy_version": feedback.taxonomy_version,
                }
            )

    def close(self) -> WrittenFile:
        return self._file.close()

    @property
    def rows(self) -> int:
        return self._file.rows
