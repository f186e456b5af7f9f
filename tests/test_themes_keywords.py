"""The keywords theme tagger: stemming, accents, phrases, negation, evidence, the taxonomy's rules, aspect
sentiment per clause, and its figures on the labelled evaluation set (tools/themes_eval.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from chalicelib.analysis.base import AnalysisFailed, AnalysisResults, Document
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.analysis.themes.base import ThemeMatch
from chalicelib.analysis.themes.clauses import is_negated, segment
from chalicelib.analysis.themes.keywords import KeywordTagger
from chalicelib.analysis.themes.stemming import tokenize
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tools import themes_eval

STARTER = themes_eval.load_starter()


class RecordingAnalyzer:
    """The lexicon backend, recording each call's documents."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[list[Document]] = []
        self._lexicon = LexiconAnalyzer()

    def analyze(self, documents: Sequence[Document]) -> AnalysisResults:
        self.calls.append(list(documents))
        return self._lexicon.analyze(documents)


class FailingAnalyzer:
    name = "failing"

    def analyze(self, documents: Sequence[Document]) -> AnalysisResults:
        return {document.key: AnalysisFailed("throttled") for document in documents}


def tag(text: str, language: str | None = "en", taxonomy: Taxonomy = STARTER) -> list[ThemeMatch]:
    return KeywordTagger(LexiconAnalyzer()).tag([Document("k", text, language)], taxonomy)["k"]


def ids(text: str, language: str | None = "en", taxonomy: Taxonomy = STARTER) -> list[str]:
    return [match.id for match in tag(text, language, taxonomy)]


def sentiments(text: str, language: str | None = "en") -> dict[str, str]:
    return {match.id: match.sentiment for match in tag(text, language)}


def taxonomy_of(*themes: Theme) -> Taxonomy:
    return Taxonomy(themes=list(themes))


PHONE = Theme(id="phone", name="Phone", keywords={"en": ["phone"]})
BATTERY = Theme(id="battery", name="Battery", keywords={"en": ["battery", "battery life"]})


# --- matching -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "theme"),
    [
        ("Both deliveries were handled well", "en", "delivery"),  # keyword "delivery"
        ("They refunded me within a week", "en", "returns"),  # keyword "refund"
        ("Los envíos a Canarias son un desastre", "es", "delivery"),  # keyword "envío"
        ("Les remboursements sont rapides", "fr", "returns"),  # keyword "remboursement"
        ("Beide Lieferungen kamen an", "de", "delivery"),  # keyword "Lieferung"
        ("As devoluções são complicadas", "pt", "returns"),  # keyword "devolução"
    ],
)
def test_inflected_forms_match_their_keyword(text: str, language: str, theme: str):
    assert theme in ids(text, language)


@pytest.mark.parametrize(
    ("text", "language", "theme"),
    [
        ("EL ENVIO LLEGO BIEN", "es", "delivery"),  # keyword "envío", typed without accents
        ("As devolucoes demoram", "pt", "returns"),  # keyword "devolução"
        ("la LIVRAISON était correcte", "fr", "delivery"),
        ("Die RÜCKGABE war einfach", "de", "returns"),
    ],
)
def test_case_and_accents_are_folded_on_both_sides(text: str, language: str, theme: str):
    assert theme in ids(text, language)


def test_phrases_match_as_word_sequences_with_small_gaps_within_a_clause():
    assert ids("My order arrived two days late.") == ["delivery-speed"]
    assert ids("The payment page is confusing") == ["checkout"]
    # The words of a phrase in two clauses are no phrase: "on" and "time" here are not "on time".
    assert "delivery-speed" not in ids("I was put on. Time will tell.")
    drain = taxonomy_of(Theme(id="drain", name="Battery drain", keywords={"en": ["battery drains"]}))
    assert ids("The battery really quickly drains", "en", drain) == ["drain"]  # two words between
    assert ids("The battery of this one really quickly drains", "en", drain) == []  # more: no phrase


def test_longest_phrase_wins_where_keywords_of_two_themes_overlap():
    # "shipping cost" (delivery) covers "cost" (price).
    assert ids("The shipping cost was fine") == ["delivery"]


