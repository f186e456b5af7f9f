"""CRM connections: a configured target like a source. Type and settings live in DynamoDB (the CRM config
records), the credentials in SSM Parameter Store as SecureString under
`{PARAMETER_PREFIX}/crm/{connection_id}/{name}` (a HubSpot private-app `token`; a Salesforce connected
app's `client_id` with its `client_secret`, or with a `private_key` and the `username` it acts as), read
through Powertools parameters with max_age like the sources' secrets.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.parameters import SSMProvider
from pydantic import ConfigDict, Field, field_validator

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import Channel, DeferredModel, utc_now
from chalicelib.store.config_records import CRM_CONNECTIONS

CONNECTION_ID_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"
_CONNECTION_ID = re.compile(CONNECTION_ID_PATTERN)
CRM_TYPES = ("hubspot", "salesforce")
# The secrets each type keeps in SSM. Salesforce: client_id with client_secret (client credentials flow), or
# client_id, private_key and username (JWT bearer flow); its login URL is the settings' api_url.
SECRET_NAMES = {
    "hubspot": ("token",),
    "salesforce": ("client_id", "client_secret", "private_key", "username"),
}
# What each type's credentials and created fields are called, for messages (a HubSpot word for Salesforce
# would send the reader looking for a token the connected app does not have).
CREDENTIALS_NAMED = {"hubspot": "private-app token", "salesforce": "connected app's credentials"}
FIELDS_NAMED = {"hubspot": "contact property", "salesforce": "custom field"}
# The neutral names of the profile fields a sync keeps on a contact; a connection's field_map may rename any.
PROFILE_FIELDS = (
    "customer_id",
    "latest_nps",
    "latest_csat",
    "mean_sentiment",
    "last_feedback_at",
    "channels",
    "top_themes",
    "feedback_count",
)
MAPPABLE_FIELDS = frozenset(PROFILE_FIELDS)


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # credentials refused, or `crm pause`: nothing is synced until `crm resume`/`crm test`


# The reason `crm pause` gives: the credentials work, so erasures still reach the CRM (an erasure waiting in
# the DLQ is gone after 14 days).
PAUSED_BY_OPERATOR = "paused by an operator"


class CrmSettings(DeferredModel):
    """What a connection syncs: empty lists mean every source/channel."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(default_factory=list)  # source and form ids
    channels: list[str] = Field(default_factory=list)
    min_sentiment_score: float | None = Field(default=None, ge=-1.0, le=1.0)
    min_rating: int | None = Field(default=None, ge=0, le=10)
    field_map: dict[str, str] = Field(default_factory=dict)
    # Where the API is: the vendor's own by default; `make run` and the tests point it at the local fake.
    api_url: str | None = None
    # Salesforce: the Account that contacts the sync creates belong to (one without an Account is private:
    # only its owner, the integration user, and admins see it). An Account id starts with 001.
    account_id: str | None = Field(default=None, pattern=r"^001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        known = {str(c) for c in Channel}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r} (one of {', '.join(sorted(known))})")
        return value

    @field_validator("api_url")
    @classmethod
    def _https_or_local(cls, value: str | None) -> str | None:
        """The token goes to this URL: https, or plain http only to this machine (the local fake)."""
        if value is None:
            return None
        parsed = urlsplit(value)
        local = parsed.scheme == "http" and parsed.hostname in {"127.0.0.1", "localhost"}
        if not (parsed.scheme == "https" and parsed.hostname) and not local:
            raise ValueError("must be an https URL (plain http only to 127.0.0.1 or localhost)")
        return value.rstrip("/")

    @field_validator("field_map")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - MAPPABLE_FIELDS)
        if unknown:
            raise ValueError(f"cannot map {unknown[0]!r} (one of {', '.join(sorted(MAPPABLE_FIELDS))})")
        bad = [name for name in value.values() if not re.fullmatch(r"[a-z][a-z0-9_]{0,99}", name)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a CRM field name (lower case letters, digits, _)")
        return value


class CrmConnection(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=CONNECTION_ID_PATTERN)
    type: str
    name: str = Field(min_length=1, max_length=200)
    settings: CrmSettings = Field(default_factory=CrmSettings)
    status: Status = Status.ACTIVE
    paused_reason: str | None = None
    created_at: datetime = Field(default_factory=utc_now)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in CRM_TYPES:
            raise ValueError(f"unknown CRM type {value!r} (one of {', '.join(CRM_TYPES)})")
        return value


def new_connection_id(crm_type: str) -> str:
    return f"crm_{crm_type}_{secrets.token_urlsafe(6).replace('-', 'x').replace('_', 'y')}"


def secret_path(connection_id: str) -> str:
    return f"{settings().parameter_prefix}/crm/{connection_id}"


@cache
def _ssm_provider() -> SSMProvider:
    return SSMProvider(boto3_client=aws.client("ssm"))


def get(connection_id: str) -> CrmConnection | None:
    """The connection read now, or None."""
    if not _CONNECTION_ID.fullmatch(connection_id or ""):
        return None
    fields = CRM_CONNECTIONS.get_fresh(connection_id)
    return CrmConnection.model_validate(fields) if fields else None


def list_all() -> list[CrmConnection]:
    return [CrmConnection.model_validate(f) for f in CRM_CONNECTIONS.list_fresh().values()]


def save(connection: CrmConnection, secret_values: dict[str, str] | None = None) -> None:
    """Create or replace a connection and (when given) its secrets."""
    ssm = aws.client("ssm")
    for name, value in (secret_values or {}).items():
        ssm.put_parameter(
            Name=f"{secret_path(connection.connection_id)}/{name}",
            Value=value,
            Type="SecureString",
            Overwrite=True,
        )
    CRM_CONNECTIONS.save(connection.connection_id, connection.model_dump(mode="json"))
    clear_cache()


def secret(connection_id: str, name: str, fresh: bool = False) -> str | None:
    """One decrypted secret of the connection (cached for config_cache_seconds unless `fresh`)."""
    options: dict[str, Any] = {"force_fetch": True} if fresh else {"max_age": settings().config_cache_seconds}
    values = _ssm_provider().get_multiple(secret_path(connection_id), decrypt=True, recursive=True, **options)
    value = values.get(name)
    return str(value) if value is not None else None


def secret_names(connection_id: str) -> list[str]:
    values = _ssm_provider().get_multiple(
        secret_path(connection_id), decrypt=True, recursive=True, force_fetch=True
    )
    return sorted(values)


def replace_secrets(connection_id: str, secret_values: dict[str, str]) -> None:
    """Put the new credentials in and delete the names they no longer use (a Salesforce connection moved
    from a client secret to a key keeps no stale secret that would decide its flow)."""
    ssm = aws.client("ssm")
    for name, value in secret_values.items():
        ssm.put_parameter(
            Name=f"{secret_path(connection_id)}/{name}", Value=value, Type="SecureString", Overwrite=True
        )
    stale = [
        f"{secret_path(connection_id)}/{n}" for n in secret_names(connection_id) if n not in secret_values
    ]
    for start in range(0, len(stale), 10):  # DeleteParameters takes up to 10 names
        ssm.delete_parameters(Names=stale[start : start + 10])
    clear_cache()


def set_status(connection_id: str, status: Status, reason: str | None = None) -> None:
    """Pause (credentials refused) or resume a connection."""
    connection = get(connection_id)
    if connection is not None:
        save(connection.model_copy(update={"status": status, "paused_reason": reason}))


def remove(connection_id: str) -> None:
    names = [f"{secret_path(connection_id)}/{name}" for name in secret_names(connection_id)]
    for start in range(0, len(names), 10):  # DeleteParameters takes up to 10 names
        aws.client("ssm").delete_parameters(Names=names[start : start + 10])
    CRM_CONNECTIONS.delete(connection_id)
    clear_cache()


def clear_cache() -> None:
    CRM_CONNECTIONS.clear_cache()
    _ssm_provider.cache_clear()
