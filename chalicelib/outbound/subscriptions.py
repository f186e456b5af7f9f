"""Subscriptions: where events go (URL, event types, filters), kept as config records; their signing
secrets in SSM Parameter Store as SecureString, like the sources' secrets.

A secret is generated here and shown once (returned by `create` and `rotate`, never stored in the record).
A rotation keeps the previous secret under `.../previous/secret` until `previous_until`: deliveries until
then carry both signatures, so receivers can switch keys without dropping one.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets as random
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.parameters import SSMProvider
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import Channel, RatingScale, Sentiment, StoredFeedback, utc_now
from chalicelib.outbound import signing
from chalicelib.outbound.events import EventType, OutboundEvent
from chalicelib.store.config_records import SUBSCRIPTIONS

SUBSCRIPTION_ID_PATTERN = r"^sub_[A-Za-z0-9]{12,40}$"
_SUBSCRIPTION_ID = re.compile(SUBSCRIPTION_ID_PATTERN)
SECRET = "secret"  # noqa: S105 (the parameter's name)
PREVIOUS = "previous"
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_URL_CHARS = 2_000


class Filters(BaseModel):
    """Which feedback a subscription wants; every filter given must match (an empty list matches all)."""

    model_config = ConfigDict(extra="forbid")

    forms: list[str] = []
    sources: list[str] = []
    channels: list[Channel] = []
    sentiments: list[Sentiment] = []
    themes: list[str] = []
    rating_scale: RatingScale | None = None
    rating_min: int | None = Field(default=None, ge=0, le=10)
    rating_max: int | None = Field(default=None, ge=0, le=10)

    @model_validator(mode="after")
    def _band_in_order(self) -> Filters:
        if self.rating_min is not None and self.rating_max is not None and self.rating_min > self.rating_max:
            raise ValueError("rating_min is above rating_max")
        return self

    def matches(self, item: StoredFeedback) -> bool:
        """Whether a feedback item passes every filter."""
        from_form = item.channel is Channel.FORM
        checks = [
            not self.forms or (from_form and item.source_id in self.forms),
            not self.sources or item.source_id in self.sources,
            not self.channels or item.channel in self.channels,
            not self.sentiments or item.sentiment in self.sentiments,
            not self.themes or bool({tag.id for tag in item.themes or []} & set(self.themes)),
            self._rating_matches(item),
        ]
        return all(checks)

    def _rating_matches(self, item: StoredFeedback) -> bool:
        if self.rating_scale is None and self.rating_min is None and self.rating_max is None:
            return True
        if item.rating is None or (self.rating_scale and item.rating_scale is not self.rating_scale):
            return False
        low = self.rating_min if self.rating_min is not None else item.rating
        high = self.rating_max if self.rating_max is not None else item.rating
        return low <= item.rating <= high


class Subscription(BaseModel):
    """One subscriber endpoint; the secret is not part of it (SSM)."""

    model_config = ConfigDict(extra="forbid")

    subscription_id: str = Field(pattern=SUBSCRIPTION_ID_PATTERN)
    url: str = Field(max_length=MAX_URL_CHARS)
    event_types: list[EventType] = Field(min_length=1)
    filters: Filters = Field(default_factory=Filters)
    description: str = Field(default="", max_length=200)
    paused: bool = False
    paused_reason: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    # Until when the previous secret still signs (a rotation's overlap); None outside a rotation.
    previous_until: datetime | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("the URL must be http(s)://host/…")
        if parts.username or parts.password:
            raise ValueError("the URL must not carry credentials")
        return value

    def wants(self, event: OutboundEvent) -> bool:
        """Whether this subscription receives `event` (paused ones receive nothing new)."""
        if self.paused or event.type not in self.event_types:
            return False
        return event.feedback is None or self.filters.matches(event.feedback)


def new_subscription_id() -> str:
    return "sub_" + "".join(random.choice("abcdefghijkmnopqrstuvwxyz23456789") for _ in range(20))


def is_possible_id(subscription_id: str) -> bool:
    return isinstance(subscription_id, str) and _SUBSCRIPTION_ID.fullmatch(subscription_id) is not None


def secret_path(subscription_id: str) -> str:
    return f"{settings().parameter_prefix}/subscriptions/{subscription_id}"


@cache
def _ssm_provider() -> SSMProvider:
    return SSMProvider(boto3_client=aws.client("ssm"))


def allows_loopback() -> bool:
    """The local stack (and tests that say so) deliver to loopback receivers over HTTP; AWS never does."""
    return settings().stage == "local" or os.environ.get("OUTBOUND_ALLOW_LOOPBACK") == "1"


def check_target(url: str) -> None:
    """On AWS a subscriber is reached over HTTPS only and never at a private address literal (names are
    checked again when each delivery resolves them); the local stack also sends plain HTTP to loopback."""
    if allows_loopback():
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ValueError("subscriber URLs must use https")
    try:
        literal = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return
    if not literal.is_global:
        raise ValueError("subscriber URLs must not point at a private, loopback or link-local address")


def create(
    url: str, event_types: list[str], filters: dict[str, Any] | None = None, description: str = ""
) -> tuple[Subscription, str]:
    """Store a new subscription and its fresh secret; returns both (the secret is shown this once)."""
    subscription = Subscription(
        subscription_id=new_subscription_id(),
        url=url,
        event_types=sorted(set(event_types)),
        filters=Filters.model_validate(filters or {}),
        description=description,
    )
    check_target(subscription.url)
    secret = signing.new_secret()
    _put_secret(f"{secret_path(subscription.subscription_id)}/{SECRET}", secret)
    save(subscription)
    return subscription, secret


def save(subscription: Subscription) -> None:
    SUBSCRIPTIONS.save(subscription.subscription_id, subscription.model_dump(mode="json", exclude_none=True))


def get_cached(subscription_id: str) -> Subscription | None:
    """The subscription from memory (DynamoDB on a miss or when stale), or None."""
    if not is_possible_id(subscription_id):
        return None
    fields = SUBSCRIPTIONS.get_cached(subscription_id)
    return Subscription.model_validate(fields) if fields else None


def get_fresh(subscription_id: str) -> Subscription | None:
    if not is_possible_id(subscription_id):
        return None
    fields = SUBSCRIPTIONS.get_fresh(subscription_id)
    return Subscription.model_validate(fields) if fields else None


def list_cached() -> list[Subscription]:
    """Every subscription, from memory for up to the config cache age (one Query on a miss)."""
    records = SUBSCRIPTIONS.get_multiple(SUBSCRIPTIONS.kind, max_age=settings().config_cache_seconds) or {}
    return [Subscription.model_validate(fields) for fields in records.values()]


def list_all() -> list[Subscription]:
    return [Subscription.model_validate(fields) for fields in SUBSCRIPTIONS.list_fresh().values()]


def signing_secrets(subscription: Subscription, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous during the overlap."""
    values = _ssm_provider().get_multiple(
        secret_path(subscription.subscription_id),
        decrypt=True,
        recursive=True,
        max_age=settings().config_cache_seconds,
    )
    current = [str(values[SECRET])] if SECRET in values else []
    overlapping = subscription.previous_until and (now or utc_now()) < subscription.previous_until
    previous = f"{PREVIOUS}/{SECRET}"
    return current + ([str(values[previous])] if overlapping and previous in values else [])


