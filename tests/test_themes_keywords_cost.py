"""The keywords tagger's work grows with the text, not with the square or cube of a keyword's mentions.

Counted, not timed (the project times nothing in tests): the words the phrase indexes key (every theme and cue
lookup keys the words of the span it reads) and the calls to the cue scorer (one per span read), for a text
and the same text repeated SCALE times longer: the work may grow SCALE times, not SCALE² or SCALE³. A long
comment repeating a keyword used to read the whole text again for every mention ("slow checkout " * 600 keyed
~1.4 million words and took minutes).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from chalicelib.analysis.base import Document
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.analysis.themes import keywords, matching
from chalicelib.analysis.themes.base import ThemeMatch
from chalicelib.analysis.themes.keywords import KeywordTagger, _longest_first_hits
from chalicelib.analysis.themes.matching import Hit
from chalicelib.analysis.themes.stemming import Token
from tools import themes_eval

STARTER = themes_eval.load_starter()
# How many times longer the long text is than the short one, and the slack on "as many times the work".
SCALE = 20
SLACK = 1.1


class _Budget(Exception):
    """Raised as soon as a count passes its budget: quadratic code stops early instead of running minutes."""


class WorkCounter:
    """Wraps the phrase index's keying and the cue scorer, counting, and stops the tagger past a budget."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, budget: tuple[float, float] | None = None) -> None:
        self.words = self.reads = 0
        words_budget, reads_budget = budget or (float("inf"), float("inf"))
        keys_of, cue_score = matching.PhraseIndex.keys_of, keywords._DocumentPlan._cue_score

        def counting_keys_of(index: matching.PhraseIndex, tokens: Sequence[Token]) -> list[frozenset[str]]:
            self.words += len(tokens)
            if self.words > words_budget:
                raise _Budget(f"keyed {self.words} words, budget {words_budget}")
            return keys_of(index, tokens)

        def counting_cue_score(plan: keywords._DocumentPlan, *args: object) -> int:
            self.reads += 1
            if self.reads > reads_budget:
                raise _Budget(f"read {self.reads} spans, budget {reads_budget}")
            return cue_score(plan, *args)

        monkeypatch.setattr(matching.PhraseIndex, "keys_of", counting_keys_of)
        monkeypatch.setattr(keywords._DocumentPlan, "_cue_score", counting_cue_score)


def _tag(text: str) -> list[ThemeMatch]:
    return KeywordTagger(LexiconAnalyzer()).tag([Document("k", text, "en")], STARTER)["k"]


@pytest.mark.parametrize(
    "unit",
    [
        "slow checkout ",  # one clause: every mention in it (600 in the long text)
        "The checkout is slow. ",  # one sentence per mention (400)
        "The courier was late, but support was friendly and the app crashes. ",  # three themes, contrasts
    ],
)
def test_a_repeated_keyword_costs_work_linear_in_the_text(monkeypatch, unit):
    short, long = unit * 30, unit * (30 * SCALE)
    with monkeypatch.context() as patched:
        small = WorkCounter(patched)
        short_matches = _tag(short)
    budget = (small.words * SCALE * SLACK, small.reads * SCALE * SLACK)
    large = WorkCounter(monkeypatch, budget)
    long_matches = _tag(long)
    assert large.words <= budget[0] and large.reads <= budget[1]
    # The same themes and sentiments either way: the repetition says nothing new.
    assert [(m.id, m.sentiment) for m in long_matches] == [(m.id, m.sentiment) for m in short_matches]
    assert long_matches[0].sentiment == "NEGATIVE"


def _longest_first_hits_by_pairs(hits: list[Hit]) -> list[Hit]:
    """The former all-pairs selection, the reference the sort-based one must agree with."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (-h.words, -(h.last - h.first), h.first)):
        if not any(k.first <= hit.first and hit.last <= k.last for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.first)


def test_longest_first_selection_agrees_with_comparing_every_pair():
    rng = random.Random(7)
    for _ in range(500):
        hits = []
        for _ in range(rng.randint(0, 12)):
            first, words = rng.randint(0, 15), rng.randint(1, 3)
            hits.append(Hit(first, first + rng.randint(words - 1, 3 * words - 1), "negative", words))

        def shape(selected: list[Hit]) -> list[tuple[int, int, int]]:
            return [(hit.first, hit.last, hit.words) for hit in selected]

        assert shape(_longest_first_hits(hits)) == shape(_longest_first_hits_by_pairs(hits))
