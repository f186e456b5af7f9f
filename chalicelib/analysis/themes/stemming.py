"""Tokens and their comparison keys: case-folded, stemmed with Snowball per language, accents removed.

A token's keys are two strings: the stem of the accented word with its accents removed afterwards, and the
stem of the word already stripped of its accents. Keywords get the same two keys, and a keyword token
matches a text token when their keys meet, so "devoluções" (text) matches "devolução" (keyword) through the
first key and "devolucoes" (typed without accents) through the second: Snowball's Portuguese, Spanish and
French rules name accented suffixes, and a stemmer only sees them on the accented word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

# The languages the starter taxonomy and the stemmers cover, by ISO 639-1 code.
SNOWBALL_LANGUAGES = {"en": "english", "es": "spanish", "fr": "french", "de": "german", "pt": "portuguese"}

# A word (letters and digits); English "n't" is its own token, as Penn Treebank splits it, so that "didn't"
# reads as "did" + the negator "n't". Apostrophes otherwise separate tokens: "l'application" → l, application.
_TOKEN = re.compile(r"[^\W_]+?(?=n[\u2019']t\b)|n[\u2019']t\b|[^\W_]+", re.IGNORECASE)
_CURLY_APOSTROPHE = "\u2019"


@dataclass(frozen=True, slots=True)
class Token:
    """A word of the original text: its position (code points) and its lower-case form with accents."""

    start: int
    end: int
    lower: str


def strip_accents(text: str) -> str:
    """'Größe' → 'Grosse' stays for the stemmer; here only combining marks go: 'envío' → 'envio'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def fold(text: str) -> str:
    """Case-folded and without accents: the form words are compared in when no stemmer applies."""
    return strip_accents(text.casefold()).replace(_CURLY_APOSTROPHE, "'")


def tokenize(text: str) -> list[Token]:
    """The words of `text` with their spans, lower-cased (accents kept: the stemmers want them)."""
    return [
        Token(match.start(), match.end(), match.group().casefold().replace(_CURLY_APOSTROPHE, "'"))
        for match in _TOKEN.finditer(text)
    ]


@cache
def _stemmer(language: str) -> Any:
    # Imported on first use: the package builds every Snowball algorithm it ships when imported.
    import snowballstemmer

    return snowballstemmer.stemmer(SNOWBALL_LANGUAGES[language])


# Bounded: a warm Lambda sees an open-ended vocabulary.
@lru_cache(maxsize=50_000)
def word_keys(word: str, language: str | None) -> frozenset[str]:
    """The comparison keys of one lower-case word in `language` (no stemmer: the folded word itself)."""
    if language not in SNOWBALL_LANGUAGES:
        return frozenset({fold(word)})
    stemmer = _stemmer(language)
    return frozenset({strip_accents(stemmer.stemWord(word)), stemmer.stemWord(strip_accents(word))})


def phrase_keys(phrase: str, language: str | None) -> tuple[frozenset[str], ...]:
    """A keyword or phrase as the sequence of its words' keys ("arrived late" → ({arriv}, {late}))."""
    return tuple(word_keys(token.lower, language) for token in tokenize(phrase))
