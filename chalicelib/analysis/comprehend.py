"""Amazon Comprehend backend: language detection and sentiment in batches of 25.

Cost is per 100-character unit with a 3-unit minimum per document, per call type, so documents are always
sent in full batches grouped by language, truncated to Comprehend's 5,000-byte limit, and never when empty.
A text without a language is first detected in process (`language.detect`); where it is unsure, the item's
hint (its form's or source's default language, else the browser's) decides, and only the texts with neither
are sent to BatchDetectDominantLanguage. A batch's requests are in flight together (`parallel.py`): four
batches of 25 cost about one request's latency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.analysis import language as language_detection
from chalicelib.analysis import parallel
from chalicelib.analysis.base import (
    MAX_DOCUMENT_BYTES,
    UNSUPPORTED_LANGUAGE,
    AnalysisFailed,
    AnalysisResults,
    Document,
    primary_language,
    skipped,
    split_empty,
    truncate_utf8,
)
from chalicelib.aws import chunked
from chalicelib.models import SENTIMENT_LANGUAGES as MODEL_SENTIMENT_LANGUAGES
from chalicelib.models import Analysis, Sentiment, SentimentScores, utc_now

NAME = "comprehend"
MAX_BATCH_DOCUMENTS = 25
# Languages BatchDetectSentiment accepts (Comprehend developer guide, "Supported languages"): the foundation
# holds the list, so the ack paths weigh a browser's languages against the same one.
SENTIMENT_LANGUAGES = MODEL_SENTIMENT_LANGUAGES
# A per-document INTERNAL_SERVER_ERROR is worth retrying; any other per-document error code describes the
# text itself and would fail again, so the feedback is stored with the reason instead.
RETRYABLE_DOCUMENT_ERRORS = frozenset({"INTERNAL_SERVER_ERROR"})


class ComprehendAnalyzer:
    """Analyzer backed by BatchDetectDominantLanguage and BatchDetectSentiment."""

    name = NAME

    def __init__(
        self,
        client: Any | None = None,
        detect_language: Callable[[str], language_detection.LanguageGuess] | None = None,
        workers: int = parallel.MAX_CONCURRENT_REQUESTS,
    ) -> None:
        self._client = client
        self._detect_language = detect_language  # None: `language.detect`
        self._workers = workers  # requests in flight at once (1: in order, as a Stubber's test needs)

    @property
    def client(self) -> Any:
        return self._client or aws.client("comprehend")

    def analyze(self, documents: Sequence[Document]) -> AnalysisResults:
        """Detect missing languages, then score sentiment per language; failures stay per document."""
        with_text, results = split_empty(NAME, documents)
        detect_locally = self._detect_language or language_detection.detect
        languages: dict[str, str | None] = {}
        unsure: list[Document] = []
        for document in with_text:
            if language := primary_language(document.language):
                languages[document.key] = language
            elif (guess := detect_locally(document.text)).confident:
                languages[document.key] = guess.language
            elif hint := primary_language(document.hint):
                # The detector that read the text outranks a default; a default outranks paying to detect.
                languages[document.key] = hint
            else:
                unsure.append(document)
        languages.update(self._detect_languages(unsure, results))

        by_language: dict[str, list[Document]] = defaultdict(list)
        for document in with_text:
            language = languages.get(document.key)
            if document.key in results or language is None:
                continue
            if language in SENTIMENT_LANGUAGES:
                by_language[language].append(document)
            else:
                results[document.key] = skipped(NAME, UNSUPPORTED_LANGUAGE, language)
        self._detect_sentiments(by_language, results)
        return results

    def _detect_languages(self, documents: list[Document], results: AnalysisResults) -> dict[str, str]:
        detected: dict[str, str] = {}

        def on_result(document: Document, result: dict[str, Any]) -> None:
            ranked = sorted(result.get("Languages", []), key=lambda lang: lang["Score"], reverse=True)
            if ranked:
                detected[document.key] = primary_language(ranked[0]["LanguageCode"]) or ""
            else:
                results[document.key] = skipped(NAME, "language_not_detected")

        self._call_batches(
            [
                _Batch(batch, None, lambda texts: self.client.batch_detect_dominant_language(TextList=texts))
                for batch in chunked(documents, MAX_BATCH_DOCUMENTS)
            ],
            results,
            on_result,
        )
        return detected

    def _detect_sentiments(self, by_language: dict[str, list[Document]], results: AnalysisResults) -> None:
        """Every language's sentiment batches, all of them in flight together."""

        def on_result(document: Document, result: dict[str, Any]) -> None:
            score = result["SentimentScore"]
            results[document.key] = Analysis(
                sentiment=Sentiment(result["Sentiment"]),
                scores=SentimentScores(
                    positive=score["Positive"],
                    negative=score["Negative"],
                    neutral=score["Neutral"],
                    mixed=score["Mixed"],
                ),
                language=languages[document.key],
                analyzer=NAME,
                analyzed_at=utc_now(),
            )

        languages = {document.key: language for language, group in by_language.items() for document in group}
        self._call_batches(
            [
                _Batch(
                    batch,
                    language,
                    lambda texts, code=language: self.client.batch_detect_sentiment(
                        TextList=texts, LanguageCode=code
                    ),
                )
                for language, group in sorted(by_language.items())
                for batch in chunked(group, MAX_BATCH_DOCUMENTS)
            ],
            results,
            on_result,
        )

    def _call_batches(
        self,
        batches: Sequence[_Batch],
        results: AnalysisResults,
        on_result: Callable[[Document, dict[str, Any]], None],
    ) -> None:
        """The Batch* requests, concurrently (`parallel.run_all`); their answers routed in request order."""
        responses = parallel.run_all([batch.send for batch in batches], self._workers)
        for batch, response in zip(batches, responses, strict=True):
            batch.route(response, results, on_result)


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class _Batch:
    """One Batch* request: its documents, their language (None: detection) and the call that sends them."""

    __slots__ = ("call", "documents", "language")

    def __init__(
        self,
        documents: Sequence[Document],
        language: str | None,
        call: Callable[[list[str]], dict[str, Any]],
    ) -> None:
        self.documents = documents
        self.language = language
        self.call = call

    def send(self) -> dict[str, Any] | str:
        """The response, or the error code of a request that failed (safe to run in a pool's thread)."""
        texts = [truncate_utf8(document.text, MAX_DOCUMENT_BYTES) for document in self.documents]
        try:
            return self.call(texts)
        except (ClientError, BotoCoreError) as error:
            return error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__

    def route(
        self,
        response: dict[str, Any] | str,
        results: AnalysisResults,
        on_result: Callable[[Document, dict[str, Any]], None],
    ) -> None:
        """Each ResultList/ErrorList entry to its document by Index; a failed request fails every document."""
        if isinstance(response, str):
            for document in self.documents:
                results[document.key] = AnalysisFailed(f"comprehend call failed: {response}")
            return
        for entry in response.get("ResultList", []):
            on_result(self.documents[entry["Index"]], entry)
        for entry in response.get("ErrorList", []):
            document = self.documents[entry["Index"]]
            if entry["ErrorCode"] in RETRYABLE_DOCUMENT_ERRORS:
                results[document.key] = AnalysisFailed(f"comprehend document error: {entry['ErrorCode']}")
            else:
                results[document.key] = skipped(NAME, f"comprehend:{entry['ErrorCode']}", self.language)
