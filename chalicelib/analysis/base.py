"""The Analyzer contract and the batching rules every backend shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chalicelib.models import Analysis, utc_now

EMPTY_TEXT = "empty_text"
UNSUPPORTED_LANGUAGE = "unsupported_language"
# The skipped reasons of a text whose language the analyzer cannot score: its own list of languages, or
# Comprehend's per-document error (`comprehend:<ErrorCode>`) for a language it turned down.
UNSCORED_LANGUAGE_REASONS = frozenset({UNSUPPORTED_LANGUAGE, "comprehend:UNSUPPORTED_LANGUAGE"})


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class Document:
    """One text to analyze; `key` ties the result back to its feedback item.

    `language` is known (the item's own, or its channel's); `hint` is a guess from outside the text (the
    form's or source's default language, the browser's): it decides only when the local detector is unsure.
    """

    __slots__ = ("hint", "key", "language", "text")

    def __init__(self, key: str, text: str, language: str | None = None, hint: str | None = None) -> None:
        self.key = key
        self.text = text
        self.language = language
        self.hint = hint


class AnalysisFailed(Exception):
    """The analysis of a document failed in a way that may succeed later (throttling, a service error).

    The feedback carrying it is retried through the queue rather than stored without a sentiment.
    """


# Per document: its Analysis, or the AnalysisFailed that stops it from being stored this time.
AnalysisResults = dict[str, Analysis | AnalysisFailed]


class Analyzer(Protocol):
    """Scores the sentiment of many documents at once."""

    name: str

    def analyze(self, documents: Sequence[Document]) -> AnalysisResults:
        """Analyze every document; a failure affects only the documents it touched."""
        ...


# Comprehend reads at most 5,000 bytes of UTF-8 per document; every backend scores the same leading part.
MAX_DOCUMENT_BYTES = 5000


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `max_bytes`, cut on a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # errors="ignore" drops the partial multi-byte character the byte cut may leave at the end.
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def primary_language(code: str | None) -> str | None:
    """A language tag as Comprehend names it: 'en-US' → 'en'; 'zh-TW'/'zh-Hant' stay Traditional Chinese."""
    if not code:
        return None
    normalized = code.strip().replace("_", "-")
    lowered = normalized.lower()
    if lowered in {"zh-tw", "zh-hant", "zh-hk", "zh-hant-tw", "zh-hant-hk"}:
        return "zh-TW"
    return lowered.split("-", 1)[0] or None


def skipped(analyzer: str, reason: str, language: str | None = None) -> Analysis:
    """An Analysis that records why no sentiment was computed."""
    return Analysis(
        sentiment=None, language=language, analyzer=analyzer, analyzed_at=utc_now(), skipped_reason=reason
    )


def split_empty(analyzer: str, documents: Sequence[Document]) -> tuple[list[Document], AnalysisResults]:
    """Separate documents with text from empty ones, which are answered without any service call."""
    with_text: list[Document] = []
    results: AnalysisResults = {}
    for document in documents:
        if document.text.strip():
            with_text.append(document)
        else:
            results[document.key] = skipped(analyzer, EMPTY_TEXT, primary_language(document.language))
    return with_text, results
