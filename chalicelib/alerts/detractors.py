"""Detractor rules, evaluated on the table's stream: the outbound fan-out function already receives every
stored item's NEW_IMAGE, so each item is judged from what was stored, seconds after it was, with no read of
the item and nothing added to the ack path. (A scheduled evaluator would need an index of detractors: the
sparse negative index holds no NPS 0-6 scored as positive, and reading each new item again by time would
cost what the stream hands over for free.)

Only an INSERT of a feedback item is judged, so a re-analysis or a merge does not alert twice; a retried
stream batch finds each alert's cool-down record claimed (one conditional write per matching item and rule)
and sends nothing again. A burst costs each rule O(1) Slack messages and e-mails per window (digest.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from chalicelib.alerts import cooldown, digest, dispatch
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.notify.base import Alert
from chalicelib.alerts.rules import DetractorRule
from chalicelib.alerts.samples import sample_of
from chalicelib.models import Channel, Sentiment, StoredFeedback, utc_now
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.schema import RECORD_TYPE

# Slack and e-mail one by one stop this long into a stream batch (the function has 60 s): the digest says
# the rest.
INDIVIDUAL_SECONDS = 20.0


def reason(rule: DetractorRule, item: StoredFeedback) -> str | None:
    """Why the item is a detractor under `rule` ("NPS 3/10", …), or None when it is not."""
    return rule.reason(item)


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
        # The item's own slice: a form's response is about the form (its channel says so, not a guess).
        dimension="form" if item.channel is Channel.FORM else "source",
        value=item.source_id,
        window_start=item.stored_at,
        window_end=item.stored_at,
        count=1,
        negatives=int(item.sentiment is Sentiment.NEGATIVE),
        samples=[sample_of(item)] if item.text.strip() else [],
        dashboard_url=dispatch.dashboard_link(
            "form" if item.channel is Channel.FORM else "source",
            item.source_id,
            item.stored_at,
            item.stored_at,
            negatives_only=False,
        ),
    )


def judge(
    items: Sequence[StoredFeedback],
    rules: Sequence[DetractorRule],
    notifiers: dispatch.NotifierFactory | None = None,
    now: datetime | None = None,
) -> list[Alert]:
    """Alert once per (rule, detractor item): the claim is keyed by the item, so it never repeats. Every
    claimed detractor gets its `alert.triggered` event (queued ten to a request); Slack and e-mail carry
    one by one only the first `max_individual` of the rule's window, the digest the rest (digest.py)."""
    now = now or utc_now()
    started = time.monotonic()
    sent = []
    for rule in rules:
        claimed: list[tuple[StoredFeedback, str, Alert]] = []
        for item in items:
            why = reason(rule, item)
            if why is None:
                continue
            alert_id = cooldown.claim(
                rule.rule_id, f"item={item.feedback_id}", utc_now(), rule.cooldown_minutes
            )
            if alert_id is not None:
                claimed.append((item, why, alert_for(rule, item, why, alert_id)))
        if not claimed:
            continue
        alerts = [alert for _, _, alert in claimed]
        if rule.notify.webhook:
            dispatch.deliver("webhook", alerts, rule.rule_id, notifiers)
        channels = [channel for channel in digest.NOTIFY_CHANNELS if getattr(rule.notify, channel)]
        if channels:
            start = digest.window_of(now, rule.digest_minutes)
            total = digest.tally(rule, start, [(item, why) for item, why, _ in claimed])
            # This batch's detractors are the window's total - len + 1 … total: those within the quota go out.
            own = max(0, rule.max_individual - (total - len(claimed)))
            carried = _send_individually(rule, alerts[:own], channels, notifiers, started)
            if carried:
                digest.record_sent(rule.rule_id, start, carried)
        sent += alerts
    return sent


def _send_individually(
    rule: DetractorRule,
    alerts: Sequence[Alert],
    channels: Sequence[str],
    notifiers: dispatch.NotifierFactory | None,
    started: float,
) -> Counter[str]:
    """Each alert to each channel, until the channel refuses (a 429: never waited on) or the batch's time
    budget is spent; channel → how many it carried (the rest is the digest's)."""
    carried: Counter[str] = Counter()
    for channel in channels:
        for alert in alerts:
            if time.monotonic() - started > INDIVIDUAL_SECONDS:
                break
            outcome = dispatch.deliver(channel, [alert], rule.rule_id, notifiers).outcome
            if outcome == "sent":
                carried[channel] += 1
            elif outcome in ("rate limited", "not set up"):
                break
    return carried


def handle_stream_batch(event: dict[str, Any], notifiers: dispatch.NotifierFactory | None = None) -> int:
    """The stream's records judged against the detractor rules (from memory); how many alerts were sent."""
    rules = [rule for rule in rule_store.list_cached() if isinstance(rule, DetractorRule)]
    if not rules:
        return 0
    return len(judge(stored_items(event.get("Records", [])), rules, notifiers))
