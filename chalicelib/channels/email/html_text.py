"""HTML mail as plain text, with the standard library's `html.parser`.

Written by hand on purpose: the locked dependencies have no HTML-to-text converter, and a mail body needs
little of one (paragraphs, line breaks, list items, entities). What a reader would not see is dropped
(`<head>`, `<style>`, `<script>`), and so are the quoted replies mail clients wrap in their own elements
(`<blockquote>`, Gmail's `gmail_quote`, Apple Mail's `type="cite"`, Outlook's `divRplyFwdMsg` and after).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is never shown to a reader.
_HIDDEN = frozenset({"head", "style", "script", "title", "template", "noscript"})
# Elements that start a new line where they open and close.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
# Void elements: they never close, so they must not open a skipped region.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Markers of a quoted reply in the markup of the major clients.
_QUOTE_CLASSES = frozenset({"gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote"})
# Outlook puts the quoted mail after this element, not inside it: everything from it on is the quote.
_OUTLOOK_REPLY_IDS = frozenset({"divrplyfwdmsg", "appendonsend"})


class _TextCollector(HTMLParser):
    def __init__(self, keep_quotes: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self._keep_quotes = keep_quotes
        self.parts: list[str] = []
        # The depth of a skipped element (hidden or quoted) we are in, and its tag; 0 when not skipping.
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._stopped:
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        attributes = {name: (value or "") for name, value in attrs}
        if (attributes.get("id") or "").lower() in _OUTLOOK_REPLY_IDS and not self._keep_quotes:
            self._stopped = True
            return
        classes = set((attributes.get("class") or "").split())
        quoted = tag == "blockquote" or bool(classes & _QUOTE_CLASSES) or attributes.get("type") == "cite"
        quoted = quoted and not self._keep_quotes
        if (tag in _HIDDEN or quoted) and tag not in _VOID:
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if self._stopped:
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in _BLOCKS and tag != "li":  # the next item (or the list's end) starts the next line
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None and not self._stopped:
            # Whitespace in HTML source is layout, not text: runs of it read as one space.
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(html: str, keep_quotes: bool = False) -> str:
    """The text a reader of `html` sees, paragraphs as blank lines, quoted replies left out (kept with
    `keep_quotes`: a forward with nothing written above is all quote, its words the forwarded mail's)."""
    collector = _TextCollector(keep_quotes)
    collector.feed(html)
    collector.close()
    text = "".join(collector.parts).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
