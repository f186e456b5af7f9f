"""Sources: configured webhook connections (a Facebook app, a Slack workspace, a Standard Webhooks sender…).

A source's type and settings live in DynamoDB beside the forms; its secrets live in SSM Parameter Store as
SecureString under `{PARAMETER_PREFIX}/sources/{source_id}/{name}`. Both are read through Powertools
(parameters with max_age), so the webhook ack path serves them from memory. When a secret is rotated the
old value is kept under `.../previous/{name}` and still accepted until it is dropped, so deliveries signed
before the platform switched keys keep verifying.
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's string annotation when the
# class is defined, a cost every cold start pays (tests/test_cold_start_classes.py keeps them real objects).

import secrets
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from pydantic import ConfigDict, Field, field_validator

from chalicelib import aws
from chalicelib.channels.cached import SOURCE_ID_PATTERN, is_possible_id
from chalicelib.config import settings
from chalicelib.models import DeferredModel, checked_language_hint, utc_now
from chalicelib.store.config_records import SOURCES

PREVIOUS = "previous"
_sources = SOURCES


class SourceConfig(DeferredModel):
    """One configured connection; `settings` holds non-secret options (page id, bot user id …)."""

    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(pattern=SOURCE_ID_PATTERN)
    type: str
    name: str = Field(min_length=1, max_length=200)
    settings: dict[str, str] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utc_now)
    # The language its feedback is mostly written in (ISO 639-1), for the items the platform gives none:
    # the analyzer uses it where the text itself is too short to tell, instead of paying to detect it.
    default_language: str | None = None

    @field_validator("default_language")
    @classmethod
    def _iso_639_1(cls, value: str | None) -> str | None:
        return checked_language_hint(value)


def mask(value: str) -> str:
    """A secret as the CLI shows it: enough to recognise, never enough to use."""
    if len(value) <= 8:
        return "•" * len(value)
    return f"{value[:4]}…{value[-4:]}" if len(value) >= 24 else f"…{value[-2:]}"


class SourceSecrets:
    """A source's secret values by name; never printed in full (repr and str are masked)."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = dict(values)

    def current(self, name: str) -> str | None:
        """The secret in force, or None when the source has none by that name."""
        return self._values.get(name)

    def accepted(self, name: str) -> list[str]:
        """Values a signature may be made with: the current one, then the previous one during a rotation."""
        return [v for v in (self._values.get(name), self._values.get(f"{PREVIOUS}/{name}")) if v]

    def names(self) -> list[str]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"SourceSecrets({ {name: mask(value) for name, value in self._values.items()} })"

    __str__ = __repr__


def new_source_id(source_type: str) -> str:
    """An unguessable id that still says what the source is: `src_<type>_<random>`."""
    return f"src_{source_type}_{secrets.token_urlsafe(9).replace('-', 'x').replace('_', 'y')}"


def secret_path(source_id: str) -> str:
    """The SSM path under which a source's secrets live."""
    return f"{settings().parameter_prefix}/sources/{source_id}"


@cache
def _ssm_provider() -> SSMProvider:
    return SSMProvider(boto3_client=aws.client("ssm"))


def get_cached(source_id: str) -> SourceConfig | None:
    """The source's configuration from memory (DynamoDB on a miss), or None if unknown.

    An id no source can have is unknown without asking DynamoDB (which refuses keys over 1,024 bytes).
    """
    if not is_possible_id(source_id):
        return None
    fields = _sources.get_cached(source_id)
    return SourceConfig.model_validate(fields) if fields else None


def secrets_cached(source_id: str) -> SourceSecrets:
    """The source's secrets from memory (one GetParametersByPath on a miss), decrypted."""
    values = _ssm_provider().get_multiple(
        secret_path(source_id), decrypt=True, recursive=True, max_age=settings().config_cache_seconds
    )
    return SourceSecrets({name: str(value) for name, value in values.items()})


def list_cached() -> list[SourceConfig]:
    """Every source from memory (one Query when the cache is cold or stale): mail is routed by them."""
    fields = _sources.get_multiple(_sources.kind, max_age=settings().config_cache_seconds) or {}
    return [SourceConfig.model_validate(record) for record in fields.values()]


def list_all() -> list[SourceConfig]:
    """Every source, read fresh."""
    return [SourceConfig.model_validate(fields) for fields in _sources.list_fresh().values()]


def save(source: SourceConfig, secret_values: dict[str, str]) -> None:
    """Create or replace a source and its current secrets."""
    ssm = aws.client("ssm")
    for name, value in secret_values.items():
        ssm.put_parameter(
            Name=f"{secret_path(source.source_id)}/{name}", Value=value, Type="SecureString", Overwrite=True
        )
    _sources.save(source.source_id, source.model_dump(mode="json"))
    clear_cache()


def rotate(source_id: str, secret_values: dict[str, str], keep_previous: bool = True) -> None:
    """Replace secrets; the old values stay accepted (under previous/) unless `keep_previous` is False."""
    ssm = aws.client("ssm")
    base = secret_path(source_id)
    current = _read_fresh(source_id)
    for name, value in secret_values.items():
        if keep_previous and name in current:
            ssm.put_parameter(
                Name=f"{base}/{PREVIOUS}/{name}", Value=current[name], Type="SecureString", Overwrite=True
            )
        elif not keep_previous:
            _delete_parameters([f"{base}/{PREVIOUS}/{name}"])
        ssm.put_parameter(Name=f"{base}/{name}", Value=value, Type="SecureString", Overwrite=True)
    clear_cache()


def drop_previous(source_id: str) -> None:
    """End a rotation: only the current secrets are accepted from now on."""
    previous = [name for name in _read_fresh(source_id) if name.startswith(f"{PREVIOUS}/")]
    _delete_parameters([f"{secret_path(source_id)}/{name}" for name in previous])
    clear_cache()


def remove(source_id: str) -> None:
    """Delete a source and every secret it has."""
    _delete_parameters([f"{secret_path(source_id)}/{name}" for name in _read_fresh(source_id)])
    _sources.delete(source_id)
    clear_cache()


def read_secrets(source_id: str) -> SourceSecrets:
    """The source's secrets read now (admin use)."""
    return SourceSecrets(_read_fresh(source_id))


def _read_fresh(source_id: str) -> dict[str, str]:
    values: dict[str, Any] = _ssm_provider().get_multiple(
        secret_path(source_id), decrypt=True, recursive=True, force_fetch=True
    )
    return {name: str(value) for name, value in values.items()}


def _delete_parameters(names: Iterable[str]) -> None:
    names = list(names)
    for start in range(0, len(names), 10):  # DeleteParameters takes up to 10 names
        aws.client("ssm").delete_parameters(Names=names[start : start + 10])


def clear_cache() -> None:
    """Forget cached sources and secrets (tests, and after an admin change)."""
    _sources.clear_cache()
    # A new provider starts with an empty cache and the current SSM client.
    _ssm_provider.cache_clear()
