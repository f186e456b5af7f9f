"""feedback.parquet: the flat FEEDBACK_COLUMNS with real types, for Athena, QuickSight, Tableau and Power BI.

Typed columns: timestamps are `timestamp[us, tz=UTC]` (Parquet INT64 TIMESTAMP, adjusted to UTC), the four
sentiment scores are doubles, the rating is a nullable int16, pii_redacted a boolean, themes a
`list<struct<id, name, sentiment>>` (names from the taxonomy at export time; empty for an item stored before
tagging), everything else UTF-8 strings. Rows stream out in row groups of ROW_GROUP_ROWS, so a busy day
never sits in memory whole (`ParquetRows`, which feedback_themes.parquet shares).

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

from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chalicelib.export.base import FEEDBACK_COLUMNS, TIMESTAMP_COLUMNS, ThemeNames, feedback_row
from chalicelib.export.streams import FileTarget, OutputFile, WrittenFile, as_target
from chalicelib.models import StoredFeedback

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP_ROWS = 10_000
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
COMPRESSION = "snappy"  # every Parquet reader the BI tools ship understands it (zstd is not universal yet)

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
        "themes",
    }
)

MISSING_PYARROW = (
    "feedback.parquet needs pyarrow: the nightly_export Lambda gets it from the AWS SDK for pandas layer "
    "(infra/runtime.py); locally, install requirements-dev.txt"
)


def load_pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError as error:
        raise ImportError(MISSING_PYARROW) from error
    return pa


def theme_list_type() -> pa.DataType:
    """`themes`: each theme of the item with its name and the sentiment about it."""
    pa = load_pyarrow()
    return pa.list_(
        pa.struct(
            [
                pa.field("id", pa.string(), nullable=False),
                pa.field("name", pa.string(), nullable=False),
                pa.field("sentiment", pa.string(), nullable=False),
            ]
        )
    )


@cache
def parquet_schema() -> pa.Schema:
    """The Parquet schema: FEEDBACK_COLUMNS in order, each with its type (the Glue table mirrors it)."""
    pa = load_pyarrow()

    def column_type(column: str) -> pa.DataType:
        if column == "themes":
            return theme_list_type()
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


class ParquetRows:
    """One Parquet file written row by row under a fixed schema, one row group per `row_group_rows` rows.
    Opened at once, so that an empty day still gives a valid file: the schema and zero row groups. pyarrow's
    writer streams into `output` (each row group as it is flushed, the footer at close)."""

    def __init__(self, output: OutputFile, schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self._pa = load_pyarrow()
        self._schema = schema
        self._output = output
        self._row_group_rows = row_group_rows
        self._writer = self._open(self._pa.PythonFile(output, mode="w"))
        self._buffer: dict[str, list[Any]] = {name: [] for name in schema.names}
        self._buffered = 0
        self.rows = 0

    def _open(self, sink: Any) -> Any:
        """The batch writer streaming into `sink`: here pyarrow's Parquet writer."""
        import pyarrow.parquet as pq

        return pq.ParquetWriter(
            sink, self._schema, compression=COMPRESSION, version="2.6", write_statistics=True
        )

    def _write_batch(self, batch: pa.RecordBatch) -> None:
        """Write one batch: here as one row group of its own."""
        self._writer.write_batch(batch, row_group_size=batch.num_rows)

    def append(self, row: dict[str, Any]) -> None:
        """Add one row (keys are the schema's column names)."""
        for column, values in self._buffer.items():
            values.append(row[column])
        self._buffered += 1
        self.rows += 1
        if self._buffered >= self._row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buffered:
            return
        self._write_batch(self._pa.RecordBatch.from_pydict(self._buffer, schema=self._schema))
        self._buffer = {name: [] for name in self._schema.names}
        self._buffered = 0

    def write_batches(self, batches: Iterable[pa.RecordBatch]) -> None:
        """Add the rows of `batches` (this file's schema), cut into the same row groups as `append` makes,
        so a day combined from parts (export/fanout.py) gives the bytes of the day written row by row."""
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= self._row_group_rows:
                table = self._pa.Table.from_batches(pending, schema=self._schema)
                self._write_group(table.slice(0, self._row_group_rows))
                rest = table.slice(self._row_group_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
        if pending_rows:
            self._write_group(self._pa.Table.from_batches(pending, schema=self._schema))

    def _write_group(self, rows: pa.Table) -> None:
        # One contiguous batch per row group, as _flush writes it: the pages come out the same.
        (batch,) = rows.combine_chunks().to_batches()
        self.rows += batch.num_rows
        self._write_batch(batch)

    def close(self) -> WrittenFile:
        self._flush()
        self._writer.close()
        self._output.close()
        assert self._output.written is not None
        return self._output.written


class ArrowStreamRows(ParquetRows):
    """The rows of one part of a fanned-out day's Parquet file (export/fanout.py): Arrow IPC stream batches
    of `row_group_rows` rows, built as ParquetRows builds them; the combining step writes the Parquet file."""

    def _open(self, sink: Any) -> Any:
        return self._pa.ipc.new_stream(sink, self._schema)

    def _write_batch(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)


def read_arrow_stream(source: BinaryIO) -> Iterator[pa.RecordBatch]:
    """The batches of an Arrow IPC stream (a part written by ArrowStreamRows), read as they come."""
    pa = load_pyarrow()
    yield from pa.ipc.open_stream(pa.PythonFile(source, mode="r"))


RowsFactory = type[ParquetRows]


class ParquetWriter:
    """Streams items to a Parquet file, one row group per ROW_GROUP_ROWS items."""

    filename = "feedback.parquet"
    content_type = PARQUET_CONTENT_TYPE
    # export_day puts this file at exports/parquet/dt=YYYY-MM-DD/feedback.parquet (a Parquet-only prefix).
    key_prefix = "exports/parquet/"

    def __init__(
        self,
        where: Path | FileTarget,
        row_group_rows: int = ROW_GROUP_ROWS,
        names: ThemeNames | None = None,
        rows: RowsFactory = ParquetRows,
    ) -> None:
        output = as_target(where).open(self.filename, self.key_prefix, self.content_type)
        self._file = rows(output, parquet_schema(), row_group_rows)
        self._names = names or ThemeNames()

    def write(self, feedback: StoredFeedback) -> None:
        row = feedback_row(feedback)
        for column in TIMESTAMP_COLUMNS:
            # feedback_row gives ISO strings (its JSON mode); the model holds the aware UTC datetimes.
            row[column] = getattr(feedback, column)
        row["themes"] = [
            {"id": tag["id"], "name": tag["name"], "sentiment": tag["sentiment"]}
            for tag in self._names.named(row["themes"])
        ]
        self._file.append(row)

    def close(self) -> WrittenFile:
        return self._file.close()

    @property
    def rows(self) -> int:
        return self._file.rows