def test_german_compounds_match_the_keyword_they_start_or_end_with():
    assert ids("Der Paketzusteller war freundlich", "de")[0] == "delivery"  # "Paket…"
    assert ids("Die Kreditkartenzahlung ging nicht", "de") == ["checkout"]  # "…zahlung"
    # A compound that is a keyword itself is not read as its parts: Versandkosten is delivery, not price.
    assert ids("Die Versandkosten sind okay", "de") == ["delivery"]


def test_a_document_without_language_is_matched_against_every_language():
    assert ids("La livraison était rapide", None) == ["delivery-speed"]
    assert ids("El reembolso nunca llegó", None) == ["returns"]


def test_a_language_the_taxonomy_has_no_keywords_for_tries_them_all():
    assert ids("The refund took a month", "it") == ["returns"]


# --- what an item gets -----------------------------------------------------------------------------------


def test_each_theme_at_most_once_in_text_order_with_evidence_from_the_text():
    text = "Shipping was late. The app crashed twice, the app is slow. Refund was quick!"
    matches = tag(text)
    assert [m.id for m in matches] == ["delivery-speed", "app-performance", "returns"]
    for match in matches:
        assert match.evidence and match.evidence in text


def test_retired_themes_never_tag():
    live = Theme(id="returns", name="Returns", keywords={"en": ["refund"]})
    retired = Theme(id="price", name="Price", keywords={"en": ["price"]}, retired=True)
    assert ids("The price and the refund were fine", "en", taxonomy_of(live, retired)) == ["returns"]


def test_a_child_theme_stands_for_its_parent_in_the_same_clause():
    assert ids("The delivery was two weeks late") == ["delivery-speed"]
    assert ids("Support never answered my emails") == ["support-response"]


def test_an_item_never_carries_a_parent_and_its_child_together():
    # As the evaluation set is labelled: the child alone, whatever the parent's mention says elsewhere.
    assert ids("Shipping costs are too high. It arrived the next day.") == ["delivery-speed"]
    assert ids("Shipping costs are too high.") == ["delivery"]


def test_no_theme_gives_an_empty_list_and_empty_text_too():
    assert tag("Thanks, nothing else to say") == []
    assert tag("   ") == []


# --- negation and aspect sentiment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "theme", "sentiment"),
    [
        ("The parcel did not arrive late.", "en", "delivery-speed", "POSITIVE"),
        ("The parcel arrived late.", "en", "delivery-speed", "NEGATIVE"),
        ("No llegó tarde.", "es", "delivery-speed", "POSITIVE"),
        ("Llegó tarde.", "es", "delivery-speed", "NEGATIVE"),
        ("Pas cher du tout.", "fr", "price", "POSITIVE"),
        ("Trop cher.", "fr", "price", "NEGATIVE"),
        ("The price is not cheap.", "en", "price", "NEGATIVE"),
        ("Der Kundenservice antwortet nicht.", "de", "support-response", "NEGATIVE"),
        ("Customer service did not help at all.", "en", "support", "NEGATIVE"),
        ("Die App funktioniert nicht.", "de", "app", "NEGATIVE"),
        ("Não tive nenhum problema com a entrega.", "pt", "delivery", "POSITIVE"),
    ],
)
def test_negation_keeps_the_theme_and_turns_its_sentiment(text, language, theme, sentiment):
    assert sentiments(text, language) == {theme: sentiment}


def test_sentiment_is_about_each_aspect_not_the_whole_text():
    theirs = taxonomy_of(PHONE, BATTERY)
    by_id = {m.id: m for m in tag("Great phone, but the battery is awful.", "en", theirs)}
    assert (by_id["phone"].sentiment, by_id["battery"].sentiment) == ("POSITIVE", "NEGATIVE")
    assert by_id["battery"].evidence == "the battery is awful"
    both = {m.id: m.sentiment for m in tag("Great phone, awful battery life", "en", theirs)}
    assert both == {"phone": "POSITIVE", "battery": "NEGATIVE"}


def test_the_issue_example():
    matches = tag("Great phone, but the battery is awful and support never answered.")
    assert [(m.id, m.sentiment, m.evidence) for m in matches] == [
        ("quality", "NEGATIVE", "the battery is awful"),
        ("support-response", "NEGATIVE", "support never answered"),
    ]


