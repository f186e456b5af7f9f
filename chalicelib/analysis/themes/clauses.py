"""Where an aspect's sentiment is read: clauses and the pieces inside them, and negation.

A text is cut into clauses at sentence punctuation and at contrastive conjunctions ("great phone, but the
battery is awful": two clauses, the "but" in neither), and each clause into pieces at commas and at "and"
("the battery is awful and support never answered": two pieces). The tagger scores the piece around a match
and falls back to its clause when the piece says nothing either way. Word lists per language; a document of
unknown language uses them all. Written here by hand: no maintained package ships these short, closed lists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

from chalicelib.analysis.themes.stemming import Token

CONTRASTIVE = {
    "en": ["but", "however", "although", "though", "while", "whereas", "yet", "except"],
    "es": ["pero", "sin embargo", "aunque", "sino", "mientras que", "aun así", "no obstante"],
    "fr": ["mais", "cependant", "pourtant", "toutefois", "bien que", "alors que", "tandis que", "par contre",
           "en revanche"],
    "de": ["aber", "jedoch", "obwohl", "sondern", "trotzdem", "während", "allerdings", "dennoch"],
    "pt": ["mas", "porém", "contudo", "embora", "entretanto", "no entanto", "enquanto", "todavia"],
}  # fmt: skip
# The contrastive words that concede rather than oppose ("declined, although the card works elsewhere"): the
# clause they open backs the other one up, so it is not read as the opposite opinion about its theme.
CONCESSIVE = frozenset({
    "although", "though", "while", "whereas", "aunque", "mientras que", "bien que", "alors que", "tandis que",
    "obwohl", "während", "embora", "enquanto",
})  # fmt: skip
COORDINATING = {"en": ["and"], "es": ["y", "e"], "fr": ["et"], "de": ["und", "sowie"], "pt": ["e"]}
NEGATORS = {
    "en": ["not", "n't", "no", "never", "without", "nothing", "none", "nobody", "neither", "nor", "cannot",
           "hardly", "barely", "zero"],
    "es": ["no", "nunca", "sin", "ni", "tampoco", "nada", "nadie", "jamás", "ningún", "ninguna", "ninguno"],
    "fr": ["ne", "n", "pas", "jamais", "sans", "aucun", "aucune", "rien", "ni", "guère"],
    "de": ["nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "ohne",
           "nichts", "weder", "niemand"],
    "pt": ["não", "nunca", "sem", "nem", "nenhum", "nenhuma", "jamais", "nada", "ninguém"],
}  # fmt: skip
# How many words before a match a negator still reaches ("did not really arrive late").
NEGATION_REACH = 3

# Sentence ends; a point or comma between digits ("4.5", "1,99") is a number, not a boundary.
_SENTENCE_END = r"[!?;…\n]+|(?<!\d)\.+|\.+(?!\d)"
# The characters that end a sentence: a set, not a compiled class (one holding "…" costs re ~0.3 ms to build).
_SENTENCE_END_CHARS = frozenset("!?;…\n.")
_PIECE_BREAK = r"(?<!\d),|,(?!\d)|\s[\u2013\u2014-]\s|[()]"
_TRIM = " \t\r\n,;:\u2013\u2014-\"'\u201c\u201d«»()[]"


class Span(NamedTuple):
    start: int
    end: int


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class Segmentation:
    """The clauses of a text and the pieces of each clause, as spans of the original text, in order."""

    __slots__ = ("after_concession", "after_contrast", "clauses", "pieces")

    def __init__(
        self,
        clauses: tuple[Span, ...],
        pieces: tuple[tuple[Span, int], ...],
        after_contrast: tuple[bool, ...],
        after_concession: tuple[bool, ...],
    ) -> None:
        self.clauses = clauses
        self.pieces = pieces  # (piece, index of its clause)
        # Per clause, whether a contrastive conjunction (not a sentence end) separates it from the one before.
        self.after_contrast = after_contrast
        # Per clause, whether that contrastive conjunction is a concessive one (CONCESSIVE).
        self.after_concession = after_concession

    def piece_at(self, position: int) -> tuple[Span, Span] | None:
        """The piece holding `position` and its clause (None inside a boundary such as a conjunction)."""
        for piece, clause_index in self.pieces:
            if piece.start <= position < piece.end:
                return piece, self.clauses[clause_index]
        return None

    def sentence_at(self, position: int) -> Span | None:
        """The clauses around `position` that no sentence end separates (None inside a boundary)."""
        index = next((i for i, c in enumerate(self.clauses) if c.start <= position < c.end), None)
        if index is None:
            return None
        first = last = index
        while first > 0 and self.after_contrast[first]:
            first -= 1
        while last + 1 < len(self.clauses) and self.after_contrast[last + 1]:
            last += 1
        return Span(self.clauses[first].start, self.clauses[last].end)

    def clause_at(self, position: int) -> Span | None:
        return next((clause for clause in self.clauses if clause.start <= position < clause.end), None)


def _languages(language: str | None) -> Sequence[str]:
    return [language] if language in CONTRASTIVE else list(CONTRASTIVE)


def _words_pattern(words: Sequence[str]) -> str:
    alternatives = sorted({re.escape(word).replace(r"\ ", r"\s+") for word in words}, key=len, reverse=True)
    return r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"


@cache
def _clause_break(language: str | None) -> re.Pattern[str]:
    words = [word for code in _languages(language) for word in CONTRASTIVE[code]]
    return re.compile(f"{_SENTENCE_END}|{_words_pattern(words)}", re.IGNORECASE)


@cache
def _piece_break(language: str | None) -> re.Pattern[str]:
    words = [word for code in _languages(language) for word in COORDINATING[code]]
    return re.compile(f"{_PIECE_BREAK}|{_words_pattern(words)}", re.IGNORECASE)


@cache
def negators(language: str | None) -> frozenset[str]:
    return frozenset(word for code in _languages(language) for word in NEGATORS[code])


def _between(text: str, start: int, end: int, breaks: re.Pattern[str]) -> list[Span]:
    """The trimmed, non-empty spans of text[start:end] between the matches of `breaks`."""
    spans, cursor = [], start
    for found in breaks.finditer(text, start, end):
        spans.append((cursor, found.start()))
        cursor = found.end()
    spans.append((cursor, end))
    trimmed = []
    for raw_left, raw_right in spans:
        left, right = raw_left, raw_right
        while left < right and text[left] in _TRIM:
            left += 1
        while right > left and text[right - 1] in _TRIM:
            right -= 1
        if left < right:
            trimmed.append(Span(left, right))
    return trimmed


def segment(text: str, language: str | None) -> Segmentation:
    """Cut `text` into clauses and pieces (see the module docstring)."""
    clauses = tuple(_between(text, 0, len(text), _clause_break(language)))
    pieces = tuple(
        (piece, index)
        for index, clause in enumerate(clauses)
        for piece in _between(text, clause.start, clause.end, _piece_break(language))
    )
    after_contrast = tuple(
        index > 0 and _SENTENCE_END_CHARS.isdisjoint(text[clauses[index - 1].end : clause.start])
        for index, clause in enumerate(clauses)
    )
    after_concession = tuple(
        contrast
        and " ".join(text[clauses[index - 1].end : clause.start].casefold().strip(_TRIM).split())
        in CONCESSIVE
        for index, (clause, contrast) in enumerate(zip(clauses, after_contrast, strict=True))
    )
    return Segmentation(clauses, pieces, after_contrast, after_concession)


def is_negated(tokens: Sequence[Token], first: int, clause: Span | None, language: str | None) -> bool:
    """Whether a negator stands within NEGATION_REACH words before tokens[first], inside the same clause."""
    words, joins = negators(language), coordinators(language)
    # Walked back from the cue: "nothing they could do and that I be patient" does not negate "be patient".
    for index in range(first - 1, max(0, first - NEGATION_REACH) - 1, -1):
        token = tokens[index]
        if (clause is not None and token.start < clause.start) or token.lower in joins:
            return False
        if token.lower in words:
            return True
    return False


@cache
def coordinators(language: str | None) -> frozenset[str]:
    return frozenset(word for code in _languages(language) for word in COORDINATING[code])
