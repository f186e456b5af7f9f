"""Local lexicon backend (VADER): no AWS call; used by the local stack and as a free option.

English is VADER's lexicon plus a few customer-feedback words ("late", "slow"); Spanish, French, German and
Portuguese are VADER with a lexicon of their own (`chalicelib/analysis/lexicons/`). Other languages are
stored with the skipped reason `unsupported_language`.

A text without a language gets the one `language.detect` finds when it is confident, so a Spanish comment
is stored as Spanish rather than scored as English; an unsure guess (a word or two: "terrible", "Genial")
is worth less than VADER's English reading, so those stay English as before.

VADER's proportions and compound score are mapped onto Comprehend's four labels so that stored items,
exports and dashboards look the same whichever backend produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from chalicelib.analysis import language as language_detection
from chalicelib.analysis.base import (
    MAX_DOCUMENT_BYTES,
    UNSUPPORTED_LANGUAGE,
    AnalysisResults,
    Document,
    primary_language,
    skipped,
    split_empty,
    truncate_utf8,
)
from chalicelib.analysis.lexicons import LANGUAGES as LEXICON_LANGUAGES
from chalicelib.models import Analysis, Sentiment, SentimentScores, utc_now

NAME = "lexicon"
# VADER's own published thresholds for the compound score.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
# A text counts as MIXED when both its positive and its negative share reach this proportion. VADER's "but"
# rule halves the clause before "but" and adds half to the one after, so "good X, but bad Y" ends near
# 0.1 positive / 0.3 negative: a floor of 0.2 on both shares left such comments NEGATIVE.
MIXED_SHARE = 0.1
# Languages with a lexicon: English (VADER's own) and those of chalicelib/analysis/lexicons.
SUPPORTED_LANGUAGES = frozenset({"en", *LEXICON_LANGUAGES})


def scores_to_analysis(polarity: dict[str, float], language: str) -> Analysis:
    """Map VADER's {pos, neg, neu, compound} onto a label and four scores summing to 1."""
    positive, negative, neutral = polarity["pos"], polarity["neg"], polarity["neu"]
    mixed = min(positive, negative)
    total = positive + negative + neutral + mixed or 1.0
    if positive >= MIXED_SHARE and negative >= MIXED_SHARE:
        label = Sentiment.MIXED
    elif polarity["compound"] >= POSITIVE_THRESHOLD:
        label = Sentiment.POSITIVE
    elif polarity["compound"] <= NEGATIVE_THRESHOLD:
        label = Sentiment.NEGATIVE
    else:
        label = Sentiment.NEUTRAL
    return Analysis(
        sentiment=label,
        scores=SentimentScores(
            positive=round(positive / total, 4),
            negative=round(negative / total, 4),
            neutral=round(neutral / total, 4),
            mixed=round(mixed / total, 4),
        ),
        language=language,
        analyzer=NAME,
        analyzed_at=utc_now(),
    )


@cache
def _english() -> Any:
    # Imported on first use: the package is only needed where this backend is configured.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from chalicelib.analysis.lexicons.vader import english_feedback_words

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(english_feedback_words())
    return analyzer


def score(text: str, language: str) -> dict[str, float] | None:
    """VADER's {pos, neg, neu, compound} for `text` in `language` (a primary tag); None: no lexicon for it."""
    if language not in SUPPORTED_LANGUAGES:
        return None
    if language == "en":
        return _english().polarity_scores(text)
    from chalicelib.analysis.lexicons.vader import analyzer_for

    return analyzer_for(language).polarity_scores(text)


def _detected_language(text: str, hint: str | None = None) -> str:
    """The confident guess, else the hint (a form's or source's language), else English; but a text without
    a Latin letter ("Очень плохо", "质量很好") keeps even an unsure guess: English or the form's language
    would be scored by a lexicon that knows none of its words, and stored NEUTRAL."""
    guess = language_detection.detect(text)
    if guess.language and (guess.confident or not language_detection.has_latin_letter(text)):
        return guess.language
    return primary_language(hint) or "en"


class LexiconAnalyzer:
    """Analyzer backed by the VADER lexicon (vaderSentiment)."""

    name = NAME

    def analyze(self, documents: Sequence[Document]) -> AnalysisResults:
        """Score texts in a language with a lexicon (unlabelled ones in the language detected, else their
        hint, else English); others are stored with a skipped reason."""
        with_text, results = split_empty(NAME, documents)
        for document in with_text:
            language = primary_language(document.language) or _detected_language(document.text, document.hint)
            # Scored on the same leading 5,000 bytes Comprehend reads: VADER's cost grows faster than the text
            # (minutes for 20,000 emoji), and a stored item's analysis must not time the batch out.
            polarity = score(truncate_utf8(document.text, MAX_DOCUMENT_BYTES), language)
            if polarity is None:
                results[document.key] = skipped(NAME, UNSUPPORTED_LANGUAGE, language)
                continue
            results[document.key] = scores_to_analysis(polarity, language)
        return results
