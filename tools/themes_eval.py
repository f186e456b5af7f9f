"""Precision, recall and F1 of the keywords theme tagger, and its per-theme sentiment accuracy, on the
labelled evaluation set of tests/fixtures/themes (`python -m tools.themes_eval [--mistakes]`).

The set is hand-written feedback, one JSON object per line in eval_*.jsonl: `{"text", "language", "themes":
[{"id", "sentiment"}]}`, each item labelled with the most specific themes of the starter taxonomy that apply.

How the tagger is scored, overall and per language (micro-averaged over items):
- theme F1: a predicted theme id is right when the item's labels hold that exact id;
- parent F1: the same with every id replaced by its top-level theme (a child counts as its parent), which
  forgives "delivery" for "delivery-speed" and the reverse;
- sentiment accuracy: over the themes found with the right id, the share whose sentiment equals the label's.
The tagger runs with the starter taxonomy and the local sentiment backend (`LexiconAnalyzer`), as `make run`.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.analysis.base import Analyzer, Document
from chalicelib.analysis.themes.base import ThemeMatch
from chalicelib.analysis.themes.keywords import KeywordTagger
from chalicelib.themes.taxonomy import Taxonomy

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT / "tests" / "fixtures" / "themes"
STARTER = ROOT / "chalicelib" / "themes" / "starter.json"
OVERALL = "all"


@dataclass(frozen=True)
class Item:
    text: str
    language: str | None
    themes: dict[str, str]  # id → sentiment


@dataclass
class Counts:
    """Right predictions, predictions and labels of one scoring, and sentiment agreement on the right ones."""

    hits: int = 0
    predicted: int = 0
    labelled: int = 0
    sentiment_right: int = 0

    @property
    def precision(self) -> float:
        return self.hits / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.labelled if self.labelled else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def sentiment_accuracy(self) -> float:
        return self.sentiment_right / self.hits if self.hits else 1.0


@dataclass
class Report:
    items: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    exact: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    parent: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    mistakes: list[tuple[Item, list[ThemeMatch]]] = field(default_factory=list)

    def languages(self) -> list[str]:
        return sorted(language for language in self.items if language != OVERALL)


def load_items(directory: Path = EVAL_DIR) -> list[Item]:
    """Every item of every eval_*.jsonl file; a malformed line is a ValueError naming it."""
    items = []
    for path in sorted(directory.glob("eval_*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                themes = {theme["id"]: theme["sentiment"] for theme in raw["themes"]}
                items.append(Item(raw["text"], raw.get("language"), themes))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path.name}:{number}: {error}") from error
    return items


def load_starter() -> Taxonomy:
    return Taxonomy.model_validate_json(STARTER.read_text(encoding="utf-8"))


def evaluate(items: Sequence[Item], taxonomy: Taxonomy, analyzer: Analyzer | None = None) -> Report:
    """Tag every item in one batch and score the tags against the labels."""
    if analyzer is None:
        from chalicelib.analysis.lexicon import LexiconAnalyzer

        analyzer = LexiconAnalyzer()
    tagger = KeywordTagger(analyzer)
    documents = [Document(str(number), item.text, item.language) for number, item in enumerate(items)]
    tagged = tagger.tag(documents, taxonomy)
    top_of = {theme.id: theme.parent or theme.id for theme in taxonomy.themes}
    report = Report()
    for document, item in zip(documents, items, strict=True):
        matches = tagged[document.key]
        predicted = {match.id: match.sentiment for match in matches}
        for language in (OVERALL, item.language or "none"):
            report.items[language] += 1
            _count(report.exact[language], predicted, item.themes)
            _count(
                report.parent[language],
                {top_of.get(i, i): s for i, s in predicted.items()},
                {top_of.get(i, i): s for i, s in item.themes.items()},
            )
        if predicted != item.themes:
            report.mistakes.append((item, matches))
    return report


def _count(counts: Counts, predicted: dict[str, str], labelled: dict[str, str]) -> None:
    found = predicted.keys() & labelled.keys()
    counts.hits += len(found)
    counts.predicted += len(predicted)
    counts.labelled += len(labelled)
    counts.sentiment_right += sum(predicted[theme] == labelled[theme] for theme in found)


def render(report: Report, mistakes: bool = False) -> str:
    header = f"{'language':<9}{'items':>6}{'precision':>11}{'recall':>8}{'F1':>7}"
    lines = [header + f"{'parent F1':>11}{'sentiment':>11}"]
    for language in [OVERALL, *report.languages()]:
        exact, parent = report.exact[language], report.parent[language]
        lines.append(
            f"{language:<9}{report.items[language]:>6}{exact.precision:>11.3f}{exact.recall:>8.3f}"
            f"{exact.f1:>7.3f}{parent.f1:>11.3f}{exact.sentiment_accuracy:>11.3f}"
        )
    if mistakes:
        for item, matches in report.mistakes:
            got = ", ".join(f"{m.id}:{m.sentiment}" for m in matches) or "-"
            want = ", ".join(f"{i}:{s}" for i, s in item.themes.items()) or "-"
            lines += ["", f"[{item.language}] {item.text}", f"  labelled: {want}", f"  tagged:   {got}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.themes_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--mistakes", action="store_true", help="print every item tagged differently")
    parser.add_argument("--dir", type=Path, default=EVAL_DIR, help="folder of eval_*.jsonl files")
    args = parser.parse_args(argv)
    items = load_items(args.dir)
    if not items:
        parser.error(f"no eval_*.jsonl items in {args.dir}")
    print(render(evaluate(items, load_starter()), mistakes=args.mistakes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
