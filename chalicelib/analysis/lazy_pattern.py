"""A regular expression compiled on its first use, not at import.

The analyze function imports the redaction modules on its first invocation; compiling their patterns there
(39 when measured) cost a cold start about 9 ms of CPU (Python 3.13), for patterns a batch may never reach (a
text without digits never runs the number finders). A LazyPattern is used exactly like the `re.Pattern` it
stands for (its methods are the compiled pattern's).
"""

from __future__ import annotations

import re
from typing import Any


class LazyPattern:
    """`re.compile(pattern, flags)`, done on the first use of any of the compiled pattern's attributes."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, pattern: str, flags: int | re.RegexFlag = 0) -> None:
        self._source = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            # Two threads may both compile it; either result is the same pattern.
            self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        # Only what the instance lacks (search, finditer, sub, pattern …) reaches the compiled pattern.
        return getattr(self.compiled, name)

    def __repr__(self) -> str:
        return f"LazyPattern({self._source!r}, {self._flags!r})"
