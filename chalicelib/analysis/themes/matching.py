"""Finding keywords and phrases in a tokenized text, by stem, in one language.

A phrase matches its words in order, each word by its stem keys (stemming.py), with at most MAX_GAP other
words between two of them ("arrived late" finds "arrived two days late") and never across a clause boundary.
German writes compounds as one word, so in German a single keyword also matches the start or the end of a
longer noun (capitalised: verbs such as "zurückgesetzt" are left alone) when nothing matched it whole
("Lieferung" finds "Lieferzeit", "Kosten" finds "Versandkosten" unless "Versandkosten" is a keyword of its
own); the longest stem found decides.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence

from chalicelib.analysis.themes.clauses import Span
from chalicelib.analysis.themes.stemming import Token, phrase_keys, word_keys

# Words allowed between two words of a phrase.
MAX_GAP = 2
# Languages whose compounds are written as one word, and the shortest stem a compound may start or end with.
COMPOUND_LANGUAGES = {"de"}
COMPOUND_MIN_PREFIX = 5
COMPOUND_MIN_SUFFIX = 4
# What a compound keeps besides the keyword: "Lieferzeit" is "liefer" + 4 letters.
COMPOUND_MIN_REST = 3


# The records below are plain slotted classes, not NamedTuples: chalicelib/records.py says
# why.
class Hit:
    """A phrase found in the text: tokens[first..last], and what the phrase stands for (a theme id, a cue)."""

    __slots__ = ("first", "label", "last", "words")

    def __init__(self, first: int, last: int, label: str, words: int) -> None:
        self.first = first
        self.last = last
        self.label = label
        self.words = words


class _Phrase:
    __slots__ = ("keys", "label")

    def __init__(self, keys: tuple[frozenset[str], ...], label: str) -> None:
        self.keys = keys
        self.label = label


class PhraseIndex:
    """Phrases of one language, each with a label, indexed by the keys of their first word."""

    def __init__(self, phrases: Iterable[tuple[str, str]], language: str | None) -> None:
        self.language = language
        self._by_first_key: dict[str, list[_Phrase]] = defaultdict(list)
        # Single-word stems for compounds: stem → labels.
        self._stems: dict[str, set[str]] = defaultdict(set)
        for text, label in phrases:
            keys = phrase_keys(text, language)
            if not keys:
                continue
            phrase = _Phrase(keys, label)
            for key in keys[0]:
                self._by_first_key[key].append(phrase)
            if len(keys) == 1 and language in COMPOUND_LANGUAGES:
                for key in keys[0]:
                    self._stems[key].add(label)

    def keys_of(self, tokens: Sequence[Token]) -> list[frozenset[str]]:
        return [word_keys(token.lower, self.language) for token in tokens]

    def find(self, tokens: Sequence[Token], clauses: Sequence[Span]) -> list[Hit]:
        """Every phrase occurrence, in text order (several phrases may start on one word)."""
        token_keys = self.keys_of(tokens)
        clause_end = _clause_ends(tokens, clauses)
        hits: list[Hit] = []
        for index, keys in enumerate(token_keys):
            found = False
            seen: set[tuple[int, str]] = set()
            for key in keys:
                for phrase in self._by_first_key.get(key, ()):
                    last = _match_rest(phrase.keys, token_keys, tokens, index, clause_end[index])
                    if last is not None and (last, phrase.label) not in seen:
                        seen.add((last, phrase.label))
                        hits.append(Hit(index, last, phrase.label, len(phrase.keys)))
                        found = True
            if not found and self._stems and tokens[index].capitalized:
                hits.extend(Hit(index, index, label, 1) for label in self._compound(keys))
        return hits

    def _compound(self, keys: frozenset[str]) -> set[str]:
        """The labels of the longest keyword stem that starts or ends this word (German compounds)."""
        best_size, best_labels = 0, set()
        for key in keys:
            longest = len(key) - COMPOUND_MIN_REST
            candidates = [key[:size] for size in range(COMPOUND_MIN_PREFIX, longest + 1)]
            candidates += [key[-size:] for size in range(COMPOUND_MIN_SUFFIX, longest + 1)]
            for part in candidates:
                labels = self._stems.get(part)
                if labels and len(part) > best_size:
                    best_size, best_labels = len(part), set(labels)
        return best_labels


def _clause_ends(tokens: Sequence[Token], clauses: Sequence[Span]) -> list[int]:
    """Per token, the character position its clause ends at: a phrase does not run past it. The clauses are
    in text order and do not overlap (`segment`'s), so each token's is found by bisection."""
    starts = [clause.start for clause in clauses]
    ends = []
    for token in tokens:
        index = bisect_right(starts, token.start) - 1
        inside = index >= 0 and token.start < clauses[index].end
        ends.append(clauses[index].end if inside else token.end)
    return ends


def _match_rest(
    phrase: tuple[frozenset[str], ...],
    token_keys: Sequence[frozenset[str]],
    tokens: Sequence[Token],
    first: int,
    clause_end: int,
) -> int | None:
    """The index of the phrase's last word when its other words follow tokens[first] in the same clause."""
    position = first
    for keys in phrase[1:]:
        for candidate in range(position + 1, min(position + 2 + MAX_GAP, len(token_keys))):
            if tokens[candidate].start >= clause_end:
                return None
            if keys & token_keys[candidate]:
                position = candidate
                break
        else:
            return None
    return position
