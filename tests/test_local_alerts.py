"""Alerts on the local stack (what `make run` starts): a burst of negative responses reaches the demo
Slack-style receiver through the evaluator on its rate, and a detractor through the stream."""

from __future__ import annotations

import time

from chalicelib.alerts import rules as rule_store
from chalicelib.config import settings
from chalicelib.local.alerts import start_alerts
from chalicelib.models import RatingScale, Sentiment, utc_now
from chalicelib.store import feedback_write
from chalicelib.store.identities import Resolution
from tests.alerts_support import feedback


def test_a_burst_of_negative_responses_prints_an_alert_on_the_demo_receiver(stack, monkeypatch, capsys):
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("LOCAL_ALERTS_INTERVAL_SECONDS", "0.5")
    # start_alerts sets it where unset (the process is the local stack's); here it is restored after.
    monkeypatch.setenv("DASHBOARD_URL", "http://127.0.0.1:8000/dashboard")
    from app import evaluate_alerts

    alerts = start_alerts(evaluate_alerts, "http://127.0.0.1:8000/dashboard")
    try:
        now = utc_now()
        burst = [feedback(now, sentiment=Sentiment.NEGATIVE, text=f"Broken again {n}") for n in range(5)]
        burst.append(feedback(now, rating=(RatingScale.NPS, 2), text="Would not recommend"))
        feedback_write.save_feedback(burst, Resolution(), {})
        printed = ""
        for _ in range(40):
            alerts.stream.poll_once()
            printed += capsys.readouterr().out
            if "Feedback spike" in printed and "Detractor" in printed:
                break
            time.sleep(0.25)
    finally:
        alerts.stop()
        rule_store.clear_cache()
        settings.cache_clear()
    assert "[demo slack] /services/LOCAL/DEMO/alerts" in printed
    assert "Negative spike: 83% of all feedback negative" in printed
    assert "Broken again" in printed and "http://127.0.0.1:8000/dashboard?" in printed
    assert printed.count("Detractor: NPS 2") == 1