def test_theme_words_are_not_read_as_sentiment():
    # A general lexicon finds "support" and "help" positive; contacting support says nothing either way.
    assert sentiments("I contacted customer support about my order.") == {"support": "NEUTRAL"}


def test_a_theme_praised_in_one_place_and_criticised_in_another_is_mixed():
    assert sentiments("The app looks great. The app is confusing though.") == {"app": "MIXED"}


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Will the blue one be available again soon?", "en", {"stock": "NEUTRAL"}),
        ("¿Hacéis envíos a Portugal?", "es", {"delivery": "NEUTRAL"}),
        ("Vous livrez en Belgique ?", "fr", {"delivery": "NEUTRAL"}),
        # A complaint cue still speaks in a question.
        ("Why is my delivery always late?", "en", {"delivery-speed": "NEGATIVE"}),
    ],
)
def test_a_question_asks_rather_than_judges(text: str, language: str, expected: dict[str, str]):
    assert sentiments(text, language) == expected


def test_a_silent_side_of_a_contrast_takes_the_other_sides_opinion_reversed():
    result = KeywordTagger(LexiconAnalyzer()).tag(
        [Document("k", "Lovely phone, but the battery barely gets me to lunch", "en")],
        taxonomy_of(PHONE, BATTERY),
    )["k"]
    assert [(m.id, m.sentiment, m.evidence) for m in result] == [
        ("phone", "POSITIVE", "Lovely phone"),
        ("battery", "NEGATIVE", "the battery barely gets me to lunch"),
    ]
    # Both sides about the same theme: good and bad news about it.
    assert sentiments("Tela bonita, mas a bateria vai até o almoço", "pt") == {"quality": "MIXED"}


def test_a_concessive_clause_backs_the_complaint_up_rather_than_opposing_it():
    assert sentiments("The card was declined at checkout, although it works in every other shop") == {
        "checkout": "NEGATIVE"
    }
    assert sentiments("Zahlung abgelehnt, obwohl die Karte überall sonst funktioniert", "de") == {
        "checkout": "NEGATIVE"
    }


def test_pieces_that_name_no_theme_speak_for_the_mention_before_them():
    # The piece naming the courier says nothing; "careless" after the comma is about it, not about the price.
    assert sentiments("The courier dumped my parcel at the gate, careless, and the price was fair") == {
        "delivery": "NEGATIVE",
        "price": "POSITIVE",
    }


def test_opinion_words_that_are_also_keywords_still_speak():
    # "delicious" is a quality keyword, hidden from the analyzer: the cue reads it.
    assert sentiments("The soup was delicious but the waiter ignored us for an hour") == {
        "quality": "POSITIVE",
        "staff": "NEGATIVE",
    }


def test_a_qualifying_cue_before_another_does_not_count_on_its_own():
    # "bien" (good) only strengthens "augmenté" (gone up).
    assert sentiments("Les tarifs ont bien augmenté cette année", "fr") == {"price": "NEGATIVE"}


def test_a_phrase_matched_whole_is_not_hidden_by_one_matched_across_a_gap():
    # "en … stock" (expected) spans "rupture de stock" (negative).
    assert sentiments("Le modèle noir est encore en rupture de stock", "fr") == {"stock": "NEGATIVE"}


def test_negation_does_not_reach_past_and():
    tokens = tokenize("they could do nothing and told me to be patient")
    position = [token.lower for token in tokens].index("be")
    assert not is_negated(tokens, position, None, "en")
    assert is_negated(tokenize("nothing to be patient about"), 2, None, "en")


def test_every_clause_of_every_document_is_scored_in_one_analyzer_call():
    analyzer = RecordingAnalyzer()
    documents = [
        Document("a", "Great phone, but the battery is awful and support never answered.", "en"),
        Document("b", "Delivery was late. The price was fair.", "en"),
        Document("c", "Nothing to report", "en"),
    ]
    result = KeywordTagger(analyzer).tag(documents, STARTER)
    assert len(analyzer.calls) == 1
    assert set(result) == {"a", "b", "c"} and result["c"] == []
    scored = [document.text for document in analyzer.calls[0]]
    assert "is awful" in " ".join(scored) and len(scored) == len(set(d.key for d in analyzer.calls[0]))


