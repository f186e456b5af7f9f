"""The local analyzer beyond English: accuracy per language on the labelled set, and VADER's rules (negation,
contrast, boosters, capitals) applied to Spanish, French, German and Portuguese."""

from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.analysis.base import Document
from chalicelib.analysis.lexicon import SUPPORTED_LANGUAGES, LexiconAnalyzer, score
from chalicelib.analysis.lexicons.vader import STEM_MARK, analyzer_for
from chalicelib.models import Sentiment
from tools.bench.sentiment_quality import (
    LABELS,
    languages,
    load_set,
    measure_sentiment_quality,
    sentiment_quality_section,
)

# A little below what the set measures (en 0.886, es 0.932, fr 0.841, de 0.886, pt 0.864): a drop fails.
ACCURACY_FLOORS = {"en": 0.86, "es": 0.9, "fr": 0.82, "de": 0.86, "pt": 0.84}


@pytest.fixture(scope="module")
def quality():
    return measure_sentiment_quality()


def test_the_set_has_at_least_40_texts_per_language_balanced_across_the_four_labels():
    assert set(languages()) == {"en", "es", "fr", "de", "pt"}
    for language in languages():
        rows = load_set(language)
        labels = Counter(row["sentiment"] for row in rows)
        assert len(rows) >= 40, language
        assert set(labels) == set(LABELS), language
        assert min(labels.values()) >= 10, (language, labels)
        assert {row["language"] for row in rows} == {language}
        assert len({row["text"] for row in rows}) == len(rows), f"{language}: duplicate texts"


@pytest.mark.parametrize("language", sorted(ACCURACY_FLOORS))
def test_accuracy_per_language_stays_above_its_floor(quality, language):
    assert quality[language].texts >= 40
    assert quality[language].accuracy >= ACCURACY_FLOORS[language], quality[language].confusions


def test_every_language_of_the_set_is_scored_and_none_reaches_a_perfect_score_by_construction(quality):
    # A set the analyzer gets entirely right would say more about the set than about the analyzer.
    assert set(quality) == SUPPORTED_LANGUAGES
    assert all(0.75 <= measured.accuracy < 1.0 for measured in quality.values())


def test_the_bench_section_has_one_row_per_language_with_its_accuracy(quality):
    lines = sentiment_quality_section(quality)
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| language")]

    assert [row.split(" | ")[0] for row in rows] == [f"| {language}" for language in sorted(quality)]
    for row, measured in zip(rows, (quality[language] for language in sorted(quality)), strict=True):
        assert f"| {measured.texts} | {measured.accuracy:.3f} |" in row
    assert sentiment_quality_section(None) == ["Not measured."]


@pytest.mark.parametrize(
    ("language", "plain", "negated"),
    [
        ("es", "El producto es bueno", "El producto no es bueno"),
        ("pt", "O produto é bom", "O produto não é bom"),
        ("fr", "Je suis content", "Je ne suis pas content"),
        ("fr", "C'est bon", "Ce n'est pas bon"),
        ("de", "Die Qualität ist gut", "Die Qualität ist nicht gut"),
        ("es", "El soporte respondió", "El soporte nunca respondió"),
    ],
)
def test_a_negation_turns_the_sentiment_around(language, plain, negated):
    assert score(plain, language)["compound"] > 0.05
    assert score(negated, language)["compound"] < -0.05


def test_french_ne_pas_is_one_negation_not_two():
    rewritten = analyzer_for("fr").rewrite("Je ne suis pas content")
    assert rewritten.split().count("not") == 1


@pytest.mark.parametrize(
    ("language", "good_then_bad", "bad_then_good"),
    [
        (
            "es",
            "Buen producto, pero el envío fue horrible",
            "El envío fue horrible, pero el producto es excelente",
        ),
        (
            "pt",
            "Produto bom, mas a entrega foi horrível",
            "A entrega foi horrível, mas o produto é excelente",
        ),
        (
            "fr",
            "Bon produit, mais la livraison était horrible",
            "La livraison était horrible, mais le produit est excellent",
        ),
        (
            "de",
            "Gutes Produkt, aber die Lieferung war schrecklich",
            "Die Lieferung war schrecklich, aber das Produkt ist toll",
        ),
    ],
)
def test_the_clause_after_the_contrast_weighs_more(language, good_then_bad, bad_then_good):
    first, second = score(good_then_bad, language), score(bad_then_good, language)
    assert first["pos"] > 0 and first["neg"] > 0
    assert first["compound"] < 0 < second["compound"]


