"""feedback.csv: RFC 4180 (CRLF, quoted where needed), UTF-8, header row, one row per item.

`CsvFile` holds the CSV mechanics every CSV of the export shares (this file and the CRM layouts in crm.py):
the dialect, the header row, formula neutralising and the row count.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from chalicelib.export.base import FEEDBACK_COLUMNS, feedback_row
from chalicelib.models import StoredFeedback

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# Free text a customer wrote can start with a formula character; spreadsheet tools that open the CRM export
# would evaluate it (CSV injection), so such cells get a leading apostrophe (OWASP's advice).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CUSTOMER_TEXT_COLUMNS = frozenset({"text", "author_handle", "author_name", "thread_id", "permalink"})


def neutralize_formula(value: Any) -> Any:
    """Prefix a string that a spreadsheet would treat as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class CsvFile:
    """One CSV file written row by row: RFC 4180 (CRLF line ends, quoted where needed), UTF-8 without BOM,
    a header row of `columns`. Cells of `neutralized` columns (every column when None) go through
    neutralize_formula; numbers are written as numbers."""

    def __init__(
        self, path: Path, columns: Sequence[str], neutralized: Collection[str] | None = None
    ) -> None:
        self.path = path
        self._neutralized = neutralized
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=columns, lineterminator="\r\n")
        self._writer.writeheader()
        self.rows = 0

    def write(self, row: Mapping[str, Any]) -> None:
        """Add one row (keys are column names; a missing or None cell is empty)."""
        self._writer.writerow(
            {
                column: neutralize_formula(value)
                if self._neutralized is None or column in self._neutralized
                else value
                for column, value in row.items()
            }
        )
        self.rows += 1

    def close(self) -> Path:
        self._file.close()
        return self.path


class CsvWriter:
    """Streams rows to a CSV file."""

    filename = "feedback.csv"
    content_type = CSV_CONTENT_TYPE

    def __init__(self, directory: Path) -> None:
        self._csv = CsvFile(directory / self.filename, FEEDBACK_COLUMNS, CUSTOMER_TEXT_COLUMNS)

    def write(self, feedback: StoredFeedback) -> None:
        self._csv.write(feedback_row(feedback))

    def close(self) -> Path:
        return self._csv.close()

    @property
    def rows(self) -> int:
        return self._csv.rows
