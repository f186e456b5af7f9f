"""Sentiment analysis backends behind one Analyzer interface."""

from __future__ import annotations

from chalicelib.analysis.base import AnalysisFailed, AnalysisResults, Analyzer, Document
from chalicelib.config import AnalyzerBackend, settings

__all__ = ["AnalysisFailed", "AnalysisResults", "Analyzer", "Document", "configured_analyzer"]


def configured_analyzer() -> Analyzer:
    """The backend the settings name: Comprehend on AWS, the lexicon in the local stack."""
    if settings().analyzer is AnalyzerBackend.LEXICON:
        from chalicelib.analysis.lexicon import LexiconAnalyzer

        return LexiconAnalyzer()
    from chalicelib.analysis.comprehend import ComprehendAnalyzer

    return ComprehendAnalyzer()
