"""The scheduled evaluator: spike and silence rules against the per-hour counters (store/counters.py).

Baseline: the same hours of the week over the last `weeks` weeks (at most four), not a rolling mean and
deviation. Feedback follows the week (busy weekday mornings, quiet nights and Sundays): a rolling mean of
the last day would call every ordinary Monday 10:00 a spike and miss a night surge that is small in
absolute terms but many times the night's usual; the same hour a week earlier already carries both
rhythms. It is also what keeps the reads flat: a run reads the window's hours and the same hours 1..4
weeks back, `COUNTER_SHARDS` items each, in one BatchGetItem per 100 keys, whatever the history.

An hour's counter covers the whole clock hour, so the window is the current hour so far and the
`window_hours - 1` before it: a burst fires on the first run (every 5 minutes) after its count crosses the
threshold. A silence of `hours` is `hours + 1` clock hours without an item (the current one included), so it
fires between `hours` and `hours + 1` hours after the last item.

A rule that fires claims its cool-down first (cooldown.py, one conditional write), then notifies: two runs
at once, or a run repeated, notify once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.alerts import cooldown, digest, dispatch
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.notify.base import Alert
from chalicelib.alerts.rules import DetractorRule, Dimension, Metric, SilenceRule, SpikeRule
from chalicelib.alerts.samples import slice_samples
from chalicelib.models import utc_now
from chalicelib.observability import logger
from chalicelib.store import counters
from chalicelib.store.counters import FORM_ITEMS, hour_of

WEEK = timedelta(days=7)
HOUR = timedelta(hours=1)
NEGATIVE = "NEGATIVE"
HourCounts = Mapping[datetime, Counter[str]]
# Totals of one slice value: (items, negative items).
Totals = dict[str | None, tuple[int, int]]


@dataclass(frozen=True)
class Firing:
    """A rule whose condition holds for one slice value, before its cool-down is claimed."""

    rule: SpikeRule | SilenceRule
    dimension: Dimension
    value: str | None
    window_start: datetime
    window_end: datetime
    count: int
    negatives: int
    baseline: float
    threshold: float
    summary: str

    @property
    def slice_key(self) -> str:
        return f"{self.dimension.value}={self.value or '*'}"


def window(now: datetime, hours: int) -> list[datetime]:
    """The clock hours of a window ending now (the current hour included), oldest first."""
    current = hour_of(now)
    return [current - HOUR * back for back in range(hours - 1, -1, -1)]


def weeks_before(hours: Sequence[datetime], weeks: int) -> list[list[datetime]]:
    """The same hours 1..`weeks` weeks earlier, one list per week."""
    return [[hour - WEEK * week for hour in hours] for week in range(1, weeks + 1)]


def rule_window(rule: SpikeRule | SilenceRule, now: datetime) -> list[datetime]:
    if isinstance(rule, SpikeRule):
        return window(now, rule.window_hours)
    return window(now, rule.hours + 1)


def hours_needed(rules: Iterable[SpikeRule | SilenceRule], now: datetime) -> list[datetime]:
    """Every hour the rules read: their windows and the same hours in each baseline week."""
    needed: set[datetime] = set()
    for rule in rules:
        hours = rule_window(rule, now)
        needed.update(hours)
        for week in weeks_before(hours, rule.weeks):
            needed.update(week)
    return sorted(needed)


def forms_among(per_hour: HourCounts) -> set[str]:
    """The source ids that are forms (each form's items are counted under `fm|<form>` too)."""
    prefix = f"{FORM_ITEMS}|"
    return {name[len(prefix) :] for counts in per_hour.values() for name in counts if name.startswith(prefix)}


def slice_totals(counts: Counter[str], dimension: Dimension, forms: set[str]) -> Totals:
    """(items, negatives) of each value of `dimension` in one hour's counters."""
    totals: dict[str | None, list[int]] = {}

    def add(value: str | None, sentiment: str, n: int) -> None:
        entry = totals.setdefault(value, [0, 0])
        entry[0] += n
        entry[1] += n if sentiment == NEGATIVE else 0

    for name, n in counts.items():
        if name.startswith("s|") and dimension in (Dimension.OVERALL, Dimension.CHANNEL):
            channel, sentiment = name[2:].rsplit("|", 1)
            add(None if dimension is Dimension.OVERALL else channel, sentiment, n)
        elif name.startswith("fs|") and dimension in (Dimension.SOURCE, Dimension.FORM):
            # A source slice is every source, forms included (as the dashboard's source filter and the
            # samples see it); a form slice, the forms only.
            source, sentiment = name[3:].rsplit("|", 1)
            if dimension is Dimension.SOURCE or source in forms:
                add(source, sentiment, n)
        elif name.startswith("t|") and dimension is Dimension.THEME:
            theme, _, sentiment = name[2:].partition("|")
            entry = totals.setdefault(theme, [0, 0])
            # `t|<theme>` counts the items; `t|<theme>|NEGATIVE` those negative about it.
            if not sentiment:
                entry[0] += n
            elif sentiment == NEGATIVE:
                entry[1] += n
    return {value: (items, negatives) for value, (items, negatives) in totals.items()}


def sum_totals(
    per_hour: HourCounts, hours: Iterable[datetime], dimension: Dimension, forms: set[str]
) -> Totals:
    summed: dict[str | None, tuple[int, int]] = {}
    for hour in hours:
        for value, (items, negatives) in slice_totals(
            per_hour.get(hour, Counter()), dimension, forms
        ).items():
            before = summed.get(value, (0, 0))
            summed[value] = (before[0] + items, before[1] + negatives)
    return summed


def _label(dimension: Dimension, value: str | None) -> str:
    return "all feedback" if dimension is Dimension.OVERALL else f"{dimension.value} {value}"


def evaluate_spike(rule: SpikeRule, per_hour: HourCounts, now: datetime) -> list[Firing]:
    hours = window(now, rule.window_hours)
    # The rule names its form: counted as one whether or not the hours read say so (`fm|`).
    forms = forms_among(per_hour) | (
        {rule.value} if rule.dimension is Dimension.FORM and rule.value else set()
    )
    current = sum_totals(per_hour, hours, rule.dimension, forms)
    weeks = [sum_totals(per_hour, week, rule.dimension, forms) for week in weeks_before(hours, rule.weeks)]
    values: list[str | None] = [None] if rule.dimension is Dimension.OVERALL else list(current)
    if rule.dimension is not Dimension.OVERALL and rule.value:
        values = [rule.value]
    firings = []
    for value in values:
        items, negatives = current.get(value, (0, 0))
        past = [week.get(value, (0, 0)) for week in weeks]
        span = f"the last {rule.window_hours} hour{'s' if rule.window_hours > 1 else ''}"
        if rule.metric is Metric.COUNT:
            baseline = sum(p[0] for p in past) / len(past)
            threshold = max(float(rule.min_count), rule.factor * baseline)
            fires = items >= threshold
            summary = (
                f"Spike: {items} items about {_label(rule.dimension, value)} in {span}, against "
                f"{baseline:.1f} usually at this time of the week"
            )
        else:
            past_items = sum(p[0] for p in past)
            baseline = sum(p[1] for p in past) / past_items if past_items else 0.0
            threshold = baseline + rule.share_increase
            share = negatives / items if items else 0.0
            fires = negatives >= rule.min_count and share >= threshold
            summary = (
                f"Negative spike: {share:.0%} of {_label(rule.dimension, value)} negative in {span} "
                f"({negatives} of {items}), against {baseline:.0%} usually at this time of the week"
            )
        if fires:
            firings.append(
                Firing(
                    rule, rule.dimension, value, hours[0], now, items, negatives, baseline, threshold, summary
                )
            )
    return firings


def evaluate_silence(rule: SilenceRule, per_hour: HourCounts, now: datetime) -> list[Firing]:
    """A silence's slice is a source (a form is one too): labelled so from the rule, never from the data."""
    hours = window(now, rule.hours + 1)
    current = sum_totals(per_hour, hours, Dimension.SOURCE, set())
    weeks = [sum_totals(per_hour, week, Dimension.SOURCE, set()) for week in weeks_before(hours, rule.weeks)]
    candidates = [rule.source_id] if rule.source_id else sorted({v for week in weeks for v in week if v})
    firings = []
    for source in candidates:
        baseline = sum(week.get(source, (0, 0))[0] for week in weeks) / rule.weeks
        if current.get(source, (0, 0))[0] == 0 and baseline >= rule.min_baseline:
            dimension = Dimension.SOURCE
            summary = (
                f"Silence: {dimension.value} {source} has delivered nothing for {rule.hours} hours "
                f"(usually {baseline:.1f} items in these hours of the week)"
            )
            firings.append(
                Firing(rule, dimension, source, hours[0], now, 0, 0, baseline, rule.min_baseline, summary)
            )
    return firings


def evaluate(rules: Iterable[SpikeRule | SilenceRule], per_hour: HourCounts, now: datetime) -> list[Firing]:
    """Every (rule, slice value) whose condition holds now: pure, from the counters given."""
    firings: list[Firing] = []
    for rule in rules:
        if isinstance(rule, SpikeRule):
            firings += evaluate_spike(rule, per_hour, now)
        else:
            firings += evaluate_silence(rule, per_hour, now)
    return firings


def alert_of(firing: Firing, alert_id: str) -> Alert:
    """The alert a claimed firing sends, with its slice's top themes and sample comments."""
    negatives_first = isinstance(firing.rule, SpikeRule) and firing.rule.metric is Metric.NEGATIVE_SHARE
    top_themes, samples = (
        slice_samples(firing.dimension, firing.value, firing.window_start, firing.window_end, negatives_first)
        if firing.count
        else ([], [])
    )
    return Alert(
        alert_id=alert_id,
        rule_id=firing.rule.rule_id,
        rule_kind=firing.rule.kind,
        description=firing.rule.description,
        summary=firing.summary,
        fired_at=firing.window_end,
        dimension=firing.dimension.value,
        value=firing.value,
        window_start=firing.window_start,
        window_end=firing.window_end,
        count=firing.count,
        negatives=firing.negatives,
        baseline=firing.baseline,
        threshold=firing.threshold,
        top_themes=top_themes,
        samples=samples,
        dashboard_url=dispatch.dashboard_link(
            firing.dimension.value, firing.value, firing.window_start, firing.window_end, negatives_first
        ),
    )


@dataclass
class RunReport:
    rules: int = 0
    hours_read: int = 0
    fired: list[Alert] = field(default_factory=list)
    cooling_down: int = 0
    digests: list[Alert] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": self.rules,
            "hours_read": self.hours_read,
            "fired": [alert.alert_id for alert in self.fired],
            "cooling_down": self.cooling_down,
            "digests": [alert.alert_id for alert in self.digests],
        }


