"""The Comprehend stand-in (a botocore `Stubber` that answers every call and tallies billed units) and the
tally of what the analyze path hands its PII redactor."""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name
from botocore.stub import Stubber

from tools.cost.units import COMPREHEND_MIN_UNITS, COMPREHEND_UNIT_CHARS, comprehend_units

# Documented API limits the stand-in enforces (Comprehend developer guide, "Guidelines and quotas").
COMPREHEND_MAX_BATCH = 25
COMPREHEND_MAX_DOCUMENT_BYTES = 5000
COMPREHEND_SENTIMENT_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh", "zh-TW"}
)
# DetectPiiEntities: one document per request, English or Spanish only, up to 100 KB of UTF-8.
COMPREHEND_PII_LANGUAGES = frozenset({"en", "es"})
COMPREHEND_PII_MAX_TEXT_BYTES = 100_000
DETECT_LANGUAGE = "BatchDetectDominantLanguage"
DETECT_SENTIMENT = "BatchDetectSentiment"
DETECT_PII = "DetectPiiEntities"


def billed_units(text: str) -> int:
    """Comprehend units billed for one document of one request type: 100-character units, 3 minimum.

    An empty document is never sent (the analyzer skips it; the API would refuse it), so it costs nothing.
    """
    return comprehend_units(len(text)) if text else 0


def sentiment_for(text: str) -> str:
    """A deterministic sentiment from keywords, so the stand-in's answers look like Comprehend's."""
    lowered = text.lower()
    positive = any(word in lowered for word in ("love", "great", "fast", "helpful", "excellent"))
    negative = any(word in lowered for word in ("slow", "broken", "terrible", "refund", "crash"))
    if positive and negative:
        return "MIXED"
    if positive:
        return "POSITIVE"
    return "NEGATIVE" if negative else "NEUTRAL"


def sentiment_entry(index: int, text: str) -> dict[str, Any]:
    """One BatchDetectSentiment result: the keyword sentiment, scored 0.94."""
    label = sentiment_for(text)
    scores = {"Positive": 0.02, "Negative": 0.02, "Neutral": 0.02, "Mixed": 0.02}
    scores[label.capitalize()] = 0.94
    return {"Index": index, "Sentiment": label, "SentimentScore": scores}


# What the DetectPiiEntities stand-in finds: email addresses, and phone numbers of 7 to 15 digits.
# Bounded repetitions and anchored starts: linear time even on a 100 KB text.
_PII_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}"
)
_PII_PHONE = re.compile(r"(?<![\w#$€£])\+?\(?[0-9](?:[0-9 ().-]{0,24}[0-9])?(?![\w])")


def pii_entities(text: str) -> list[dict[str, Any]]:
    """DetectPiiEntities' answer for a text: EMAIL and PHONE entities with code-point offsets (end exclusive),
    as Comprehend reports them; anything else is not PII to the stand-in."""
    entities = [
        {"Score": 0.999, "Type": "EMAIL", "BeginOffset": m.start(), "EndOffset": m.end()}
        for m in _PII_EMAIL.finditer(text)
    ]
    taken = [(e["BeginOffset"], e["EndOffset"]) for e in entities]
    for match in _PII_PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match.group(0))
        overlaps = any(match.start() < end and begin < match.end() for begin, end in taken)
        if 7 <= digits <= 15 and not overlaps:
            entities.append(
                {"Score": 0.98, "Type": "PHONE", "BeginOffset": match.start(), "EndOffset": match.end()}
            )
    return sorted(entities, key=lambda entity: entity["BeginOffset"])


@dataclass
class ComprehendUsage:
    """What the Comprehend stand-in was asked, per operation (DetectPiiEntities: one document a request)."""

    documents: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)
    characters: Counter[str] = field(default_factory=Counter)  # characters of the documents sent
    minimum_charged: Counter[str] = field(default_factory=Counter)
    entities: Counter[str] = field(default_factory=Counter)  # DetectPiiEntities answers, by entity type
    violations: list[str] = field(default_factory=list)


