"""The themes step of the analyze batch: tag the items about to be stored against the team's taxonomy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chalicelib import analysis
from chalicelib.analysis import AnalysisFailed, Analyzer, Document
from chalicelib.analysis.themes.base import ThemeTagger
from chalicelib.models import Sentiment, StoredFeedback, ThemeTag
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy


@dataclass
class Tagged:
    """The items ready to store, and those the tagger failed on (feedback id → reason): the queue retries
    them, as it does an analysis that failed."""

    items: list[StoredFeedback]
    failed: dict[str, str] = field(default_factory=dict)


def configured_analyzer() -> Analyzer:
    """The configured sentiment analyzer; when Bedrock both analyzes and tags, it reads the taxonomy so that
    one request per batch answers sentiment, language and themes."""
    return analysis.configured_analyzer(taxonomy=taxonomy_records.current)


def tag_themes(
    items: Sequence[StoredFeedback], tagger: ThemeTagger | None, taxonomy: Taxonomy | None = None
) -> Tagged:
    """The items with their themes and the taxonomy version (`taxonomy`, by default the one in force);
    unchanged when no tagger or no taxonomy.

    The tagger reads the text as it will be stored (after redaction), so evidence never carries masked PII.
    An item the tagger failed on (throttling) is left out, to come back through the queue; an item it could
    not tag (an answer that never validated) is stored without themes and without a taxonomy version, so a
    backfill finds it untagged.
    """
    if tagger is None or not items:
        return Tagged(list(items))
    taxonomy = taxonomy or taxonomy_records.current()
    if not taxonomy.active():
        return Tagged(list(items))
    documents = [
        Document(key=item.feedback_id, text=item.text, language=item.language)
        for item in items
        if item.text.strip()
    ]
    results = tagger.tag(documents, taxonomy) if documents else {}
    tagged = Tagged([])
    for item in items:
        result = results.get(item.feedback_id, [])
        if isinstance(result, AnalysisFailed):
            tagged.failed[item.feedback_id] = str(result)
            continue
        if result is None:
            tagged.items.append(item)
            continue
        themes = [
            ThemeTag(id=match.id, sentiment=Sentiment(match.sentiment), evidence=match.evidence)
            for match in result
        ]
        tagged.items.append(item.model_copy(update={"themes": themes, "taxonomy_version": taxonomy.version}))
    return tagged
