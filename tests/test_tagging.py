"""The themes step of the analyze batch: what is tagged, with which text, and what is recorded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from unittest.mock import patch

import pytest
from botocore.stub import Stubber

from chalicelib.analysis import AnalysisFailed, Document
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.analysis.redaction import PatternRedactor
from chalicelib.analysis.themes.base import ThemeMatch
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.ingest.tagging import tag_themes
from chalicelib.models import Analysis, StoredFeedback
from chalicelib.store import feedback as feedback_store
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tests.factories import NOW, form_event

TAXONOMY = Taxonomy(
    themes=[
        Theme(id="battery", name="Battery", keywords={"en": ["battery"]}),
        Theme(id="phone", name="Phone", keywords={"en": ["phone"]}),
    ]
)


class RecordingTagger:
    """Tags 'battery' where the text says so; remembers what it was given."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[Document] = []
        self.taxonomy_versions: list[int] = []

    def tag(self, documents: Sequence[Document], taxonomy: Taxonomy) -> dict[str, list[ThemeMatch]]:
        self.seen.extend(documents)
        self.taxonomy_versions.append(taxonomy.version)
        return {
            document.key: [ThemeMatch("battery", "NEGATIVE", "the battery is awful")]
            for document in documents
            if "battery" in document.text
        }


def _store(*events, tagger, analyzer=None) -> None:
    [body] = encode_events(list(events))
    report = processing.analyze_and_store(
        [body], analyzer or LexiconAnalyzer(), PatternRedactor(), tagger=tagger
    )
    assert report.errors == [None]


def test_every_stored_item_records_its_themes_and_the_taxonomy_version(stack):
    stored_taxonomy = taxonomy_records.replace(TAXONOMY)
    tagger = RecordingTagger()
    about = form_event("t1", "Great phone, but the battery is awful")
    other = form_event("t2", "Lovely people")

    _store(about, other, tagger=tagger)

    tagged = feedback_store.get(about.feedback_id)
    assert [(t.id, t.sentiment.value, t.evidence) for t in tagged.themes] == [
        ("battery", "NEGATIVE", "the battery is awful")
    ]
    assert tagged.taxonomy_version == stored_taxonomy.version >= 1
    untagged = feedback_store.get(other.feedback_id)
    assert untagged.themes == [] and untagged.taxonomy_version == stored_taxonomy.version
    # One call for the whole batch.
    assert tagger.taxonomy_versions == [stored_taxonomy.version]


def test_the_tagger_reads_the_redacted_text(stack):
    taxonomy_records.replace(TAXONOMY)
    tagger = RecordingTagger()

    _store(form_event("t3", "The battery died, call me on +44 20 7946 0958"), tagger=tagger)

    [document] = tagger.seen
    assert "7946" not in document.text and "[PHONE]" in document.text


def test_nothing_is_tagged_without_a_taxonomy_or_a_tagger(stack):
    tagger = RecordingTagger()
    no_taxonomy = form_event("t4", "The battery is awful")
    _store(no_taxonomy, tagger=tagger)
    assert tagger.seen == []
    assert feedback_store.get(no_taxonomy.feedback_id).themes is None

    taxonomy_records.replace(TAXONOMY)
    switched_off = form_event("t5", "The battery is awful")
    _store(switched_off, tagger=None)
    item = feedback_store.get(switched_off.feedback_id)
    assert item.themes is None and item.taxonomy_version is None


def test_the_keywords_tagger_tags_the_starter_taxonomy_end_to_end(stack, monkeypatch):
    from chalicelib.analysis.themes import configured_tagger
    from chalicelib.config import settings
    from chalicelib.local.provision import load_starter_taxonomy

    monkeypatch.setenv("THEME_TAGGER", "keywords")
    settings.cache_clear()
    load_starter_taxonomy()
    event = form_event(
        "t6", "El pedido llegó con dos semanas de retraso y nadie contesta en atención al cliente", "es"
    )

    _store(event, tagger=configured_tagger())

    themes = {tag.id: tag.sentiment.value for tag in feedback_store.get(event.feedback_id).themes}
    assert themes.get("delivery-speed") == "NEGATIVE"
    assert "support" in themes or "support-response" in themes


