"""The local lexicon analyzer scored on the labelled set of tests/fixtures/sentiment, per language."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sentiment"
LABELS = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")


@dataclass
class LanguageScore:
    """One language's texts: how many, how many the lexicon labelled as the set does, and its confusions."""

    texts: int = 0
    correct: int = 0
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got) when they differ

    @property
    def accuracy(self) -> float:
        return self.correct / self.texts if self.texts else 0.0


def load_set(language: str) -> list[dict[str, str]]:
    """`{"text", "language", "sentiment"}` rows of one language's file."""
    lines = (FIXTURES / f"{language}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def languages() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.jsonl"))


def measure_sentiment_quality() -> dict[str, LanguageScore]:
    """Every labelled text through `LexiconAnalyzer` with its language, as the analyze step would send it."""
    from chalicelib.analysis.base import Document
    from chalicelib.analysis.lexicon import LexiconAnalyzer

    analyzer = LexiconAnalyzer()
    scores: dict[str, LanguageScore] = {}
    for language in languages():
        rows = load_set(language)
        results = analyzer.analyze(
            [Document(key=str(i), text=row["text"], language=row["language"]) for i, row in enumerate(rows)]
        )
        score = scores[language] = LanguageScore(texts=len(rows))
        for i, row in enumerate(rows):
            sentiment = results[str(i)].sentiment
            got = sentiment.value if sentiment else "none"
            if got == row["sentiment"]:
                score.correct += 1
            else:
                score.confusions[(row["sentiment"], got)] += 1
    return scores


def sentiment_quality_section(scores: dict[str, LanguageScore] | None) -> list[str]:
    if not scores:
        return ["Not measured."]
    rows = []
    for language, score in scores.items():
        mistakes = ", ".join(
            f"{expected}→{got} {n}"
            for (expected, got), n in sorted(score.confusions.items(), key=lambda c: -c[1])
        )
        rows.append(f"| {language} | {score.texts} | {score.accuracy:.3f} | {mistakes or '—'} |")
    return [
        "The local analyzer (`ANALYZER=lexicon`: VADER, with the lexicons of `chalicelib/analysis/lexicons` "
        "beyond English) on the labelled set of `tests/fixtures/sentiment` (hand-written customer feedback, "
        "the same four labels as Comprehend, balanced across them). Accuracy = texts labelled as the set "
        "labels them; `tests/test_lexicon_languages.py` holds the floors. The set and the feedback-word "
        "lexicons were written by the same hands: read the figures as a regression baseline, not as the "
        "accuracy on real traffic.",
        "",
        "| language | texts | accuracy | mistakes (expected→got) |",
        "|---|---:|---:|---|",
        *rows,
    ]
