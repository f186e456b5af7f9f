"""Which texts the pattern redactor leaves suspicious enough to pay DetectPiiEntities for (3 units or more).

Read after the patterns have masked what they recognise, so what they already caught (an email, a phone, a
card) costs nothing more, and harmless digits ("3 days", "order #48213", "$25") are not sent. A text is sent
when something a pattern may have missed or cut short is left:
- an '@' (an address the email pattern did not accept) or a run of LONG_DIGITS digits or more (an account,
  membership or tracking number);
- an address found by the patterns (Comprehend extends "[ADDRESS], Springfield" to the town), a street
  named with capitals ("Mill Lane", "Calle Mayor") or digits next to a street word ("calle mayor 5");
- digits just beside a mask (a pattern that stopped short: "GB82 WEST [PHONE]" was an IBAN);
- digits after a word naming a type only Comprehend finds (PIN, CVV, expiry, password, account, plate …);
- when names are to be masked, a capitalised word inside a sentence.
Measured on the labelled corpus (tools/pii_eval.py): the same recall as sending every English or Spanish
text (tests/test_pii_corpus.py), for well under half the requests.
"""

from __future__ import annotations

from collections.abc import Collection

from chalicelib.analysis.lazy_pattern import LazyPattern
from chalicelib.analysis.redaction.base import Redaction

LONG_DIGITS = 6
_LONG_DIGIT_RUN = LazyPattern(rf"[0-9](?:[ .\-/]?[0-9]){{{LONG_DIGITS - 1},}}")
# English and Spanish: the only languages DetectPiiEntities reads.
_STREET_WORDS = (
    r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|square|close|crescent|"
    r"calle|c/|carrera|cra|avenida|avda|av|paseo|plaza|camino|carretera|ronda|diagonal|transversal|calzada"
)
_NUMBER_BY_STREET = LazyPattern(
    rf"(?i:\b(?:{_STREET_WORDS})\b)[^.!?\n]{{0,30}}[0-9]|[0-9][^.!?\n]{{0,30}}(?i:\b(?:{_STREET_WORDS})\b)"
)
# A street named with capitals needs no number to be an address: "Rose Cottage, Mill Lane", "Calle Mayor".
_NAMED_STREET = LazyPattern(
    r"\b[A-Z][a-z]+ (?:Street|St|Road|Rd|Lane|Avenue|Ave|Drive|Boulevard|Blvd|Way|Court|Close|Crescent|"
    r"Square)\b|\b(?:Calle|Avenida|Avda|Paseo|Plaza|Carrera|Camino|Carretera|Ronda) "
    r"(?:de(?:l| la)? )?[A-ZÁÉÍÓÚÑ]"
)
_DIGITS_BESIDE_MASK = LazyPattern(r"[0-9][^\s\[\]]*(?:\s+[^\s\[\]]+)?\s*\[[A-Z_]+\]|\[[A-Z_]+\]\s*[0-9]")
_ONLY_COMPREHEND_WORDS = LazyPattern(
    r"(?i:\b(?:pin|cvv|cvc|cvv2|security code|exp(?:iry|ires|iration)?|valid thru|password|passcode|"
    r"account|acct|routing|sort code|swift|bic|licen[cs]e|plate|reg(?:istration)?|vin|member(?:ship)?|"
    r"policy|contraseña|clave|cuenta|tarjeta|caducidad|vencimiento|matr[ií]cula|placa|p[oó]liza|socio)\b)"
    r"[^.!?\n]{0,25}[0-9]"
)
# A capitalised word after a lower-case word or a comma: not a sentence's first word ("Maria at the desk").
_NAME_LIKE = LazyPattern(r"(?<=[a-zà-ÿ,;:] )[A-ZÀ-Þ][a-zà-ÿ]{1,30}")


def worth_sending(scanned: Redaction, entity_types: Collection[str]) -> bool:
    """Whether DetectPiiEntities may find something in the text the patterns left as `scanned.text`."""
    masked = scanned.text
    if "NAME" in entity_types and _NAME_LIKE.search(masked):
        return True
    if "ADDRESS" in scanned.types or _NAMED_STREET.search(masked):
        return True
    if not any(char.isdigit() or char == "@" for char in masked):
        return False
    return bool(
        "@" in masked
        or _LONG_DIGIT_RUN.search(masked)
        or _DIGITS_BESIDE_MASK.search(masked)
        or _NUMBER_BY_STREET.search(masked)
        or _ONLY_COMPREHEND_WORDS.search(masked)
    )
