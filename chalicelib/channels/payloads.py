"""The building blocks of the channels' payload models: how leniently each field of a platform's JSON is read.

Every channel declares the documented shape of its deliveries as pydantic models (`Channel.payload_model`);
`Channel.parse` validates the body into it once, and a body that does not fit answers 422
`payload_invalid` naming the fields (`invalid_payload`, the one place that wording is made). The types below
carry the rules the channels share, so a model reads as its channel's rules: an `Identifier` that is no id
is left out, a `Text` that is not a string is refused, an absent `Object` reads as an empty one. Models of
platform objects accept fields they do not name, since platforms add fields all the time.

Some rules hold only on some paths (the text of the business's own echo is never read, so a malformed one
is no error): such a field is `Deferred`, checked with the rest but refused only where `valid()` reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from chalicelib.channels.exceptions import PayloadInvalid

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
# The error names at most this many fields; a batch of broken items would otherwise make a long answer.
MAX_NAMED_FIELDS = 10
# The type of the errors `refused` makes: the only ones whose message the 422 repeats (pydantic's own
# messages, and those of a ValueError, may quote the offending value).
RULE_ERROR = "payload_rule"
# Why pydantic refused a field, for its errors whose wording comes from the model alone (a type, a limit,
# the choices), filled from the error's context, never from the value sent: the 422 says what is accepted.
_REASONS = {
    "missing": "missing",
    "string_type": "a string",
    "int_type": "a JSON integer",
    "int_parsing": "a JSON integer",
    "int_from_float": "a JSON integer",
    "bool_type": "true or false",
    "model_type": "an object",
    "dict_type": "an object",
    "list_type": "a list",
    "string_too_long": "at most {max_length} characters",
    "string_too_short": "at least {min_length} characters",
    "too_long": "a list of at most {max_length}",
    "too_short": "a list of at least {min_length}",
    "enum": "one of {expected}",
    "literal_error": "{expected}",
    "greater_than_equal": "at least {ge}",
    "less_than_equal": "at most {le}",
    "datetime_type": "an ISO 8601 date-time",
    "datetime_parsing": "an ISO 8601 date-time",
    "datetime_from_date_parsing": "an ISO 8601 date-time",
}


class PlatformObject(BaseModel):
    """A JSON object of the platform's: the fields a channel reads; the others are accepted and not kept."""

    # Built when first validated, not at import: a Lambda serving one channel builds only that one's models.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class Ignored(PlatformObject):
    """A delivery or item a channel acknowledges without reading it (any JSON object)."""


def _identifier(value: Any) -> str | None:
    # Graph and X ids are numeric strings, but some payloads send them as JSON numbers.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _none_is_empty_text(value: Any) -> Any:
    return "" if value is None else value


def _none_is_empty_object(value: Any) -> Any:
    return {} if value is None else value


def _none_is_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _empty_object_is_none(value: Any) -> Any:
    return None if value == {} else value


def _object_or_none(value: Any) -> Any:
    return value if isinstance(value, dict) else None


