"""The keywords theme tagger scored on the labelled set of tests/fixtures/themes, per language
(`tools/themes_eval.py` does the scoring; this turns it into the bench's targets and section), and its work on
the longest texts stored (one keyword repeated to 20,000 characters). Runs alone:
`PYTHONPATH=. python -m tools.bench.theme_quality`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from unittest import mock

# tools.themes_eval imports the app, which the bench imports only once its environment is set.
if TYPE_CHECKING:
    from tools.themes_eval import Report

OVERALL = "all"  # tools.themes_eval.OVERALL: the row of every language together

# Issue 14's targets for the keywords backend on the labelled set.
TARGET_F1 = 0.85
TARGET_LANGUAGE_F1 = 0.75
TARGET_THEME_SENTIMENT = 0.75
# The sentences repeated to the longest text stored (chalicelib.models.MAX_TEXT_CHARS) to measure the cost.
REPEATED = (
    "slow checkout ",
    "The checkout is slow. ",
    "The courier was late, but support was friendly and the app crashes. ",
)


class ThemeCost:
    """The tagger's work on one long text: spans read for sentiment, words keyed by the phrase indexes."""

    __slots__ = ("seconds", "spans_read", "unit", "words", "words_keyed")

    def __init__(self, unit: str, words: int, spans_read: int, words_keyed: int, seconds: float) -> None:
        self.unit = unit
        self.words = words
        self.spans_read = spans_read
        self.words_keyed = words_keyed
        self.seconds = seconds


def measure_theme_quality() -> Report:
    """Every labelled item through the keywords tagger and the local lexicon, against the starter taxonomy."""
    from tools.themes_eval import evaluate, load_items, load_starter

    return evaluate(load_items(), load_starter())


def measure_theme_cost() -> list[ThemeCost]:
    """Each REPEATED sentence repeated to MAX_TEXT_CHARS characters through the keywords tagger, its work
    counted by wrapping the cue scorer (one call per span read) and the phrase indexes' keying."""
    from chalicelib.analysis.base import Document
    from chalicelib.analysis.lexicon import LexiconAnalyzer
    from chalicelib.analysis.themes import keywords, matching
    from chalicelib.models import MAX_TEXT_CHARS
    from tools.themes_eval import load_starter

    taxonomy, tagger = load_starter(), keywords.KeywordTagger(LexiconAnalyzer())
    rows = []
    for unit in REPEATED:
        text = (unit * (MAX_TEXT_CHARS // len(unit) + 1))[:MAX_TEXT_CHARS]
        keys_of, cue_score = matching.PhraseIndex.keys_of, keywords._DocumentPlan._cue_score
        with (
            mock.patch.object(matching.PhraseIndex, "keys_of", autospec=True, side_effect=keys_of) as keyed,
            mock.patch.object(
                keywords._DocumentPlan, "_cue_score", autospec=True, side_effect=cue_score
            ) as read,
        ):
            started = time.perf_counter()
            tagger.tag([Document(key="long", text=text, language="en")], taxonomy)
            seconds = time.perf_counter() - started
        words_keyed = sum(len(call.args[1]) for call in keyed.call_args_list)
        rows.append(ThemeCost(unit, len(text.split()), read.call_count, words_keyed, seconds))
    return rows


def theme_cost_section(rows: list[ThemeCost] | None) -> list[str]:
    if rows is None:
        return ["Not measured."]
    return [
        "The keywords tagger on one text as long as an item's text may be (20,000 characters) repeating "
        "a sentence: the spans read for sentiment (calls to the cue scorer) and the words the phrase "
        "indexes key grow with the text, not with the square of its mentions (the tagger once read a span "
        "again for every mention: `slow checkout` repeated to 8,400 characters took minutes).",
        "",
        "| repeated | words | spans read | words keyed | seconds |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| `{row.unit.strip()}` | {row.words:,} | {row.spans_read:,} | {row.words_keyed:,} | "
            f"{row.seconds:.2f} |"
            for row in rows
        ),
    ]


def theme_quality_targets(report: Report | None) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) rows: overall F1, the lowest language's F1 and sentiment accuracy."""
    if report is None:
        return []
    languages = report.languages()
    weakest_f1 = min(languages, key=lambda language: report.exact[language].f1)
    weakest_sentiment = min(languages, key=lambda language: report.exact[language].sentiment_accuracy)
    overall = report.exact[OVERALL]
    lowest_f1 = report.exact[weakest_f1].f1
    lowest_sentiment = report.exact[weakest_sentiment].sentiment_accuracy
    return [
        ("themes (keywords): F1 on the labelled set", f"{overall.f1:.3f}", f"≥ {TARGET_F1}",
         overall.f1 >= TARGET_F1),
        ("themes (keywords): lowest language's F1", f"{lowest_f1:.3f} ({weakest_f1})",
         f"≥ {TARGET_LANGUAGE_F1}", lowest_f1 >= TARGET_LANGUAGE_F1),
        ("themes (keywords): lowest language's per-theme sentiment accuracy",
         f"{lowest_sentiment:.3f} ({weakest_sentiment})", f"≥ {TARGET_THEME_SENTIMENT}",
         lowest_sentiment >= TARGET_THEME_SENTIMENT),
    ]  # fmt: skip


def theme_quality_section(report: Report | None) -> list[str]:
    if report is None:
        return ["Not measured."]
    rows = []
    for language in [OVERALL, *report.languages()]:
        exact, parent = report.exact[language], report.parent[language]
        rows.append(
            f"| {language} | {report.items[language]} | {exact.precision:.3f} | {exact.recall:.3f} | "
            f"{exact.f1:.3f} | {parent.f1:.3f} | {exact.sentiment_accuracy:.3f} |"
        )
    return [
        "The keywords tagger (`THEME_TAGGER=keywords`, sentiment about each theme from the local lexicon "
        "analyzer) against the starter taxonomy on the labelled set of `tests/fixtures/themes` (realistic "
        "items written for the purpose, each with its expected themes and the sentiment about each). A theme "
        "counts as found when its id is among the item's expected ones; parent F1 counts a theme and its "
        "parent as one; sentiment accuracy is over the themes found. `python -m tools.themes_eval "
        "--mistakes` lists every miss; `tests/test_themes_keywords.py` holds the floors.",
        "",
        "| language | items | precision | recall | F1 | parent F1 | per-theme sentiment accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


if __name__ == "__main__":
    print(
        "\n".join(
            [*theme_quality_section(measure_theme_quality()), "", *theme_cost_section(measure_theme_cost())]
        )
    )
