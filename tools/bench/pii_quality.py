"""Both PII redactors scored on the labelled corpus (`tools.pii_eval`), for the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass
class PiiQuality:
    """Both redactors scored on the labelled corpus of tests/fixtures/pii (tools/pii_eval.py)."""

    texts: int
    languages: Counter[str]
    labelled: int
    patterns: Any  # pii_eval.Scores
    comprehend: Any  # pii_eval.Scores, with DetectPiiEntities answered from the labels
    comprehend_requests: int
    every_text: Any = None  # pii_eval.Scores with every English/Spanish text sent (no pre-filter)
    every_text_requests: int = 0


def measure_pii_quality() -> PiiQuality:
    from tools import pii_eval

    samples = pii_eval.load_corpus()
    comprehend, requests = pii_eval.comprehend_scores(samples)
    every_text, every_text_requests = pii_eval.comprehend_scores(samples, prefilter=False)
    return PiiQuality(
        texts=len(samples),
        languages=Counter(sample.language for sample in samples),
        labelled=sum(len(sample.entities) for sample in samples),
        patterns=pii_eval.pattern_scores(samples),
        comprehend=comprehend,
        comprehend_requests=requests,
        every_text=every_text,
        every_text_requests=every_text_requests,
    )


def pii_quality_section(quality: PiiQuality | None) -> list[str]:
    from tools import pii_eval

    if quality is None:
        return ["Not measured."]
    languages = ", ".join(f"{language} {n}" for language, n in sorted(quality.languages.items()))
    return [
        f"Both redactors on the labelled corpus of `tests/fixtures/pii` ({quality.texts} hand-written "
        f"feedback texts: {languages}; {quality.labelled} labelled spans of personal data, and texts with "
        'none but plenty of digits and capitalised words: "order 12345", "iPhone 15 Pro", "Sitzplatz 12",'
        ' "via PayPal 2 volte"). A labelled span is **caught** when all its letters and digits are masked'
        " (by any mask), **partly** when some are; recall = caught / labelled. A **false positive** is a "
        "masked span that touches no labelled span; the FP rate is the share of all texts with at least "
        "one, per type. `tests/test_pii_corpus.py` holds the floors; `python -m tools.pii_eval "
        "--mistakes` lists the texts the patterns get wrong. The corpus was written by the same hands as "
        "the patterns: read the figures as a regression baseline, not as the accuracy on real traffic.",
        "",
        "**patterns** (`PatternRedactor`: the local stack, and every language but English and Spanish on "
        "AWS):",
        "",
        *pii_eval.table(quality.patterns),
        "",
        "**comprehend** (`ComprehendPiiRedactor` with its defaults; a `Stubber` answers DetectPiiEntities "
        "with the corpus's own labels, i.e. a perfect model: this measures what surrounds the model "
        "(English and Spanish only, the pre-filter, the types masked by default, the pattern backstop), "
        f"not Comprehend's accuracy, which only AWS can measure; {quality.comprehend_requests} of the "
        f"{quality.texts} texts were sent):",
        "",
        *pii_eval.table(quality.comprehend),
        "",
        *_prefilter_line(quality),
        "NAME is labelled but left readable by default on both backends (customers name the staff they "
        "praise or blame); NATIONAL_ID and DATE_OF_BIRTH are the pattern redactor's own types (Comprehend "
        "has none), masked by its backstop on the Comprehend path.",
    ]


def _prefilter_line(quality: PiiQuality) -> list[str]:
    if quality.every_text is None:
        return []
    kept, every = quality.comprehend.total, quality.every_text.total
    return [
        f"The pre-filter keeps the recall of sending every English and Spanish text: {kept.caught} of "
        f"{kept.labelled} spans caught ({kept.partly} partly) with {quality.comprehend_requests} requests, "
        f"against {every.caught} ({every.partly} partly) with {quality.every_text_requests}.",
        "",
    ]
