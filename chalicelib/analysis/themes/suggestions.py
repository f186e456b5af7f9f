"""Suggested themes: phrases customers use often that no theme of the taxonomy covers.

A phrase is a run of one to three words inside a clause (punctuation ends it), compared by stem per language
with the keywords tagger's stemmers (`stemming.py`: "delays" and "delay", "envíos" and "envios" are one
phrase). It neither starts nor ends with a stop word (the `stop-words` package's lists), and holds no number
and no word that a keyword of an active theme matches (found by the keywords tagger's own matcher). Each
phrase counts the items it occurs in (once per item). A shorter phrase found mostly inside a longer one that
is listed ("gift" inside "gift wrapping") is not listed apart. The list is a proposal for a person: nothing
here changes the taxonomy.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from chalicelib.analysis.base import primary_language
from chalicelib.analysis.themes.clauses import Span
from chalicelib.analysis.themes.matching import PhraseIndex
from chalicelib.analysis.themes.stemming import SNOWBALL_LANGUAGES, Token, tokenize, word_keys
from chalicelib.themes.taxonomy import THEME_ID_PATTERN, Taxonomy

MAX_WORDS = 3
MIN_WORD_CHARS = 3  # a one-word phrase shorter than this says nothing ("ok", "tv" aside)
SAMPLES = 3
# A shorter phrase is folded into a longer listed one that holds at least this share of its items.
SUBSUMED_SHARE = 0.8
# Between two words, any of these ends the run: a phrase never spans a clause (a hyphen: see `_runs`).
_BREAK = re.compile('[.,;:!?()\\[\\]{}"\u201c\u201d\u00ab\u00bb/\\\\|\n\u2022\u2013\u2014]')
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Item:
    """One stored item as the suggestions read it."""

    feedback_id: str
    text: str
    language: str | None
    tagged: bool  # has at least one theme


@dataclass
class Suggestion:
    """A phrase no theme covers, how many items use it, and some of them."""

    phrase: str
    language: str | None
    count: int
    untagged: int  # of those items, the ones with no theme at all
    feedback_ids: list[str] = field(default_factory=list)  # the first SAMPLES items
    key: tuple[str, ...] = ()

    def proposed_id(self) -> str:
        """A theme id made of the phrase: "gift wrapping" → "gift-wrapping"."""
        ascii_text = unicodedata.normalize("NFKD", self.phrase.casefold()).encode("ascii", "ignore").decode()
        slug = _SLUG.sub("-", ascii_text).strip("-")[:63]
        if not slug:
            # A phrase of no Latin letter ("配送が遅い") has no readable slug: one id per phrase, never one
            # "theme" for all of them, which made the second accepted suggestion collide with the first.
            return f"{self.language or 'phrase'}-{zlib.crc32(self.phrase.encode()):08x}"
        return slug if re.match(THEME_ID_PATTERN, slug) else f"t-{slug}"[:63]

    def proposed_name(self) -> str:
        return self.phrase[:1].upper() + self.phrase[1:]


@cache
def stop_words(language: str | None) -> frozenset[str]:
    """The stop words of a language (none for a language the package does not know)."""
    from stop_words import LANGUAGE_MAPPING, get_stop_words  # a CLI-only dependency (requirements-dev)

    if language not in LANGUAGE_MAPPING:
        return frozenset()
    return frozenset(word.casefold() for word in get_stop_words(language))


def _key(word: str, language: str | None) -> str:
    # The smallest of a word's stem keys: the accent-stripped stem, the same however the word was typed.
    return min(word_keys(word, language))


class Coverage:
    """Which words of a text the active themes' keywords match, found as the keywords tagger finds them
    (`PhraseIndex`: by stem, phrases word by word, German compounds): those words are taken."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        by_language: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for theme in taxonomy.active():
            for language, keywords in theme.keywords.items():
                by_language[language] += [(keyword, theme.id) for keyword in keywords]
        self._indexes = {
            language: PhraseIndex(phrases, language if language in SNOWBALL_LANGUAGES else None)
            for language, phrases in by_language.items()
        }

    def taken(self, text: str, tokens: list[Token], language: str | None) -> set[int]:
        """The indexes of the tokens a keyword matches (every language's keywords for an unknown one)."""
        indexes = [self._indexes[language]] if language in self._indexes else self._indexes.values()
        whole = [Span(0, len(text))]
        return {
            position
            for index in indexes
            for hit in index.find(tokens, whole)
            for position in range(hit.first, hit.last + 1)
        }


