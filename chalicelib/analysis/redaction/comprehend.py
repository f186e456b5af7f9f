"""The Comprehend redactor: DetectPiiEntities for English and Spanish, the pattern redactor for the rest.

Comprehend facts this module relies on (API reference and the botocore service model, 2017-11-27):
- There is no batch variant: one request per document. A batch's requests are in flight together
  (analysis/parallel.py), so a batch with many suspicious texts costs about a few requests' latency, not
  one per text in a row.
- `LanguageCode` accepts `en` or `es` only (the shared enum lists more; the operation refuses them).
- `Text` is UTF-8 of at most 100 KB (taken as 100,000 bytes), minimum length 1.
- `BeginOffset`/`EndOffset` count Unicode code points ("a multi-byte UTF-8 character maps to a single code
  point"), which is exactly Python's `str` indexing; `EndOffset` is exclusive (AWS's own samples take
  `text[Begin:End]`), whatever the API reference's "last character" wording suggests.
- ADDRESS is one of its universal entity types ("a physical address … street, building, location, city,
  state, country, county, zip, precinct, and neighborhood"); it is masked as `[ADDRESS]` like the patterns'.

Cost: DetectPiiEntities is billed per 100-character unit with a 3-unit minimum per request, and each document
is its own request, so an 8-character "Love it!" costs as much as a 300-character text. With `prefilter=True`
(the default) a text is sent only when what the patterns leave of it is still suspicious (prefilter.py: an
'@', a long digit run, an address, digits beside a mask or a street word …): what the patterns masked and
harmless digits ("3 days", "$25") cost nothing. The trade-off is recall of digit-free PII the patterns do
not know ("I live on Elm Street"), which only Comprehend would have found; with NAME unmasked by default
that loss is small, and a source that masks names has every text with a name-like word sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.analysis import parallel
from chalicelib.analysis.base import AnalysisFailed, Document, primary_language, truncate_utf8
from chalicelib.analysis.redaction.base import (
    Redaction,
    RedactionResults,
    Span,
    checked_types,
    redaction_of,
)
from chalicelib.analysis.redaction.patterns import PatternRedactor
from chalicelib.analysis.redaction.prefilter import worth_sending

NAME = "comprehend"
# Languages DetectPiiEntities accepts (API reference: "English (en) or Spanish (es)").
PII_LANGUAGES = frozenset({"en", "es"})
# "The maximum string size is 100 KB" of UTF-8; read as 100,000 bytes to stay on the safe side of KB/KiB.
MAX_TEXT_BYTES = 100_000
DEFAULT_MIN_SCORE = 0.5
# Errors that describe the text itself: retrying cannot help, so the text is redacted by patterns instead
# of being retried into the DLQ. Any other error (throttling, 5xx, network, access) fails the document.
TEXT_ERRORS = frozenset(
    {"TextSizeLimitExceededException", "UnsupportedLanguageException", "InvalidRequestException"}
)


class ComprehendPiiRedactor:
    """Redactor backed by DetectPiiEntities for en/es texts, patterns for every other language.

    - One DetectPiiEntities request per document (there is no batch variant), billed per 100-character unit
      with a 3-unit minimum per request; see `prefilter` below and the module docstring.
    - Entities scoring below `min_score`, or of a type outside `entity_types` (DEFAULT_ENTITY_TYPES unless
      given), are left as they are.
    - Texts longer than 100 KB of UTF-8 are cut on a character boundary for the request; the rest is
      redacted by patterns only.
    - The pattern redactor also runs over Comprehend's output (`pattern_backstop`, on by default): a
      Luhn-valid card number, a mod-97-valid IBAN, a street address or a national id number is masked even
      when the model scores it low or misses it, and the types Comprehend has no name for (NATIONAL_ID,
      DATE_OF_BIRTH) are masked at all. It masks only what `entity_types` allows, so a source that keeps
      phones readable keeps them.
    - `prefilter` (on by default): a text is sent only when the patterns leave it suspicious (see
      prefilter.py); the rest are redacted by patterns alone. This trades recall of digit-free PII for cost.
    - Empty or blank texts are never sent. Languages other than en/es (and texts without a language) go to
      the pattern redactor: pass the detected language for unlabelled texts.
    """

    name = NAME

    def __init__(
        self,
        client: Any | None = None,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        entity_types: Iterable[str] | None = None,
        prefilter: bool = True,
        pattern_backstop: bool = True,
        workers: int = parallel.MAX_CONCURRENT_REQUESTS,
    ) -> None:
        self._client = client
        self._workers = workers  # requests in flight at once (1: in order, as a Stubber's test needs)
        self.min_score = min_score
        self.entity_types = checked_types(entity_types)
        self.prefilter = prefilter
        self.pattern_backstop = pattern_backstop
        self.patterns = PatternRedactor(self.entity_types)

    @property
    def client(self) -> Any:
        return self._client or aws.client("comprehend")

    def redact(self, documents: Sequence[Document]) -> RedactionResults:
        """Redact each document; a failed call (throttling, a service error) fails only its own document.
        The texts sent to Comprehend are sent concurrently; the others are redacted by patterns here."""
        results: RedactionResults = {}
        sent: list[tuple[str, Callable[[], Redaction | AnalysisFailed]]] = []
        for document in documents:
            decided = self._without_request(document)
            if decided is None:
                sent.append((document.key, partial(self._detect, document.text, document.language)))
            else:
                results[document.key] = decided
        answers = parallel.run_all([call for _, call in sent], self._workers)
        results.update((key, answer) for (key, _), answer in zip(sent, answers, strict=True))
        return {document.key: results[document.key] for document in documents}

    def _without_request(self, document: Document) -> Redaction | None:
        """The document's redaction when it needs no request (blank, a language Comprehend does not read,
        nothing the patterns leave suspicious), else None."""
        text = document.text
        if not text.strip():
            return Redaction(text=text, types=[])
        scanned = self.patterns.redact_text(text)
        suspicious = not self.prefilter or worth_sending(scanned, self.entity_types)
        if primary_language(document.language) not in PII_LANGUAGES or not suspicious:
            return scanned
        return None

    def _detect(self, text: str, document_language: str | None) -> Redaction | AnalysisFailed:
        """One DetectPiiEntities request for a suspicious en/es text, and its entities masked."""
        language = primary_language(document_language)
        head = truncate_utf8(text, MAX_TEXT_BYTES)
        try:
            response = self.client.detect_pii_entities(Text=head, LanguageCode=language)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            if code in TEXT_ERRORS:
                return self.patterns.redact_text(text)
            return AnalysisFailed(f"comprehend DetectPiiEntities failed: {code}")
        except BotoCoreError as error:
            return AnalysisFailed(f"comprehend DetectPiiEntities failed: {type(error).__name__}")
        return self._apply(text, head, response.get("Entities", []))

    def _apply(self, text: str, head: str, entities: Iterable[dict[str, Any]]) -> Redaction:
        """Mask Comprehend's entities in the head, then patterns around them (over the whole text, or the tail
        only without the backstop)."""
        spans = self._spans(entities, len(head))
        if self.pattern_backstop:
            return redaction_of(text, self.patterns.find(text, spans))
        tail = self.patterns.find(text[len(head) :])
        shifted = [Span(span.start + len(head), span.end + len(head), span.type) for span in tail]
        return redaction_of(text, spans + shifted)

    def _spans(self, entities: Iterable[dict[str, Any]], length: int) -> list[Span]:
        """Entities kept by score and type, clamped to the text, overlaps merged into the earlier one."""
        kept: list[Span] = []
        for entity in entities:
            entity_type, score = entity.get("Type"), entity.get("Score", 0.0)
            begin, end = entity.get("BeginOffset"), entity.get("EndOffset")
            if entity_type not in self.entity_types or score < self.min_score or begin is None or end is None:
                continue
            begin, end = max(0, begin), min(length, end)
            if begin < end:
                kept.append(Span(begin, end, entity_type))
        merged: list[Span] = []
        for span in sorted(kept, key=lambda s: (s.start, s.start - s.end)):
            if merged and span.start < merged[-1].end:
                last = merged[-1]
                merged[-1] = Span(last.start, max(last.end, span.end), last.type)
            else:
                merged.append(span)
        return merged
