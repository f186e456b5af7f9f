"""PII redaction of feedback text before it is stored: Comprehend DetectPiiEntities, or local patterns.

Every stored text has its personal data masked with one shared vocabulary of labels (`[EMAIL]`, `[PHONE]`,
`[CARD]` …); `Redaction.types` names what was masked with Comprehend's entity type names whichever backend
did it, so stored items and exports read the same on AWS and in the local stack. The author's own contact
details are not the text's business: they stay in the event's `author` (the identity record), untouched.

Backends, behind one `Redactor` contract (failures per document, as in the analyzers):
- `PatternRedactor`: regular expressions plus checksums (Luhn for cards, ISO 13616 mod-97 for IBANs); no AWS
  call. Used in the local stack, for languages Comprehend's PII model does not read, and on top of Comprehend.
- `ComprehendPiiRedactor`: `DetectPiiEntities` for English and Spanish, the only languages it accepts.

Comprehend facts this module relies on (API reference and the botocore service model, 2017-11-27):
- There is no batch variant: one request per document.
- `LanguageCode` accepts `en` or `es` only (the shared enum lists more; the operation refuses them).
- `Text` is UTF-8 of at most 100 KB (taken as 100,000 bytes), minimum length 1.
- `BeginOffset`/`EndOffset` count Unicode code points ("a multi-byte UTF-8 character maps to a single code
  point"), which is exactly Python's `str` indexing; `EndOffset` is exclusive (AWS's own samples take
  `text[Begin:End]`), whatever the API reference's "last character" wording suggests.

Cost: DetectPiiEntities is billed per 100-character unit with a 3-unit minimum per request, and each document
is its own request, so an 8-character "Love it!" costs as much as a 300-character text. With `prefilter=True`
(the default) a text is sent only when the local pattern scan finds something, or it holds a digit or an '@':
most PII worth masking (phones, cards, account and ID numbers, emails, street numbers) has one of those.
The trade-off is recall of names and digit-free addresses ("I live on Elm Street") in texts that have
neither, which only Comprehend would have found; with NAME unmasked by default that loss is small.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.analysis.base import AnalysisFailed, Document, primary_language, truncate_utf8
from chalicelib.config import AnalyzerBackend, settings

# ----------------------------------------------------------------------------------------------------
# The shared vocabulary

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
}

# Masked unless a source or form says otherwise: contact details, payment and bank data, government and
# health identifiers, credentials, network and vehicle identifiers. Left readable on purpose:
# - NAME: customers name the staff they praise or blame ("Maria at the front desk was wonderful"); that is
#   the feedback itself, and the author's own name is already in the identity record. A product decision,
#   reversible per source/form by passing entity_types that include NAME.
# - DATE_TIME, AGE: "delivered on Tuesday", "my 5-year-old loves it" are context, not identifiers.
# - URL, USERNAME: product links and brand handles (@acme) are what social feedback is about.
DEFAULT_ENTITY_TYPES = PII_ENTITY_TYPES - {"NAME", "DATE_TIME", "AGE", "URL", "USERNAME"}


def label_for(entity_type: str) -> str:
    """The mask written for one entity type: `[CARD]` for CREDIT_DEBIT_NUMBER, `[EMAIL]` for EMAIL …"""
    return LABELS.get(entity_type, f"[{entity_type}]")


def _checked_types(entity_types: Iterable[str] | None) -> frozenset[str]:
    if entity_types is None:
        return DEFAULT_ENTITY_TYPES
    chosen = frozenset(entity_types)
    unknown = chosen - PII_ENTITY_TYPES
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


# ----------------------------------------------------------------------------------------------------
# The contract


@dataclass(frozen=True, slots=True)
class Redaction:
    """A text with its PII masked, and the Comprehend type names of what was masked (sorted, unique)."""

    text: str
    types: list[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", sorted(set(self.types)))

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


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    type: str


def _mask(text: str, spans: Iterable[_Span]) -> str:
    """Replace non-overlapping spans with their labels, right to left so earlier offsets stay valid."""
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        text = text[: span.start] + label_for(span.type) + text[span.end :]
    return text


# ----------------------------------------------------------------------------------------------------
# Pattern redactor


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# Countries in the SWIFT IBAN registry; a candidate from any other prefix is not an IBAN.
_IBAN_COUNTRY_CODES = (
    "AD AE AL AT AZ BA BE BG BH BI BR BY CH CR CY CZ DE DJ DK DO EE EG ES FI FK FO FR GB GE GI GL GR GT "
    "HR HU IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY MC MD ME MK MN MR MT MU NI NL NO OM PK PL PS PT "
    "QA RO RS RU SA SC SD SE SI SK SM SO ST SV TL TN TR UA VA VG XK YE"
)
IBAN_COUNTRIES = frozenset(_IBAN_COUNTRY_CODES.split())


def iban_valid(candidate: str) -> bool:
    """ISO 13616: a registry country, 15-34 characters, and mod 97 of the rearranged number equal to 1."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or compact[:2] not in IBAN_COUNTRIES or not compact.isalnum():
        return False
    if not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# `scheme://user:password@host`: the credentials are masked, the host kept.
