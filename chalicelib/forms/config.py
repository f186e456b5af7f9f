"""A feedback form's configuration, as marketing teams set it up."""

# No `from __future__ import annotations`: pydantic would evaluate each field's string annotation when the
# class is defined, a cost every cold start pays (tests/test_cold_start_classes.py keeps them real objects).

import secrets
from typing import Annotated, NamedTuple, Self
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chalicelib.forms.appearance import (
    Branding,
    CsatStyle,
    DisplayRules,
    FollowUpQuestion,
    band_of,
    bands_of,
    checked_strings,
)
from chalicelib.forms.cached import FORM_ID_PATTERN
from chalicelib.models import DeferredModel, RatingScale, checked_language_hint

MAX_QUESTION_CHARS = 300
# The end labels sit under the scale's first and last option: short enough for a 320-px phone.
MAX_LABEL_CHARS = 40


class FormTexts(NamedTuple):
    """What a form shows: its question and the labels of its scale's two ends."""

    question: str
    low_label: str
    high_label: str


# Each scale's usual wording (the NPS question and ends are Bain's; CSAT's are Delighted's, stars' the common
# Poor … Excellent), used when a form does not set its own.
SCALE_TEXTS: dict[RatingScale, FormTexts] = {
    RatingScale.NPS: FormTexts(
        "How likely are you to recommend us to a friend or colleague?",
        "Not at all likely",
        "Extremely likely",
    ),
    RatingScale.CSAT: FormTexts(
        "How satisfied are you with your experience?", "Very dissatisfied", "Very satisfied"
    ),
    RatingScale.STARS: FormTexts("How would you rate your experience?", "Poor", "Excellent"),
}

Question = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS)
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL_CHARS)]


def new_form_id() -> str:
    """A short, URL-safe, unguessable form id."""
    return f"frm_{secrets.token_urlsafe(9)}"


class FormConfig(DeferredModel):
    """One configured form. `allowed_origins` empty means any origin may embed it. `question`, `low_label`
    and `high_label` are None when the form uses its scale's wording (see `texts`)."""

    # Built on first use, not at import: functions that never read a form (analyze, export) skip the cost.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    form_id: str = Field(pattern=FORM_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    rating_scale: RatingScale = RatingScale.NPS
    allowed_origins: list[str] = Field(default_factory=list)
    require_email: bool = False
    # Mask emails, phone and card numbers … in the comment before it is stored (the author's own email
    # stays in the identity record).
    redact_pii: bool = True
    question: Question | None = None
    low_label: Label | None = None
    high_label: Label | None = None
    # The language most responses are written in (ISO 639-1): the analyzer uses it where the text itself
    # is too short to tell, before the browser's Accept-Language, instead of paying Comprehend to detect it.
    default_language: str | None = None
    branding: Branding = Field(default_factory=Branding)
    # Per-language overrides of any string the widget and hosted page show: {"fr": {"send": "Envoyer"}}.
    strings: dict[str, dict[str, str]] = Field(default_factory=dict)
    # The open question asked once a score is chosen, per band (NPS: detractor/passive/promoter; CSAT and
    # stars: negative/neutral/positive); a band without one keeps the generic comment label.
    follow_up: dict[str, FollowUpQuestion] = Field(default_factory=dict)
    csat_style: CsatStyle = "numbers"
    display: DisplayRules = Field(default_factory=DisplayRules)

    @field_validator("allowed_origins")
    @classmethod
    def _normalize_origins(cls, origins: list[str]) -> list[str]:
        normalized = []
        for origin in origins:
            parts = urlsplit(origin.strip())
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
                raise ValueError(f"an origin is scheme://host[:port], got {origin!r}")
            normalized.append(f"{parts.scheme}://{parts.netloc}".lower())
        return normalized

    @field_validator("default_language")
    @classmethod
    def _iso_639_1(cls, value: str | None) -> str | None:
        return checked_language_hint(value)

    @field_validator("follow_up")
    @classmethod
    def _bands_of_the_scale(cls, follow_up: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        scale = info.data.get("rating_scale")
        if scale is None:
            return follow_up  # the scale itself is refused: that one error names the problem
        bands = bands_of(scale)
        for band in follow_up:
            if band not in bands:
                raise ValueError(f"a {scale.value} form's bands are {', '.join(bands)}, got {band[:40]!r}")
        return follow_up

    @field_validator("strings")
    @classmethod
    def _known_strings(cls, strings: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return checked_strings(strings)

    def follow_up_question(self, rating: int | None) -> str | None:
        """The follow-up question the form asks after `rating` (in its own words), if it sets one."""
        if rating is None:
            return None
        return self.follow_up.get(band_of(self.rating_scale, rating))

    @model_validator(mode="after")
    def _scale_wording_is_the_default(self) -> Self:
        # A text equal to some scale's default is that default, not a choice: forms stored before each scale
        # had its own wording carry the NPS question, and a form whose scale changes must not keep the old
        # scale's words.
        for position, field in enumerate(FormTexts._fields):
            defaults = {texts[position] for texts in SCALE_TEXTS.values()}
            if getattr(self, field) in defaults:
                setattr(self, field, None)
        return self

    @property
    def texts(self) -> FormTexts:
        """The question and end labels people see: the form's own, else its scale's."""
        default = SCALE_TEXTS[self.rating_scale]
        return FormTexts(
            self.question or default.question,
            self.low_label or default.low_label,
            self.high_label or default.high_label,
        )

    def allows_origin(self, origin: str | None) -> bool:
        """Whether a browser at `origin` may submit; requests without an Origin (server-side) are allowed."""
        if not self.allowed_origins or not origin:
            return True
        return origin.strip().rstrip("/").lower() in self.allowed_origins
