"""How a form looks and when it shows itself: branding, translated strings and their per-form overrides, the
follow-up question per score band, the CSAT style and the widget's display rules.

The built-in strings of the widget and the hosted page live in one data file, `chalicelib/web/strings.json`
(one table per language); a form may override any of them per language (`strings`).
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's string annotation when the
# class is defined, a cost every cold start pays (tests/test_cold_start_classes.py keeps them real objects).

import functools
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, UrlConstraints, field_validator

from chalicelib.models import RatingScale

STRINGS_FILE = Path(__file__).resolve().parents[1] / "web" / "strings.json"
DEFAULT_LANGUAGE = "en"
HEX_COLOR_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
MAX_INTRO_CHARS = 500
MAX_NOTE_CHARS = 200
MAX_STRING_CHARS = 300
MAX_URL_PATTERNS = 20
MAX_PATTERN_CHARS = 200
MAX_DELAY_SECONDS = 3600
MAX_SNOOZE_DAYS = 365
# Form-specific texts a team can also override per language, beside the built-in strings.
FORM_TEXT_KEYS = ("question", "low_label", "high_label", "intro", "privacy_note", "button_label")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ButtonLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Intro = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_INTRO_CHARS)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE_CHARS)]
FollowUpQuestion = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_STRING_CHARS)
]
# A link the team sets for people to follow: https only (the hosted page's CSP and mixed content want it).
HttpsUrl = Annotated[HttpUrl, UrlConstraints(allowed_schemes=["https"], max_length=2048)]


@functools.cache
def builtin_strings() -> dict[str, dict[str, str]]:
    """The shipped translations: {language: {key: text}}, read once."""
    return json.loads(STRINGS_FILE.read_text(encoding="utf-8"))


def string_keys() -> tuple[str, ...]:
    """Every key a form may override: the built-in strings and the form's own texts."""
    return (*builtin_strings()[DEFAULT_LANGUAGE], *FORM_TEXT_KEYS, *(f"follow_up_{b}" for b in ALL_BANDS))


class Position(StrEnum):
    """Where the widget shows itself on a host page without a placeholder."""

    BOTTOM_RIGHT = "bottom-right"
    BOTTOM_LEFT = "bottom-left"
    INLINE = "inline"  # in the page's flow, where the script tag is


class Branding(BaseModel):
    """A brand's choices. Colours are CSS hex colours; links are https."""

    # Built on first use, not at import: functions that never read a form (analyze, export) skip the cost.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    accent_color: str | None = Field(default=None, pattern=HEX_COLOR_PATTERN)
    button_label: ButtonLabel | None = None
    position: Position = Position.BOTTOM_RIGHT
    logo_url: HttpsUrl | None = None
    intro: Intro | None = None
    privacy_note: Note | None = None
    privacy_url: HttpsUrl | None = None

    @field_validator("accent_color")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @property
    def on_accent(self) -> str | None:
        """The text colour readable on the accent (WCAG relative luminance), None without an accent."""
        return readable_on(self.accent_color) if self.accent_color else None


def readable_on(color: str) -> str:
    """White or near-black, whichever contrasts more with the hex colour `color`."""
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white (1.05 / (L + .05)) against contrast with #0b1220 (L ≈ .006).
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.056 else "#0b1220"


# --- follow-up questions ------------------------------------------------------------------------------------

NPS_BANDS = ("detractor", "passive", "promoter")
BAND_NAMES = ("negative", "neutral", "positive")  # CSAT and stars: 1-2, 3, 4-5
ALL_BANDS = (*NPS_BANDS, *BAND_NAMES)


def band_of(scale: RatingScale, rating: int) -> str:
    """The score band a rating falls in: NPS 0-6/7-8/9-10, CSAT and stars 1-2/3/4-5."""
    if scale is RatingScale.NPS:
        return "detractor" if rating <= 6 else "passive" if rating <= 8 else "promoter"
    return "negative" if rating <= 2 else "neutral" if rating == 3 else "positive"


def bands_of(scale: RatingScale) -> tuple[str, ...]:
    """The bands a scale's follow-up questions may name."""
    return NPS_BANDS if scale is RatingScale.NPS else BAND_NAMES


# --- display rules ------------------------------------------------------------------------------------------


