"""The redactors against the labelled corpus of tests/fixtures/pii: recall and false-positive floors per type.

The figures themselves are printed by `make bench` (BENCHMARKS.md, "PII redaction") and
`python -m tools.pii_eval`; these tests only hold the floors, so that a regression fails.
"""

from __future__ import annotations

import json

import pytest

from tools.pii_eval import (
    CORPUS_DIR,
    Labelled,
    Sample,
    comprehend_scores,
    load_corpus,
    oracle_entities,
    pattern_scores,
    score,
)

LANGUAGES = {"en", "es", "fr", "de", "it", "pt", "nl"}

# type: (recall at least, false-positive rate at most). Measured: see BENCHMARKS.md.
PATTERN_FLOORS = {
    "ADDRESS": (0.90, 0.03),
    "PHONE": (0.95, 0.01),
    "EMAIL": (1.0, 0.0),
    "CREDIT_DEBIT_NUMBER": (1.0, 0.005),
    # a mistyped IBAN fails mod 97: its digits are masked as a phone, its letters stay ("partly")
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER": (0.85, 0.0),
    "NATIONAL_ID": (0.9, 0.005),
    "DATE_OF_BIRTH": (0.9, 0.005),
    "SSN": (1.0, 0.005),
    "PASSPORT_NUMBER": (0.6, 0.005),
    "IP_ADDRESS": (1.0, 0.005),
    "MAC_ADDRESS": (1.0, 0.005),
    "CREDIT_DEBIT_CVV": (1.0, 0.005),
    "CREDIT_DEBIT_EXPIRY": (1.0, 0.005),
}
COMPREHEND_FLOORS = {
    **PATTERN_FLOORS,
    "ADDRESS": (0.95, 0.03),
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER": (1.0, 0.0),
}
ADDRESS_RECALL_PER_LANGUAGE = 0.8


@pytest.fixture(scope="module")
def corpus() -> list[Sample]:
    return load_corpus()


@pytest.fixture(scope="module")
def patterns(corpus):
    return pattern_scores(corpus)


def test_the_corpus_is_large_varied_and_its_spans_hold_their_text(corpus):
    # load_corpus checks every span against its stated text; this checks the corpus is worth measuring on.
    assert len(corpus) >= 300
    assert len({sample.id for sample in corpus}) == len(corpus)
    assert {sample.language for sample in corpus} == LANGUAGES
    for language in LANGUAGES:
        texts = [sample for sample in corpus if sample.language == language]
        assert sum(not sample.entities for sample in texts) >= 10, language  # plenty of texts without PII
        assert sum(entity.type == "ADDRESS" for sample in texts for entity in sample.entities) >= 7, language
    without_pii = [sample for sample in corpus if not sample.entities]
    assert len(without_pii) >= 150
    assert sum(any(char.isdigit() for char in sample.text) for sample in without_pii) >= 140


def test_a_span_that_does_not_hold_its_text_is_refused(tmp_path):
    line = {
        "id": "x",
        "language": "en",
        "text": "call 555 0100",
        "entities": [{"type": "PHONE", "start": 4, "end": 13, "text": "555 0100"}],
    }
    (tmp_path / "bad.jsonl").write_text(json.dumps(line), encoding="utf-8")

    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        load_corpus(tmp_path)


def test_scoring_counts_caught_partly_and_false_positives():
    sample = Sample("s", "en", "ab 12 Elm Street, Springfield cd", (Labelled(3, 29, "ADDRESS"),))
    other = Sample("t", "en", "order 12345 thanks", ())

    class Span:
        def __init__(self, start, end, type_):
            self.start, self.end, self.type = start, end, type_

    partly = score("x", [sample, other], lambda s: [Span(3, 15, "ADDRESS")] if s.id == "s" else [])
    whole = score(
        "x", [sample, other], lambda s: [Span(3, 29, "ADDRESS")] if s.id == "s" else [Span(6, 11, "PHONE")]
    )

    assert (partly.by_type["ADDRESS"].caught, partly.by_type["ADDRESS"].partly) == (0, 1)
    assert (whole.by_type["ADDRESS"].caught, whole.by_type["ADDRESS"].recall) == (1, 1.0)
    assert whole.by_type["PHONE"].false_spans == whole.by_type["PHONE"].false_texts == 1
    assert whole.by_type["PHONE"].false_positive_rate == 0.5


