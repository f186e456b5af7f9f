"""Theme taggers: which themes of the taxonomy an item talks about, and the sentiment about each."""

from __future__ import annotations

from chalicelib.analysis.themes.base import ThemeTagger
from chalicelib.config import ThemeTaggerBackend, settings


def configured_tagger() -> ThemeTagger | None:
    """The tagger the settings name (`THEME_TAGGER`); None when themes are switched off."""
    if settings().theme_tagger is ThemeTaggerBackend.KEYWORDS:
        from chalicelib.analysis.lexicon import LexiconAnalyzer
        from chalicelib.analysis.themes.keywords import KeywordTagger

        # Clauses are scored in process: a Comprehend request per clause would multiply the bill.
        return KeywordTagger(LexiconAnalyzer())
    return None