class ThrottledTagger:
    """Fails every document that mentions the battery, as a throttled request would; tags nothing else."""

    name = "throttled"

    def tag(self, documents: Sequence[Document], taxonomy: Taxonomy) -> dict:
        return {
            document.key: AnalysisFailed("bedrock call failed: ThrottlingException")
            if "battery" in document.text
            else []
            for document in documents
        }


def test_an_item_the_tagger_failed_on_is_not_stored_and_its_record_comes_back(stack):
    taxonomy_records.replace(TAXONOMY)
    throttled, fine = form_event("t7", "The battery is awful"), form_event("t8", "Lovely people")
    bodies = encode_events([throttled]) + encode_events([fine])

    report = processing.analyze_and_store(
        bodies, LexiconAnalyzer(), PatternRedactor(), tagger=ThrottledTagger()
    )

    assert report.errors == ["bedrock call failed: ThrottlingException", None]
    assert feedback_store.get(throttled.feedback_id) is None
    assert feedback_store.get(fine.feedback_id).themes == []
    # The queue delivers the record again; this time the tagger answers.
    _store(throttled, tagger=RecordingTagger())
    assert [tag.id for tag in feedback_store.get(throttled.feedback_id).themes] == ["battery"]


def test_an_item_the_tagger_could_not_tag_is_stored_untagged():
    class Unsure:
        name = "unsure"

        def tag(self, documents, taxonomy):
            return dict.fromkeys((document.key for document in documents), None)

    item = StoredFeedback.from_event(form_event("t9", "Battery"), _analysis(), NOW)
    blank = StoredFeedback.from_event(form_event("t10", "  "), _analysis(), NOW)

    with patch.object(taxonomy_records, "current", return_value=TAXONOMY.model_copy(update={"version": 2})):
        tagged = tag_themes([item, blank], Unsure())

    assert tagged.failed == {}
    assert (tagged.items[0].themes, tagged.items[0].taxonomy_version) == (None, None)
    assert (tagged.items[1].themes, tagged.items[1].taxonomy_version) == ([], 2)


