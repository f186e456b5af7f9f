"""The themes step of the analyze batch: tag the items about to be stored against the team's taxonomy, and
have a tagger that can (Bedrock) score in the same request the items the sentiment analyzer could not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib import analysis
from chalicelib.analysis import AnalysisFailed, Analyzer, Document
from chalicelib.analysis.base import UNSCORED_LANGUAGE_REASONS
from chalicelib.analysis.themes.base import SentimentResults, SentimentScoringTagger, ThemeTagger
from chalicelib.models import Sentiment, StoredFeedback, ThemeTag, utc_now
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy


# A plain slotted class, not a dataclass: chalicelib/records.py says why.
class Tagged:
    """The items ready to store, and those the tagger failed on (feedback id → reason): the queue retries
    them, as it does an analysis that failed."""

    __slots__ = ("failed", "items")

    def __init__(self, items: list[StoredFeedback], failed: dict[str, str] | None = None) -> None:
        self.items = items
        self.failed = {} if failed is None else failed


def configured_analyzer() -> Analyzer:
    """The configured sentiment analyzer; when Bedrock both analyzes and tags, it reads the taxonomy so that
    one request per batch answers sentiment, language and themes."""
    return analysis.configured_analyzer(taxonomy=taxonomy_records.current)


def language_unscored(item: StoredFeedback) -> bool:
    """Whether the analyzer left the item without a sentiment because it cannot score its language."""
    return item.sentiment is None and item.skipped_reason in UNSCORED_LANGUAGE_REASONS


def tag_themes(
    items: Sequence[StoredFeedback],
    tagger: ThemeTagger | None,
    taxonomy: Taxonomy | None = None,
    fill_sentiment: bool = False,
) -> Tagged:
    """The items with their themes and the taxonomy version (`taxonomy`, by default the one in force);
    unchanged when no tagger or no taxonomy.

    With `fill_sentiment` (the analyze step; a re-tag leaves sentiment alone) and a tagger that can score
    (`SentimentScoringTagger`), the items whose language the analyzer could not score get their overall
    sentiment from the tagger's own request, recorded with the tagger as their analyzer (a label, no scores).

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
    unscored = {
        item.feedback_id for item in items if fill_sentiment and item.text.strip() and language_unscored(item)
    }
    sentiments: SentimentResults = {}
    if not documents:
        results = {}
    elif unscored and isinstance(tagger, SentimentScoringTagger):
        results, sentiments = tagger.tag_and_score(documents, taxonomy, unscored)
    else:
        results = tagger.tag(documents, taxonomy)
    scored_at = utc_now()
    tagged = Tagged([])
    for item in items:
        result = results.get(item.feedback_id, [])
        if isinstance(result, AnalysisFailed):
            tagged.failed[item.feedback_id] = str(result)
            continue
        scored = _scored(item, sentiments.get(item.feedback_id), tagger.name, scored_at)
        if result is None:
            tagged.items.append(scored)
            continue
        themes = [
            ThemeTag(id=match.id, sentiment=Sentiment(match.sentiment), evidence=match.evidence)
            for match in result
        ]
        version = taxonomy.version
        tagged.items.append(scored.model_copy(update={"themes": themes, "taxonomy_version": version}))
    return tagged


def _scored(item: StoredFeedback, sentiment: str | None, analyzer: str, at: datetime) -> StoredFeedback:
    """The item with the overall sentiment the tagger scored (a label only: the model gives no scores)."""
    if sentiment is None:
        return item
    update = {
        "sentiment": Sentiment(sentiment),
        "sentiment_scores": None,
        "analyzer": analyzer,
        "analyzed_at": at,
        "skipped_reason": None,
    }
    return item.model_copy(update=update)
