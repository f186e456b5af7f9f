"""Detractor digests: a burst of detractors costs each rule O(1) Slack messages and e-mails per window.

Slack takes about one message a second per incoming webhook (short bursts allowed, then HTTP 429 with
Retry-After), and the stream function has 60 seconds for its whole batch. So, as alerting tools group a
storm into a digest (Sentry's digests, PagerDuty's grouping), each detractor rule counts its detractors
per `digest_minutes` window of the stream function's clock in one state record (one atomic ADD per rule
and stream batch, whose result tells each detractor its place in the window): the first `max_individual`
get a Slack message and an e-mail each, the rest are folded into one digest per channel ("…and 37 more
detractors in the 10 minutes to 14:30 UTC", by reason and source, three samples, a dashboard link), sent
by the scheduled evaluator once the window has closed. A message Slack refused (429, or any failure) is
not counted as sent, so the digest carries it; a digest refused with a 429 is released and sent again by a
later run after its Retry-After. Nothing here sleeps.

Each detractor keeps its own `alert.triggered` event (receivers may act per item) and its own claim
(cooldown.py), which is what makes a replayed stream batch send nothing again: only newly claimed
detractors are counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.alerts import cooldown, dispatch
from chalicelib.alerts.notify.base import Alert
from chalicelib.alerts.rules import NAMED_NEGATIVE, DetractorRule
from chalicelib.alerts.samples import SAMPLES, TOP_THEMES, sample_of, window_items
from chalicelib.config import settings
from chalicelib.models import RatingScale, StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store.config_records import ALERT_STATE
from chalicelib.store.schema import RECORD_TYPE, SK, TTL_ATTRIBUTE

# A stream batch that began before its window ended has finished by then (the function's timeout is 60 s).
DIGEST_GRACE = timedelta(minutes=2)
# Closed windows a run still looks at: a digest a 429 released, or a run that did not happen.
LOOKBACK_WINDOWS = 6
NOTIFY_CHANNELS = ("slack", "email")
RECORD_RETENTION = timedelta(days=2)
TOP_SOURCES = 5
DETRACTORS, REASON, SOURCE, SENT, DIGEST, NOT_BEFORE = "detractors", "r|", "src|", "sent|", "digest|", "nb|"


def window_of(at: datetime, minutes: int) -> datetime:
    """The start of the `minutes`-long window (aligned on the epoch) that holds `at`."""
    seconds = minutes * 60
    return datetime.fromtimestamp(int(at.timestamp()) // seconds * seconds, UTC)


def state_id(rule_id: str, start: datetime) -> str:
    return f"{rule_id}#digest#{start:%Y-%m-%dT%H:%M}"


def reason_name(why: str) -> str:
    """The reason a digest counts: the scale ("NPS", "Stars"), or the named customer's negative feedback;
    `why` is a rule's reason, RatingScale.describe's words ("NPS 3/10", "1/5 stars")."""
    if why == NAMED_NEGATIVE:
        return "negative, known customer"
    return RatingScale.STARS.label if why.endswith(" stars") else why.split(" ", 1)[0]


def _update(
    record_id: str, adds: Counter[str], sets: dict[str, Any], returned: str = "NONE"
) -> dict[str, Any]:
    names = {f"#a{n}": name for n, name in enumerate(adds)}
    values: dict[str, Any] = {f":a{n}": adds[name] for n, name in enumerate(adds)}
    names |= {f"#s{n}": name for n, name in enumerate(sets)}
    values |= {f":s{n}": value for n, value in enumerate(sets.values())}
    expression = "ADD " + ", ".join(f"#a{n} :a{n}" for n in range(len(adds)))
    if sets:
        expression += " SET " + ", ".join(f"#s{n} = :s{n}" for n in range(len(sets)))
    response = aws.client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=dynamo.serialize(ALERT_STATE.key(record_id)),
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=dynamo.serialize(values),
        ReturnValues=returned,
    )
    return dynamo.deserialize(response.get("Attributes", {}))


def tally(rule: DetractorRule, start: datetime, detractors: Sequence[tuple[StoredFeedback, str]]) -> int:
    """Count newly claimed detractors (item, reason) into the window's record (one UpdateItem); the window's
    total after them, so theirs are the places total - len + 1 … total."""
    adds: Counter[str] = Counter({DETRACTORS: len(detractors)})
    for item, why in detractors:
        adds[REASON + reason_name(why)] += 1
        adds[SOURCE + item.source_id] += 1
    end = start + timedelta(minutes=rule.digest_minutes)
    sets = {
        RECORD_TYPE: ALERT_STATE.kind,
        "rule_id": rule.rule_id,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        TTL_ATTRIBUTE: int((end + RECORD_RETENTION).timestamp()),
    }
    return int(_update(state_id(rule.rule_id, start), adds, sets, "UPDATED_NEW")[DETRACTORS])


def record_sent(rule_id: str, start: datetime, sent: Counter[str]) -> None:
    """How many of the window's detractors each channel carried one by one (the digest says the rest)."""
    _update(state_id(rule_id, start), Counter({SENT + channel: n for channel, n in sent.items()}), {})


def due_windows(rules: Sequence[DetractorRule], now: datetime) -> dict[str, tuple[DetractorRule, datetime]]:
    """State id → (rule, window start) of each closed window a digest may still be owed for."""
    due = {}
    for rule in rules:
        if not any(getattr(rule.notify, channel) for channel in NOTIFY_CHANNELS):
            continue
        length = timedelta(minutes=rule.digest_minutes)
        last_closed = window_of(now - DIGEST_GRACE, rule.digest_minutes) - length
        for back in range(LOOKBACK_WINDOWS):
            start = last_closed - length * back
            due[state_id(rule.rule_id, start)] = (rule, start)
    return due


