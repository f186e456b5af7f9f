"""feedback.parquet: the flat FEEDBACK_COLUMNS with real types, for Athena, QuickSight, Tableau and Power BI.

Typed columns: timestamps are `timestamp[us, tz=UTC]` (Parquet INT64 TIMESTAMP, adjusted to UTC), the four
sentiment scores are doubles, the rating is a nullable int16, pii_redacted a boolean, everything else UTF-8
strings. Rows stream out in row groups of ROW_GROUP_ROWS, so a busy day never sits in memory whole.

pyarrow is imported only inside the writer: the export Lambda gets it from the AWS SDK for pandas layer
(.chalice/config.json), the API Lambdas have no pyarrow and import this module through export.day.

The file is deterministic: identical rows give identical bytes (pyarrow writes no timestamp; its footer
names the writing library, `created_by: parquet-cpp-arrow version X`, so the bytes, and the manifest's
sha256, change only when the pyarrow version does).

The file lives under its own prefix (key_prefix below), not beside the CSV and JSON Lines: Athena reads every
object under a table's location, so a partition holding feedback.csv would fail as "not a Parquet file".
infra/athena/feedback.sql is the table over that prefix.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.export.base import FEEDBACK_COLUMNS, feedback_row
from chalicelib.models import StoredFeedback

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP_ROWS = 10_000
COMPRESSION = "snappy"  # every Parquet reader the BI tools ship understands it (zstd is not universal yet)

TIMESTAMP_COLUMNS = frozenset({"occurred_at", "received_at", "stored_at", "analyzed_at"})
SCORE_COLUMNS = frozenset({f"sentiment_{name}" for name in ("positive", "negative", "neutral", "mixed")})
# Present on every stored item (required in StoredFeedback), so declared NOT NULL in the file.
REQUIRED_COLUMNS = frozenset(
    {
        "feedback_id",
        "source_id",
        "channel",
        "kind",
        "external_id",
        "occurred_at",
        "received_at",
        "stored_at",
        "text",
        "pii_redacted",
    }
)

MISSING_PYARROW = (
    "feedback.parquet needs pyarrow: the nightly_export Lambda gets it from the AWS SDK for pandas layer "
    "(infra/runtime.py); locally, install requirements-dev.txt"
)


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError as error:
        raise ImportError(MISSING_PYARROW) from error
    return pa


@cache
def parquet_schema() -> pa.Schema:
    """The Parquet schema: FEEDBACK_COLUMNS in order, each with its type (the Glue table mirrors it)."""
    pa = _pyarrow()

    def column_type(column: str) -> pa.DataType:
        if column in TIMESTAMP_COLUMNS:
            return pa.timestamp("us", tz="UTC")
        if column in SCORE_COLUMNS:
            return pa.float64()
        if column == "rating":
            return pa.int16()
        if column == "pii_redacted":
            return pa.bool_()
        return pa.string()

    return pa.schema(
        [
            pa.field(column, column_type(column), nullable=column not in REQUIRED_COLUMNS)
            for column in FEEDBACK_COLUMNS
        ]
    )


class ParquetWriter:
    """Streams items to a Parquet file, one row group per ROW_GROUP_ROWS items."""

    filename = "feedback.parquet"
    content_type = "application/vnd.apache.parquet"
    # export_day puts this file at exports/parquet/dt=YYYY-MM-DD/feedback.parquet (a Parquet-only prefix).
    key_prefix = "exports/parquet/"

    def __init__(self, directory: Path, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        pa = _pyarrow()
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = parquet_schema()
        self._path = directory / self.filename
        self._row_group_rows = row_group_rows
        # Opened now so that an empty day still gives a valid file: the schema and zero row groups.
        self._writer = pq.ParquetWriter(
            str(self._path), self._schema, compression=COMPRESSION, version="2.6", write_statistics=True
        )
        self._buffer: dict[str, list[Any]] = {column: [] for column in FEEDBACK_COLUMNS}
        self._buffered = 0
        self._rows = 0

    def write(self, feedback: StoredFeedback) -> None:
        row = feedback_row(feedback)
        for column in TIMESTAMP_COLUMNS:
            # feedback_row gives ISO strings (its JSON mode); the model holds the aware UTC datetimes.
            row[column] = getattr(feedback, column)
        for column, value in row.items():
            self._buffer[column].append(value)
        self._buffered += 1
        self._rows += 1
        if self._buffered >= self._row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buffered:
            return
        batch = self._pa.RecordBatch.from_pydict(self._buffer, schema=self._schema)
        self._writer.write_batch(batch, row_group_size=self._buffered)
        self._buffer = {column: [] for column in FEEDBACK_COLUMNS}
        self._buffered = 0

    def close(self) -> Path:
        self._flush()
        self._writer.close()
        return self._path

    @property
    def rows(self) -> int:
        return self._rows
