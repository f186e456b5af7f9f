"""The shared vocabulary of redaction: entity types, their masks, the Redaction result and the contract."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from chalicelib.analysis.base import AnalysisFailed, Document
from chalicelib.records import FrozenRecord

# Every PiiEntityType DetectPiiEntities returns (its enum, without the request-side "ALL").
PII_ENTITY_TYPES = frozenset(
    {
        "BANK_ACCOUNT_NUMBER",
        "BANK_ROUTING",
        "CREDIT_DEBIT_NUMBER",
        "CREDIT_DEBIT_CVV",
        "CREDIT_DEBIT_EXPIRY",
        "PIN",
        "EMAIL",
        "ADDRESS",
        "NAME",
        "PHONE",
        "SSN",
        "DATE_TIME",
        "PASSPORT_NUMBER",
        "DRIVER_ID",
        "URL",
        "AGE",
        "USERNAME",
        "PASSWORD",
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "IP_ADDRESS",
        "MAC_ADDRESS",
        "LICENSE_PLATE",
        "VEHICLE_IDENTIFICATION_NUMBER",
        "UK_NATIONAL_INSURANCE_NUMBER",
        "CA_SOCIAL_INSURANCE_NUMBER",
        "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
        "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
        "IN_PERMANENT_ACCOUNT_NUMBER",
        "IN_NREGA",
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        "SWIFT_CODE",
        "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
        "CA_HEALTH_NUMBER",
        "IN_AADHAAR",
        "IN_VOTER_NUMBER",
    }
)

# Types Comprehend has no name for, found by the pattern redactor only (on its own and as Comprehend's
# backstop), named in the same style: European national identity and tax numbers (Spanish DNI/NIE, Italian
# codice fiscale, French NIR, Portuguese NIF, Dutch BSN), and a date given as someone's date of birth
# (Comprehend calls every date DATE_TIME, which stays readable: "delivered on Tuesday" is context).
PATTERN_ONLY_ENTITY_TYPES = frozenset({"NATIONAL_ID", "DATE_OF_BIRTH"})
ENTITY_TYPES = PII_ENTITY_TYPES | PATTERN_ONLY_ENTITY_TYPES

# The mask written in place of each type; a type not listed here is masked as "[TYPE]".
LABELS: dict[str, str] = {
    "EMAIL": "[EMAIL]",
    "PHONE": "[PHONE]",
    "ADDRESS": "[ADDRESS]",
    "NAME": "[NAME]",
    "CREDIT_DEBIT_NUMBER": "[CARD]",
    "CREDIT_DEBIT_CVV": "[CARD_CVV]",
    "CREDIT_DEBIT_EXPIRY": "[CARD_EXPIRY]",
    "PIN": "[PIN]",
    "BANK_ACCOUNT_NUMBER": "[BANK_ACCOUNT]",
    "BANK_ROUTING": "[BANK_ROUTING]",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER": "[IBAN]",
    "SWIFT_CODE": "[SWIFT]",
    "SSN": "[SSN]",
    "IP_ADDRESS": "[IP_ADDRESS]",
    "MAC_ADDRESS": "[MAC_ADDRESS]",
    "PASSWORD": "[PASSWORD]",
    "USERNAME": "[USERNAME]",
    "URL": "[URL]",
    "PASSPORT_NUMBER": "[PASSPORT]",
    "DRIVER_ID": "[DRIVER_ID]",
    "NATIONAL_ID": "[NATIONAL_ID]",
    "DATE_OF_BIRTH": "[DATE_OF_BIRTH]",
}

# Masked unless a source or form says otherwise: contact details, payment and bank data, government and
# health identifiers, dates of birth, credentials, network and vehicle identifiers. Left readable on purpose:
# - NAME: customers name the staff they praise or blame ("Maria at the front desk was wonderful"); that is
#   the feedback itself, and the author's own name is already in the identity record. A product decision,
#   reversible per source/form by passing entity_types that include NAME.
# - DATE_TIME, AGE: "delivered on Tuesday", "my 5-year-old loves it" are context, not identifiers.
# - URL, USERNAME: product links and brand handles (@acme) are what social feedback is about.
DEFAULT_ENTITY_TYPES = ENTITY_TYPES - {"NAME", "DATE_TIME", "AGE", "URL", "USERNAME"}


def label_for(entity_type: str) -> str:
    """The mask written for one entity type: `[CARD]` for CREDIT_DEBIT_NUMBER, `[EMAIL]` for EMAIL …"""
    return LABELS.get(entity_type, f"[{entity_type}]")


def checked_types(entity_types: Iterable[str] | None) -> frozenset[str]:
    """The entity types to mask: DEFAULT_ENTITY_TYPES when not given; an unknown name is a ValueError."""
    if entity_types is None:
        return DEFAULT_ENTITY_TYPES
    chosen = frozenset(entity_types)
    unknown = chosen - ENTITY_TYPES
    if unknown:
        raise ValueError(f"unknown PII entity types: {sorted(unknown)}")
    return chosen


_OFF = frozenset({"false", "0", "no", "off", "disabled", "none"})


def redaction_enabled(setting: str | bool | None) -> bool:
    """Read a source's or form's redaction switch: on unless explicitly turned off.

    Missing, empty or unrecognised values keep redaction on, so a typo never stores raw PII.
    """
    if isinstance(setting, bool):
        return setting
    if setting is None:
        return True
    return setting.strip().lower() not in _OFF


class Span(NamedTuple):
    """A masked stretch of the original text: [start, end) in code points, and its entity type."""

    start: int
    end: int
    type: str


# A plain slotted class, not a dataclass (chalicelib/records.py says why); not a NamedTuple either, as its
# types are normalized when built and its spans take no part in equality.
class Redaction(FrozenRecord):
    """A text with its PII masked, and the type names of what was masked (sorted, unique); immutable.

    `spans` says where in the original text each mask went (for measuring the redactors; not stored, and
    not part of equality).
    """

    __slots__ = ("spans", "text", "types")
    _compared = ("text", "types")
    text: str
    types: list[str]
    spans: tuple[Span, ...]

    def __init__(self, text: str, types: Iterable[str], spans: tuple[Span, ...] = ()) -> None:
        self._set("text", text)
        self._set("types", sorted(set(types)))
        self._set("spans", spans)

    @property
    def redacted(self) -> bool:
        """Whether anything was masked (StoredFeedback.pii_redacted)."""
        return bool(self.types)


# Per document: its Redaction, or the AnalysisFailed that sends its feedback back through the queue.
RedactionResults = dict[str, Redaction | AnalysisFailed]


class Redactor(Protocol):
    """Masks the PII in many documents at once."""

    name: str

    def redact(self, documents: Sequence[Document]) -> RedactionResults:
        """Redact every document; a failure affects only the documents it touched."""
        ...


def mask(text: str, spans: Iterable[Span]) -> str:
    """Replace non-overlapping spans with their labels, right to left so earlier offsets stay valid."""
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        text = text[: span.start] + label_for(span.type) + text[span.end :]
    return text


def redaction_of(text: str, spans: Sequence[Span]) -> Redaction:
    """The Redaction of a text with these (non-overlapping) spans masked."""
    ordered = tuple(sorted(spans, key=lambda s: s.start))
    return Redaction(text=mask(text, ordered), types=[span.type for span in ordered], spans=ordered)
