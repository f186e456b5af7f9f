"""`typeform`: Typeform webhooks, one form response per delivery.

What it stores, skips and why, and how it verifies: README.md#channel-typeform.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StrictFloat, StrictInt

from chalicelib.channels import signatures
from chalicelib.channels.base import BodySignedChannel, Delivery, WebhookRequest, feedback_event
from chalicelib.channels.payloads import Ignored, OptionalString, PlatformObject, one_of
from chalicelib.models import Author, Kind, RatingScale
from chalicelib.models import Channel as ChannelName

SECRET = "secret"  # noqa: S105 - the secret's name, not its value
SIGNATURE_HEADER = "Typeform-Signature"
PREFIX = "sha256="
TEXT_FIELD_TYPES = frozenset({"short_text", "long_text"})
DEFAULT_RATING_STEPS = 5  # Typeform's default for a rating field
# Recall information in titles ("Thanks, {{field:ab12}}!") is a template, not words the customer saw.
_RECALL = re.compile(r"\{\{[^}]*\}\}")
_ORPHAN_PUNCTUATION = re.compile(r"\s*,?\s*([,.!?;:])")


class FieldDefinition(PlatformObject):
    id: str
    ref: str | None = None
    type: str = ""
    title: str = ""
    properties: dict[str, Any] = Field(default_factory=dict)


class Definition(PlatformObject):
    id: str | None = None
    title: str | None = None
    fields: list[FieldDefinition] = Field(default_factory=list)


class AnswerField(PlatformObject):
    id: str
    type: str = ""
    ref: str | None = None


class Answer(PlatformObject):
    type: str
    field: AnswerField
    text: str | None = None
    email: str | None = None
    # A JSON number, as Typeform sends it: a boolean or a string is never a rating.
    number: StrictInt | StrictFloat | None = None


class HiddenFields(PlatformObject):
    """The hidden fields this channel reads (the form's admin names them; one that is no string is unused)."""

    email: OptionalString = None
    user_id: OptionalString = None
    name: OptionalString = None


class FormResponse(PlatformObject):
    """The documented `form_response` object (only what this channel reads)."""

    form_id: str = Field(min_length=1, max_length=200)
    token: str = Field(min_length=1, max_length=200)
    submitted_at: datetime
    definition: Definition = Field(default_factory=Definition)
    answers: list[Answer] = Field(default_factory=list)
    hidden: HiddenFields = Field(default_factory=HiddenFields)


class FormResponseDelivery(PlatformObject):
    """A delivery of `event_type: form_response`, the only one that is feedback."""

    event_id: OptionalString = None
    form_response: FormResponse


TypeformPayload = Annotated[
    FormResponseDelivery | Ignored,
    one_of(lambda payload: FormResponseDelivery if payload.get("event_type") == "form_response" else Ignored),
]


def _title(definition: FieldDefinition | None, answer: Answer) -> str:
    title = " ".join(_RECALL.sub("", definition.title if definition else "").split())
    # "Thanks, {{field:ab12}}! What's …" reads "Thanks! What's …" once the recalled answer is gone.
    title = _ORPHAN_PUNCTUATION.sub(r"\1", title).strip(" ,")
    return title or answer.field.ref or answer.field.id


def _field_type(definition: FieldDefinition | None, answer: Answer) -> str:
    return answer.field.type or (definition.type if definition else "")


def _opinion_scale(properties: dict[str, Any], value: int, setting: str | None) -> RatingScale | None:
    """The scale of an opinion_scale answer: from the field's steps when given, else the source setting."""
    steps = properties.get("steps")
    if isinstance(steps, int) and not isinstance(steps, bool):
        start = 1 if properties.get("start_at_one") else 0
        scale = {(0, 10): RatingScale.NPS, (1, 5): RatingScale.CSAT}.get((start, start + steps - 1))
    else:
        scale = RatingScale(setting) if setting in (RatingScale.NPS, RatingScale.CSAT) else None
    return scale if scale is not None and _within(scale, value) else None


def _within(scale: RatingScale, value: int) -> bool:
    low, high = scale.bounds
    return low <= value <= high


def _rating(
    answers: list[Answer], definitions: dict[str, FieldDefinition], opinion_setting: str | None
) -> tuple[int, RatingScale, dict[str, Any]] | None:
    """The first number answer that maps onto one of the product's scales, with metadata about it."""
    for answer in answers:
        number = answer.number
        if answer.type != "number" or number is None:
            continue
        if isinstance(number, float):
            # 7.0 is a whole number as JSON writes one; 7.5, inf and nan are none.
            if not math.isfinite(number) or not number.is_integer():
                continue
            number = int(number)
        value = number
        definition = definitions.get(answer.field.id)
        properties = definition.properties if definition else {}
        field_type = _field_type(definition, answer)
        if field_type == "nps" and _within(RatingScale.NPS, value):
            return value, RatingScale.NPS, {}
        if field_type == "rating":
            steps = properties.get("steps", DEFAULT_RATING_STEPS)
            if isinstance(steps, int) and steps <= 5 and 1 <= value <= steps:
                # A 3-step rating is kept as 1-3 stars; the steps go along so BI can rescale.
                return value, RatingScale.STARS, {"rating_steps": steps} if steps != 5 else {}
            continue
        if field_type == "opinion_scale":
            scale = _opinion_scale(properties, value, opinion_setting)
            if scale is not None:
                return value, scale, {}
    return None


def _names(definition: FieldDefinition | None, answer: Answer) -> set[str | None]:
    # Answers name their field by id; the readable ref is often only in the definition.
    return {answer.field.id, answer.field.ref, definition.ref if definition else None}


def _wanted_text_fields(setting: str | None) -> set[str] | None:
    names = {name.strip() for name in (setting or "").split(",") if name.strip()}
    return names or None


class TypeformChannel(BodySignedChannel):
    type = "typeform"
    signature_header = SIGNATURE_HEADER
    signature_prefix = PREFIX
    signing_secret = SECRET
    payload_model = TypeformPayload
    secret_names = (SECRET,)
    generated_secrets = (SECRET,)
    setting_help = {
        "opinion_scale": "nps or csat: how to read opinion_scale answers whose field definition in the "
        "webhook has no steps (0-10 → nps, 1-5 → csat). Unset: such answers keep no rating.",
        "text_fields": "Comma-separated field refs (or ids) whose answers make the feedback text. Unset: "
        "every short_text and long_text answer (including, say, a first-name question).",
    }
    setting_choices = {"opinion_scale": ("nps", "csat")}
    console_help = (
        "In Typeform, open the form → Connect → Webhooks → Add a webhook with the URL "
        "https://<api>/webhooks/<source_id>; edit it, paste this source's `secret` into Secret, and turn it "
        "On (dashboard webhooks start switched off). Or set `secret` when creating it with the Webhooks API."
    )

    def body_digest(self, secret: str, body: bytes) -> str:
        return signatures.b64_digest(secret, body)

    def normalize(self, request: WebhookRequest, payload: FormResponseDelivery | Ignored) -> Delivery:
        if isinstance(payload, Ignored):
            return Delivery.nothing("not_feedback_event")
        response = payload.form_response
        definitions = {field.id: field for field in response.definition.fields}
        wanted = _wanted_text_fields(request.setting("text_fields"))
        texts: list[tuple[str, str]] = []
        email: str | None = None
        for answer in response.answers:
            definition = definitions.get(answer.field.id)
            if answer.type == "email" and answer.email and email is None:
                email = answer.email.strip().lower()
            if answer.type != "text" or not (answer.text or "").strip():
                continue
            if _field_type(definition, answer) not in TEXT_FIELD_TYPES:
                continue  # dropdowns answer with type text too; they are choices, not words
            if wanted is not None and not wanted & _names(definition, answer):
                continue
            texts.append((_title(definition, answer), (answer.text or "").strip()))

        rating = _rating(response.answers, definitions, request.setting("opinion_scale"))
        if not texts and rating is None:
            return Delivery.nothing("no_text_or_rating")
        if len(texts) == 1:
            text = texts[0][1]
        else:
            text = "\n\n".join(f"{title}\n{answer}" for title, answer in texts)

        hidden = response.hidden
        author = Author(
            channel_user_id=hidden.user_id,
            name=hidden.name,
            email=email or (hidden.email.strip().lower() if hidden.email else None),
        )
        value, scale, rating_metadata = rating if rating is not None else (None, None, {})
        return Delivery(
            events=[
                feedback_event(
                    request,
                    channel=ChannelName.TYPEFORM,
                    kind=Kind.FORM_RESPONSE,
                    external_id=response.token,
                    text=text,
                    occurred_at=response.submitted_at,
                    author=author,
                    rating=value,
                    rating_scale=scale,
                    metadata={
                        "form_id": response.form_id,
                        "form_title": response.definition.title,
                        "event_id": payload.event_id,
                        **rating_metadata,
                    },
                )
            ]
        )
