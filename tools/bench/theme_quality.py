"""The keywords theme tagger scored on the labelled set of tests/fixtures/themes, per language
(`tools/themes_eval.py` does the scoring; this turns it into the bench's targets and section)."""

from __future__ import annotations

from typing import TYPE_CHECKING

# tools.themes_eval imports the app, which the bench imports only once its environment is set.
if TYPE_CHECKING:
    from tools.themes_eval import Report

OVERALL = "all"  # tools.themes_eval.OVERALL: the row of every language together

# Issue 14's targets for the keywords backend on the labelled set.
TARGET_F1 = 0.85
TARGET_LANGUAGE_F1 = 0.75
TARGET_THEME_SENTIMENT = 0.75


def measure_theme_quality() -> Report:
    """Every labelled item through the keywords tagger and the local lexicon, against the starter taxonomy."""
    from tools.themes_eval import evaluate, load_items, load_starter

    return evaluate(load_items(), load_starter())


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