def _platform_email(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    from pydantic.networks import validate_email  # and email_validator: on the first address, not at INIT

    try:
        return validate_email(value.strip())[1]
    except PydanticCustomError:
        return None


# An id as a string (a JSON number is read as its digits); None when the value is no id (absent, empty,
# a boolean, an object …): ids only link things, so one of another type is left out rather than refused.
Identifier = Annotated[str | None, BeforeValidator(_identifier)]
# An id that must be there: refused when absent or no id.
RequiredIdentifier = Annotated[str, BeforeValidator(_identifier)]
# The e-mail address a platform gives for a person, checked as forms and the webhook channel check theirs
# (pydantic's validate_email; 'Dana <dana@example.com>' keeps the address); anything else (a Zendesk
# placeholder sent unrendered by the console's test, a phone number) is left out, not refused: the profile is
# keyed on it and CRMs refuse a malformed one, but the platform's retries would never change it, and the
# person's words are still feedback (linked by the platform's id alone).
PlatformEmail = Annotated[str | None, BeforeValidator(_platform_email)]
# A name or handle: a non-empty string, else left out (it only shows who wrote).
Name = Annotated[str | None, BeforeValidator(_name)]
# A string, else None (a value compared or looked up, never refused).
OptionalString = Annotated[str | None, BeforeValidator(_string)]
# Text ("" when absent or null); refused when it is not a string.
Text = Annotated[str, BeforeValidator(_none_is_empty_text)]
# A JSON object read as model `M` (all defaults when absent or null); refused when it is anything else.
Object = Annotated[M, BeforeValidator(_none_is_empty_object)]
# A list of JSON objects read as `M` ([] when absent or null); refused when it is anything else.
Objects = Annotated[list[M], BeforeValidator(_none_is_empty_list)]
# A JSON object read as `M`, None when absent, null or empty ({} says nothing); refused when no object.
NonEmptyObject = Annotated[M | None, BeforeValidator(_empty_object_is_none)]
# A JSON object read as `M`; anything else is None, as if absent (never refused).
LaxObject = Annotated[M | None, BeforeValidator(_object_or_none)]


def refused(reason: str) -> PydanticCustomError:
    """The error a model's own rule raises; `reason` (no value of the payload in it) goes into the 422."""
    return PydanticCustomError(RULE_ERROR, reason)


def one_of(choose: Callable[[Any], Any]) -> PlainValidator:
    """Validate a value as the type `choose(value)` returns: for a delivery or item that comes in several
    documented shapes, told apart by the platform's own tag (a type, a topic, a field name).

    Unlike a pydantic discriminated union, the path of an error has no tag in it: it is the JSON path.
    """
    adapters: dict[Any, TypeAdapter[Any]] = {}

    def validate(value: Any) -> Any:
        kind = choose(value)
        if kind not in adapters:
            adapters[kind] = TypeAdapter(kind)
        return adapters[kind].validate_python(value)

    return PlainValidator(validate)


class Invalid:
    """A `Deferred` field's value that did not have its documented shape (or was absent when required)."""

    __slots__ = ("fields",)

    def __init__(self, fields: str) -> None:
        self.fields = fields

    def __repr__(self) -> str:
        return f"Invalid({self.fields})"


def absent(field: str) -> Invalid:
    """The default of a `Deferred` field that must be present wherever it is read."""
    return Invalid(f"{field} (missing)")


def _hold_invalid(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    try:
        return handler(value)
    except ValidationError as error:
        return Invalid(_field_list(error.errors(include_url=False, include_input=False), (info.field_name,)))


# A field validated with the rest, whose failure is kept (an `Invalid`) and refused only where `valid()`
# reads it: today's rules check it only on some paths.
Deferred = Annotated[T, WrapValidator(_hold_invalid)]


def valid(value: T | Invalid) -> T:
    """A `Deferred` field's value, read on a path where its shape matters: 422 when it did not have it."""
    if isinstance(value, Invalid):
        raise PayloadInvalid(f"Invalid payload fields: {value.fields}.")
    return value


def _path(location: Sequence[int | str]) -> str:
    # data[1].rating: keys joined with dots, list indexes in brackets.
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "$"


def _field_list(errors: Sequence[Any], prefix: Sequence[int | str | None] = ()) -> str:
    named: list[str] = []
    for error in errors:
        path = _path([part for part in (*prefix, *error["loc"]) if part is not None])
        reason = error["msg"] if error["type"] == RULE_ERROR else _reason(error)
        if reason:
            path = f"{path} ({reason})"
        if path not in named:
            named.append(path)
    more = len(named) - MAX_NAMED_FIELDS
    return ", ".join(named[:MAX_NAMED_FIELDS]) + (f" and {more} more" if more > 0 else "")


def _reason(error: Any) -> str | None:
    try:
        return _REASONS[error["type"]].format(**error.get("ctx", {}))
    except (KeyError, IndexError):
        return None


def invalid_payload(error: ValidationError, subject: str = "payload") -> PayloadInvalid:
    """The 422 for a body that does not fit its channel's payload model, naming the fields (not their values:
    the answer goes back to the sender, and a value may be a customer's words)."""
    return PayloadInvalid(
        f"Invalid {subject} fields: {_field_list(error.errors(include_url=False, include_input=False))}."
    )