_URL_CREDENTIALS = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,30}://([^\s/:@\[\]]{1,256}:[^\s/@\[\]]{1,256})@")
# RFC 5321 bounds (64-character local part, 63-character labels). Every repetition in these patterns is
# bounded or anchored by a lookbehind, so a hostile 100 KB text costs linear time, not quadratic.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,10}[^\W\d_]{2,63}(?!\w)"
)
# Letters and digits, single spaces allowed anywhere; the checksum then decides where the IBAN ends.
_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,40}(?![A-Za-z0-9])")
# Digits with single spaces or dashes between them; the Luhn check then picks the card inside.
_DIGIT_RUN = re.compile(r"(?<![\w-])[0-9](?:[ -]?[0-9])*(?![\w])")
_SSN = re.compile(r"(?<![\w-])(?!000|666|9[0-9]{2})[0-9]{3}([- ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}(?![\w-])")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.[0-9])")
# "version 10.2.15.3", "build 4.2.1.0": a four-part version number, not an address.
_VERSION_WORDS = re.compile(r"\b(?:version|ver|v|build|release|firmware)\.?\s*$", re.IGNORECASE)
# A phone-shaped run: optional + or (, digits, up to two separators (space . - ( )) between digits.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w@#$€£¥₹%+./:,-])(?:\+|\(\+?)?[0-9](?:[ \u00a0.()-]{0,2}[0-9])+(?![\w@%]|[.,][0-9])"
)
_ISO_DATE_PREFIX = re.compile(r"[0-9]{4}([-./])[0-9]{1,2}\1[0-9]{1,2}(?![0-9])")
_DAY_MONTH_YEAR_PREFIX = re.compile(r"[0-9]{1,2}[.-][0-9]{1,2}[.-](?:19|20)[0-9]{2}(?![0-9])")
_YEAR_RANGE = re.compile(r"(?:19|20)[0-9]{2} ?- ?(?:19|20)[0-9]{2}")
_SSN_SHAPE = re.compile(r"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}")
_AMOUNT_BEFORE = re.compile(r"[$€£¥₹]\s?$")
_AMOUNT_AFTER = re.compile(
    r"\s?(?:[$€£¥₹%]|(?:usd|eur|gbp|mxn|dollars?|euros?|pesos?|pounds?)\b)", re.IGNORECASE
)
# A bare digit run (no +, no separators) is a phone only right after words like these.
_PHONE_WORDS = re.compile(
    r"\b(?:phone|tel|telephone|call|cell|mobile|mob|whatsapp|text|sms|fax|ring|contact|reach|number|"
    r"tfno|tlf|tel[eé]fono|m[oó]vil|celular|ll[aá]m[ae]|ll[aá]mame|n[uú]mero|t[eé]l[eé]phone|portable|"
    r"appel(?:ez)?|telefon|handy|nummer)\b\D{0,20}$",
    re.IGNORECASE,
)
# A number right after words like these is a reference of some kind, not a phone (unless it starts with +).
_REFERENCE_WORDS = re.compile(
    r"(?:\b(?:order|invoice|ticket|case|ref|reference|tracking|confirmation|booking|reservation|sku|"
    r"serial|item|account|acct|policy|member|pedido|factura|referencia|reserva|cuenta|commande|facture|"
    r"bestellung|rechnung)\b\s*(?:number|no|nr|num|id|n[ºo°])?\.?\s*[:#]?\s*|#\s*|\bn[º°]\s*)$",
    re.IGNORECASE,
)


