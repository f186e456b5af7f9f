"""The pattern redactor: regular expressions plus checksums, no AWS call; deterministic; idempotent."""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable, Iterable, Sequence

from chalicelib.analysis.base import Document
from chalicelib.analysis.lazy_pattern import LazyPattern
from chalicelib.analysis.redaction import identifiers, payment
from chalicelib.analysis.redaction.addresses import addresses
from chalicelib.analysis.redaction.base import (
    Redaction,
    RedactionResults,
    Span,
    checked_types,
    label_for,
    redaction_of,
)
from chalicelib.analysis.redaction.checksums import iban_valid, luhn_valid

Found = list[tuple[int, int]]

# `scheme://user:password@host`: the credentials are masked, the host kept.
_URL_CREDENTIALS = LazyPattern(r"\b[A-Za-z][A-Za-z0-9+.-]{0,30}://([^\s/:@\[\]]{1,256}:[^\s/@\[\]]{1,256})@")
# RFC 5321 bounds (64-character local part, 63-character labels). Every repetition in these patterns is
# bounded or anchored by a lookbehind, so a hostile 100 KB text costs linear time, not quadratic.
_EMAIL = LazyPattern(
    r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,10}[^\W\d_]{2,63}(?!\w)"
)
# Written to dodge harvesters: "info(at)firma.de", "jane [at] example [dot] org". Only a bracketed "at" counts
# ("meet at example.com" is no address); the dots may be bracketed "dot"s too.
_DOT = r"(?:\.|\s?[(\[{]\s?(?i:dot|punkt|punto|point)\s?[)\]}]\s?)"
_OBFUSCATED_EMAIL = LazyPattern(
    r"(?<![\w.%+-])[\w%+-]{1,64}(?:" + _DOT + r"[\w%+-]{1,64}){0,5}\s?[(\[{]\s?(?i:at|@)\s?[)\]}]\s?"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?" + _DOT + r"){1,10}[^\W\d_]{2,63}(?!\w)"
)
# Letters and digits, single spaces allowed anywhere; the checksum then decides where the IBAN ends.
_IBAN_CANDIDATE = LazyPattern(r"\b[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,40}(?![A-Za-z0-9])")
# Digits with single spaces, dashes or dots between them ("4111.1111.1111.1111"); the Luhn check then picks
# the card inside.
_DIGIT_RUN = LazyPattern(r"(?<![\w-])[0-9](?:[ .-]?[0-9])*(?![\w])")
_SSN = LazyPattern(r"(?<![\w-])(?!000|666|9[0-9]{2})[0-9]{3}([- ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}(?![\w-])")
# "SSN 123456789": nine digits without separators are an SSN only right after its name.
_SSN_NAMED = LazyPattern(
    r"(?i:\b(?:SSN|SS#|social security(?: number| no\.?)?))\W{0,5}(?:(?i:is|was|:)\W{0,3})?"
    r"((?!000|666|9[0-9]{2})[0-9]{3}(?!00)[0-9]{2}(?!0000)[0-9]{4})(?![\w-])"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# Hex groups and colons (an IPv4 tail allowed); ipaddress then decides. "12:30:45" is no IPv6 address.
_IPV6_CANDIDATE = LazyPattern(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![\w:]|\.[0-9A-Fa-f])"
)
_IPV6_MIN_HEX_DIGITS = 6  # "::1", "a::b": loopback and toy addresses name no one
# Six byte pairs with one separator throughout: 00:1A:2B:3C:4D:5E, 00-1a-2b-3c-4d-5e.
_MAC = LazyPattern(r"(?<![\w:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])")
_IPV4 = LazyPattern(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.[0-9])")
# "version 10.2.15.3", "build 4.2.1.0": a four-part version number, not an address.
_VERSION_WORDS = LazyPattern(r"\b(?:version|ver|v|build|release|firmware)\.?\s*$", re.IGNORECASE)
# A Luhn-valid number right after these names a device or a product, not a card: "IMEI 490154203237518".
_PRODUCT_NUMBER_WORDS = LazyPattern(r"\b(?:IMEI|EAN|UPC|GTIN|ISBN|serial|S/N|SN)\b\W{0,5}$", re.IGNORECASE)
# A phone-shaped run: optional + or (, digits, up to two separators (space . - ( )) between digits.
_PHONE_CANDIDATE = LazyPattern(
    r"(?<![\w@#$€£¥₹%+./:,-])(?:\+|\(\+?)?[0-9](?:[ \u00a0.()-]{0,2}[0-9])+(?![\w@%]|[.,][0-9])"
)
# German style, the area code before a slash: "0171/1234567", "089 / 12 34 56".
_SLASHED_PHONE = LazyPattern(r"(?<![\w/.-])0[1-9][0-9]{1,4} ?/ ?[0-9](?:[ -]?[0-9]){3,10}(?![\w/])")
# A national number written without spaces: 0 then 9-10 digits (07700900123, 0612345678, 01511234567), or
# an international one with 00.
_BARE_NATIONAL_PHONE = LazyPattern(r"0[1-9][0-9]{8,9}|00[1-9][0-9]{8,12}")
_ISO_DATE_PREFIX = LazyPattern(r"[0-9]{4}([-./])[0-9]{1,2}\1[0-9]{1,2}(?![0-9])")
_DAY_MONTH_YEAR_PREFIX = LazyPattern(r"[0-9]{1,2}[.-][0-9]{1,2}[.-](?:19|20)[0-9]{2}(?![0-9])")
_YEAR_RANGE = LazyPattern(r"(?:19|20)[0-9]{2} ?- ?(?:19|20)[0-9]{2}")
_SSN_SHAPE = LazyPattern(r"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}")
_AMOUNT_BEFORE = LazyPattern(r"[$€£¥₹]\s?$")
_AMOUNT_AFTER = LazyPattern(
    r"\s?(?:[$€£¥₹%]|(?:usd|eur|gbp|mxn|dollars?|euros?|pesos?|pounds?)\b)", re.IGNORECASE
)
# A bare digit run (no +, no separators) is a phone only right after words like these.
_PHONE_WORDS = LazyPattern(
    r"\b(?:phone|tel|telephone|call|cell|mobile|mob|whatsapp|text|sms|fax|ring|contact|reach|number|"
    r"tfno|tlf|tel[eé]fono|m[oó]vil|celular|ll[aá]m[ae]|ll[aá]mame|n[uú]mero|t[eé]l[eé]phone|portable|"
    r"appel(?:ez)?|telefon|handy|nummer)\b\D{0,20}$",
    re.IGNORECASE,
)
# A number right after words like these is a reference of some kind, not a phone (unless it starts with +).
_REFERENCE_WORDS = LazyPattern(
    r"(?:\b(?:order|invoice|ticket|case|ref|reference|tracking|confirmation|booking|reservation|sku|"
    r"serial|item|part|model|product|article|account|acct|policy|member|customer|client|pedido|artículo|"
    r"articulo|modelo|modèle|modello|artikel|factura|referencia|reserva|cuenta|"
    r"cliente|commande|facture|dossier|bestellung|rechnung|kundennummer|auftrag|sendung|ordine|fattura|"
    r"encomenda|fatura|bestelling|factuur|klantnummer)\b\s*(?:number|no|nr|num|id|n[ºo°]|nummer|número|"
    r"numéro|numero)?\.?\s*(?:is|es|est|ist|è|é)?\s*[:#]?\s*|#\s*|\bn[º°]\s*)$",
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
    if candidate.isdigit():  # a bare run: a phone where the words before say so, or a national number
        return (
            _PHONE_WORDS.search(before) is not None or _BARE_NATIONAL_PHONE.fullmatch(candidate) is not None
        )
    groups = re.findall(r"[0-9]+", candidate)
    decimal = re.sub(r"[0-9]", "", candidate) == "."  # 1234567.89, 3.14159265
    grouped_amount = len(groups[0]) == 1 and all(len(group) == 3 for group in groups[1:])  # 1 234 567
    return not decimal and not grouped_amount and sum(len(group) == 1 for group in groups) <= 1


def _card_spans(run: str) -> Found:
    """(start, end) of each card number inside a run of digit groups: 13-19 digits, Luhn-valid, IIN 2-6.

    Only whole groups are considered, and in a multi-group run only groups of 3-6 digits (4-4-4-4,
    Amex 4-6-5 …), so a list of small numbers does not add up to a card by chance.
    """
    groups = [(m.start(), m.end()) for m in re.finditer(r"[0-9]+", run)]
    found: Found = []
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


def url_credentials(text: str) -> Found:
    return [m.span(1) for m in _URL_CREDENTIALS.finditer(text)]


def emails(text: str) -> Found:
    return [m.span() for m in _EMAIL.finditer(text)] + [m.span() for m in _OBFUSCATED_EMAIL.finditer(text)]


def ibans(text: str) -> Found:
    found = []
    for match in _IBAN_CANDIDATE.finditer(text):
        end = _iban_end(match.group(0))
        if end is not None:
            found.append((match.start(), match.start() + end))
    return found


def cards(text: str) -> Found:
    return [
        (m.start() + a, m.start() + b)
        for m in _DIGIT_RUN.finditer(text)
        if not _PRODUCT_NUMBER_WORDS.search(text[max(0, m.start() - 20) : m.start()])
        for a, b in _card_spans(m.group(0))
    ]


def ssns(text: str) -> Found:
    return [m.span() for m in _SSN.finditer(text)] + [m.span(1) for m in _SSN_NAMED.finditer(text)]


def _ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return sum(char in string.hexdigits for char in candidate) >= _IPV6_MIN_HEX_DIGITS


def ip_addresses(text: str) -> Found:
    """IPv6 addresses (checked by the standard library) and IPv4 addresses outside them."""
    found = [m.span() for m in _IPV6_CANDIDATE.finditer(text) if _ipv6(m.group(0))]
    return found + [
        m.span()
        for m in _IPV4.finditer(text)
        if not _VERSION_WORDS.search(text[max(0, m.start() - 12) : m.start()])
        and not any(a <= m.start() < b for a, b in found)
    ]


def mac_addresses(text: str) -> Found:
    return [m.span() for m in _MAC.finditer(text)]


def phones(text: str) -> Found:
    found: Found = []
    for match in _PHONE_CANDIDATE.finditer(text):
        start, end = match.span()
        if _looks_like_phone(text, start, end):
            found.append((start, end))
            continue
        # "555-123-4567 555-987-6543": two phones that only a space separates read as one run of 20 digits;
        # they are masked when every space-separated piece is a phone by itself.
        pieces = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", match.group(0))]
        if len(pieces) > 1 and all(_looks_like_phone(text, a, b) for a, b in pieces):
            found += pieces
    taken = list(found)
    for match in _SLASHED_PHONE.finditer(text):
        overlaps = any(match.start() < b and a < match.end() for a, b in taken)
        if not overlaps and not _DAY_MONTH_YEAR_PREFIX.match(match.group(0)):
            found.append(match.span())
    return found


# In priority order: each runs on the text the previous ones already masked, so the more specific match wins
# an overlap (a Luhn-valid card is never half-masked as a phone, an IP never as a phone, URL credentials
# never as an email, a ZIP+4 never as a phone) and labels, which hold no digit and no '@', never re-match.
DETECTORS: list[tuple[str, Callable[[str], Found]]] = [
    ("PASSWORD", url_credentials),
    ("EMAIL", emails),
    ("INTERNATIONAL_BANK_ACCOUNT_NUMBER", ibans),
    ("SWIFT_CODE", payment.swift_codes),
    ("CREDIT_DEBIT_NUMBER", cards),
    ("SSN", ssns),
    ("US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", identifiers.us_itins),
    ("UK_NATIONAL_INSURANCE_NUMBER", identifiers.uk_national_insurance_numbers),
    ("CA_SOCIAL_INSURANCE_NUMBER", identifiers.ca_social_insurance_numbers),
    ("NATIONAL_ID", identifiers.national_ids),
    ("PASSPORT_NUMBER", identifiers.passport_numbers),
    ("DRIVER_ID", identifiers.driver_ids),
    ("IP_ADDRESS", ip_addresses),
    ("MAC_ADDRESS", mac_addresses),
    ("CREDIT_DEBIT_CVV", payment.security_codes),
    ("CREDIT_DEBIT_EXPIRY", payment.expiry_dates),
    ("DATE_OF_BIRTH", identifiers.dates_of_birth),
    ("ADDRESS", addresses),
    ("PHONE", phones),
]


# Every type but these has a digit in it: a text without one is spared the other detectors.
_WITHOUT_DIGITS = frozenset({"PASSWORD", "EMAIL", "SWIFT_CODE"})
_DIGIT = LazyPattern(r"[0-9]")


class _MaskedText:
    """An original text with some spans masked, and the way back from masked offsets to original ones."""

    def __init__(self, original: str, spans: Iterable[Span] = ()) -> None:
        self.original = original
        self.spans = sorted(spans, key=lambda s: s.start)
        self._build()

    def _build(self) -> None:
        # (masked start, masked end, original start) of each stretch of original text between labels
        self._free: list[tuple[int, int, int]] = []
        parts, masked_at, original_at = [], 0, 0
        for span in self.spans:
            piece = self.original[original_at : span.start]
            self._free.append((masked_at, masked_at + len(piece), original_at))
            label = label_for(span.type)
            parts += [piece, label]
            masked_at += len(piece) + len(label)
            original_at = span.end
        tail = self.original[original_at:]
        self._free.append((masked_at, masked_at + len(tail), original_at))
        self.text = "".join(parts) + tail

    def add(self, entity_type: str, found: Found) -> bool:
        """Mask what a detector found in `self.text`; parts over earlier masks keep those. True if any."""
        new = []
        for start, end in found:
            for free_start, free_end, original_start in self._free:
                a, b = max(start, free_start), min(end, free_end)
                piece = (original_start + a - free_start, original_start + b - free_start)
                # whitespace or punctuation left between two earlier masks is not worth a mask of its own
                if a < b and any(char.isalnum() for char in self.original[piece[0] : piece[1]]):
                    new.append(Span(piece[0], piece[1], entity_type))
        if new:
            self.spans = sorted(self.spans + new, key=lambda s: s.start)
            self._build()
        return bool(new)


class PatternRedactor:
    """Regex and checksum redactor: emails, phones, street addresses and PO boxes, payment cards, IBANs,
    national identity and tax numbers (US SSN/ITIN, UK NI, Canadian SIN, Spanish DNI/NIE, Italian codice
    fiscale, French NIR, Dutch BSN, Portuguese NIF), passports, driving licences and a card's security code
    and expiry named as such (payment.py), dates of birth, IPv4 and IPv6 addresses, MAC addresses, and the
    credentials in `scheme://user:password@host` URLs.

    Detectors run in the priority order of DETECTORS, each on the text the previous ones already masked.
    """

    name = "patterns"

    def __init__(self, entity_types: Iterable[str] | None = None) -> None:
        self.entity_types = checked_types(entity_types)

    def redact(self, documents: Sequence[Document]) -> RedactionResults:
        """Redact every document's text; patterns never fail, so every result is a Redaction."""
        return {document.key: self.redact_text(document.text) for document in documents}

    def redact_text(self, text: str, masked: Sequence[Span] = ()) -> Redaction:
        """Mask every pattern match in one text, around spans already `masked` (which are kept)."""
        return redaction_of(text, self.find(text, masked))

    def find(self, text: str, masked: Sequence[Span] = ()) -> list[Span]:
        """The spans to mask in a text: those already `masked` plus every pattern match outside them."""
        state = _MaskedText(text, masked)
        has_digit = _DIGIT.search(text) is not None
        for entity_type, detector in DETECTORS:
            if entity_type in self.entity_types and (has_digit or entity_type in _WITHOUT_DIGITS):
                state.add(entity_type, detector(state.text))
        return state.spans
