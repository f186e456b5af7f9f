"""Tokens and their comparison keys: case-folded, stemmed with Snowball per language, accents removed.

A token's keys are two strings: the stem of the word as written and the stem of the word stripped of its
accents. Keywords get the same two keys, and a keyword token matches a text token when their keys meet:
"devoluções" (text) matches "devolução" (keyword) through the first, "devolucoes" (typed without accents)
through the second. Snowball's Portuguese, Spanish and French rules name accented suffixes, so the stemmer
sees the accented word when there is one. Absolute superlatives ("rapidísimo", "caríssimo") also get their
base's keys.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

# The languages the starter taxonomy and the stemmers cover, by ISO 639-1 code.
SNOWBALL_LANGUAGES = {"en": "english", "es": "spanish", "fr": "french", "de": "german", "pt": "portuguese"}

# A word (letters and digits); English "n't" is its own token, as Penn Treebank splits it, so that "didn't"
# reads as "did" + the negator "n't". Apostrophes otherwise separate tokens: "l'application" → l, application.
_TOKEN = re.compile(r"[^\W_]+?(?=n[\u2019']t\b)|n[\u2019']t\b|[^\W_]+", re.IGNORECASE)
_CURLY_APOSTROPHE = "\u2019"
# Spanish "ñ" is a letter of its own: "año" is not "ano", "dañado" (stem "dañ") is not "dan" (they give).
_ENYE, _ENYE_CAPITAL = "\ue000", "\ue001"
# Words whose stem is another, common word's: compared as written ("lately" is not "late").
_STEM_COLLISIONS = {
    "en": frozenset({"lately"}),
    "pt": frozenset({"funcionária", "funcionárias", "funcionaria", "funcionarias"}),  # not "funciona"
}
# Absolute superlatives: "rapidísimo" is "rápido" said louder ("facilísima" → "fácil", "caríssimo" → "caro").
_SUPERLATIVE = {
    "es": re.compile(r"(\w{3,}?)(?:qu|c)?isim[oa]s?"),
    # … and Portuguese diminutives: "baratinho" → "barato".
    "pt": re.compile(r"(\w{3,}?)(?:qu|c)?issim[oa]s?|(\w{3,}?)z?inh[oa]s?"),
}


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class Token:
    """A word of the original text: its position (code points) and its lower-case form with accents."""

    __slots__ = ("capitalized", "end", "lower", "start")

    def __init__(self, start: int, end: int, lower: str, capitalized: bool = False) -> None:
        self.start = start
        self.end = end
        self.lower = lower
        self.capitalized = capitalized


def strip_accents(text: str) -> str:
    """'envío' → 'envio', 'Größe' → 'Große' (the German stemmer folds umlauts itself); 'ñ' stays a letter."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ñ", _ENYE).replace("Ñ", _ENYE_CAPITAL))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.replace(_ENYE, "ñ").replace(_ENYE_CAPITAL, "Ñ")


def fold(text: str) -> str:
    """Case-folded and without accents: the form words are compared in when no stemmer applies."""
    return strip_accents(text.casefold()).replace(_CURLY_APOSTROPHE, "'")


def tokenize(text: str) -> list[Token]:
    """The words of `text` with their spans, lower-cased (accents kept: the stemmers want them)."""
    return [
        Token(
            match.start(),
            match.end(),
            match.group().casefold().replace(_CURLY_APOSTROPHE, "'"),
            match.group()[0].isupper(),
        )
        for match in _TOKEN.finditer(text)
    ]


@cache
def _stemmer(language: str) -> Any:
    # Imported on first use; snowballstemmer returns PyStemmer's C stemmer (requirements.in).
    import snowballstemmer

    return snowballstemmer.stemmer(SNOWBALL_LANGUAGES[language])


# Bounded: a warm Lambda sees an open-ended vocabulary.
@lru_cache(maxsize=50_000)
def word_keys(word: str, language: str | None) -> frozenset[str]:
    """The comparison keys of one lower-case word in `language` (no stemmer: the folded word itself)."""
    if language not in SNOWBALL_LANGUAGES:
        return frozenset({fold(word)})
    if word in _STEM_COLLISIONS.get(language, ()):
        return frozenset({word})
    stemmer = _stemmer(language)
    keys = {stemmer.stemWord(word), stemmer.stemWord(strip_accents(word))}
    superlative = _SUPERLATIVE.get(language)
    found = superlative.fullmatch(strip_accents(word)) if superlative else None
    if found:
        base = found.group(1) or found.group(2)
        keys |= {stemmer.stemWord(base + "o"), stemmer.stemWord(base)}
    return frozenset(keys)


def phrase_keys(phrase: str, language: str | None) -> tuple[frozenset[str], ...]:
    """A keyword or phrase as the sequence of its words' keys ("arrived late" → ({arriv}, {late}))."""
    return tuple(word_keys(token.lower, language) for token in tokenize(phrase))