def _checked_pattern(pattern: str) -> str:
    pattern = pattern.strip()
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a URL pattern is 1 to {MAX_PATTERN_CHARS} characters")
    if any(ch.isspace() for ch in pattern):
        raise ValueError(f"a URL pattern has no spaces, got {pattern[:40]!r}")
    return pattern


UrlPattern = Annotated[str, Field(max_length=MAX_PATTERN_CHARS)]


class DisplayRules(BaseModel):
    """When the widget shows itself on a host page (the hosted page and inline placeholders ignore the
    timing rules: someone opened them on purpose). Patterns are globs matched against the page's address
    without its query (`*` any characters), e.g. `https://shop.example.com/checkout/*`."""

    # Built on first use, not at import: functions that never read a form (analyze, export) skip the cost.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    delay_seconds: int = Field(default=0, ge=0, le=MAX_DELAY_SECONDS)
    scroll_percent: int = Field(default=0, ge=0, le=100)
    exit_intent: bool = False
    include_urls: list[UrlPattern] = Field(default_factory=list, max_length=MAX_URL_PATTERNS)
    exclude_urls: list[UrlPattern] = Field(default_factory=list, max_length=MAX_URL_PATTERNS)
    sample_percent: float = Field(default=100, ge=0, le=100)
    snooze_days: int = Field(default=0, ge=0, le=MAX_SNOOZE_DAYS)

    @field_validator("include_urls", "exclude_urls")
    @classmethod
    def _globs(cls, patterns: list[str]) -> list[str]:
        return [_checked_pattern(pattern) for pattern in patterns]

    @field_validator("sample_percent")
    @classmethod
    def _two_decimals(cls, value: float) -> float:
        return round(value, 2)


CsatStyle = Literal["numbers", "faces"]
LANGUAGE_KEY = re.compile(r"^[a-z]{2}$")


def checked_strings(overrides: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Per-language overrides as stored: ISO 639-1 keys, known string keys, texts 1-300 characters."""
    known = set(string_keys())
    checked: dict[str, dict[str, str]] = {}
    for language, texts in overrides.items():
        code = language.strip().lower()
        if not LANGUAGE_KEY.fullmatch(code):
            raise ValueError(f"a language is an ISO 639-1 code such as fr, got {language[:20]!r}")
        if not isinstance(texts, dict):
            raise ValueError(f"{code} is an object of key: text")
        for key, text in texts.items():
            if key not in known:
                raise ValueError(f"{code}: unknown key {key[:40]!r} (known: {', '.join(sorted(known))})")
            if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_STRING_CHARS:
                raise ValueError(f"{code}.{key} is text of 1 to {MAX_STRING_CHARS} characters")
        checked[code] = {key: text.strip() for key, text in texts.items()}
    return checked


def public_appearance(form: Any) -> dict[str, Any]:
    """The branding, strings, follow-up questions, CSAT style and display rules a browser may know."""
    branding = form.branding.model_dump(mode="json", exclude_none=True)
    if form.branding.accent_color:
        branding["on_accent"] = form.branding.on_accent
    return {
        "branding": branding,
        "strings": form.strings,
        "follow_up": form.follow_up,
        "csat_style": form.csat_style,
        "display": form.display.model_dump(mode="json"),
    }


# Languages written right to left (as widget.js has them): a form shown in one is laid out that way.
RIGHT_TO_LEFT_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})


def languages_of(form: Any) -> tuple[str, ...]:
    """The languages a form can be shown in: the shipped ones and those it has overrides for."""
    return tuple(dict.fromkeys([*builtin_strings(), *form.strings]))


def strings_for(form: Any, language: str) -> dict[str, str]:
    """Every text of the form in `language`: the shipped strings (English where a language lacks one),
    the form's own texts (else its scale's wording in that language), then the form's overrides."""
    shipped = builtin_strings()
    texts = {**shipped[DEFAULT_LANGUAGE], **shipped.get(language, {})}
    scale = form.rating_scale.value
    own = {
        "question": form.question or texts[f"{scale}_question"],
        "low_label": form.low_label or texts[f"{scale}_low"],
        "high_label": form.high_label or texts[f"{scale}_high"],
        "button_label": form.branding.button_label or texts["feedback"],
        **{
            key: getattr(form.branding, key)
            for key in ("intro", "privacy_note")
            if getattr(form.branding, key)
        },
        **{f"follow_up_{band}": question for band, question in form.follow_up.items()},
    }
    return {**texts, **own, **form.strings.get(language, {})}
