"""feedback.jsonl.gz: one JSON object per line (the full stored item, nested as stored), gzip-compressed.

`themes` is a list of {id, name, sentiment, evidence} (the name from the taxonomy in force at export time),
empty for an item stored before tagging. The gzip header carries no timestamp or file name, so re-running an
unchanged day gives identical bytes (and an identical sha256 in the manifest).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import BinaryIO

from chalicelib.export.base import EXPORTS_ROOT, ThemeNames
from chalicelib.export.streams import FileTarget, WrittenFile, as_target
from chalicelib.models import StoredFeedback


def gzip_stream(output: BinaryIO) -> gzip.GzipFile:
    """The file's gzip layer: no timestamp, no file name, so identical lines give identical bytes."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=output, mtime=0)


class JsonLinesWriter:
    """Streams items to a gzipped JSON Lines file."""

    filename = "feedback.jsonl.gz"
    # What the bytes are (RFC 6713), not what they decompress to: a client fetching the link gets gzip.
    content_type = "application/gzip"
    lines_content_type = "application/x-ndjson"  # a fanned-out day's parts: plain lines
    key_prefix = EXPORTS_ROOT

    def __init__(
        self, where: Path | FileTarget, names: ThemeNames | None = None, compressed: bool = True
    ) -> None:
        content_type = self.content_type if compressed else self.lines_content_type
        self._raw = as_target(where).open(self.filename, self.key_prefix, content_type)
        # A fanned-out day's parts are plain lines: the day's one gzip stream is made when they are combined.
        self._gzip = gzip_stream(self._raw) if compressed else self._raw
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="\n")
        self._names = names or ThemeNames()
        self._rows = 0

    def write(self, feedback: StoredFeedback) -> None:
        data = feedback.model_dump(mode="json", exclude_none=True)
        data["themes"] = self._names.named(data.get("themes") or [])
        # Compact and UTF-8 as pydantic's own JSON: the lines read the same as before themes existed.
        self._text.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        self._text.write("\n")
        self._rows += 1

    def close(self) -> WrittenFile:
        self._text.close()
        self._raw.close()
        assert self._raw.written is not None
        return self._raw.written

    @property
    def rows(self) -> int:
        return self._rows
