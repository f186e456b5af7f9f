"""`python -m chalicelib.cli subscriptions …`: the secret shown once, filters, rotation, pause/resume, a test
delivery verified with the official library, the delivery log, and `replay` sending DLQ events again."""

from __future__ import annotations

import re

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib import aws
from chalicelib.cli import main
from chalicelib.local.outbound import create_delivery_queues
from chalicelib.outbound import deliveries, fanout, subscriptions
from chalicelib.outbound.delivery import QueuedDelivery, message_body
from tests.outbound_support import Receiver, not_http_port, running_receiver


@pytest.fixture
def outbound(stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    dlq_url, queue_url = create_delivery_queues()
    subscriptions.clear_cache()
    yield dlq_url, queue_url
    subscriptions.clear_cache()


def added(capsys, *argv: str) -> tuple[str, str]:
    assert main(["subscriptions", "add", *argv]) == 0
    out = capsys.readouterr().out
    subscription_id = re.search(r"subscription_id: (\S+)", out).group(1)
    secret = re.search(r"secret: +(whsec_\S+)", out).group(1)
    return subscription_id, secret


def test_add_shows_the_secret_once_and_list_show_never(outbound, capsys):
    subscription_id, secret = added(
        capsys, "--url", "https://hooks.example.com/in", "--event", "feedback.negative",
        "--form", "demo", "--rating-scale", "nps", "--rating-max", "6",
        "--description", "CRM detractor queue",
    )  # fmt: skip
    assert main(["subscriptions", "list"]) == 0
    listed = capsys.readouterr().out
    assert subscription_id in listed and listed.rstrip().endswith("CRM detractor queue")  # what it is for
    assert main(["subscriptions", "show", subscription_id]) == 0
    out = capsys.readouterr().out
    assert "description:     CRM detractor queue" in out
    assert subscription_id in out and secret not in out
    assert '"forms": ["demo"]' in out and '"rating_max": 6' in out
    stored = subscriptions.get_fresh(subscription_id)
    assert stored.filters.forms == ["demo"] and stored.filters.rating_max == 6


def test_bad_input_is_refused_and_nothing_is_stored(outbound, capsys):
    assert main(["subscriptions", "add", "--url", "ftp://x.example", "--event", "feedback.stored"]) == 2
    assert main(["subscriptions", "add", "--url", "https://a.example", "--event", "feedback.stored",
                 "--rating-min", "9", "--rating-max", "1"]) == 2  # fmt: skip
    assert main(["subscriptions", "add", "--url", "notaurl", "--event", "feedback.stored"]) == 2
    assert main(["subscriptions", "add", "--url", "https://a.example", "--event", "feedback.stored",
                 "--sentiment", "happy", "--channel", "pigeon"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "error: --url: the URL must be http(s)://host/…" in err.splitlines()
    assert "error: --sentiment: Input should be 'POSITIVE', 'NEGATIVE', 'NEUTRAL' or 'MIXED'" in err
    assert "error: --channel: Input should be 'form'," in err
    assert "pydantic" not in err and "validation error for" not in err
    # A rating band needs its scale (5 is a top star rating and an NPS detractor) and lies on it.
    band = ["subscriptions", "add", "--url", "https://a.example", "--event", "feedback.stored"]
    assert main([*band, "--rating-min", "5"]) == 2
    assert main([*band, "--rating-scale", "csat", "--rating-min", "8"]) == 2
    assert main([*band, "--rating-scale", "nps", "--rating-max", "11"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --rating-min: give --rating-scale (nps, csat or stars) with it",
        "error: --rating-min: csat ratings are 1 to 5, got 8",
        "error: --rating-max: nps ratings are 0 to 10, got 11",
    ]
    with pytest.raises(SystemExit):
        main(["subscriptions", "add", "--url", "https://a.example", "--event", "nope"])
    assert subscriptions.list_all() == []
    assert main(["subscriptions", "show", "sub_doesnotexist123"]) == 1


def test_test_sends_a_signed_sample_and_pause_resume_rotate_remove(outbound, capsys):
    receiver = Receiver()
    with running_receiver(receiver):
        subscription_id, receiver.secret = added(capsys, "--url", receiver.url, "--event", "feedback.stored")
        assert main(["subscriptions", "test", subscription_id]) == 0
        assert capsys.readouterr().out.startswith("ok: HTTP 200")
        [sent] = receiver.received
        assert sent.verified and Webhook(receiver.secret).verify(sent.body, sent.headers)["type"] == (
            "feedback.stored"
        )
        assert main(["subscriptions", "pause", subscription_id]) == 0
        assert subscriptions.get_fresh(subscription_id).paused
        assert main(["subscriptions", "resume", subscription_id]) == 0
        assert not subscriptions.get_fresh(subscription_id).paused
        assert main(["subscriptions", "rotate", subscription_id, "--overlap-hours", "2"]) == 0
        new_secret = re.search(r"secret: +(whsec_\S+)", capsys.readouterr().out).group(1)
        assert main(["subscriptions", "test", subscription_id]) == 0
        last = receiver.received[-1]
        Webhook(new_secret).verify(last.body, last.headers)
        Webhook(receiver.secret).verify(last.body, last.headers)  # the old one, during the overlap
    assert main(["subscriptions", "remove", subscription_id]) == 0
    assert subscriptions.get_fresh(subscription_id) is None
    assert main(["subscriptions", "remove", subscription_id]) == 1


def test_replay_moves_dead_letters_back_for_existing_subscriptions_only(outbound, capsys):
    dlq_url, queue_url = outbound
    kept, _ = added(capsys, "--url", "https://hooks.example.com/a", "--event", "feedback.stored")
    other, _ = added(capsys, "--url", "https://hooks.example.com/b", "--event", "feedback.stored")
    sqs = aws.client("sqs")
    for n, subscription_id in enumerate([kept, kept, other, "sub_removedremoved12"]):
        queued = QueuedDelivery(
            subscription_id=subscription_id, webhook_id=f"msg_{n}", event_type="feedback.stored",
            body='{"type":"feedback.stored"}', enqueued_at="2026-12-04T12:00:00+00:00",
        )  # fmt: skip
        sqs.send_message(QueueUrl=dlq_url, MessageBody=message_body(queued))
    assert main(["subscriptions", "replay", "--subscription", kept]) == 0
    assert capsys.readouterr().out.strip() == "replayed 2, skipped 2"
    requeued = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(QueuedDelivery.model_validate_json(m["Body"]).webhook_id for m in requeued) == [
        "msg_0",
        "msg_1",
    ]


def test_deliveries_prints_the_log(outbound, capsys, monkeypatch):
    receiver = Receiver(behaviour=lambda n, webhook_id: (500, {}, 0.0))
    with running_receiver(receiver):
        subscription_id, _ = added(capsys, "--url", receiver.url, "--event", "feedback.stored")
        _, queue_url = outbound
        monkeypatch.setenv("DELIVERY_QUEUE_URL", queue_url)
        from chalicelib.outbound import delivery
        from tests.test_outbound_delivery import queued_from_stream, stored_items

        [message] = queued_from_stream(stored_items(1), queue_url)
        delivery.attempt(message, 1)
    assert main(["subscriptions", "deliveries", subscription_id]) == 0
    out = capsys.readouterr().out
    assert "retrying" in out and "http=500" in out and "attempts=1" in out
    # When it is tried next (the API's next_attempt_at): 5 s after the first attempt.
    [next_attempt] = re.findall(r"next=(\S+)", out)
    assert next_attempt == deliveries.recent(subscription_id)[0]["next_attempt_at"][:19]
    assert deliveries.recent(subscription_id)[0]["status"] == "retrying"
    assert fanout.SEND_BATCH == 10


def test_test_says_in_words_why_a_receiver_that_is_no_http_server_failed(outbound, capsys):
    """A URL pointing at an SSH port or at nothing: one clear line and exit 1, not a traceback or a bare
    class name."""
    with not_http_port() as port:
        talking, _ = added(capsys, "--url", f"http://127.0.0.1:{port}/in", "--event", "feedback.stored")
        assert main(["subscriptions", "test", talking]) == 1
        assert capsys.readouterr().out.strip() == "failed: the answer is not HTTP (http.client.BadStatusLine)"
    silent, _ = added(capsys, "--url", f"http://127.0.0.1:{port}/in", "--event", "feedback.stored")
    assert main(["subscriptions", "test", silent]) == 1
    refused = "failed: connection refused (nothing listens on that host and port)"
    assert capsys.readouterr().out.strip() == refused


def test_deliveries_says_when_nothing_is_logged_and_refuses_limits_the_api_refuses(outbound, capsys):
    subscription_id, _ = added(capsys, "--url", "https://hooks.example.com/in", "--event", "feedback.stored")
    assert main(["subscriptions", "deliveries", subscription_id]) == 0
    empty = f"no deliveries logged for {subscription_id} in the last 14 days"
    assert capsys.readouterr().out.startswith(empty)
    for limit in ("0", "-3", "101", "many"):
        with pytest.raises(SystemExit) as refused:
            main(["subscriptions", "deliveries", subscription_id, "--limit", limit])
        assert refused.value.code == 2
        assert "expected a whole number from 1 to 100" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["subscriptions", "replay", "--limit", "0"])
    assert "expected a whole number, at least 1" in capsys.readouterr().err


def test_rotate_refuses_a_negative_overlap_and_replay_an_unknown_subscription(outbound, capsys):
    subscription_id, _ = added(capsys, "--url", "https://hooks.example.com/in", "--event", "feedback.stored")
    with pytest.raises(SystemExit) as refused:
        main(["subscriptions", "rotate", subscription_id, "--overlap-hours", "-5"])
    assert refused.value.code == 2 and "expected hours (0 or more)" in capsys.readouterr().err
    assert subscriptions.get_fresh(subscription_id).previous_until is None  # nothing rotated
    assert main(["subscriptions", "replay", "--subscription", "sub_nosuchsubscription"]) == 1
    assert "no subscription 'sub_nosuchsubscription'" in capsys.readouterr().err


def test_add_says_when_the_subscription_starts_receiving(outbound, capsys):
    """The stream function reads subscriptions cached: an event stored right after `add` may not reach it."""
    assert (
        main(["subscriptions", "add", "--url", "https://hooks.example.com/in", "--event", "feedback.stored"])
        == 0
    )
    out = capsys.readouterr().out
    assert "within CONFIG_CACHE_SECONDS (300 s as deployed, 60 under make run)" in out
    assert re.search(r"`subscriptions test sub_\w+` sends a sample now", out)


def test_replay_leaves_a_message_it_cannot_read_and_replays_the_rest(outbound, capsys):
    """A message that is no delivery (sent by hand, or by a version with another shape) used to end the run
    in a pydantic traceback with the messages after it not replayed."""
    dlq_url, queue_url = outbound
    kept, _ = added(capsys, "--url", "https://hooks.example.com/a", "--event", "feedback.stored")
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=dlq_url, MessageBody="not a delivery")
    queued = QueuedDelivery(
        subscription_id=kept, webhook_id="msg_1", event_type="feedback.stored",
        body='{"type":"feedback.stored"}', enqueued_at="2026-12-04T12:00:00+00:00",
    )  # fmt: skip
    sqs.send_message(QueueUrl=dlq_url, MessageBody=message_body(queued))
    assert main(["subscriptions", "replay"]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == "replayed 1, skipped 0"
    assert "1 message(s) in the DLQ are not delivery messages: left there" in captured.err
    assert "`subscriptions dlq delete` drops them" in captured.err
    [requeued] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert QueuedDelivery.model_validate_json(requeued["Body"]).webhook_id == "msg_1"
    left = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    left_hidden = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert (
        int(left["Attributes"]["ApproximateNumberOfMessages"])
        + int(left_hidden["Attributes"]["ApproximateNumberOfMessagesNotVisible"])
        == 1
    )


def test_pause_keeps_the_reason_the_system_paused_it_for(outbound, capsys):
    subscription_id, _ = added(capsys, "--url", "https://hooks.example.com/in", "--event", "feedback.stored")
    system_reason = "every attempt failed for a full retry schedule"
    subscriptions.set_paused(subscription_id, True, system_reason)

    assert main(["subscriptions", "pause", subscription_id]) == 0

    out = capsys.readouterr().out
    assert f"already paused ({system_reason}): nothing changed" in out
    assert f"state:           paused ({system_reason})" in out
    assert subscriptions.get_fresh(subscription_id).paused_reason == system_reason

    assert main(["subscriptions", "resume", subscription_id]) == 0
    assert main(["subscriptions", "resume", subscription_id]) == 0
    assert "already active: nothing changed" in capsys.readouterr().out
    assert not subscriptions.get_fresh(subscription_id).paused


def test_a_form_or_source_filter_naming_nothing_is_refused(outbound, capsys):
    """`--form chekout` was saved as a filter no stored item could ever match: a subscription that never
    fires, silently."""
    base = ["subscriptions", "add", "--url", "https://hooks.example.com/a", "--event", "feedback.stored"]
    assert main([*base, "--form", "chekout"]) == 2
    assert "--form: no form 'chekout'" in capsys.readouterr().err
    assert main([*base, "--source", "nope"]) == 2
    assert "--source: no source or form 'nope'" in capsys.readouterr().err
    assert subscriptions.list_all() == []
    assert main([*base, "--form", "demo"]) == 0
