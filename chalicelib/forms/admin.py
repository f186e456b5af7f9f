"""Changing form configurations, the same way through both doors (the `forms` CLI and `PUT`/`PATCH
/forms/{id}`): one validator (FormConfig, its appearance models included) whose refusals name each offending
option, JSON merge patches (RFC 7396), and changes that never lose a concurrent one.

A change with a version (If-Match) applies only to that version; a change without one reads the stored form,
applies itself and writes conditionally on what it read, reading again if another writer came first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from chalicelib.forms import records
from chalicelib.forms.config import FormConfig
from chalicelib.forms.records import StoredForm
from chalicelib.http import ValidationFailed
from chalicelib.store import dynamo
from chalicelib.store.config_records import VERSION, VersionConflict

# Seven languages of overrides for every string fit well within this; a DynamoDB item holds 400 KB.
MAX_CONFIG_BYTES = 200_000
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")

Edit = Callable[[dict[str, Any]], Mapping[str, Any]]


class ConfigRefused(ValidationFailed):
    """400: values the form configuration refuses; `fields` maps each option (its dotted path, such as
    `branding.accent_color`) to what is wrong with it. Nothing was stored."""

    def __init__(self, problems: dict[str, str]) -> None:
        named = "; ".join(f"{option}: {message}" for option, message in problems.items())
        super().__init__(f"The form configuration is not valid: {named}", problems)
        self.status = 400
        self.code = "invalid_config"


class UnknownForm(LookupError):
    """No form has this id."""


def problems_of(error: ValidationError) -> dict[str, str]:
    """option path → a readable message, for every issue pydantic found."""
    problems: dict[str, str] = {}
    for issue in error.errors():
        path = ".".join(str(part) for part in issue["loc"]) or "body"
        message = str(issue["msg"])
        for prefix in _PYDANTIC_PREFIXES:
            message = message.removeprefix(prefix)
        problems.setdefault(path, message)
    return problems


def validated(fields: Mapping[str, Any]) -> FormConfig:
    """The form `fields` describe, or ConfigRefused naming every offending option."""
    try:
        return FormConfig.model_validate(dict(fields))
    except ValidationError as error:
        raise ConfigRefused(problems_of(error)) from error


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` changed by the JSON merge patch `patch` (RFC 7396): objects merge key by key, null removes a
    key, anything else replaces (a list too). Written by hand: it is the RFC's ten-line algorithm."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def with_id(form_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` for the form at `form_id`: a body may repeat the id, never name another. The `version` a
    read answered is the record's, not an option: a body sent back as read is accepted."""
    named = fields.get("form_id", form_id)
    if named != form_id:
        raise ConfigRefused({"form_id": f"the body names form {str(named)[:64]!r}, the address {form_id!r}"})
    return {**{key: value for key, value in fields.items() if key != VERSION}, "form_id": form_id}


def change(form_id: str, edit: Edit, expected_version: int | None = None) -> StoredForm:
    """Apply `edit` (the stored form's fields → the fields it becomes) and store the result as the next
    version; UnknownForm if there is no such form. With `expected_version`, only if the stored form is still
    at it (else VersionConflict); without, a concurrent change makes it read again and apply itself again."""
    for attempt in range(records.MAX_ATTEMPTS):
        stored = records.get_fresh(form_id)
        if stored is None:
            raise UnknownForm(form_id)
        if expected_version is not None and stored.version != expected_version:
            raise VersionConflict(f"form {form_id} is at version {stored.version}, not {expected_version}")
        form = validated(with_id(form_id, edit(stored.form.model_dump(mode="json"))))
        try:
            return StoredForm(form, records.write(form, stored.version))
        except VersionConflict:
            if expected_version is not None or attempt == records.MAX_ATTEMPTS - 1:
                raise
            dynamo.backoff(attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def patched(patch: Mapping[str, Any]) -> Edit:
    """The edit a JSON merge patch makes."""
    return lambda current: merge_patch(current, dict(patch))
