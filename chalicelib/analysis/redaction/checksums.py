"""Check digits that tell a real payment card or IBAN from a number of the same shape."""

from __future__ import annotations


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number (and a Canadian SIN) passes."""
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