def _looks_like_phone(text: str, start: int, end: int) -> bool:
    """Whether a phone-shaped candidate is a phone rather than a date, an amount or a reference number."""
    candidate = text[start:end]
    digits = re.sub(r"[^0-9]", "", candidate)
    before, after = text[max(0, start - 40) : start], text[end : end + 12]
    if not 7 <= len(digits) <= 15 or _AMOUNT_BEFORE.search(before) or _AMOUNT_AFTER.match(after):
        return False
    if candidate.startswith(("+", "(+")):  # an international number: nothing else starts that way
        return True
    if (
        _ISO_DATE_PREFIX.match(candidate)
        or _DAY_MONTH_YEAR_PREFIX.match(candidate)
        or _YEAR_RANGE.fullmatch(candidate)
        or _SSN_SHAPE.fullmatch(candidate)
        or _REFERENCE_WORDS.search(before)
    ):
        return False
    if candidate.isdigit():  # a bare run: a phone only where the words before say so
        return _PHONE_WORDS.search(before) is not None
    groups = re.findall(r"[0-9]+", candidate)
    decimal = re.sub(r"[0-9]", "", candidate) == "."  # 1234567.89, 3.14159265
    grouped_amount = len(groups[0]) == 1 and all(len(group) == 3 for group in groups[1:])  # 1 234 567
    return not decimal and not grouped_amount and sum(len(group) == 1 for group in groups) <= 1


def _card_spans(run: str) -> list[tuple[int, int]]:
    """(start, end) of each card number inside a run of digit groups: 13-19 digits, Luhn-valid, IIN 2-6.

    Only whole groups are considered, and in a multi-group run only groups of 3-6 digits (4-4-4-4,
    Amex 4-6-5 …), so a list of small numbers does not add up to a card by chance.
    """
    groups = [(m.start(), m.end()) for m in re.finditer(r"[0-9]+", run)]
    found: list[tuple[int, int]] = []
    first = 0
    while first < len(groups):
        best = None
        for last in range(first, len(groups)):
            chosen = groups[first : last + 1]
            if len(chosen) > 1 and not all(3 <= end - start <= 6 for start, end in chosen):
                break
            digits = "".join(run[start:end] for start, end in chosen)
            if len(digits) > 19:
                break
            if len(digits) >= 13 and digits[0] in "23456" and luhn_valid(digits):
                best = last
        if best is None:
            first += 1
            continue
        found.append((groups[first][0], groups[best][1]))
        first = best + 1
    return found


def _iban_end(candidate: str) -> int | None:
    """Where the longest valid IBAN starting the candidate ends (cut at a space or the end), if any."""
    cuts = [m.start() for m in re.finditer(" ", candidate)] + [len(candidate)]
    for cut in sorted(cuts, reverse=True):
        if iban_valid(candidate[:cut]):
            return cut
    return None


def _sub_each(pattern: re.Pattern[str], text: str, replace: Callable[[re.Match[str]], str | None]) -> str:
    """re.sub where the callback may decline a match (None keeps the original text)."""

    def callback(match: re.Match[str]) -> str:
        replaced = replace(match)
        return match.group(0) if replaced is None else replaced

    return pattern.sub(callback, text)