def test_no_analyzer_call_when_nothing_matches():
    analyzer = RecordingAnalyzer()
    assert KeywordTagger(analyzer).tag([Document("a", "hello", "en")], STARTER) == {"a": []}
    assert analyzer.calls == []


def test_a_failed_analysis_leaves_the_cues_to_decide():
    tagger = KeywordTagger(FailingAnalyzer())
    result = tagger.tag([Document("a", "Delivery was late. I contacted support.", "en")], STARTER)["a"]
    assert [(m.id, m.sentiment) for m in result] == [("delivery-speed", "NEGATIVE"), ("support", "NEUTRAL")]


def test_tagging_is_deterministic():
    documents = [Document(str(i), text, "en") for i, text in enumerate(["Late delivery, rude staff"] * 3)]
    first = KeywordTagger(LexiconAnalyzer()).tag(documents, STARTER)
    second = KeywordTagger(LexiconAnalyzer()).tag(documents, STARTER)
    assert first == second and first["0"] == first["1"] == first["2"]


def test_clauses_split_on_punctuation_and_contrastive_conjunctions_per_language():
    text = "Schnelle Lieferung, aber die Qualität ist schlecht. Preis ok"
    clauses = [text[c.start : c.end] for c in segment(text, "de").clauses]
    assert clauses == ["Schnelle Lieferung", "die Qualität ist schlecht", "Preis ok"]
    # "4.5" and "1,99" are numbers, not boundaries.
    numbers = "Rated 4.5 and priced 1,99 euro"
    assert [numbers[p.start : p.end] for p, _ in segment(numbers, "en").pieces] == [
        "Rated 4.5",
        "priced 1,99 euro",
    ]


# --- figures --------------------------------------------------------------------------------------------

# Quick sanity items written with the tagger, kept apart from the evaluation set so that set stays unseen.
SANITY = [
    ("en", "My package arrived three days late and the box was crushed.", {"delivery-speed": "NEGATIVE",
                                                                           "delivery-damage": "NEGATIVE"}),
    ("en", "Way too expensive for what you get.", {"price": "NEGATIVE"}),
    ("en", "The app keeps crashing when I open my cart.", {"app-performance": "NEGATIVE",
                                                            "checkout": "NEUTRAL"}),
    ("en", "I was charged twice for my subscription.", {"billing": "NEGATIVE"}),
    ("en", "The cashier was really friendly.", {"staff": "POSITIVE"}),
    ("en", "Size M has been out of stock for weeks.", {"stock": "NEGATIVE"}),
    ("es", "El envío llegó rapidísimo, pero la calidad de la tela es mala.", {"delivery-speed": "POSITIVE",
                                                                              "quality": "NEGATIVE"}),
    ("es", "Llevo dos semanas esperando el reembolso.", {"returns": "NEGATIVE"}),
    ("es", "La atención al cliente fue muy amable.", {"support": "POSITIVE"}),
    ("es", "Precio muy bueno.", {"price": "POSITIVE"}),
    ("fr", "Le colis est arrivé abîmé.", {"delivery-damage": "NEGATIVE"}),
    ("fr", "Le service client ne répond pas depuis une semaine.", {"support-response": "NEGATIVE"}),
    ("fr", "L'application plante sans arrêt.", {"app-performance": "NEGATIVE"}),
    ("fr", "La vendeuse était très aimable.", {"staff": "POSITIVE"}),
    ("de", "Die Lieferung kam pünktlich und die Qualität ist top.", {"delivery-speed": "POSITIVE",
                                                                     "quality": "POSITIVE"}),
    ("de", "Die Rücksendung war kompliziert.", {"returns": "NEGATIVE"}),
    ("de", "Meine Karte wurde beim Bezahlen abgelehnt.", {"checkout": "NEGATIVE"}),
    ("pt", "O produto veio com defeito e a troca demorou muito.", {"quality": "NEGATIVE",
                                                                    "returns": "NEGATIVE"}),
    ("pt", "Fui cobrado duas vezes na fatura.", {"billing": "NEGATIVE"}),
    ("pt", "O tamanho que eu queria está esgotado.", {"stock": "NEGATIVE"}),
]  # fmt: skip