def _runs(text: str, tokens: list[Token], taken: set[int]) -> list[list[Token]]:
    """The tokens in runs that no punctuation, number, redaction label or theme keyword interrupts."""
    runs: list[list[Token]] = [[]]
    previous: Token | None = None
    for position, token in enumerate(tokens):
        label = text[token.start - 1 : token.start] == "[" and text[token.end : token.end + 1] == "]"
        gap = text[previous.end : token.start] if previous is not None else ""
        # A hyphen joins ("gift-wrapping"); spaced, it separates like a dash.
        if _BREAK.search(gap) or ("-" in gap and gap != "-"):
            runs.append([])
        if label or position in taken or token.lower.isdigit() or "'" in token.lower:
            runs.append([])
        else:
            runs[-1].append(token)
        previous = token
    return [run for run in runs if run]


def phrases_of(item: Item, coverage: Coverage) -> dict[tuple[str, ...], str]:
    """The item's candidate phrases: stem keys → the phrase as written (lower case)."""
    language = primary_language(item.language)
    stem_language = language if language in SNOWBALL_LANGUAGES else None
    stops = stop_words(language)
    tokens = tokenize(item.text)
    found: dict[tuple[str, ...], str] = {}
    for run in _runs(item.text, tokens, coverage.taken(item.text, tokens, language)):
        for first in range(len(run)):
            for last in range(first, min(first + MAX_WORDS, len(run))):
                words = run[first : last + 1]
                if words[0].lower in stops or words[-1].lower in stops:
                    continue
                if len(words) == 1 and len(words[0].lower) < MIN_WORD_CHARS:
                    continue
                key = tuple(_key(word.lower, stem_language) for word in words)
                found.setdefault(key, " ".join(word.lower for word in words))
    return found


def suggest(
    items: Iterable[Item], taxonomy: Taxonomy, min_count: int = 3, limit: int = 20
) -> list[Suggestion]:
    """The phrases no theme covers that at least `min_count` items use, most used first."""
    coverage = Coverage(taxonomy)
    holders: dict[tuple[str | None, tuple[str, ...]], list[Item]] = defaultdict(list)
    forms: dict[tuple[str | None, tuple[str, ...]], Counter[str]] = defaultdict(Counter)
    for item in items:
        if not item.text.strip():
            continue
        language = primary_language(item.language)
        for key, written in phrases_of(item, coverage).items():
            holders[(language, key)].append(item)
            forms[(language, key)][written] += 1
    frequent = [key for key, held in holders.items() if len(held) >= min_count]
    # Longest phrases first, so that a shorter one can be folded into a longer one already kept.
    frequent.sort(key=lambda key: (-len(key[1]), -len(holders[key]), key))
    kept: list[tuple[str | None, tuple[str, ...]]] = []
    for candidate in frequent:
        ids = {item.feedback_id for item in holders[candidate]}
        if not any(_inside(candidate, longer) and _share(ids, holders[longer]) for longer in kept):
            kept.append(candidate)
    suggestions = [
        Suggestion(
            phrase=forms[key].most_common(1)[0][0],
            language=key[0],
            count=len(holders[key]),
            untagged=sum(not item.tagged for item in holders[key]),
            feedback_ids=[item.feedback_id for item in holders[key][:SAMPLES]],
            key=key[1],
        )
        for key in kept
    ]
    suggestions.sort(key=lambda s: (-s.count, -s.untagged, s.phrase))
    return suggestions[:limit]


def _inside(short: tuple[str | None, tuple[str, ...]], long: tuple[str | None, tuple[str, ...]]) -> bool:
    (language, words), (other_language, other_words) = short, long
    if language != other_language or len(words) >= len(other_words):
        return False
    return any(
        other_words[start : start + len(words)] == words for start in range(len(other_words) - len(words) + 1)
    )


def _share(ids: set[str], longer: list[Item]) -> bool:
    return len(ids & {item.feedback_id for item in longer}) >= SUBSUMED_SHARE * len(ids)
