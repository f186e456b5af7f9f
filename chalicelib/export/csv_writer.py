"""feedback.csv: RFC 4180 (CRLF, quoted where needed), UTF-8, header row, one row per item."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from chalicelib.export.base import FEEDBACK_COLUMNS, feedback_row
from chalicelib.models import StoredFeedback

# Free text a customer wrote can start with a formula character; spreadsheet tools that open the CRM export
# would evaluate it (CSV injection), so such cells get a leading apostrophe (OWASP's advice).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CUSTOMER_TEXT_COLUMNS = frozenset({"text", "author_handle", "author_name", "thread_id", "permalink"})


def neutralize_formula(value: Any) -> Any:
    """Prefix a string that a spreadsheet would treat as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class CsvWriter:
    """Streams rows to a CSV file."""

    filename = "feedback.csv"
    content_type = "text/csv; charset=utf-8"

    def __init__(self, directory: Path) -> None:
        self._path = directory / self.filename
        self._file = self._path.open("w", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=FEEDBACK_COLUMNS, lineterminator="\r\n")
        self._writer.writeheader()
        self._rows = 0

    def write(self, feedback: StoredFeedback) -> None:
        row = feedback_row(feedback)
        self._writer.writerow(
            {k: neutralize_formula(v) if k in CUSTOMER_TEXT_COLUMNS else v for k, v in row.items()}
        )
        self._rows += 1

    def close(self) -> Path:
        self._file.close()
        return self._path

    @property
    def rows(self) -> int:
        return self._rows
