"""Form configurations (cached in memory for the ack path; see config_records)."""

from __future__ import annotations

from chalicelib.forms.config import FormConfig, is_possible_form_id
from chalicelib.store.config_records import FORMS

_forms = FORMS


def get_cached(form_id: str) -> FormConfig | None:
    """The form's configuration from the in-memory cache (DynamoDB on a miss), or None if unknown.

    An id that cannot be a form's (wrong shape, or longer than any: DynamoDB refuses keys over 1,024 bytes)
    is unknown without an AWS call, so every route that takes a form id gets the check."""
    if not is_possible_form_id(form_id):
        return None
    fields = _forms.get_cached(form_id)
    return FormConfig.model_validate(fields) if fields else None


def list_all() -> list[FormConfig]:
    """Every configured form, read fresh (admin use)."""
    return [FormConfig.model_validate(fields) for fields in _forms.list_fresh().values()]


def save(form: FormConfig) -> None:
    """Create or replace a form configuration (texts left to the scale's wording are not stored)."""
    _forms.save(form.form_id, form.model_dump(mode="json", exclude_none=True))


def clear_cache() -> None:
    """Forget cached forms (tests, and the admin CLI after a change)."""
    _forms.clear_cache()
