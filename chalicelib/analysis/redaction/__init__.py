"""PII redaction of feedback text before it is stored: Comprehend DetectPiiEntities, or local patterns.

Every stored text has its personal data masked with one shared vocabulary of labels (`[EMAIL]`, `[PHONE]`,
`[ADDRESS]`, `[CARD]` …); `Redaction.types` names what was masked with Comprehend's entity type names
whichever backend did it (plus NATIONAL_ID and DATE_OF_BIRTH, which Comprehend has no name for), so stored
items and exports read the same on AWS and in the local stack. The author's own contact details are not the
text's business: they stay in the event's `author` (the identity record), untouched.

Backends, behind one `Redactor` contract (failures per document, as in the analyzers):
- `PatternRedactor` (patterns.py, addresses.py, identifiers.py, payment.py): regular expressions plus
  checksums (Luhn for cards, ISO 13616 mod-97 for IBANs, the check digits of national ids); no AWS call.
  Used in the local stack, for languages Comprehend's PII model does not read, and on top of Comprehend.
- `ComprehendPiiRedactor` (comprehend.py): `DetectPiiEntities` for English and Spanish, the only languages it
  accepts.

What each catches and misses, measured on the labelled corpus of tests/fixtures/pii: README ("Privacy") and
BENCHMARKS.md ("PII redaction").
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.analysis.redaction.base import (
    DEFAULT_ENTITY_TYPES,
    ENTITY_TYPES,
    LABELS,
    PATTERN_ONLY_ENTITY_TYPES,
    PII_ENTITY_TYPES,
    Redaction,
    RedactionResults,
    Redactor,
    Span,
    checked_types,
    label_for,
    mask,
    redaction_enabled,
    redaction_of,
)
from chalicelib.analysis.redaction.checksums import IBAN_COUNTRIES, iban_valid, luhn_valid
from chalicelib.analysis.redaction.comprehend import (
    DEFAULT_MIN_SCORE,
    MAX_TEXT_BYTES,
    NAME,
    PII_LANGUAGES,
    TEXT_ERRORS,
    ComprehendPiiRedactor,
)
from chalicelib.analysis.redaction.patterns import DETECTORS, PatternRedactor
from chalicelib.config import AnalyzerBackend, settings

__all__ = [
    "DEFAULT_ENTITY_TYPES",
    "DEFAULT_MIN_SCORE",
    "DETECTORS",
    "ENTITY_TYPES",
    "IBAN_COUNTRIES",
    "LABELS",
    "MAX_TEXT_BYTES",
    "NAME",
    "PATTERN_ONLY_ENTITY_TYPES",
    "PII_ENTITY_TYPES",
    "PII_LANGUAGES",
    "TEXT_ERRORS",
    "ComprehendPiiRedactor",
    "PatternRedactor",
    "Redaction",
    "RedactionResults",
    "Redactor",
    "Span",
    "checked_types",
    "configured_redactor",
    "iban_valid",
    "label_for",
    "luhn_valid",
    "mask",
    "redaction_enabled",
    "redaction_of",
]


def configured_redactor(entity_types: Iterable[str] | None = None) -> Redactor:
    """The backend the settings name: Comprehend on AWS, patterns in the local stack (lexicon analyzer)."""
    if settings().analyzer is AnalyzerBackend.LEXICON:
        return PatternRedactor(entity_types)
    return ComprehendPiiRedactor(entity_types=entity_types)
