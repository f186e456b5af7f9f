"""Strict parsing of the read routes' query parameters (GET /feedback, GET /stats, the customer lookups).

Every value is checked before it reaches date arithmetic or DynamoDB, and a bad one is a 400 naming the
parameter, never echoing its value:
- whole numbers are ASCII digits of bounded length (`str.isdigit` accepts "²" and other Unicode digits
  that `int()` refuses, and `int()` refuses more than 4,300 digits);
- dates are `YYYY-MM-DD` in ASCII digits (`date.fromisoformat` also takes "20261120", ISO weeks such as
  "2026-W47-5" …) between EARLIEST_DAY and LATEST_DAY, so a range computed from them (a default `from` 30
  days before `to` …) can never leave `date`'s range;
- names come from a closed set; ids have their one shape (is_customer_id in chalicelib/store/identities.py,
  THEME_ID_PATTERN in chalicelib/themes/taxonomy.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from chalicelib.http import BadRequest
from chalicelib.themes.taxonomy import THEME_ID_PATTERN

EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")
_THEME_ID = re.compile(THEME_ID_PATTERN)


def present(value: str | None) -> str | None:
    """A query value with surrounding blanks trimmed; None when absent or blank."""
    if value is None or not value.strip():
        return None
    return value.strip()


def parse_day(name: str, value: str | None) -> date | None:
    """A `YYYY-MM-DD` day within [EARLIEST_DAY, LATEST_DAY], None when absent, else 400 invalid_date."""
    value = present(value)
    if value is None:
        return None
    day = None
    if _DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD.", code="invalid_date")
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise BadRequest(
            f"{name} must be a day from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}.",
            code="invalid_date",
        )
    return day


def parse_whole_number(name: str, value: str | None, low: int, high: int, code: str) -> int | None:
    """ASCII digits between `low` and `high` (leading zeros allowed), None when absent, else 400 `code`."""
    value = present(value)
    if value is None:
        return None
    if not _WHOLE_NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.", code=code)
    return int(value)


def parse_choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """One of `allowed` (exactly), None when absent, else 400 invalid_filter."""
    value = present(value)
    choices = list(allowed)
    if value is not None and value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}.", code="invalid_filter")
    return value


def parse_theme_id(name: str, value: str | None) -> str | None:
    """A theme id's shape (lower-case slug, at most 63 characters), None when absent, else 400 invalid_filter;
    whether such a theme exists is the taxonomy's answer."""
    value = present(value)
    if value is not None and not _THEME_ID.fullmatch(value):
        raise BadRequest(
            f"{name} must be a theme id (lower-case letters, digits, - and _; GET /themes lists them).",
            code="invalid_filter",
        )
    return value


_SOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LANGUAGE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")
_SCALES = {"nps": (0, 10), "csat": (1, 5), "stars": (1, 5)}
_NAMED_BANDS = {
    "nps:promoter": range(9, 11),
    "nps:passive": range(7, 9),
    "nps:detractor": range(0, 7),
    "csat:satisfied": range(4, 6),
    "csat:unsatisfied": range(1, 4),
}
MAX_SEARCH_CHARS = 100


def parse_source_id(name: str, value: str | None) -> str | None:
    """A source's or form's id (letters, digits, - and _; at most 64), None when absent, else 400."""
    value = present(value)
    if value is not None and not _SOURCE_ID.fullmatch(value):
        raise BadRequest(
            f"{name} must be a source or form id (letters, digits, - and _).", code="invalid_filter"
        )
    return value


def parse_language(name: str, value: str | None) -> str | None:
    """An ISO 639-1 code as items store it (en, pt, zh-TW …), None when absent, else 400 invalid_filter."""
    value = present(value)
    if value is not None and not _LANGUAGE.fullmatch(value):
        raise BadRequest(
            f"{name} must be an ISO 639-1 language code such as en or pt.", code="invalid_filter"
        )
    return value


def parse_rating_band(name: str, value: str | None) -> tuple[str, frozenset[int]] | None:
    """A rating band: `nps`, `csat` or `stars` (any rating on it), `<scale>:<rating>`, or a named band
    (`nps:promoter|passive|detractor`, `csat:satisfied|unsatisfied`); (scale, ratings), else 400."""
    value = present(value)
    if value is None:
        return None
    scale, _, band = value.partition(":")
    if scale in _SCALES:
        low, high = _SCALES[scale]
        if not band:
            return scale, frozenset(range(low, high + 1))
        if value in _NAMED_BANDS:
            return scale, frozenset(_NAMED_BANDS[value])
        if _WHOLE_NUMBER.fullmatch(band) and low <= int(band) <= high:
            return scale, frozenset({int(band)})
    raise BadRequest(
        f"{name} must be nps, csat or stars, a rating on it (csat:4), or a band (nps:promoter, nps:passive, "
        "nps:detractor, csat:satisfied, csat:unsatisfied).",
        code="invalid_filter",
    )


def parse_search(name: str, value: str | None) -> str | None:
    """Free text to find in the comments (at most MAX_SEARCH_CHARS), None when absent, else 400."""
    value = present(value)
    if value is not None and (len(value) > MAX_SEARCH_CHARS or not value.isprintable()):
        raise BadRequest(
            f"{name} must be printable text of at most {MAX_SEARCH_CHARS} characters.", code="invalid_filter"
        )
    return value