@pytest.mark.parametrize("entity_type", sorted(PATTERN_FLOORS))
def test_pattern_redactor_floors(patterns, entity_type):
    figures = patterns.figures(entity_type)
    min_recall, max_fp_rate = PATTERN_FLOORS[entity_type]

    assert figures.labelled > 0
    assert figures.recall >= min_recall, f"{entity_type} recall {figures.recall:.2%}"
    assert figures.false_positive_rate <= max_fp_rate, (
        f"{entity_type} FP rate {figures.false_positive_rate:.2%}"
    )


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_pattern_redactor_finds_addresses_in_every_language(corpus, language):
    figures = pattern_scores([s for s in corpus if s.language == language]).figures("ADDRESS")

    assert figures.recall >= ADDRESS_RECALL_PER_LANGUAGE, f"{language}: {figures.caught}/{figures.labelled}"


def test_no_pattern_type_has_a_false_positive_rate_over_three_percent(patterns):
    assert {
        t: f.false_positive_rate for t, f in patterns.by_type.items() if f.false_positive_rate > 0.03
    } == {}


@pytest.fixture(scope="module")
def comprehend(corpus):
    return comprehend_scores(corpus)


@pytest.mark.parametrize("entity_type", sorted(COMPREHEND_FLOORS))
def test_comprehend_redactor_floors_with_a_perfect_model(comprehend, entity_type):
    # DetectPiiEntities answers with the corpus's own labels (tools/pii_eval.OracleComprehend): what is
    # measured is the routing, the pre-filter, the default types and the backstop, not the model.
    scores, _ = comprehend
    figures = scores.figures(entity_type)
    min_recall, max_fp_rate = COMPREHEND_FLOORS[entity_type]

    assert figures.recall >= min_recall, f"{entity_type} recall {figures.recall:.2%}"
    assert figures.false_positive_rate <= max_fp_rate


def test_comprehend_is_sent_only_english_and_spanish_texts_the_patterns_leave_suspicious(corpus, comprehend):
    _, requests = comprehend
    eligible = [s for s in corpus if s.language in {"en", "es"}]

    assert 0 < requests < len(eligible) / 2


def test_the_pre_filter_loses_no_recall_against_sending_every_text(corpus, comprehend):
    # Sending every English and Spanish text is the most a perfect model can catch: the pre-filter that
    # spares most of those requests must catch every span that does, type by type.
    filtered, requests = comprehend
    unfiltered, every_text = comprehend_scores(corpus, prefilter=False)

    assert {t: f.caught for t, f in filtered.by_type.items()} == {
        t: f.caught for t, f in unfiltered.by_type.items()
    }
    assert filtered.total.partly <= unfiltered.total.partly
    assert requests < every_text / 2


def test_names_stay_readable_by_default_on_both_backends(patterns, comprehend):
    # A product decision (chalicelib/analysis/redaction/base.py): customers name the staff they praise.
    assert patterns.figures("NAME").caught == 0
    assert comprehend[0].figures("NAME").caught == 0
    assert comprehend[0].figures("NAME").labelled > 0


def test_the_oracle_speaks_comprehends_type_names():
    sample = Sample(
        "s",
        "en",
        "DOB 12/03/1985, DNI 48392017V, at 1 Elm Street",
        (Labelled(4, 14, "DATE_OF_BIRTH"), Labelled(20, 29, "NATIONAL_ID"), Labelled(34, 46, "ADDRESS")),
    )

    assert [(e["Type"], e["BeginOffset"]) for e in oracle_entities(sample)] == [
        ("DATE_TIME", 4),
        ("ADDRESS", 34),
    ]


def test_corpus_files_are_where_the_bench_reads_them():
    assert sorted(path.stem for path in CORPUS_DIR.glob("*.jsonl")) == sorted(LANGUAGES | {"mixed"})
