"""Detractor rules, evaluated on the table's stream: the outbound fan-out function already receives every
stored item's NEW_IMAGE, so each item is judged from what was stored, seconds after it was, with no read of
the item and nothing added to the ack path. (A scheduled evaluator would need an index of detractors: the
sparse negative index holds no NPS 0-6 scored as positive, and reading each new item again by time would
cost what the stream hands over for free.)

Only an INSERT of a feedback item is judged, so a re-analysis or a merge does not alert twice; a retried
stream batch finds each alert's cool-down record claimed (one conditional write per matching item and rule)
and sends nothing again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib.alerts import cooldown, dispatch
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.notify.base import Alert
from chalicelib.alerts.rules import DetractorRule
from chalicelib.alerts.samples import sample_of
from chalicelib.models import RatingScale, Sentiment, StoredFeedback, utc_now
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import RECORD_TYPE


def reason(rule: DetractorRule, item: StoredFeedback) -> str | None:
    """Why the item is a detractor under `rule` ("NPS 3", …), or None when it is not."""
    if rule.sources and item.source_id not in rule.sources:
        return None
    if rule.channels and item.channel not in rule.channels:
        return None
    bounds = {
        RatingScale.NPS: rule.nps_max,
        RatingScale.CSAT: rule.csat_max,
        RatingScale.STARS: rule.stars_max,
    }
    if item.rating is not None and item.rating_scale is not None:
        bound = bounds[item.rating_scale]
        if bound is not None and item.rating <= bound:
            return f"{item.rating_scale.value.upper()} {item.rating}"
    if rule.negative_from_named_customer and item.sentiment is Sentiment.NEGATIVE and item.customer_id:
        return "negative feedback from a known customer"
    return None


def stored_items(records: Iterable[dict[str, Any]]) -> list[StoredFeedback]:
    """The feedback items the stream records inserted."""
    items = []
    for record in records:
        image = record.get("dynamodb", {}).get("NewImage")
        if record.get("eventName") != "INSERT" or not image:
            continue
        item = dynamo.deserialize(image)
        if item.get(RECORD_TYPE) == feedback_store.ITEM_TYPE:
            items.append(feedback_store.from_item(item))
    return items


def alert_for(rule: DetractorRule, item: StoredFeedback, why: str, alert_id: str) -> Alert:
    customer = f" from customer {item.customer_id}" if item.customer_id else ""
    return Alert(
        alert_id=alert_id,
        rule_id=rule.rule_id,
        rule_kind=rule.kind,
        description=rule.description,
        summary=f"Detractor: {why}{customer}, on {item.channel.value} {item.source_id}",
        fired_at=item.stored_at,
        dimension="source",
        value=item.source_id,
        window_start=item.stored_at,
        window_end=item.stored_at,
        count=1,
        negatives=int(item.sentiment is Sentiment.NEGATIVE),
        samples=[sample_of(item)] if item.text.strip() else [],
        dashboard_url=dispatch.dashboard_link(
            "source", item.source_id, item.stored_at, item.stored_at, negatives_only=False
        ),
    )


def judge(
    items: Sequence[StoredFeedback],
    rules: Sequence[DetractorRule],
    notifiers: dispatch.NotifierFactory | None = None,
) -> list[Alert]:
    """Alert once per (rule, detractor item): the claim is keyed by the item, so it never repeats."""
    sent = []
    for item in items:
        for rule in rules:
            why = reason(rule, item)
            if why is None:
                continue
            alert_id = cooldown.claim(
                rule.rule_id, f"item={item.feedback_id}", utc_now(), rule.cooldown_minutes
            )
            if alert_id is None:
                continue
            alert = alert_for(rule, item, why, alert_id)
            dispatch.send(alert, rule.notify, notifiers)
            sent.append(alert)
    return sent


def handle_stream_batch(event: dict[str, Any], notifiers: dispatch.NotifierFactory | None = None) -> int:
    """The stream's records judged against the detractor rules (from memory); how many alerts were sent."""
    rules = [rule for rule in rule_store.list_cached() if isinstance(rule, DetractorRule)]
    if not rules:
        return 0
    return len(judge(stored_items(event.get("Records", [])), rules, notifiers))
