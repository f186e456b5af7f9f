"""National identity and tax numbers, passports and driving licences, and dates of birth, by pattern.

Each finder takes a text and answers the (start, end) of what it finds. Where a number has a check digit it
is verified (Spanish DNI/NIE letter, Italian codice fiscale, French NIR key, Canadian SIN Luhn, Dutch BSN
11-proof, Portuguese NIF mod 11, German Steuer-ID ISO 7064, Polish PESEL weights), so an order or tracking
number of the same shape is left alone; numbers without a distinctive shape (a SIN, a BSN, a Steuer-ID, a
PESEL, a passport) are taken only right after the words that name them.
"""

from __future__ import annotations

import re

from chalicelib.analysis.lazy_pattern import LazyPattern
from chalicelib.analysis.redaction.checksums import luhn_valid

Found = list[tuple[int, int]]

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_DNI = LazyPattern(r"(?<![\w-])([0-9]{8})[ -]?([A-Za-z])(?!\w)")
_NIE = LazyPattern(r"(?<![\w-])([XYZxyz])[ -]?([0-9]{7})[ -]?([A-Za-z])(?!\w)")
# Codice fiscale: surname and name letters, birth year, month letter, day, municipality, check letter
# (digits may be replaced by the letters LMNPQRSTUV when two people would share a code).
_CODICE_FISCALE = LazyPattern(
    r"(?<!\w)[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{3}[A-Za-z](?!\w)"
)
_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            2,
            4,
            18,
            20,
            11,
            3,
            6,
            8,
            12,
            14,
            16,
            10,
            22,
            25,
            24,
            23,
        ],
        strict=True,
    )
)
# French NIR (numéro de sécurité sociale): sex, year, month, department (2A/2B in Corsica), town, order, key.
_NIR = LazyPattern(
    r"(?<![\w])([12]) ?([0-9]{2}) ?([0-9]{2}) ?([0-9]{2}|2[ABab]) ?([0-9]{3}) ?([0-9]{3}) ?([0-9]{2})(?!\w)"
)
# UK National Insurance number: two letters from the allowed prefixes, six digits, suffix A-D.
_NINO = LazyPattern(
    r"(?<![\w])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D](?!\w)"
)
# US ITIN: nine digits beginning with 9, the middle pair one the IRS issues (50-65, 70-88, 90-92, 94-99).
_ITIN = LazyPattern(r"(?<![\w-])9[0-9]{2}([- ])(?:5[0-9]|6[0-5]|7[0-9]|8[0-8]|9[0-24-9])\1[0-9]{4}(?![\w-])")
_NINE_DIGITS = LazyPattern(r"(?<![\w-])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}(?![\w-])")
_SIN_WORDS = LazyPattern(
    r"(?:\b(?:SIN|S\.I\.N\.|NAS)|\b(?i:social insurance(?: number)?|num[ée]ro d'assurance sociale))"
    r"\W{0,10}(?:(?i:is|est|:)\W{0,3})?$"
)
_BSN_NIF_WORDS = LazyPattern(
    r"\b(?:BSN|NIF|(?i:burgerservicenummer|sofinummer|contribuinte|n[úu]mero de contribuinte))"
    r"\W{0,10}(?:(?i:is|é|:)\W{0,3})?$"
)
# German Steuer-ID (11 digits, written whole or 2-3-3-3) and Polish PESEL (11 digits), after their names.
_ELEVEN_DIGITS = LazyPattern(r"(?<![\w-])[0-9]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{3}(?![\w-])")
_STEUER_ID_WORDS = LazyPattern(
    r"\b(?i:steuer-?id(?:entifikationsnummer)?|steuerliche identifikationsnummer|identifikationsnummer|"
    r"idnr\.?|tax id)\W{0,10}(?:(?i:ist|lautet|is|:)\W{0,3})?$"
)
_PESEL_WORDS = LazyPattern(r"\bPESEL(?i:\s*(?:number|no\.?|nr\.?|numer))?\W{0,10}(?:(?i:is|to|:)\W{0,3})?$")
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
# A passport or driving licence number: letters and digits (at least one digit), right after its name.
_DOCUMENT_NUMBER = LazyPattern(
    r"(?<![\w-])(?=[A-Za-z]{0,4}[0-9])[A-Za-z0-9]{1,4}(?:[ -]?[A-Za-z0-9]{2,8}){1,3}(?!\w)"
)
_PASSPORT_WORDS = LazyPattern(
    r"(?i:\b(?:passport|pasaporte|passeport|reisepass|pass|passaporto|passaporte|paspoort))"
    r"(?i:\s*(?:number|no\.?|nr\.?|num\.?|n[º°o]\.?|número|numéro|nummer|numero|#))?\s*(?i:is|es|est|ist|è|é)?\s*:?\s*$"
)
_DRIVER_WORDS = LazyPattern(
    r"(?i:\b(?:driver'?s licen[cs]e|driving licen[cs]e|licen[cs]e|permiso de conducir|carn[eé]t? de conducir|"
    r"permis de conduire|f[üu]hrerschein|patente(?: di guida)?|carta de condu[çc][ãa]o|rijbewijs))"
    r"(?i:\s*(?:number|no\.?|nr\.?|num\.?|n[º°o]\.?|número|numéro|nummer|numero|#))?\s*(?i:is|es|est|ist|è|é)?\s*:?\s*$"
)

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre|"
    "januar|februar|märz|maerz|juni|juli|oktober|dezember|"
    "gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    "janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro|"
    "januari|februari|maart|mei|augustus"
)
_DATE = (
    r"(?:[0-9]{1,2}[./-][0-9]{1,2}[./-](?:19|20)?[0-9]{2}(?![0-9])"
    r"|(?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}(?![0-9])"
    rf"|[0-9]{{1,2}}(?:st|nd|rd|th|er|º)?\.?\s(?:de\s)?(?i:{_MONTHS})\.?,?\s(?:de\s)?(?:19|20)[0-9]{{2}}(?![0-9])"
    rf"|(?i:{_MONTHS})\.?\s[0-9]{{1,2}}(?:st|nd|rd|th)?,?\s(?:19|20)[0-9]{{2}}(?![0-9]))"
)
_DATE_OF_BIRTH = LazyPattern(
    r"(?i:\b(?:date of birth|birth ?date|d\.o\.b\.?|dob|born(?: on)?|birthday(?: is)?|fecha de nacimiento|"
    r"f\. ?nac\.?|nacid[oa] el|nac[ií] el|nasci (?:em|a)|date de naissance|n[ée]e? le|geburtsdatum|"
    r"geboren am|geb\.|data di nascita|"
    r"nat[oa] il|data de nascimento|nascid[oa] em|geboortedatum|geboren op))"
    r"[\s:,-]{0,4}(?i:(?:is|es|est|ist|è|é|on|el|le|am|il|em|op)\s+)?(?i:(?:der|den|el|le|il|o)\s+)?"
    rf"({_DATE})"
)


