"""What another function reads of a configured source without building its model: whether an id can name a
source, and one of its non-secret settings. The analyze step reads one setting (`redact_pii`) per event;
through sources.py it would import the source's model and the SSM provider at its cold start for it."""

from __future__ import annotations

import re

from chalicelib.store.config_records import SOURCES

SOURCE_ID_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"
_SOURCE_ID = re.compile(SOURCE_ID_PATTERN)


def is_possible_id(source_id: str) -> bool:
    """Whether `source_id` has the shape every source id has (so it may name one)."""
    return isinstance(source_id, str) and _SOURCE_ID.fullmatch(source_id) is not None


def setting(source_id: str, name: str) -> str | None:
    """One of the source's `settings` (SourceConfig.settings), from the cached record: None when there is no
    such source (an id no source can have is not looked up) or it does not set it."""
    if not is_possible_id(source_id):
        return None
    settings = SOURCES.get_cached(source_id).get("settings")
    return settings.get(name) if isinstance(settings, dict) else None
