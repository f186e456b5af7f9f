"""A card's security code and expiry date, and a bank's BIC, by pattern: only right after the words that name
them.

PCI DSS forbids storing a card's security code (CVV/CVC) after authorisation, and the patterns run alone
for every language but English and Spanish on AWS (and everywhere locally), so they must not leave
"CVV 737" readable where Comprehend would have masked it. Three or four digits are no shape of their own:
the words before them decide ("Kartenprüfnummer 123", "cryptogramme 456"); an expiry is a month/year right
after an expiry word with a card named shortly before it (a subscription's "expires 12/26" stays).

A BIC (SWIFT code) is eight or eleven capitals and digits. Beside an IBAN it tells whose bank it is.
The words before it ("BIC", "SWIFT") tell it from a product code of the same shape.
"""

from __future__ import annotations

from chalicelib.analysis.lazy_pattern import LazyPattern

Found = list[tuple[int, int]]

_CVV = LazyPattern(
    r"(?i:\b(?:cvv2?|cvc2?|csc|card verification (?:code|value)|(?:card )?security code|"
    r"c[óo]digo de seguridad|cryptogramme(?: visuel)?|(?:karten)?pr[üu]fnummer|codice di sicurezza|"
    r"c[óo]digo de seguran[çc]a|beveiligingscode)\b)"
    r"\W{0,5}(?:(?i:is|es|est|ist|è|é|was|era|war|:)\W{0,3})?([0-9]{3,4})(?![0-9])"
)
_EXPIRY = LazyPattern(
    r"(?i:\b(?:exp(?:iry|iration|\.)?(?: date)?|expires?|valid (?:thru|through|until)|good thru|"
    r"(?:fecha de )?caducidad|vencimiento|date d'expiration|expire le|g[üu]ltig bis|ablaufdatum|scadenza|"
    r"scade il|validade|vervaldatum|geldig tot)\b)"
    r"\W{0,5}(?:(?i:on|is|es|le|am|il|em|:)\W{0,3})?"
    r"((?:0?[1-9]|1[0-2]) ?[/-] ?(?:20)?[0-9]{2})(?![0-9/])"
)
# Right after a card number (masked already: the card pattern runs first), a month/year is its expiry and
# three or four digits after that (or after the card) its code: "[CARD] 12/27 737", "[CARD], 09/26, 123".
_EXPIRY_AFTER_CARD = LazyPattern(r"\[CARD\][ ,;]{1,3}((?:0?[1-9]|1[0-2]) ?/ ?(?:20)?[0-9]{2})(?![0-9/])")
_CODE_AFTER_CARD = LazyPattern(
    r"\[CARD(?:_EXPIRY)?\][ ,;]{1,3}(?:(?:0?[1-9]|1[0-2]) ?/ ?(?:20)?[0-9]{2}[ ,;]{1,3})?"
    r"([0-9]{3,4})(?![0-9])"
)
# A card named shortly before an expiry (the card pattern's own mask counts: it ran first).
_CARD_WORDS = LazyPattern(
    r"(?i:\b(?:card|tarjeta|carte|karte|kreditkarte|carta|cart[ãa]o|kaart|visa|mastercard|amex))"
)
_CARD_CONTEXT_CHARS = 60
# ISO 9362: bank (4 letters), country (2), location (2), branch (3, optional); only after BIC or SWIFT.
_BIC = LazyPattern(
    r"(?i:\b(?:BIC|SWIFT|SWIFT/BIC|BIC/SWIFT)(?:[- ]?(?i:code|kode|c[óo]digo))?)"
    r"\W{0,5}(?:(?i:is|es|est|ist|è|é|lautet|:)\W{0,3})?"
    r"([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)(?![A-Za-z0-9])"
)


def security_codes(text: str) -> Found:
    return [m.span(1) for m in _CVV.finditer(text)] + [m.span(1) for m in _CODE_AFTER_CARD.finditer(text)]


def expiry_dates(text: str) -> Found:
    return [
        m.span(1)
        for m in _EXPIRY.finditer(text)
        if _CARD_WORDS.search(text[max(0, m.start() - _CARD_CONTEXT_CHARS) : m.start(1)])
    ] + [m.span(1) for m in _EXPIRY_AFTER_CARD.finditer(text)]


def swift_codes(text: str) -> Found:
    """A BIC right after "BIC", "SWIFT" or "SWIFT/BIC" ("BIC pens" is no bank: the code is in capitals)."""
    return [m.span(1) for m in _BIC.finditer(text)]
