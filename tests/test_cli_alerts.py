"""`python -m chalicelib.cli alerts …`: rules added, listed, tested through their channels and removed; bad
input refused with nothing stored; the Slack URL kept in SSM, never printed."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib import aws
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.rules import DetractorRule, SilenceRule, SpikeRule
from chalicelib.cli import main
from chalicelib.local.outbound import create_delivery_queues
from chalicelib.outbound import subscriptions
from chalicelib.outbound.delivery import QueuedDelivery
from tools.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def alerts(stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    rule_store.clear_cache()
    yield
    rule_store.clear_cache()


def added(capsys, *argv: str) -> str:
    assert main(["alerts", "add", *argv]) == 0
    return re.search(r"rule_id: (\S+)", capsys.readouterr().out).group(1)


def test_add_list_test_and_remove(alerts, capsys):
    with running_receiver(Receiver(), path="/services/T/B/secret") as slack:
        spike = added(
            capsys, "spike", "--dimension", "form", "--value", "demo", "--metric", "negative_share",
            "--min-count", "5", "--slack-webhook", slack.url, "--no-webhook",
        )  # fmt: skip
        detractor = added(
            capsys, "detractor", "--nps-max", "5", "--channel", "form",
            "--max-individual", "1", "--digest-minutes", "15",
        )  # fmt: skip
        silence = added(capsys, "silence", "--source", "src_x", "--hours", "4")
        assert main(["alerts", "list"]) == 0
        listing = capsys.readouterr().out
        assert main(["alerts", "test", spike]) == 0
        tested = capsys.readouterr().out

    assert {spike, detractor, silence} <= set(listing.split())
    assert slack.url not in listing and "secret" not in listing
    stored = {rule.rule_id: rule for rule in rule_store.list_all()}
    assert isinstance(stored[spike], SpikeRule) and stored[spike].min_count == 5
    assert stored[spike].notify.slack and not stored[spike].notify.webhook
    assert isinstance(stored[detractor], DetractorRule) and stored[detractor].nps_max == 5
    assert (stored[detractor].max_individual, stored[detractor].digest_minutes) == (1, 15)
    assert isinstance(stored[silence], SilenceRule) and stored[silence].hours == 4
    assert "slack    sent" in tested and "the condition does not hold" in tested
    [posted] = slack.received
    assert json.loads(posted.body)["text"].startswith(f"Test of alert rule {spike}")

    assert main(["alerts", "remove", spike]) == 0
    assert rule_store.get_fresh(spike) is None and rule_store.slack_url(spike) is None
    assert main(["alerts", "remove", spike]) == 1


def test_bad_rules_are_refused_and_nothing_is_stored(alerts, capsys, monkeypatch):
    assert main(["alerts", "add", "spike", "--factor", "0.5"]) == 2
    assert main(["alerts", "add", "silence", "--source", "src_x", "--min-baseline", "-1"]) == 2
    # Each problem in the command's terms: the option, what is wrong; no pydantic model names or links.
    assert capsys.readouterr().err.splitlines() == [
        "error: --factor: Input should be greater than 1",
        "error: --min-baseline: Input should be greater than 0",
    ]
    # Off the local stack, Slack is reached like a webhook subscriber: https, public addresses only.
    monkeypatch.delenv("OUTBOUND_ALLOW_LOOPBACK")
    assert main(["alerts", "add", "detractor", "--slack-webhook", "http://hooks.slack.example/x"]) == 2
    assert main(["alerts", "add", "detractor", "--slack-webhook", "https://127.0.0.1/services/x"]) == 2
    assert main(["alerts", "add", "silence", "--hours", "0"]) == 2
    assert main(["alerts", "add", "detractor", "--digest-minutes", "1"]) == 2
    assert main(["alerts", "add", "detractor", "--max-individual", "-1"]) == 2
    assert main(["alerts", "add", "detractor", "--slack-webhook", "not a url"]) == 2
    with pytest.raises(SystemExit):
        main(["alerts", "add", "spike", "--dimension", "planet"])
    assert rule_store.list_all() == []
    assert main(["alerts", "test", "alr_doesnotexist"]) == 1


def test_test_queues_the_alert_event_where_the_stage_named_the_queue(alerts, capsys, monkeypatch):
    """The operator's CLI is not given DELIVERY_QUEUE_URL (only the functions are): it finds the delivery
    queue by the stage's name, as `subscriptions replay` does, so `alerts test` reaches the subscribers."""
    monkeypatch.delenv("DELIVERY_QUEUE_URL", raising=False)
    _, queue_url = create_delivery_queues()
    subscriptions.clear_cache()
    subscriptions.create("https://hooks.example.com/in", ["alert.triggered"])
    rule_id = added(capsys, "spike", "--dimension", "overall")
    assert main(["alerts", "test", rule_id]) == 0
    assert "webhook  sent" in capsys.readouterr().out
    [message] = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    queued = QueuedDelivery.model_validate_json(message["Body"])
    assert queued.event_type == "alert.triggered" and rule_id in queued.body
    subscriptions.clear_cache()


def test_add_says_when_the_rule_is_first_judged(alerts, capsys):
    assert main(["alerts", "add", "silence", "--hours", "3"]) == 0
    out = capsys.readouterr().out
    assert "judged within CONFIG_CACHE_SECONDS (300 s as deployed, 60 under make run)" in out
    assert re.search(r"`alerts test alr_\w+` sends a sample", out)


def test_spike_options_the_rule_would_never_use_are_refused(alerts, capsys):
    assert main(["alerts", "add", "spike", "--value", "demo"]) == 2  # --dimension overall by default
    assert main(["alerts", "add", "spike", "--share-increase", "0.5"]) == 2  # --metric count by default
    assert main(["alerts", "add", "spike", "--metric", "negative_share", "--factor", "5"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --value: the overall dimension has none; give --dimension form, channel, source or theme",
        "error: --share-increase: only with --metric negative_share (a count rule uses --factor)",
        "error: --factor: only with --metric count (a negative-share rule uses --share-increase)",
    ]
    assert rule_store.list_all() == []


def test_test_says_what_a_channel_that_is_not_set_up_lacks(alerts, capsys, monkeypatch):
    monkeypatch.delenv("ALERTS_TOPIC_ARN", raising=False)
    rule_id = added(capsys, "detractor", "--email", "--no-webhook")
    assert main(["alerts", "test", rule_id]) == 1
    missing = "ALERTS_TOPIC_ARN is not set here (the stage's alerts SNS topic; `make run` has none)"
    assert capsys.readouterr().out.splitlines() == [f"email    not set up: {missing}"]
