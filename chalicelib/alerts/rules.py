"""Alert rules (pydantic models), kept as config records (store/config_records.py ALERT_RULES); a rule's
Slack incoming-webhook URL, which is a secret (whoever holds it posts to the channel), in SSM Parameter
Store as SecureString, never in the record.

- **spike**: the count, or the negative share, of a slice (overall, or per form, channel, source or theme)
  in the last `window_hours` is far above the same hours of the week over the last `weeks` weeks, with a
  minimum count (`evaluator.py` says why that baseline);
- **detractor**: each stored item with NPS ≤ 6, CSAT ≤ 2, stars ≤ 2, or a NEGATIVE sentiment from a named
  customer (`detractors.py`, on the table's stream);
- **silence**: a source (or form) that usually delivers in these hours has delivered nothing for `hours`.
"""

from __future__ import annotations

import re
import secrets as random
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import Channel, RatingScale, Sentiment, StoredFeedback, utc_now
from chalicelib.outbound.subscriptions import check_target
from chalicelib.store.config_records import ALERT_RULES

RULE_ID_PATTERN = r"^alr_[a-z0-9]{8,32}$"
_RULE_ID = re.compile(RULE_ID_PATTERN)
SLACK_URL_PATTERN = r"^https?://\S+$"


class Dimension(StrEnum):
    """What a spike slices the feedback by."""

    OVERALL = "overall"
    FORM = "form"
    CHANNEL = "channel"
    SOURCE = "source"
    THEME = "theme"


class Metric(StrEnum):
    COUNT = "count"
    NEGATIVE_SHARE = "negative_share"


class Notify(BaseModel):
    """Where a fired alert goes: the `alert.triggered` outbound event (subscriptions decide who gets it),
    the rule's Slack incoming webhook, e-mail through the stage's SNS topic."""

    model_config = ConfigDict(extra="forbid")

    webhook: bool = True
    slack: bool = False
    email: bool = False


class RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(pattern=RULE_ID_PATTERN)
    description: str = Field(default="", max_length=200)
    notify: Notify = Field(default_factory=Notify)
    # A rule (per slice) that fired stays quiet this long, however long its condition holds.
    cooldown_minutes: int = Field(default=240, ge=5, le=7 * 24 * 60)
    created_at: datetime = Field(default_factory=utc_now)


class SpikeRule(RuleBase):
    kind: Literal["spike"] = "spike"
    dimension: Dimension = Dimension.OVERALL
    # One form, channel, source or theme; None: each one seen in the window, apart.
    value: str | None = Field(default=None, max_length=200)
    metric: Metric = Metric.COUNT
    window_hours: int = Field(default=1, ge=1, le=24)
    weeks: int = Field(default=4, ge=1, le=4)
    # count: fires at `factor` times the baseline's mean; negative share: at the baseline's share plus
    # `share_increase` (a share cannot triple above a third).
    factor: float = Field(default=3.0, gt=1.0, le=100.0)
    share_increase: float = Field(default=0.25, gt=0.0, le=1.0)
    # Items (count) or negative items (negative share) the window needs before anything fires.
    min_count: int = Field(default=10, ge=1)


NAMED_NEGATIVE = "negative feedback from a known customer"


class DetractorRule(RuleBase):
    kind: Literal["detractor"] = "detractor"
    nps_max: int | None = Field(default=6, ge=0, le=10)
    csat_max: int | None = Field(default=2, ge=1, le=5)
    stars_max: int | None = Field(default=2, ge=1, le=5)
    # A NEGATIVE item counts when its author resolved to a customer (someone the team can answer).
    negative_from_named_customer: bool = True
    # Only these forms, sources or channels (empty: all).
    sources: list[str] = []
    channels: list[Channel] = []
    # A burst costs O(1) messages: the first `max_individual` detractors of each `digest_minutes` window
    # get a Slack message and an e-mail each, the rest one digest after the window (digest.py); every
    # detractor still gets its own alert.triggered event.
    max_individual: int = Field(default=3, ge=0, le=20)
    digest_minutes: int = Field(default=10, ge=5, le=60)

    def reason(self, item: StoredFeedback) -> str | None:
        """Why the item is a detractor under this rule ("NPS 3/10", …), or None when it is not."""
        if self.sources and item.source_id not in self.sources:
            return None
        if self.channels and item.channel not in self.channels:
            return None
        bounds = {
            RatingScale.NPS: self.nps_max,
            RatingScale.CSAT: self.csat_max,
            RatingScale.STARS: self.stars_max,
        }
        if item.rating is not None and item.rating_scale is not None:
            bound = bounds[item.rating_scale]
            if bound is not None and item.rating <= bound:
                return item.rating_scale.describe(item.rating)
        if self.negative_from_named_customer and item.sentiment is Sentiment.NEGATIVE and item.customer_id:
            return NAMED_NEGATIVE
        return None