def dni_valid(number: str, letter: str) -> bool:
    """Spanish DNI: the letter is the number mod 23 looked up in the official table."""
    return _DNI_LETTERS[int(number) % 23] == letter.upper()


def codice_fiscale_valid(code: str) -> bool:
    """Italian codice fiscale: the last letter is the check character of the first fifteen."""
    code = code.upper()
    total = 0
    for position, char in enumerate(code[:15]):
        if position % 2 == 0:  # odd positions, counted from 1
            total += _CF_ODD[char]
        else:
            total += int(char) if char.isdigit() else ord(char) - ord("A")
    return chr(ord("A") + total % 26) == code[15]


def nir_valid(match: re.Match[str]) -> bool:
    """French NIR: the key is 97 minus the 13-digit number mod 97 (Corsica's 2A/2B read as 19/18)."""
    department = match.group(4).upper().replace("2A", "19").replace("2B", "18")
    number = int(
        match.group(1) + match.group(2) + match.group(3) + department + match.group(5) + match.group(6)
    )
    return 97 - number % 97 == int(match.group(7))


def bsn_valid(digits: str) -> bool:
    """Dutch BSN: the 11-proof (weights 9..2, and -1 for the last digit)."""
    values = [int(char) for char in digits]
    return (sum(v * w for v, w in zip(values[:8], range(9, 1, -1), strict=True)) - values[8]) % 11 == 0


