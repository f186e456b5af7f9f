"""Validation of a submitted form response, and its conversion to a FeedbackEvent.

A refused response answers 422 with, per offending field, a short message a person can read (`fields`) and a
stable code for programs (`field_codes`); pydantic's own texts never reach the client.

Ratings: in a JSON body a rating is a JSON integer (`true`, `"5"`, `5.0` and `4.5` are refused). In an
urlencoded body every value is text, so a rating there is plain digits, surrounding spaces trimmed (`"5"`
yes; `"5.0"`, `"+5"`, `"five"` no).
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's string annotation when the
# class is defined, a cost every cold start pays (tests/test_cold_start_classes.py keeps them real objects).

import re
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StrictInt,
    UrlConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.forms.appearance import DEFAULT_LANGUAGE, strings_for
from chalicelib.forms.config import FormConfig
from chalicelib.http import ValidationFailed, accept_language_hint
from chalicelib.models import (
    LANGUAGE_HINTS,
    MAX_LANGUAGE_CHARS,
    Author,
    Channel,
    DeferredModel,
    FeedbackEvent,
    Kind,
    utc_now,
)

MAX_COMMENT_CHARS = 10_000
MAX_NAME_CHARS = 200
MAX_PAGE_URL_CHARS = 2048
RESPONSE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{8,100}$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"
# Bots fill every field; people never see this one (the widget and hosted page hide it).
HONEYPOT_FIELD = "_hp"
# Validation context: the form's (lowest, highest) rating, and whether the body was urlencoded text.
BOUNDS = "bounds"
FORM_ENCODED = "form_encoded"
# A whole number written in plain digits (a minus sign only to tell "out of range" from "not a number").
_DIGITS = re.compile(r"-?[0-9]+")
# More digits than this is out of every scale (and int() refuses over 4,300 digits).
_MAX_RATING_DIGITS = 6


def _stored_page_url(url: HttpUrl | None) -> str | None:
    """The page's address as stored, exported and sent to CRMs: without the user and password it may carry
    (https://alice:s3cret@…) and without its fragment (#access_token=… of a sign-in), which name no page."""
    if url is None:
        return None
    parts = urlsplit(str(url))
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))


def _normalized_url_fits(url: HttpUrl) -> HttpUrl:
    # Normalizing percent-encodes non-ASCII text, so the stored form can outgrow the input's bound.
    if len(str(url)) > MAX_PAGE_URL_CHARS:
        raise PydanticCustomError("url_too_long", "URL too long")
    return url


PageUrl = Annotated[
    HttpUrl, UrlConstraints(max_length=MAX_PAGE_URL_CHARS), AfterValidator(_normalized_url_fits)
]


class FormResponse(DeferredModel):
    """What a widget, hosted page or HTML form may send; unknown fields (submit buttons …) are ignored.

    Validate it with `validate_response`, which passes the context the rating rules need."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    rating: StrictInt | None = None
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    email: EmailStr | None = None
    name: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    # A client-generated id (widget retries, the hosted page's per-render id): the platform id of this
    # response, so a resend is stored once.
    response_id: str | None = Field(default=None, pattern=RESPONSE_ID_PATTERN)
    # As long as an item's language may be (a longer tag would be refused later, on the ack path, as a 500).
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, max_length=MAX_LANGUAGE_CHARS)
    # Stored as the permalink and exported to CRMs: a web page's address only (no javascript:, data: …).
    page_url: PageUrl | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        # An HTML form sends every field, empty ones as "": those mean "not given".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rating", mode="before")
    @classmethod
    def _rating_from_form_text(cls, value: Any, info: ValidationInfo) -> Any:
        form_text = (info.context or {}).get(FORM_ENCODED) and isinstance(value, str)
        if not form_text or not _DIGITS.fullmatch(value.strip()):
            return value  # JSON (or not digits): the strict integer check decides
        digits = value.strip()
        if len(digits.lstrip("-").lstrip("0")) > _MAX_RATING_DIGITS:
            raise PydanticCustomError("out_of_range", "out of range")
        return int(digits)

    @field_validator("rating")
    @classmethod
    def _rating_on_the_scale(cls, rating: int | None, info: ValidationInfo) -> int | None:
        bounds = (info.context or {}).get(BOUNDS)
        if rating is not None and bounds is not None and not bounds[0] <= rating <= bounds[1]:
            raise PydanticCustomError("out_of_range", "out of range")
        return rating


# --- messages for people, codes for programs ----------------------------------------------------------------

# What each field is called in a message.
_SUBJECTS = {
    "rating": "The rating",
    "comment": "Your comment",
    "email": "The email address",
    "name": "Your name",
    "response_id": "The response id",
    "language": "The language",
    "page_url": "The page address",
}
_MAX_CHARS = {"comment": MAX_COMMENT_CHARS, "name": MAX_NAME_CHARS, "page_url": MAX_PAGE_URL_CHARS}
# pydantic error type → our code, per field where the type alone is ambiguous.
_CODES_BY_FIELD = {
    ("email", "value_error"): "invalid_email",
    ("response_id", "string_pattern_mismatch"): "invalid_response_id",
    ("language", "string_pattern_mismatch"): "invalid_language",
    ("language", "string_too_long"): "invalid_language",
}
_CODES = {
    "out_of_range": "out_of_range",
    "int_type": "not_a_whole_number",
    "int_parsing": "not_a_whole_number",
    "int_from_float": "not_a_whole_number",
    "string_type": "not_text",
    "string_too_long": "too_long",
    "url_too_long": "too_long",
}


def _code(field: str, error_type: str) -> str:
    if (field, error_type) in _CODES_BY_FIELD:
        return _CODES_BY_FIELD[field, error_type]
    if error_type in _CODES:
        return _CODES[error_type]
    if field == "page_url" and error_type.startswith("url_"):
        return "invalid_url"
    return "invalid"


_MESSAGES = {
    ("page_url", "invalid_url"): "The page address must be a web address starting with http:// or https://.",
    ("language", "invalid_language"): "The language must be a language tag such as en or fr-FR.",
    ("response_id", "invalid_response_id"): (
        "The response id must be 8 to 100 characters: letters, digits, _ . : or -."
    ),
}
_GENERIC_MESSAGES = {
    "too_long": "{subject} can be at most {max_chars:,} characters.",
    "not_text": "{subject} must be text.",
}


# The messages a visitor of the widget or hosted page can meet, in the strings table (so in their language).
_TRANSLATED = {
    ("rating", "required"): "msg_rating_required",
    ("rating", "out_of_range"): "msg_rating_range",
    ("rating", "not_a_whole_number"): "msg_rating_whole",
    ("email", "required"): "msg_email_required",
    ("email", "invalid_email"): "msg_email_invalid",
    ("email", "not_text"): "msg_email_invalid",
}


def field_message(form: FormConfig, field: str, code: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The short message a person sees for `code` on `field` of `form`, in `language` where the strings
    table has it (the technical fields' messages are English)."""
    low, high = form.rating_scale.bounds
    key = _TRANSLATED.get((field, code))
    if key:
        # A form may override these texts: fill {low} and {high} by plain replacement (as the hosted page and
        # the widget do), so a brace a team wrote is shown as written, never parsed as a format field.
        return strings_for(form, language)[key].replace("{low}", str(low)).replace("{high}", str(high))
    template = _MESSAGES.get((field, code)) or _GENERIC_MESSAGES.get(code, "{subject} is not valid.")
    subject = _SUBJECTS.get(field, "This value")
    return template.format(low=low, high=high, subject=subject, max_chars=_MAX_CHARS.get(field, 0))