def _claim(record_id: str, channel: str, alert_id: str, now: datetime) -> bool:
    """Take the window's digest on `channel` (one conditional write): False when a run already has it, or
    a 429's Retry-After has not passed."""
    try:
        aws.client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=dynamo.serialize(ALERT_STATE.key(record_id)),
            UpdateExpression="SET #digest = :id",
            ConditionExpression=(
                "attribute_not_exists(#digest) AND (attribute_not_exists(#nb) OR #nb <= :now)"
            ),
            ExpressionAttributeNames={"#digest": DIGEST + channel, "#nb": NOT_BEFORE + channel},
            ExpressionAttributeValues={":id": {"S": alert_id}, ":now": {"N": str(int(now.timestamp()))}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _release(record_id: str, channel: str, not_before: datetime) -> None:
    """A digest the channel rate-limited: a later run sends it, after `not_before`."""
    aws.client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=dynamo.serialize(ALERT_STATE.key(record_id)),
        UpdateExpression="REMOVE #digest SET #nb = :nb",
        ExpressionAttributeNames={"#digest": DIGEST + channel, "#nb": NOT_BEFORE + channel},
        ExpressionAttributeValues={":nb": {"N": str(int(not_before.timestamp()))}},
    )


def _counts(record: dict[str, Any], prefix: str) -> list[tuple[str, int]]:
    found = [(name[len(prefix) :], int(n)) for name, n in record.items() if name.startswith(prefix) and n]
    return sorted(found, key=lambda pair: (-pair[1], pair[0]))


def dashboard_filters(
    rule: DetractorRule, reasons: list[tuple[str, int]], sources: list[tuple[str, int]]
) -> dict[str, str]:
    """The dashboard's filters that hold for every detractor of the digest (it filters one band at a time)."""
    filters = {}
    if len(sources) == 1:
        filters["source"] = sources[0][0]
    if len(rule.channels) == 1:
        filters["channel"] = rule.channels[0].value
    only = {name for name, _ in reasons}
    if only == {"NPS"} and rule.nps_max == 6:
        filters["rating"] = "nps:detractor"
    elif only == {reason_name(NAMED_NEGATIVE)}:
        filters["sentiment"] = "NEGATIVE"
    return filters


def window_detractors(rule: DetractorRule, start: datetime) -> list[StoredFeedback]:
    """The window's detractors, read only when a digest is due (bounded like a spike's samples)."""
    end = start + timedelta(minutes=rule.digest_minutes)
    return [item for item in window_items(start - DIGEST_GRACE, end) if rule.reason(item) is not None]


def digest_alert(
    rule: DetractorRule,
    record: dict[str, Any],
    start: datetime,
    more: int,
    *,
    alert_id: str,
    items: Sequence[StoredFeedback],
) -> Alert:
    """The digest of a window: the detractors a channel did not carry one by one, with the window's counts."""
    end = start + timedelta(minutes=rule.digest_minutes)
    total = int(record.get(DETRACTORS, 0))
    reasons, sources = _counts(record, REASON), _counts(record, SOURCE)
    themes = Counter(tag.id for item in items for tag in item.themes or ())
    with_text = [item for item in reversed(items) if item.text.strip()][:SAMPLES]
    one_source = len(rule.sources) == 1
    return Alert(
        alert_id=alert_id,
        rule_id=rule.rule_id,
        rule_kind=rule.kind,
        description=rule.description,
        summary=(
            f"…and {more} more detractor{'s' if more != 1 else ''} in the {rule.digest_minutes} minutes to "
            f"{end:%H:%M} UTC ({total} in all, {total - more} with a message of their own)"
        ),
        fired_at=end,
        dimension="source" if one_source else "overall",
        value=rule.sources[0] if one_source else None,
        window_start=start,
        window_end=end,
        count=more,
        negatives=0,
        top_themes=themes.most_common(TOP_THEMES),
        breakdown=reasons + [(f"source {source}", n) for source, n in sources[:TOP_SOURCES]],
        samples=[sample_of(item) for item in with_text],
        dashboard_url=dispatch.dashboard_link(
            "overall",
            None,
            start,
            end,
            negatives_only=False,
            filters=dashboard_filters(rule, reasons, sources),
        ),
    )


def send_due(
    rules: Sequence[DetractorRule], now: datetime, notifiers: dispatch.NotifierFactory | None = None
) -> list[Alert]:
    """The evaluator's part: each closed window's digest on each channel that did not carry all of its
    detractors, claimed first (once, however many runs); one BatchGetItem of the windows' records."""
    due = due_windows(rules, now)
    if not due:
        return []
    records = dynamo.batch_get(settings().table_name, [ALERT_STATE.key(record_id) for record_id in due])
    sent = []
    for record in records:
        record_id = str(record[SK])
        rule, start = due[record_id]
        items: list[StoredFeedback] | None = None
        for channel in NOTIFY_CHANNELS:
            more = int(record.get(DETRACTORS, 0)) - int(record.get(SENT + channel, 0))
            if not getattr(rule.notify, channel) or more <= 0 or DIGEST + channel in record:
                continue
            alert_id = cooldown.alert_id_for(rule.rule_id, f"digest={start:%Y-%m-%dT%H:%M}|{channel}", start)
            if not _claim(record_id, channel, alert_id, now):
                continue
            items = window_detractors(rule, start) if items is None else items
            alert = digest_alert(rule, record, start, more, alert_id=alert_id, items=items)
            delivery = dispatch.deliver(channel, [alert], rule.rule_id, notifiers)
            if delivery.outcome == "rate limited":
                _release(record_id, channel, now + timedelta(seconds=delivery.retry_after or 60))
            sent.append(alert)
    return sent
