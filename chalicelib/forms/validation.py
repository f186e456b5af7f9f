"""Validation of a submitted form response, and its conversion to a FeedbackEvent."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from chalicelib.forms.config import FormConfig
from chalicelib.http import ValidationFailed
from chalicelib.models import Author, Channel, FeedbackEvent, Kind, utc_now

MAX_COMMENT_CHARS = 10_000
# Bots fill every field; people never see this one (the widget and hosted page hide it).
HONEYPOT_FIELD = "_hp"


class FormResponse(BaseModel):
    """What a widget, hosted page or HTML form may send; unknown fields (submit buttons …) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    rating: int | None = None
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    email: EmailStr | None = None
    name: str | None = Field(default=None, max_length=200)
    # A client-generated id (widget retries): the platform id of this response, so a resend is stored once.
    response_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{8,100}$")
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
    page_url: str | None = Field(default=None, max_length=2048)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        # An HTML form sends every field, empty ones as "": those mean "not given".
        return None if isinstance(value, str) and not value.strip() else value


def _field_errors(error: ValidationError) -> dict[str, str]:
    return {".".join(str(part) for part in issue["loc"]) or "body": issue["msg"] for issue in error.errors()}


def is_honeypot_filled(body: dict[str, Any]) -> bool:
    """Whether the hidden honeypot field carries anything (a bot)."""
    value = body.get(HONEYPOT_FIELD)
    return bool(value and str(value).strip())


def validate_response(form: FormConfig, body: dict[str, Any]) -> FormResponse:
    """Parse a body against the form's rules, or raise 422 listing every offending field."""
    try:
        response = FormResponse.model_validate(body)
    except ValidationError as error:
        raise ValidationFailed("The response has invalid fields.", _field_errors(error)) from error
    problems: dict[str, str] = {}
    low, high = form.rating_scale.bounds
    if response.rating is not None and not low <= response.rating <= high:
        problems["rating"] = f"must be between {low} and {high} on this form's {form.rating_scale} scale"
    if form.require_email and response.email is None:
        problems["email"] = "is required by this form"
    if response.rating is None and not response.comment:
        problems["rating"] = problems.get("rating", "a rating or a comment is required")
    if problems:
        raise ValidationFailed("The response has invalid fields.", problems)
    return response


def to_event(form: FormConfig, response: FormResponse) -> FeedbackEvent:
    """The normalized event for a valid response; its external id is the client's id when it sent one."""
    now = utc_now()
    external_id = response.response_id or uuid.uuid4().hex
    metadata: dict[str, str | None] = {"form_name": form.name, "page_url": response.page_url}
    return FeedbackEvent.create(
        source_id=form.form_id,
        external_id=external_id,
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text=response.comment or "",
        language=response.language,
        rating=response.rating,
        rating_scale=form.rating_scale if response.rating is not None else None,
        author=Author(email=str(response.email).lower() if response.email else None, name=response.name),
        occurred_at=now,
        received_at=now,
        permalink=response.page_url,
        metadata={key: value for key, value in metadata.items() if value is not None},
    )