def pt_nif_valid(digits: str) -> bool:
    """Portuguese NIF: mod 11 check digit (10 counts as 0)."""
    values = [int(char) for char in digits]
    remainder = sum(v * w for v, w in zip(values[:8], range(9, 1, -1), strict=True)) % 11
    return values[8] == (0 if remainder < 2 else 11 - remainder)


def steuer_id_valid(digits: str) -> bool:
    """German Steuer-ID: no leading 0, one digit of the first ten there two or three times and every other at
    most once, and an ISO 7064 MOD 11,10 check digit."""
    if digits[0] == "0":
        return False
    counts = sorted((digits[:10].count(d) for d in set(digits[:10])), reverse=True)
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] > 1):
        return False
    product = 10
    for char in digits[:10]:
        total = (int(char) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10 == int(digits[10])


def pesel_valid(digits: str) -> bool:
    """Polish PESEL: the last digit completes the weighted sum (1 3 7 9 …) to a multiple of ten."""
    total = sum(int(char) * weight for char, weight in zip(digits, _PESEL_WEIGHTS, strict=False))
    return (10 - total % 10) % 10 == int(digits[10])


def national_ids(text: str) -> Found:
    """Spanish DNI/NIE, Italian codice fiscale, French NIR (checked); Dutch BSN, Portuguese NIF, German
    Steuer-ID and Polish PESEL (checked, and only after their name)."""
    found = [m.span() for m in _DNI.finditer(text) if dni_valid(m.group(1), m.group(2))]
    for m in _NIE.finditer(text):
        if dni_valid(str("XYZ".index(m.group(1).upper())) + m.group(2), m.group(3)):
            found.append(m.span())
    found += [m.span() for m in _CODICE_FISCALE.finditer(text) if codice_fiscale_valid(m.group(0))]
    found += [m.span() for m in _NIR.finditer(text) if nir_valid(m)]
    for m in _NINE_DIGITS.finditer(text):
        digits = re.sub(r"[^0-9]", "", m.group(0))
        if _BSN_NIF_WORDS.search(text[max(0, m.start() - 40) : m.start()]) and (
            bsn_valid(digits) or pt_nif_valid(digits)
        ):
            found.append(m.span())
    for m in _ELEVEN_DIGITS.finditer(text):
        digits, before = re.sub(r"[^0-9]", "", m.group(0)), text[max(0, m.start() - 40) : m.start()]
        if (_STEUER_ID_WORDS.search(before) and steuer_id_valid(digits)) or (
            _PESEL_WORDS.search(before) and pesel_valid(digits)
        ):
            found.append(m.span())
    return found


def uk_national_insurance_numbers(text: str) -> Found:
    return [m.span() for m in _NINO.finditer(text)]


def us_itins(text: str) -> Found:
    return [m.span() for m in _ITIN.finditer(text)]


def ca_social_insurance_numbers(text: str) -> Found:
    """Nine Luhn-valid digits right after "SIN"/"social insurance number"/"NAS"."""
    return [
        m.span()
        for m in _NINE_DIGITS.finditer(text)
        if _SIN_WORDS.search(text[max(0, m.start() - 40) : m.start()])
        and luhn_valid(re.sub(r"[^0-9]", "", m.group(0)))
    ]


def _named_numbers(text: str, words: LazyPattern) -> Found:
    return [
        m.span()
        for m in _DOCUMENT_NUMBER.finditer(text)
        if words.search(text[max(0, m.start() - 40) : m.start()])
    ]


def passport_numbers(text: str) -> Found:
    return _named_numbers(text, _PASSPORT_WORDS)


def driver_ids(text: str) -> Found:
    return _named_numbers(text, _DRIVER_WORDS)


def dates_of_birth(text: str) -> Found:
    """A date right after the words that make it a date of birth ("DOB", "born on", "fecha de nacimiento" …);
    the words stay readable, the date is masked."""
    return [m.span(1) for m in _DATE_OF_BIRTH.finditer(text)]
