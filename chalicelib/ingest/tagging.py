"""The themes step of the analyze batch: tag the items about to be stored against the team's taxonomy."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.analysis import Document
from chalicelib.analysis.themes.base import ThemeTagger
from chalicelib.models import Sentiment, StoredFeedback, ThemeTag
from chalicelib.themes import records as taxonomy_records


def tag_themes(items: Sequence[StoredFeedback], tagger: ThemeTagger | None) -> list[StoredFeedback]:
    """The items with their themes and the taxonomy version; unchanged when no tagger or no taxonomy.

    The tagger reads the text as it will be stored (after redaction), so evidence never carries masked PII.
    """
    if tagger is None or not items:
        return list(items)
    taxonomy = taxonomy_records.current()
    if not taxonomy.active():
        return list(items)
    documents = [
        Document(key=item.feedback_id, text=item.text, language=item.language)
        for item in items
        if item.text.strip()
    ]
    matches = tagger.tag(documents, taxonomy) if documents else {}
    return [
        item.model_copy(
            update={
                "themes": [
                    ThemeTag(id=match.id, sentiment=Sentiment(match.sentiment), evidence=match.evidence)
                    for match in matches.get(item.feedback_id, [])
                ],
                "taxonomy_version": taxonomy.version,
            }
        )
        for item in items
    ]
