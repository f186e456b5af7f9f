"""An alert names its slice as its rule (or its item) does, never as the hours read happen to suggest: a form
slice whose hours hold no `fm|` count, a source that is also a form, a silence, a detractor's form."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.alerts import detractors, digest, evaluator
from chalicelib.alerts.rules import DetractorRule, Dimension, Metric, SilenceRule, SpikeRule
from chalicelib.models import Channel, RatingScale
from tests.alerts_support import feedback

NOW = datetime(2027, 5, 5, 14, 20, tzinfo=UTC)
HOUR = NOW.replace(minute=0)


def test_a_negative_share_spike_is_labelled_by_its_rules_dimension_whatever_the_hours_hold():
    # The form's responses are counted (fs|), but no hour read says it is a form (no fm|: counters rebuilt
    # by an older version, or written before forms were counted apart).
    now_counts = Counter({"fs|demo|NEGATIVE": 12, "fs|demo|NEUTRAL": 3, "s|form|NEGATIVE": 12})
    per_hour = {HOUR: now_counts, HOUR - timedelta(weeks=1): Counter({"fs|demo|NEUTRAL": 10})}
    per_form = SpikeRule(
        rule_id="alr_form0001", dimension=Dimension.FORM, value="demo", metric=Metric.NEGATIVE_SHARE
    )
    per_source = SpikeRule(rule_id="alr_source001", dimension=Dimension.SOURCE, metric=Metric.NEGATIVE_SHARE)
    each_form = SpikeRule(rule_id="alr_eachform1", dimension=Dimension.FORM, metric=Metric.NEGATIVE_SHARE)

    fired = evaluator.evaluate([per_form, per_source, each_form], per_hour, NOW)

    assert [(f.rule.rule_id, f.dimension, f.value) for f in fired] == [
        ("alr_form0001", Dimension.FORM, "demo"),
        ("alr_source001", Dimension.SOURCE, "demo"),
    ], "a form rule fires for its form; a source rule counts forms too; nothing says which others are forms"
    assert fired[0].summary.startswith("Negative spike: 80% of form demo negative")
    assert fired[1].summary.startswith("Negative spike: 80% of source demo negative")


def test_a_source_rule_counts_a_form_like_any_source_when_the_hours_say_it_is_one():
    per_hour = {
        HOUR: Counter({"fs|demo|NEGATIVE": 12, "fm|demo": 12, "fs|src_hook|NEUTRAL": 2}),
        HOUR - timedelta(weeks=1): Counter({"fs|demo|NEUTRAL": 10, "fm|demo": 10}),
    }
    rule = SpikeRule(rule_id="alr_source002", dimension=Dimension.SOURCE, metric=Metric.NEGATIVE_SHARE)

    [firing] = evaluator.evaluate([rule], per_hour, NOW)

    assert (firing.dimension, firing.value) == (Dimension.SOURCE, "demo")


def test_a_silence_is_about_a_source_as_its_rule_says_even_for_a_form():
    usual = Counter({"fs|demo|NEUTRAL": 4, "fm|demo": 4})
    per_hour = {HOUR - timedelta(weeks=w, hours=h): usual for w in range(1, 5) for h in range(8)}
    rule = SilenceRule(rule_id="alr_silence01", source_id="demo", hours=3)

    [firing] = evaluator.evaluate([rule], per_hour, NOW)

    assert (firing.dimension, firing.value) == (Dimension.SOURCE, "demo")
    assert firing.summary.startswith("Silence: source demo has delivered nothing for 3 hours")
    assert firing.slice_key == "source=demo"


def test_a_detractors_slice_is_its_items_own_form_or_source(monkeypatch):
    monkeypatch.setenv("DASHBOARD_URL", "https://feedback.example.com/dashboard")
    from chalicelib.config import settings

    settings.cache_clear()
    rule = DetractorRule(rule_id="alr_detract01")
    on_form = feedback(NOW, rating=(RatingScale.NPS, 2))
    on_hook = feedback(NOW, source="src_hook", channel=Channel.WEBHOOK, rating=(RatingScale.CSAT, 1))

    form_alert = detractors.alert_for(rule, on_form, "NPS 2", "alt_1")
    hook_alert = detractors.alert_for(rule, on_hook, "CSAT 1", "alt_2")

    assert (form_alert.dimension, form_alert.value, form_alert.slice_label) == ("form", "demo", "form demo")
    assert (hook_alert.dimension, hook_alert.value) == ("source", "src_hook")
    assert form_alert.dashboard_url and "source=demo" in form_alert.dashboard_url
    assert hook_alert.dashboard_url and "source=src_hook" in hook_alert.dashboard_url
    settings.cache_clear()


@pytest.mark.parametrize(
    ("scale", "rating", "why"),
    [
        (RatingScale.NPS, 3, "NPS 3/10"),
        (RatingScale.CSAT, 2, "CSAT 2/5"),
        (RatingScale.STARS, 1, "1/5 stars"),
    ],
)
def test_a_detractors_reason_reads_as_its_scale_is_written(scale, rating, why):
    """A one-star review was announced as "Detractor: STARS 1" (the scale's id upper-cased); the reason reads
    as the CRM activities write a rating, with the scale's top, and a digest counts it by its scale."""
    item = feedback(NOW, rating=(scale, rating))

    assert DetractorRule(rule_id="alr_detract01").reason(item) == why
    assert digest.reason_name(why) == scale.label