@pytest.mark.parametrize(
    ("language", "accented", "plain"),
    [
        ("es", "Pésimo servicio", "Pesimo servicio"),
        ("pt", "Péssimo atendimento", "Pessimo atendimento"),
        ("fr", "Très déçu", "Tres decu"),
    ],
)
def test_accents_are_optional_where_customers_often_leave_them_out(language, accented, plain):
    assert score(accented, language) == score(plain, language)
    assert score(accented, language)["compound"] < -0.05


def test_german_keeps_umlauts_apart_schon_is_not_schoen():
    assert score("Das ist schön", "de")["compound"] > 0.05
    assert score("Das ist schon da", "de")["compound"] == 0


def test_boosters_and_capitals_strengthen_like_in_english():
    assert score("muy bueno", "es")["compound"] > score("bueno", "es")["compound"]
    assert (
        score("El servicio fue PÉSIMO", "es")["compound"] < score("El servicio fue pésimo", "es")["compound"]
    )
    assert score("sehr gut", "de")["compound"] > score("gut", "de")["compound"]


def test_an_inflection_missing_from_the_lexicon_is_scored_by_its_stem():
    analyzer = analyzer_for("pt")
    assert "decepcionantes" not in analyzer.lexicon
    assert analyzer.rewrite("decepcionantes").endswith(STEM_MARK)
    assert score("Produtos decepcionantes", "pt")["compound"] < -0.05


def test_a_foreign_word_spelled_like_an_english_rule_word_is_not_read_as_one():
    # Portuguese "no" is "in the", not a negation: "arrived in the deadline, perfect" stays positive.
    assert score("Chegou no prazo, perfeito.", "pt")["compound"] > 0.05
    # German "die" is an article, never VADER's idiom "to die for".
    assert "die" not in analyzer_for("de").rewrite("Die Lieferung war gut").split()


def test_emoji_and_emoticons_count_in_every_language():
    assert score("Entrega 😍", "es")["compound"] > 0.05
    assert score("Lieferung :(", "de")["compound"] < -0.05


@pytest.mark.parametrize(
    ("language", "text", "label"),
    [
        ("es", "Me encanta, atención excelente", Sentiment.POSITIVE),
        ("fr", "Service client nul, très déçu", Sentiment.NEGATIVE),
        ("de", "Ich habe die Rechnung erhalten.", Sentiment.NEUTRAL),
        ("pt", "Produto ótimo, mas a entrega atrasou", Sentiment.MIXED),
        ("pt-BR", "Adorei, ótimo atendimento", Sentiment.POSITIVE),
        ("es-MX", "Pésimo servicio", Sentiment.NEGATIVE),
    ],
)
def test_the_analyzer_stores_the_same_analysis_shape_for_every_language(language, text, label):
    result = LexiconAnalyzer().analyze([Document("k", text, language)])["k"]

    assert result.sentiment is label
    assert (result.analyzer, result.language, result.skipped_reason) == ("lexicon", language[:2], None)
    scores = result.scores
    assert scores.positive + scores.negative + scores.neutral + scores.mixed == pytest.approx(1.0, abs=0.001)


def test_a_language_without_a_lexicon_is_skipped_as_before_and_no_language_means_english():
    results = LexiconAnalyzer().analyze(
        [Document("it", "Servizio pessimo", "it"), Document("ja", "最高", "ja"), Document("none", "Terrible")]
    )

    assert score("Servizio pessimo", "it") is None
    assert [results[k].skipped_reason for k in ("it", "ja")] == ["unsupported_language"] * 2
    assert (results["it"].sentiment, results["it"].language) == (None, "it")
    assert (results["none"].sentiment, results["none"].language) == (Sentiment.NEGATIVE, "en")


def test_a_short_text_in_another_script_keeps_its_guess_rather_than_the_forms_latin_language():
    # Before: unsure guesses fell back to the form's language (or English) and were stored NEUTRAL as "en".
    documents = [
        Document("ru", "Очень плохо", hint="en"),
        Document("zh", "质量很好但是送货太慢了", hint="de"),
        Document("ar", "مرحبا جيد"),
        Document("short-latin", "Top", hint="de"),  # Latin letters: the form's language decides, as before
    ]

    results = LexiconAnalyzer().analyze(documents)

    assert [(results[k].language, results[k].skipped_reason) for k in ("ru", "zh", "ar")] == [
        ("ru", "unsupported_language"),
        ("zh", "unsupported_language"),
        ("ar", "unsupported_language"),
    ]
    assert results["short-latin"].language == "de"


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("pt", "Fazem entregas para os Açores"),  # LeIA's "para" is "stop"
        ("fr", "Le colis est resté sous la pluie"),  # vader_FR's "sous" is money
        ("fr", "Commandé deux fois sur le site"),
        ("de", "Ich hätte es anders verpackt"),
    ],
)
def test_function_words_carry_no_sentiment(language: str, text: str):
    assert score(text, language)["compound"] == 0.0
