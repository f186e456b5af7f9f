"""feedback.jsonl.gz: one JSON object per line (the full stored item, nested as stored), gzip-compressed.

The gzip header carries no timestamp or file name, so re-running an unchanged day gives identical bytes
(and an identical sha256 in the manifest).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from chalicelib.models import StoredFeedback


class JsonLinesWriter:
    """Streams items to a gzipped JSON Lines file."""

    filename = "feedback.jsonl.gz"
    content_type = "application/x-ndjson"

    def __init__(self, directory: Path) -> None:
        self._path = directory / self.filename
        self._raw = self._path.open("wb")
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="\n")
        self._rows = 0

    def write(self, feedback: StoredFeedback) -> None:
        self._text.write(feedback.model_dump_json(exclude_none=True))
        self._text.write("\n")
        self._rows += 1

    def close(self) -> Path:
        self._text.close()
        self._raw.close()
        return self._path

    @property
    def rows(self) -> int:
        return self._rows
