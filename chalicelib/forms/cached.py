"""What another function reads of a stored form without building the form's model: whether an id can name a
form, and the form's PII redaction flag. The analyze function needs only that flag; reading it through
`FormConfig` would import the model and its appearance records (pydantic's URL types included) at its cold
start for one boolean."""

from __future__ import annotations

import re

from chalicelib.store.config_records import FORMS

FORM_ID_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"
# FormConfig's field, stored as a boolean (records.py writes the model's JSON dump).
REDACT_PII = "redact_pii"


def is_possible_form_id(form_id: str) -> bool:
    """Whether `form_id` has the shape of a form id (anything else cannot name a form: no lookup needed)."""
    return re.fullmatch(FORM_ID_PATTERN, form_id) is not None


def redacts_pii(form_id: str) -> bool:
    """Whether the form masks PII in its comments before they are stored (`FormConfig.redact_pii`), from the
    cached record: only a stored `false` turns it off, so an unknown form keeps redaction on."""
    if not is_possible_form_id(form_id):
        return True
    return FORMS.get_cached(form_id).get(REDACT_PII) is not False