def _refused(form: FormConfig, codes: dict[str, str], language: str) -> ValidationFailed:
    messages = {field: field_message(form, field, code, language) for field, code in codes.items()}
    return ValidationFailed("The response has invalid fields.", messages, codes)


def is_honeypot_filled(body: dict[str, Any]) -> bool:
    """Whether the hidden honeypot field carries anything (a bot)."""
    value = body.get(HONEYPOT_FIELD)
    return bool(value and str(value).strip())


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def validate_response(
    form: FormConfig, body: dict[str, Any], *, form_encoded: bool = False, language: str = DEFAULT_LANGUAGE
) -> FormResponse:
    """Parse a body (urlencoded text when `form_encoded`) against the form's rules, or raise 422 naming every
    offending field (the messages in `language`)."""
    context = {BOUNDS: form.rating_scale.bounds, FORM_ENCODED: form_encoded}
    codes: dict[str, str] = {}
    response = None
    try:
        response = FormResponse.model_validate(body, context=context)
    except ValidationError as error:
        for issue in error.errors():
            field = ".".join(str(part) for part in issue["loc"]) or "body"
            codes.setdefault(field, _code(field, issue["type"]))
    if form.require_email and not _given(body.get("email")):
        codes["email"] = "required"
    if not _given(body.get("rating")) and not _given(body.get("comment")):
        codes["rating"] = "required"
    if codes or response is None:
        raise _refused(form, codes, language)
    return response


def to_event(form: FormConfig, response: FormResponse, browser_language: str | None = None) -> FeedbackEvent:
    """The normalized event for a valid response; its external id is the client's id when it sent one.

    Without a language in the response, the form's default language, else `browser_language` (the browser's
    Accept-Language), travels as the item's language hint.
    """
    now = utc_now()
    # Stored as every channel's items store it, the ISO 639-1 code ('fr-FR' → 'fr'; Traditional Chinese
    # 'zh-TW'), so `GET /feedback?language=fr` and the dashboard find it; a tag of no such code is left out.
    sent = response.language.replace("_", "-") if response.language else None
    language = accept_language_hint(sent, LANGUAGE_HINTS)
    hint = None if language else form.default_language or browser_language
    external_id = response.response_id or uuid.uuid4().hex
    page_url = _stored_page_url(response.page_url)
    # The comment answers the follow-up question of the rating's band when the form asks one: the words stay
    # the item's text (analysed, exported, sent to CRMs as the note); the question travels beside them.
    follow_up = form.follow_up_question(response.rating) if response.comment else None
    metadata: dict[str, str | None] = {
        "form_name": form.name,
        "page_url": page_url,
        "follow_up_question": follow_up,
    }
    return FeedbackEvent.create(
        source_id=form.form_id,
        external_id=external_id,
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text=response.comment or "",
        language=language,
        language_hint=hint,
        rating=response.rating,
        rating_scale=form.rating_scale if response.rating is not None else None,
        author=Author(email=str(response.email).lower() if response.email else None, name=response.name),
        occurred_at=now,
        received_at=now,
        permalink=page_url,
        metadata={key: value for key, value in metadata.items() if value is not None},
    )
