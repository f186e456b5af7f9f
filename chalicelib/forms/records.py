"""Form configurations: cached in memory for the ack path (see config_records), and versioned: every write is
one conditional put claiming the next version, so two writers that read the same version never both win."""

from __future__ import annotations

from typing import Any, NamedTuple

from chalicelib.forms.cached import is_possible_form_id
from chalicelib.forms.config import FormConfig
from chalicelib.store import dynamo
from chalicelib.store.config_records import FORMS, VERSION, VersionConflict, version_of

_forms = FORMS
MAX_ATTEMPTS = 5


class StoredForm(NamedTuple):
    """A form as stored now, with the version a conditional change names."""

    form: FormConfig
    version: int


def _config(fields: dict[str, Any]) -> FormConfig:
    # The version is the record's, not the form's: FormConfig forbids unknown fields.
    return FormConfig.model_validate({key: value for key, value in fields.items() if key != VERSION})


def get_cached(form_id: str) -> FormConfig | None:
    """The form's configuration from the in-memory cache (DynamoDB on a miss), or None if unknown.

    An id that cannot be a form's (wrong shape, or longer than any: DynamoDB refuses keys over 1,024 bytes)
    is unknown without an AWS call, so every route that takes a form id gets the check."""
    if not is_possible_form_id(form_id):
        return None
    fields = _forms.get_cached(form_id)
    return _config(fields) if fields else None


def get_fresh(form_id: str) -> StoredForm | None:
    """The form as stored now (a strongly consistent read) and its version, or None if unknown."""
    if not is_possible_form_id(form_id):
        return None
    fields = _forms.get_fresh(form_id)
    return StoredForm(_config(fields), version_of(fields)) if fields else None


def list_all() -> list[FormConfig]:
    """Every configured form, read fresh (admin use)."""
    return [_config(fields) for fields in _forms.list_fresh().values()]


def _fields(form: FormConfig) -> dict[str, Any]:
    # Texts left to the scale's wording are not stored.
    return form.model_dump(mode="json", exclude_none=True)


def write(form: FormConfig, expected_version: int) -> int:
    """Store `form` if the stored one is still at `expected_version` (0: none stored); returns the new
    version, or raises VersionConflict."""
    return _forms.save_versioned(form.form_id, _fields(form), expected_version)


def save(form: FormConfig) -> int:
    """Create or replace a form whatever version is stored (seeding, `forms create`); returns its version."""
    for attempt in range(MAX_ATTEMPTS):
        stored = get_fresh(form.form_id)
        try:
            return write(form, stored.version if stored else 0)
        except VersionConflict:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            dynamo.backoff(attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def clear_cache() -> None:
    """Forget cached forms (tests, and the admin CLI after a change)."""
    _forms.clear_cache()
