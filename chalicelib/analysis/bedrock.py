"""Amazon Bedrock as the sentiment analyzer (`ANALYZER=bedrock`): language and sentiment of a whole batch in
one Converse request, with its themes in the same request when Bedrock is the theme tagger too; Comprehend is
not called at all.

The request and its checks are the theme tagger's (`themes/bedrock.py`). The themes it answered are handed to
that tagger (`BedrockTagger.remember`), which uses them in the themes step instead of asking again, as long as
their evidence is still in the text as stored (after PII redaction). The model gives a label, not scores:
`Analysis.scores` stays empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chalicelib.analysis.base import (
    AnalysisFailed,
    AnalysisResults,
    Document,
    primary_language,
    skipped,
    split_empty,
)
from chalicelib.analysis.themes.bedrock import NAME, Answer, BedrockTagger
from chalicelib.models import Analysis, Sentiment, utc_now
from chalicelib.themes.taxonomy import Taxonomy

INVALID_ANSWER = "bedrock_invalid_answer"


class BedrockAnalyzer:
    """Analyzer backed by the Bedrock tagger's request; with `taxonomy` (None: sentiment only) it tags too."""

    name = NAME

    def __init__(self, tagger: BedrockTagger, taxonomy: Callable[[], Taxonomy] | None = None) -> None:
        self.tagger = tagger
        self._taxonomy = taxonomy

    def analyze(self, documents: Sequence[Document]) -> AnalysisResults:
        """Language and sentiment per document; failures stay per document (throttling: AnalysisFailed)."""
        with_text, results = split_empty(NAME, documents)
        taxonomy = self._taxonomy() if self._taxonomy else None
        if taxonomy is not None and not taxonomy.active():
            taxonomy = None
        answers = self.tagger.ask(with_text, taxonomy, with_analysis=True)
        themes: dict[str, Answer] = {}
        for document in with_text:
            answer = answers.get(document.key)
            if isinstance(answer, AnalysisFailed):
                results[document.key] = answer
            elif answer is None or answer.sentiment is None:
                results[document.key] = skipped(NAME, INVALID_ANSWER, primary_language(document.language))
            else:
                results[document.key] = Analysis(
                    sentiment=Sentiment(answer.sentiment),
                    language=answer.language,
                    analyzer=NAME,
                    analyzed_at=utc_now(),
                )
                themes[document.key] = answer
        if taxonomy is not None:
            self.tagger.remember(themes, taxonomy.version)
        return results