class SilenceRule(RuleBase):
    kind: Literal["silence"] = "silence"
    # A source or form id; None: every source that usually delivers.
    source_id: str | None = Field(default=None, max_length=200)
    hours: int = Field(default=6, ge=1, le=72)
    weeks: int = Field(default=4, ge=1, le=4)
    # "Usually delivers": the same hours of the week held at least this many items on average.
    min_baseline: float = Field(default=3.0, gt=0.0)


Rule = Annotated[SpikeRule | DetractorRule | SilenceRule, Field(discriminator="kind")]
RULE_KINDS = ("spike", "detractor", "silence")


@cache
def _rule_adapter() -> TypeAdapter[Rule]:
    return TypeAdapter(Rule)


def parse(fields: dict[str, object]) -> Rule:
    """A rule from its stored (or given) fields; pydantic's ValidationError when they are wrong."""
    return _rule_adapter().validate_python(fields)


def new_rule_id() -> str:
    return "alr_" + "".join(random.choice("abcdefghijkmnopqrstuvwxyz23456789") for _ in range(16))


def is_possible_id(rule_id: str) -> bool:
    return isinstance(rule_id, str) and _RULE_ID.fullmatch(rule_id) is not None


def save(rule: SpikeRule | DetractorRule | SilenceRule) -> None:
    ALERT_RULES.save(rule.rule_id, rule.model_dump(mode="json", exclude_none=True))


def get_fresh(rule_id: str) -> SpikeRule | DetractorRule | SilenceRule | None:
    if not is_possible_id(rule_id):
        return None
    fields = ALERT_RULES.get_fresh(rule_id)
    return parse(fields) if fields else None


def list_all() -> list[SpikeRule | DetractorRule | SilenceRule]:
    """Every rule, read now (one Query of the rules' partition)."""
    return [parse(fields) for _, fields in sorted(ALERT_RULES.list_fresh().items())]


def list_cached() -> list[SpikeRule | DetractorRule | SilenceRule]:
    """Every rule, from memory for up to the config cache age (the stream function's view)."""
    records = ALERT_RULES.get_multiple(ALERT_RULES.kind, max_age=settings().config_cache_seconds) or {}
    return [parse(fields) for _, fields in sorted(records.items())]


def slack_url_name(rule_id: str) -> str:
    return f"{settings().parameter_prefix}/alerts/{rule_id}/slack-webhook-url"


@cache
def _ssm_provider() -> SSMProvider:
    return SSMProvider(boto3_client=aws.client("ssm"))


def set_slack_url(rule_id: str, url: str) -> None:
    """Keep the rule's Slack URL; on AWS only https to a public host, as for webhook subscribers."""
    if not re.fullmatch(SLACK_URL_PATTERN, url):
        raise ValueError("the Slack webhook URL must be an http(s) URL")
    check_target(url)
    aws.client("ssm").put_parameter(
        Name=slack_url_name(rule_id), Value=url, Type="SecureString", Overwrite=True
    )


def slack_url(rule_id: str) -> str | None:
    """The rule's Slack incoming-webhook URL (cached like config), or None when it has none."""
    try:
        value = _ssm_provider().get(
            slack_url_name(rule_id), decrypt=True, max_age=settings().config_cache_seconds
        )
    except GetParameterError:  # no such parameter: the rule has no Slack URL
        return None
    return str(value) if value else None


def remove(rule_id: str) -> bool:
    """Delete a rule and its Slack URL; False if there was none."""
    if get_fresh(rule_id) is None:
        return False
    aws.client("ssm").delete_parameters(Names=[slack_url_name(rule_id)])
    ALERT_RULES.delete(rule_id)
    clear_cache()
    return True


def clear_cache() -> None:
    ALERT_RULES.clear_cache()
    _ssm_provider.cache_clear()