def test_sanity_items():
    items = [themes_eval.Item(text, language, labels) for language, text, labels in SANITY]
    report = themes_eval.evaluate(items, STARTER)
    assert report.exact["all"].f1 >= 0.9, themes_eval.render(report, mistakes=True)
    assert report.exact["all"].sentiment_accuracy >= 0.9, themes_eval.render(report, mistakes=True)


EVAL_SET = themes_eval.EVAL_DIR
# Measured (`python -m tools.themes_eval`, 406 items, local lexicon backend): theme F1 0.866 overall
# (en 0.871, es 0.855, fr 0.914, de 0.857, pt 0.833); per-theme sentiment 0.861 overall (en 0.878, es 0.882,
# fr 0.838, de 0.864, pt 0.843). Floors a little below: a regression fails. The issue's targets are
# asserted in tests/test_themes_evalset.py.
FLOORS = {"f1": 0.85, "language_f1": 0.82, "sentiment": 0.84, "language_sentiment": 0.82}


@pytest.mark.skipif(not EVAL_SET.is_dir(), reason="the labelled evaluation set is not in this tree")
def test_floors_on_the_evaluation_set():
    report = themes_eval.evaluate(themes_eval.load_items(), STARTER)
    summary = themes_eval.render(report)
    assert report.items["all"] >= 300, summary
    assert report.exact["all"].f1 >= FLOORS["f1"], summary
    assert report.exact["all"].sentiment_accuracy >= FLOORS["sentiment"], summary
    for language in ("en", "es", "fr", "de", "pt"):
        assert report.exact[language].f1 >= FLOORS["language_f1"], summary
        assert report.exact[language].sentiment_accuracy >= FLOORS["language_sentiment"], summary


def test_the_eval_command_prints_the_table_and_the_mistakes(tmp_path: Path, capsys):
    lines = [
        {"text": "Delivery was late.", "language": "en",
         "themes": [{"id": "delivery-speed", "sentiment": "NEGATIVE"}]},
        {"text": "Nice staff.", "language": "en", "themes": [{"id": "price", "sentiment": "POSITIVE"}]},
    ]  # fmt: skip
    (tmp_path / "eval_en.jsonl").write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    assert themes_eval.main(["--dir", str(tmp_path), "--mistakes"]) == 0
    out = capsys.readouterr().out
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:3]}
    # 1 of 2 predictions right, 1 of 2 labels found; the right one has the right sentiment.
    assert table["all"] == ["2", "0.500", "0.500", "0.500", "0.500", "1.000"]
    assert "[en] Nice staff." in out and "tagged:   staff:POSITIVE" in out


def test_the_eval_reader_names_a_bad_line(tmp_path: Path):
    (tmp_path / "eval_x.jsonl").write_text('{"text": "x", "language": "en"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"eval_x\.jsonl:1"):
        themes_eval.load_items(tmp_path)


@pytest.mark.parametrize(
    ("text", "language", "sentiment", "evidence"),
    [
        ("Der Akku hält ewig, super Preis", "de", "POSITIVE", "Der Akku hält ewig"),  # "ewig" alone: waiting
        ("Der Akku hält nicht lange", "de", "NEGATIVE", "Der Akku hält nicht lange"),
        ("La batería dura muy poco y el envío llegó tarde", "es", "NEGATIVE", "La batería dura muy poco"),
        ("A bateria dura pouco", "pt", "NEGATIVE", "A bateria dura pouco"),
    ],
)
def test_how_long_a_thing_lasts_is_an_opinion_about_it(text, language, sentiment, evidence):
    battery = Theme(
        id="battery",
        name="Battery",
        parent="quality",
        keywords={"de": ["Akku"], "es": ["batería"], "pt": ["bateria"]},
    )
    for taxonomy in (taxonomy_of(*STARTER.themes, battery), taxonomy_of(battery, *STARTER.themes)):
        [match, *_] = tag(text, language, taxonomy)  # the child first or last: the same answer
        assert (match.id, match.sentiment, match.evidence) == ("battery", sentiment, evidence)
