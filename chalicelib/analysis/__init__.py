"""Sentiment analysis backends behind one Analyzer interface."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.analysis.base import AnalysisFailed, AnalysisResults, Analyzer, Document
from chalicelib.config import AnalyzerBackend, ThemeTaggerBackend, settings
from chalicelib.themes.taxonomy import Taxonomy

__all__ = [
    "AnalysisFailed",
    "AnalysisResults",
    "Analyzer",
    "Document",
    "analyzer_for",
    "configured_analyzer",
]


def analyzer_for(backend: AnalyzerBackend, taxonomy: Callable[[], Taxonomy] | None = None) -> Analyzer:
    """A fresh analyzer of that backend; Bedrock tags against `taxonomy` in the same request when given."""
    if backend is AnalyzerBackend.LEXICON:
        from chalicelib.analysis.lexicon import LexiconAnalyzer

        return LexiconAnalyzer()
    if backend is AnalyzerBackend.BEDROCK:
        from chalicelib.analysis.bedrock import BedrockAnalyzer
        from chalicelib.analysis.themes.bedrock import shared_tagger

        return BedrockAnalyzer(shared_tagger(), taxonomy)
    from chalicelib.analysis.comprehend import ComprehendAnalyzer

    return ComprehendAnalyzer()


def configured_analyzer(taxonomy: Callable[[], Taxonomy] | None = None) -> Analyzer:
    """The backend the settings name: Comprehend on AWS, the lexicon in the local stack, or Bedrock.

    With Bedrock as both analyzer and theme tagger, the analyzer reads `taxonomy` (the caller's: the analysis
    room does not reach the taxonomy's records) so that one request answers sentiment, language and themes.
    """
    config = settings()
    bedrock = config.analyzer is AnalyzerBackend.BEDROCK
    tags_too = bedrock and config.theme_tagger is ThemeTaggerBackend.BEDROCK
    return analyzer_for(config.analyzer, taxonomy if tags_too else None)