class PatternRedactor:
    """Regex and checksum redactor: emails, phones, payment cards, IBANs, US SSNs, IPv4 addresses, and the
    credentials in `scheme://user:password@host` URLs. No AWS call; deterministic; idempotent.

    Detectors run in priority order, each on the text the previous ones already masked, so the more
    specific match wins an overlap (a Luhn-valid card is never half-masked as a phone, an IP never as a
    phone, URL credentials never as an email) and labels, which hold no digit and no '@', never re-match.
    """

    name = "patterns"

    def __init__(self, entity_types: Iterable[str] | None = None) -> None:
        self.entity_types = _checked_types(entity_types)

    def redact(self, documents: Sequence[Document]) -> RedactionResults:
        """Redact every document's text; patterns never fail, so every result is a Redaction."""
        return {document.key: self.redact_text(document.text) for document in documents}

    def redact_text(self, text: str) -> Redaction:
        """Mask every pattern match in one text."""
        found: set[str] = set()
        for entity_type, detector in self._detectors():
            if entity_type in self.entity_types:
                masked = detector(text)
                if masked != text:
                    found.add(entity_type)
                    text = masked
        return Redaction(text=text, types=sorted(found))

    def _detectors(self) -> list[tuple[str, Callable[[str], str]]]:
        return [
            ("PASSWORD", self._url_credentials),
            ("EMAIL", lambda text: _EMAIL.sub(label_for("EMAIL"), text)),
            ("INTERNATIONAL_BANK_ACCOUNT_NUMBER", self._ibans),
            ("CREDIT_DEBIT_NUMBER", self._cards),
            ("SSN", lambda text: _SSN.sub(label_for("SSN"), text)),
            ("IP_ADDRESS", self._ip_addresses),
            ("PHONE", self._phones),
        ]

    @staticmethod
    def _url_credentials(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            whole, start = match.group(0), match.start(1) - match.start()
            return whole[:start] + label_for("PASSWORD") + "@"

        return _URL_CREDENTIALS.sub(replace, text)

    @staticmethod
    def _ibans(text: str) -> str:
        def replace(match: re.Match[str]) -> str | None:
            end = _iban_end(match.group(0))
            if end is None:
                return None
            return label_for("INTERNATIONAL_BANK_ACCOUNT_NUMBER") + match.group(0)[end:]

        return _sub_each(_IBAN_CANDIDATE, text, replace)

    @staticmethod
    def _cards(text: str) -> str:
        def replace(match: re.Match[str]) -> str | None:
            spans = [_Span(start, end, "CREDIT_DEBIT_NUMBER") for start, end in _card_spans(match.group(0))]
            return _mask(match.group(0), spans) if spans else None

        return _sub_each(_DIGIT_RUN, text, replace)

    @staticmethod
    def _ip_addresses(text: str) -> str:
        def replace(match: re.Match[str]) -> str | None:
            if _VERSION_WORDS.search(text[max(0, match.start() - 12) : match.start()]):
                return None
            return label_for("IP_ADDRESS")

        return _sub_each(_IPV4, text, replace)

    @staticmethod
    def _phones(text: str) -> str:
        def replace(match: re.Match[str]) -> str | None:
            start, end = match.start(), match.end()
            if _looks_like_phone(text, start, end):
                return label_for("PHONE")
            # "555-123-4567 555-987-6543": two phones that only a space separates read as one run of 20
            # digits; they are masked when every space-separated piece is a phone by itself.
            pieces = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", match.group(0))]
            if len(pieces) > 1 and all(_looks_like_phone(text, a, b) for a, b in pieces):
                return _mask(match.group(0), [_Span(a - start, b - start, "PHONE") for a, b in pieces])
            return None

        return _sub_each(_PHONE_CANDIDATE, text, replace)


# ----------------------------------------------------------------------------------------------------
# Comprehend redactor

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
      Luhn-valid card number or a mod-97-valid IBAN is masked even when the model scores it low or misses
      it. It masks only what `entity_types` allows, so a source that keeps phones readable keeps them.
    - `prefilter` (on by default): a text in which the pattern scan finds nothing and that holds no digit
      and no '@' is not sent at all. This trades recall of names and digit-free addresses for cost.
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
    ) -> None:
        self._client = client
        self.min_score = min_score
        self.entity_types = _checked_types(entity_types)
        self.prefilter = prefilter
        self.pattern_backstop = pattern_backstop
        self.patterns = PatternRedactor(self.entity_types)

    @property
    def client(self) -> Any:
        return self._client or aws.client("comprehend")

    def redact(self, documents: Sequence[Document]) -> RedactionResults:
        """Redact each document; a failed call (throttling, a service error) fails only its own document."""
        return {document.key: self._redact_one(document) for document in documents}

    def _redact_one(self, document: Document) -> Redaction | AnalysisFailed:
        text = document.text
        if not text.strip():
            return Redaction(text=text, types=[])
        language = primary_language(document.language)
        scanned = self.patterns.redact_text(text)
        if language not in PII_LANGUAGES or (self.prefilter and not self._worth_sending(text, scanned)):
            return scanned
        head = truncate_utf8(text, MAX_TEXT_BYTES)
        try:
            response = self.client.detect_pii_entities(Text=head, LanguageCode=language)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            if code in TEXT_ERRORS:
                return scanned
            return AnalysisFailed(f"comprehend DetectPiiEntities failed: {code}")
        except BotoCoreError as error:
            return AnalysisFailed(f"comprehend DetectPiiEntities failed: {type(error).__name__}")
        return self._apply(text, head, response.get("Entities", []))

    @staticmethod
    def _worth_sending(text: str, scanned: Redaction) -> bool:
        """The prefilter: patterns found something, or the text holds a digit or an '@'."""
        return scanned.redacted or any(char.isdigit() or char == "@" for char in text)

    def _apply(self, text: str, head: str, entities: Iterable[dict[str, Any]]) -> Redaction:
        """Mask Comprehend's entities in the head, then patterns over the result (or the tail only)."""
        spans = self._spans(entities, len(head))
        masked, tail = _mask(head, spans), text[len(head) :]
        if self.pattern_backstop:
            backstop = self.patterns.redact_text(masked + tail)
        else:
            backstop = self.patterns.redact_text(tail)
            backstop = Redaction(text=masked + backstop.text, types=backstop.types)
        return Redaction(text=backstop.text, types=[span.type for span in spans] + backstop.types)

    def _spans(self, entities: Iterable[dict[str, Any]], length: int) -> list[_Span]:
        """Entities kept by score and type, clamped to the text, overlaps merged into the earlier one."""
        kept: list[_Span] = []
        for entity in entities:
            entity_type, score = entity.get("Type"), entity.get("Score", 0.0)
            begin, end = entity.get("BeginOffset"), entity.get("EndOffset")
            if entity_type not in self.entity_types or score < self.min_score or begin is None or end is None:
                continue
            begin, end = max(0, begin), min(length, end)
            if begin < end:
                kept.append(_Span(begin, end, entity_type))
        merged: list[_Span] = []
        for span in sorted(kept, key=lambda s: (s.start, s.start - s.end)):
            if merged and span.start < merged[-1].end:
                last = merged[-1]
                merged[-1] = _Span(last.start, max(last.end, span.end), last.type)
            else:
                merged.append(span)
        return merged


def configured_redactor(entity_types: Iterable[str] | None = None) -> Redactor:
    """The backend the settings name: Comprehend on AWS, patterns in the local stack (lexicon analyzer)."""
    if settings().analyzer is AnalyzerBackend.LEXICON:
        return PatternRedactor(entity_types)
    return ComprehendPiiRedactor(entity_types=entity_types)
