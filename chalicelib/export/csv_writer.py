"""feedback.csv: RFC 4180 (CRLF, quoted where needed), UTF-8, header row, one row per item.

`CsvFile` holds the CSV mechanics every CSV of the product shares (this file and the CRM layouts in crm.py):
the dialect, the header row, the row count, and `escape_cell`, the one place where a cell is made safe to
open in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chalicelib.export.base import EXPORTS_ROOT, FEEDBACK_COLUMNS, feedback_row
from chalicelib.export.streams import FileTarget, OutputFile, WrittenFile, as_target
from chalicelib.models import StoredFeedback

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# CSV injection (OWASP "CSV Injection", ASVS 1.2.10): spreadsheets run a cell that starts with = + - @ as a
# formula, and tab, carriage return or NUL in front of it, or leading spaces, do not stop them. Any sender
# can put such text in any column (an email `=cmd|'/Ccalc'!A0@example.org` is a valid address), so every
# text cell is checked; the product's own numbers are not text and keep their sign.
FORMULA_START = re.compile(r"[\t\r\0]|[\s\0]*[=+\-@]")
# A cell that is only a negative decimal number (a Telegram group's chat id, -100…) is a number to a
# spreadsheet, not a formula: escaping it would make the id differ from the same id in the other files.
NEGATIVE_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?")
# The themes cell: `battery:NEGATIVE;phone:POSITIVE`, ";" as between the CRM files' multi-select values.
THEME_SEPARATOR = ";"


def escape_cell(value: Any) -> Any:
    """A cell as every CSV the product writes holds it: text a spreadsheet would run as a formula gets a
    leading apostrophe (OWASP's advice; spreadsheets show the rest as text); anything else, a negative number
    written as text included, is unchanged."""
    if isinstance(value, str) and FORMULA_START.match(value) and not NEGATIVE_NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvFile:
    """One CSV file written row by row: RFC 4180 (CRLF line ends, quoted where needed), UTF-8 without BOM,
    a header row of `columns`. Every cell goes through escape_cell; numbers are written as numbers."""

    def __init__(self, output: OutputFile, columns: Sequence[str], header: bool = True) -> None:
        self._output = output
        self._file = io.TextIOWrapper(output, encoding="utf-8", newline="", write_through=False)
        self._writer = csv.DictWriter(self._file, fieldnames=columns, lineterminator="\r\n")
        if header:  # a fanned-out day's later parts (export/fanout.py) follow the first part's header
            self._writer.writeheader()
        self.rows = 0

    def write(self, row: Mapping[str, Any]) -> None:
        """Add one row (keys are column names; a missing or None cell is empty)."""
        self._writer.writerow({column: escape_cell(value) for column, value in row.items()})
        self.rows += 1

    def close(self) -> WrittenFile:
        self._file.close()
        assert self._output.written is not None  # closing the text layer closed the output
        return self._output.written


def themes_cell(themes: list[dict[str, Any]]) -> str:
    """An item's themes as one cell, `id:SENTIMENT` in stored order; empty when it has none."""
    return THEME_SEPARATOR.join(f"{tag['id']}:{tag['sentiment']}" for tag in themes)


class CsvWriter:
    """Streams rows to a CSV file."""

    filename = "feedback.csv"
    content_type = CSV_CONTENT_TYPE
    key_prefix = EXPORTS_ROOT

    def __init__(self, where: Path | FileTarget, header: bool = True) -> None:
        output = as_target(where).open(self.filename, self.key_prefix, self.content_type)
        self._csv = CsvFile(output, FEEDBACK_COLUMNS, header)

    def write(self, feedback: StoredFeedback) -> None:
        row = feedback_row(feedback)
        self._csv.write({**row, "themes": themes_cell(row["themes"])})

    def close(self) -> WrittenFile:
        return self._csv.close()

    @property
    def rows(self) -> int:
        return self._csv.rows