def rotate(subscription_id: str, overlap: timedelta = DEFAULT_OVERLAP) -> tuple[Subscription, str]:
    """A new secret in force now; the old one keeps signing (second signature) for `overlap`."""
    subscription = get_fresh(subscription_id)
    if subscription is None:
        raise KeyError(subscription_id)
    base = secret_path(subscription_id)
    old = aws.client("ssm").get_parameter(Name=f"{base}/{SECRET}", WithDecryption=True)["Parameter"]["Value"]
    secret = signing.new_secret()
    if overlap > timedelta(0):
        _put_secret(f"{base}/{PREVIOUS}/{SECRET}", old)
    _put_secret(f"{base}/{SECRET}", secret)
    subscription.previous_until = utc_now() + overlap if overlap > timedelta(0) else None
    save(subscription)
    clear_cache()
    return subscription, secret


def set_paused(subscription_id: str, paused: bool, reason: str | None = None) -> Subscription:
    """Pause (with why) or resume a subscription. A subscription already in that state is left as it is: a
    second pause must not replace the first one's reason (the system's, which says what to fix)."""
    subscription = get_fresh(subscription_id)
    if subscription is None:
        raise KeyError(subscription_id)
    if subscription.paused == paused:
        return subscription
    subscription.paused, subscription.paused_reason = paused, (reason if paused else None)
    save(subscription)
    return subscription


def remove(subscription_id: str) -> bool:
    """Delete a subscription and its secrets; False if there was none."""
    if get_fresh(subscription_id) is None:
        return False
    base = secret_path(subscription_id)
    aws.client("ssm").delete_parameters(Names=[f"{base}/{SECRET}", f"{base}/{PREVIOUS}/{SECRET}"])
    SUBSCRIPTIONS.delete(subscription_id)
    clear_cache()
    return True


def _put_secret(name: str, value: str) -> None:
    aws.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def clear_cache() -> None:
    """Forget cached subscriptions and secrets (tests, and after an admin change)."""
    SUBSCRIPTIONS.clear_cache()
    _ssm_provider.cache_clear()