def test_bedrock_as_analyzer_and_tagger_answers_everything_in_one_request_and_never_calls_comprehend(
    stack, monkeypatch
):
    from chalicelib import aws
    from chalicelib.analysis.themes.bedrock import shared_tagger
    from chalicelib.config import settings

    monkeypatch.setenv("ANALYZER", "bedrock")
    monkeypatch.setenv("THEME_TAGGER", "bedrock")
    settings.cache_clear()
    shared_tagger.cache_clear()
    taxonomy_records.replace(TAXONOMY)
    event = form_event("t11", "Great phone, but the battery is awful", None)
    answer = {
        "item": 0,
        "language": "en",
        "sentiment": "MIXED",
        "themes": [
            {"id": "phone", "sentiment": "POSITIVE", "evidence": "Great phone"},
            {"id": "battery", "sentiment": "NEGATIVE", "evidence": "the battery is awful"},
        ],
    }
    reply = {
        "output": {"message": {"role": "assistant", "content": [{"text": json.dumps({"items": [answer]})}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 80, "outputTokens": 60, "totalTokens": 1140, "cacheReadInputTokens": 1000},
        "metrics": {"latencyMs": 400},
    }
    try:
        # A Comprehend call would find no stubbed response and fail the record.
        with (
            Stubber(aws.client("bedrock-runtime")) as bedrock,
            Stubber(aws.client("comprehend")) as comprehend,
        ):
            bedrock.add_response("converse", reply)
            [body] = encode_events([event])
            report = processing.analyze_and_store(
                [body], processing.configured_analyzer(), PatternRedactor(), tagger="configured"
            )
            bedrock.assert_no_pending_responses()
            comprehend.assert_no_pending_responses()
    finally:
        shared_tagger.cache_clear()

    assert report.errors == [None]
    stored = feedback_store.get(event.feedback_id)
    assert (stored.sentiment.value, stored.language, stored.analyzer) == ("MIXED", "en", "bedrock")
    assert [(t.id, t.sentiment.value, t.evidence) for t in stored.themes] == [
        ("phone", "POSITIVE", "Great phone"),
        ("battery", "NEGATIVE", "the battery is awful"),
    ]


def _reply(items: list[dict]) -> dict:
    """A Converse response answering `{"items": items}`."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": json.dumps({"items": items})}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 80, "outputTokens": 60, "totalTokens": 140},
        "metrics": {"latencyMs": 400},
    }


MIXED_LANGUAGES = [
    form_event("m1", "Great phone", "en"),
    form_event("m2", "De batterij is na een dag leeg", "nl"),
    form_event("m3", "Bateria trzyma świetnie", "pl"),
    form_event("m4", "The battery is awful", "en"),
]


def _store_with_comprehend_and_bedrock(monkeypatch, *replies: list[dict]) -> tuple[list[str | None], list]:
    """MIXED_LANGUAGES through the analyze step with ANALYZER=comprehend and THEME_TAGGER=bedrock: Comprehend
    scores the English texts (one stubbed request), Bedrock answers `replies`; returns the record errors
    and every Converse request's items."""
    from chalicelib import aws
    from chalicelib.analysis.themes.bedrock import shared_tagger
    from chalicelib.config import settings
    from tests.test_analysis import sentiment_entry

    monkeypatch.setenv("ANALYZER", "comprehend")
    monkeypatch.setenv("THEME_TAGGER", "bedrock")
    settings.cache_clear()
    shared_tagger.cache_clear()
    taxonomy_records.replace(TAXONOMY)
    sent: list = []
    client = aws.client("bedrock-runtime")
    client.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: sent.append(
            json.loads(params["messages"][0]["content"][0]["text"].split("\n")[1])
        ),
        unique_id="test-tagging-sent",
    )
    try:
        with Stubber(client) as bedrock, Stubber(aws.client("comprehend")) as comprehend:
            comprehend.add_response(
                "batch_detect_sentiment",
                {"ResultList": [sentiment_entry(0), sentiment_entry(1, "NEGATIVE")], "ErrorList": []},
                {"TextList": ["Great phone", "The battery is awful"], "LanguageCode": "en"},
            )
            for reply in replies:
                bedrock.add_response("converse", _reply(reply))
            report = processing.analyze_and_store(
                encode_events(MIXED_LANGUAGES), processing.configured_analyzer(), PatternRedactor()
            )
            bedrock.assert_no_pending_responses()
            comprehend.assert_no_pending_responses()
    finally:
        client.meta.events.unregister(
            "provide-client-params.bedrock-runtime.Converse", unique_id="test-tagging-sent"
        )
        shared_tagger.cache_clear()
    return report.errors, [request["items"] for request in sent]


BATTERY_NL = {"id": "battery", "sentiment": "NEGATIVE", "evidence": "batterij is na een dag leeg"}
BATCH_THEMES = [
    {"item": 0, "themes": [{"id": "phone", "sentiment": "POSITIVE", "evidence": "Great phone"}]},
    {"item": 1, "sentiment": "NEGATIVE", "themes": [BATTERY_NL]},
    {"item": 2, "sentiment": "POSITIVE", "themes": []},
    {"item": 3, "themes": [{"id": "battery", "sentiment": "NEGATIVE", "evidence": "battery is awful"}]},
]


def test_languages_comprehend_cannot_score_get_their_sentiment_from_the_bedrock_tagging_request(
    stack, monkeypatch
):
    errors, requests = _store_with_comprehend_and_bedrock(monkeypatch, BATCH_THEMES)

    assert errors == [None]
    # One Converse request: every item for its themes, the Dutch and Polish ones flagged for their sentiment.
    [items] = requests
    assert [(item["language"], item.get("score", False)) for item in items] == [
        ("en", False),
        ("nl", True),
        ("pl", True),
        ("en", False),
    ]
    stored = {event.external_id: feedback_store.get(event.feedback_id) for event in MIXED_LANGUAGES}
    english = stored["m1"]
    assert (english.sentiment.value, english.analyzer, english.sentiment_scores.positive) == (
        "POSITIVE",
        "comprehend",
        0.97,
    )
    assert (stored["m4"].sentiment.value, stored["m4"].analyzer) == ("NEGATIVE", "comprehend")
    dutch, polish = stored["m2"], stored["m3"]
    assert (dutch.sentiment.value, dutch.analyzer, dutch.language, dutch.skipped_reason) == (
        "NEGATIVE",
        "bedrock",
        "nl",
        None,
    )
    assert dutch.sentiment_scores is None  # the model gives a label, not scores
    assert [(t.id, t.evidence) for t in dutch.themes] == [("battery", "batterij is na een dag leeg")]
    assert (polish.sentiment.value, polish.analyzer, polish.themes) == ("POSITIVE", "bedrock", [])
    assert [t.id for t in stored["m4"].themes] == ["battery"]


def test_a_flagged_item_bedrock_never_scores_is_stored_unscored_with_its_themes(stack, monkeypatch):
    # Polish answered with its themes but without the sentiment it was flagged for.
    without_polish = [answer if answer["item"] != 2 else {"item": 2, "themes": []} for answer in BATCH_THEMES]
    lone_without_sentiment = [{"item": 0, "themes": []}]

    errors, requests = _store_with_comprehend_and_bedrock(monkeypatch, without_polish, lone_without_sentiment)

    assert errors == [None]  # the batch never fails for it
    assert [item["text"] for item in requests[1]] == ["Bateria trzyma świetnie"]  # asked again alone
    polish = feedback_store.get(MIXED_LANGUAGES[2].feedback_id)
    assert (polish.sentiment, polish.analyzer, polish.skipped_reason) == (
        None,
        "comprehend",
        "unsupported_language",
    )
    assert polish.themes == [] and polish.taxonomy_version is not None
    assert feedback_store.get(MIXED_LANGUAGES[1].feedback_id).analyzer == "bedrock"


def test_with_the_keywords_tagger_an_unsupported_language_stays_unscored(stack, monkeypatch):
    from chalicelib.analysis.comprehend import ComprehendAnalyzer
    from chalicelib.analysis.themes import configured_tagger
    from chalicelib.config import settings

    monkeypatch.setenv("THEME_TAGGER", "keywords")
    settings.cache_clear()
    taxonomy_records.replace(TAXONOMY)
    dutch = form_event("k1", "De batterij is na een dag leeg", "nl")

    # No Comprehend request (Dutch is not sent) and no Bedrock one: no stubbed response would answer them.
    _store(dutch, tagger=configured_tagger(), analyzer=ComprehendAnalyzer())

    stored = feedback_store.get(dutch.feedback_id)
    assert (stored.sentiment, stored.analyzer, stored.skipped_reason) == (
        None,
        "comprehend",
        "unsupported_language",
    )
    assert stored.taxonomy_version is not None


def test_a_re_tag_never_asks_for_sentiment():
    class ScoringTagger(RecordingTagger):
        def tag_and_score(self, documents, taxonomy, unscored):
            raise AssertionError("a re-tag asked for sentiment")

    dutch = Analysis(sentiment=None, language="nl", analyzer="comprehend", analyzed_at=NOW)
    dutch = dutch.model_copy(update={"skipped_reason": "unsupported_language"})
    item = StoredFeedback.from_event(form_event("r1", "De batterij", "nl"), dutch, NOW)
    tagger = ScoringTagger()

    tagged = tag_themes([item], tagger, TAXONOMY)  # fill_sentiment off: as the backfill calls it

    assert [document.key for document in tagger.seen] == [item.feedback_id]
    assert tagged.items[0].sentiment is None and tagged.items[0].analyzer == "comprehend"


def _analysis():
    from chalicelib.models import Analysis

    return Analysis(sentiment=None, analyzer="test", analyzed_at=NOW)


@pytest.mark.parametrize(
    ("variable", "value", "known"),
    [
        ("THEME_TAGGER", "keyword", "none, keywords, bedrock"),
        ("ANALYZER", "Bedrock", "comprehend, lexicon, bedrock"),
    ],
)
def test_a_misspelt_tagger_or_analyzer_says_which_values_there_are(monkeypatch, variable, value, known):
    from chalicelib.config import settings

    monkeypatch.setenv(variable, value)
    settings.cache_clear()
    try:
        with pytest.raises(ValueError, match=f"^{variable}='{value}' is not one of: {known}$"):
            settings()
    finally:
        settings.cache_clear()