class ComprehendResponder:
    """Answers every call of a Comprehend client through a botocore `Stubber`, whatever the request holds.

    On `provide-client-params.comprehend` (before the parameters are validated against the API model) it
    checks the documented limits, records each document's billed units, and queues the matching response
    with `expected_params` equal to the call's parameters; the Stubber then validates the request and the
    response against the model and serves it. BatchDetectDominantLanguage answers "en" (0.99);
    BatchDetectSentiment answers a sentiment chosen from each text's keywords; DetectPiiEntities answers
    the emails and phone numbers `pii_entities` finds in the text (often none).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.stubber = Stubber(client)
        self.usage = ComprehendUsage()
        self._unique_id = f"bench-comprehend-{id(self)}"

    def __enter__(self) -> ComprehendResponder:
        self.client.meta.events.register(
            "provide-client-params.comprehend", self._provide, unique_id=self._unique_id
        )
        self.stubber.activate()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stubber.deactivate()
        self.client.meta.events.unregister("provide-client-params.comprehend", unique_id=self._unique_id)

    def _provide(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        operation = model.name
        texts = [params.get("Text", "")] if operation == DETECT_PII else list(params.get("TextList", []))
        self._check_limits(operation, params, texts)
        self._record_units(operation, texts)
        response = self._response(operation, texts)
        if response is not None:
            self.stubber.add_response(xform_name(operation), response, expected_params=copy.deepcopy(params))

    def _check_limits(self, operation: str, params: dict[str, Any], texts: Sequence[str]) -> None:
        usage = self.usage
        language = params.get("LanguageCode")
        if operation == DETECT_PII:
            max_bytes, max_label = COMPREHEND_PII_MAX_TEXT_BYTES, "100,000"
            if language not in COMPREHEND_PII_LANGUAGES:
                usage.violations.append(f"{operation}: unsupported LanguageCode {language!r}")
        else:
            max_bytes, max_label = COMPREHEND_MAX_DOCUMENT_BYTES, "5,000"
            if len(texts) > COMPREHEND_MAX_BATCH:
                usage.violations.append(f"{operation}: {len(texts)} documents in one request (max 25)")
        for text in texts:
            size = len(text.encode("utf-8"))
            if size > max_bytes:
                usage.violations.append(f"{operation}: a {size}-byte document (max {max_label})")
            if not text:
                usage.violations.append(f"{operation}: an empty document")
        if operation == DETECT_SENTIMENT and language not in COMPREHEND_SENTIMENT_LANGUAGES:
            usage.violations.append(f"{operation}: unsupported LanguageCode {language!r}")

    def _record_units(self, operation: str, texts: Sequence[str]) -> None:
        for text in texts:
            units = billed_units(text)
            self.usage.documents[operation] += 1
            self.usage.units[operation] += units
            self.usage.characters[operation] += len(text)
            if text and math.ceil(len(text) / COMPREHEND_UNIT_CHARS) < COMPREHEND_MIN_UNITS:
                self.usage.minimum_charged[operation] += 1

    def _response(self, operation: str, texts: Sequence[str]) -> dict[str, Any] | None:
        if operation == DETECT_LANGUAGE:
            results = [
                {"Index": i, "Languages": [{"LanguageCode": "en", "Score": 0.99}]} for i in range(len(texts))
            ]
            return {"ResultList": results, "ErrorList": []}
        if operation == DETECT_SENTIMENT:
            return {"ResultList": [sentiment_entry(i, t) for i, t in enumerate(texts)], "ErrorList": []}
        if operation == DETECT_PII:
            entities = pii_entities(texts[0])
            self.usage.entities.update(entity["Type"] for entity in entities)
            return {"Entities": entities}
        # Unknown to the stand-in: no response is queued, so the Stubber refuses the call visibly.
        self.usage.violations.append(f"{operation}: not expected on the analyze path")
        return None


@dataclass
class PiiTally:
    """What the analyze path handed its redactor, and what came back masked."""

    documents: int = 0  # texts handed to the redactor (non-blank texts of forms/sources that redact)
    eligible: int = 0  # of those, English or Spanish: what DetectPiiEntities accepts
    other_language: int = 0  # redacted by patterns only, never sent
    blank: int = 0  # nothing to redact
    redacted: int = 0  # documents that came back with something masked
    types: Counter[str] = field(default_factory=Counter)  # masked entity types, one per document and type


class TallyingRedactor:
    """Hands every document to the real redactor unchanged and tallies languages and outcomes, so the
    report can say how many texts the redactor's pre-filter kept from DetectPiiEntities."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.tally = PiiTally()

    def redact(self, documents: Sequence[Any]) -> dict[str, Any]:
        from chalicelib.analysis.base import primary_language

        for document in documents:
            self.tally.documents += 1
            if not document.text.strip():
                self.tally.blank += 1
            elif primary_language(document.language) in COMPREHEND_PII_LANGUAGES:
                self.tally.eligible += 1
            else:
                self.tally.other_language += 1
        results = self.inner.redact(documents)
        for result in results.values():
            types = getattr(result, "types", None)
            if types:
                self.tally.redacted += 1
                self.tally.types.update(types)
        return results


def units_per_item(usage: ComprehendUsage, items: int) -> str:
    """Billed units per item, by request type and in all: 'BatchDetectSentiment 3.16, … (all 3.24)'."""
    parts = [f"{operation} {units / max(1, items):.2f}" for operation, units in sorted(usage.units.items())]
    return f"{', '.join(parts)} (all {sum(usage.units.values()) / max(1, items):.2f})"
