"""The themes step of the analyze batch: what is tagged, with which text, and what is recorded."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.analysis import Document
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.analysis.redaction import PatternRedactor
from chalicelib.analysis.themes.base import ThemeMatch
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.store import feedback as feedback_store
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tests.factories import form_event

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


def _store(*events, tagger) -> None:
    [body] = encode_events(list(events))
    report = processing.analyze_and_store([body], LexiconAnalyzer(), PatternRedactor(), tagger=tagger)
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