def run(now: datetime | None = None, notifiers: dispatch.NotifierFactory | None = None) -> RunReport:
    """One evaluation: the rules (one Query), the hours they read (BatchGetItem), and for each firing its
    cool-down claimed, then its notifications sent; then the detractor digests that are due."""
    now = now or utc_now()
    every_rule = rule_store.list_all()
    scheduled = [rule for rule in every_rule if isinstance(rule, SpikeRule | SilenceRule)]
    report = RunReport(rules=len(scheduled))
    hours = hours_needed(scheduled, now)
    report.hours_read = len(hours)
    per_hour = counters.read_hours(hours) if hours else {}
    for firing in evaluate(scheduled, per_hour, now):
        alert_id = cooldown.claim(firing.rule.rule_id, firing.slice_key, now, firing.rule.cooldown_minutes)
        if alert_id is None:
            report.cooling_down += 1
            continue
        alert = alert_of(firing, alert_id)
        dispatch.send(alert, firing.rule.notify, notifiers)
        report.fired.append(alert)
    # The detractor digests of windows that closed (one BatchGetItem when a detractor rule notifies).
    detractor_rules = [rule for rule in every_rule if isinstance(rule, DetractorRule)]
    report.digests = digest.send_due(detractor_rules, now, notifiers)
    logger.info("alerts evaluated", extra=report.as_dict())
    return report


def handle_schedule(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The scheduled function (every 5 minutes)."""
    return run().as_dict()
