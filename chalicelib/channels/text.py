"""Plain text from what platforms send: HTML bodies (Intercom conversation parts, help-desk comments), and
message text with HTML entities (X, Slack).

Standard library only (`html.parser`): block elements become line breaks, entities are decoded, scripts and
styles are dropped, runs of spaces collapse. The result is what the customer wrote, fit for sentiment
analysis and CSV export; it is not meant to render again as HTML.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Block elements separate paragraphs (a blank line); line-level ones start a new line.
_PARAGRAPH_TAGS = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_LINE_TAGS = frozenset({"li", "tr"})
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._pending_breaks = 0

    def _boundary(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            self._pending_breaks = max(self._pending_breaks, 2)
        elif tag == "br":
            self._pending_breaks = min(self._pending_breaks + 1, 2)  # <br><br> is a blank line
        elif tag in _LINE_TAGS:
            self._pending_breaks = max(self._pending_breaks, 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        self._boundary(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._boundary(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag != "br":
            self._boundary(tag)

    def handle_data(self, data: str) -> None:
        # Newlines inside HTML source are layout, not text; only tags break lines.
        text = data.replace("\n", " ")
        if self._skipping or (self._pending_breaks and not text.strip()):
            return
        if self._pending_breaks and self.parts:
            self.parts.append("\n" * self._pending_breaks)
        self._pending_breaks = 0
        self.parts.append(text)


def html_to_text(html: str | None) -> str:
    """The readable text of an HTML fragment: paragraphs on their own lines, entities decoded, trimmed."""
    if not html:
        return ""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(extractor.parts).split("\n")]
    return "\n".join(lines).strip()


# The three entities X and Slack write for &, < and > in message text; nothing else is escaped by them.
_PLATFORM_ENTITIES = re.compile(r"&(amp|lt|gt);")
_ENTITY_CHARACTERS = {"amp": "&", "lt": "<", "gt": ">"}


def unescape_entities(text: str) -> str:
    """Undo the `&amp;` `&lt;` `&gt;` escaping X and Slack apply to message text, exactly once.

    One pass, so `&amp;lt;` (the customer typed "&lt;") stays `&lt;`; every other `&…;` is the customer's own.
    """
    return _PLATFORM_ENTITIES.sub(lambda match: _ENTITY_CHARACTERS[match.group(1)], text)
