"""Every AWS call each function makes, driven through its handler under moto, is allowed by that function's
role in the synthesized template: the action, the resource (table, index, object key, queue, parameter,
function, topic) and the partitions `dynamodb:LeadingKeys` limits it to. A new code path that calls what the
role does not grant fails here instead of with AccessDenied on AWS (tests/iam_calls.py: the recorder and
the evaluator, written by hand; moto's IAM access control checks neither resources nor conditions)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import aws
from chalicelib.auth import authorizer, tokens
from chalicelib.config import settings
from chalicelib.export import rewrite
from chalicelib.models import Channel, RatingScale
from infra import permissions
from tests.iam_calls import (
    EXPORT_FUNCTION_NAME,
    CallRecorder,
    Invocations,
    Policy,
    Request,
    drain_queue,
    names_of,
    refused,
    role_statements,
)
from tests.infra_synth import Synth


def forget_clients() -> None:
    """Drop every client the app keeps: the shared ones, and those the parameter providers hold (a client
    built before the recorder was attached would call AWS unrecorded)."""
    from chalicelib.alerts import rules
    from chalicelib.channels import sources
    from chalicelib.crm import connections
    from chalicelib.outbound import subscriptions

    aws.reset_clients()
    for clear_cache in (
        sources.clear_cache,
        subscriptions.clear_cache,
        rules.clear_cache,
        connections.clear_cache,
        tokens.clear_cache,
    ):
        clear_cache()


@pytest.fixture
def invocations(stack) -> Iterator[Invocations]:
    """Lambda's Invoke answered here for every client built from now on (see `recorder`)."""
    invocations = Invocations()
    events = boto3._get_default_session().events
    events.register("before-call.lambda.Invoke", invocations, unique_id="iam-calls-invoke")
    yield invocations
    events.unregister("before-call.lambda.Invoke", unique_id="iam-calls-invoke")


@pytest.fixture
def recorder(stack, synth: Synth, invocations: Invocations, monkeypatch) -> Iterator[CallRecorder]:
    """Every AWS call recorded for the function `recorder.running(…)` names; the authorizer's token reads
    for the bearer authorizer, whichever route asks."""
    monkeypatch.setenv("EXPORT_FUNCTION_NAME", EXPORT_FUNCTION_NAME)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", EXPORT_FUNCTION_NAME)
    # A deployed function's clock (Chalice's test context has none that matches a deployed timeout).
    monkeypatch.setattr(rewrite, "remaining_time", lambda context: lambda: 800_000)
    settings.cache_clear()
    recorder = CallRecorder(names_of(synth))
    events = boto3._get_default_session().events
    recorder.attach(events)
    forget_clients()  # clients copy the session's handlers when they are built

    def as_the_authorizer(call: Any) -> Any:
        def called_by_the_authorizer(*args: Any) -> Any:
            with recorder.running(permissions.BEARER):
                return call(*args)

        return called_by_the_authorizer

    # The calls `bearer` makes: the token's check and the stamp of its use.
    monkeypatch.setattr(authorizer, "verify", as_the_authorizer(authorizer.verify))
    monkeypatch.setattr(authorizer, "note_use", as_the_authorizer(authorizer.note_use))
    yield recorder
    recorder.detach(events)
    forget_clients()
    settings.cache_clear()


@pytest.fixture(scope="module")
def policies(synth: Synth) -> dict[str, Policy]:
    return {function: Policy(role_statements(synth, function)) for function in permissions.FUNCTIONS}


# --- scenarios -------------------------------------------------------------------------------------------

NOW = datetime.now(UTC)


def analyze_batch(client: Client, recorder: CallRecorder, *events: Any) -> None:
    """The analyze function over one SQS record per event, through its handler."""
    from chalicelib.ingest.queue import encode_events

    bodies = [body for event in events for body in encode_events([event])]
    sqs_event = client.events.generate_sqs_event(
        message_bodies=bodies, queue_name=os.environ["INGEST_QUEUE_NAME"]
    )
    with recorder.running(permissions.ANALYZE):
        assert client.lambda_.invoke("analyze", sqs_event).payload == {"batchItemFailures": []}


def run_invocations(client: Client, recorder: CallRecorder, invocations: Invocations) -> list[Any]:
    """What the functions invoked asynchronously (the export function), run through its handler."""
    results = []
    while events := invocations.take():
        with recorder.running(permissions.NIGHTLY_EXPORT):
            results += [client.lambda_.invoke("nightly_export", event).payload for event in events]
    return results


def test_the_api_handler_and_the_export_it_invokes_call_only_what_they_are_granted(
    client: Client, recorder: CallRecorder, invocations: Invocations, policies: dict[str, Policy]
):
    from chalicelib.channels import sources
    from chalicelib.channels.sources import SourceConfig
    from chalicelib.channels.webhook import StandardWebhooksChannel
    from chalicelib.export.day import export_day
    from chalicelib.outbound import subscriptions
    from tests.channels.harness import FIXTURES
    from tests.test_customers import customer_of, event, process

    ann = [
        event("a1", email="ann@example.com", text="Love it", rating=10, scale=RatingScale.NPS, name="Ann"),
        event(
            "a2",
            email="ann@example.com",
            user="u-ann",
            source="src_chat",
            channel=Channel.WEBHOOK,
            text="Awful, broken",
            minutes=1,
        ),
    ]
    # Ann also wrote an e-mail: her erasure deletes the raw mail SES stored (every version of it).
    ann[0] = ann[0].model_copy(update={"raw_mail_key": "inbound-mail/ses-ann"})
    aws.client("s3").put_object(Bucket=settings().inbound_mail_bucket, Key="inbound-mail/ses-ann", Body=b"x")
    process(*ann, event("b1", email="bob@example.com", text="Terrible and slow", minutes=2))
    export_day(NOW.date())
    subscription, _ = subscriptions.create("https://hooks.example.com/in", ["feedback.stored"])
    token, _ = tokens.create_token("tour", ["read", "export", "erase", "admin"])
    auth = {"Authorization": f"Bearer {token}"}
    customer, day = customer_of(ann[0]), NOW.date().isoformat()
    hook_secrets = {"signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    sources.save(SourceConfig(source_id="src_hook", type="webhook", name="Hook"), hook_secrets)
    hook_body = (FIXTURES / "webhook" / "batch.json").read_bytes()

    def call(method: str, path: str, body: Any = None, expected: int = 200, **headers: str) -> None:
        if isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode() if body is not None else b""
            headers = {**auth, **headers}
        if data:
            headers["Content-Type"] = "application/json"
        with recorder.running(permissions.API_HANDLER):
            response = client.http.request(method, path, headers=headers, body=data)
        assert response.status_code == expected, (method, path, response.body[:300])

    call("POST", "/forms/demo/responses", {"rating": 9, "text": "Nice"}, expected=202)
    # A signed Standard Webhooks delivery: the source's secrets are read from SSM.
    signing = StandardWebhooksChannel().sign(hook_body, hook_secrets, datetime.now(UTC), message_id="msg_1")
    call("POST", "/webhooks/src_hook", hook_body, **signing.headers)
    call("GET", "/forms/demo")
    call("GET", "/f/demo")
    call("PUT", "/forms/checkout", {"name": "Checkout CSAT", "rating_scale": "csat"}, expected=201)
    call("PATCH", "/forms/checkout", {"name": "Checkout survey"})
    call("GET", "/forms/checkout/config")
    call("GET", f"/feedback?date={day}&limit=2")
    call("GET", f"/feedback?customer_id={customer}")
    call("GET", f"/feedback.csv?date={day}")
    call("GET", f"/customers/{customer}")
    call("GET", "/customers?email=ann@example.com")
    call("POST", "/customers/search", {"email": "ann@example.com"})
    call("GET", f"/stats?from={day}&to={day}")
    call("GET", "/themes")
    call("GET", f"/subscriptions/{subscription.subscription_id}/deliveries")
    call("GET", f"/exports/{day}")
    call("DELETE", f"/customers/{customer}")
    call("GET", f"/exports/{day}", expected=409)  # the rewrite the erasure asked for has not run yet
    assert run_invocations(client, recorder, invocations)
    call("GET", f"/exports/{day}")

    assert recorder.operations(permissions.API_HANDLER) >= {
        "SendMessage",
        "TransactWriteItems",
        "Invoke",
        "ListObjectVersions",
        "DeleteObjects",
    }
    # The token read, and the stamp of its use (once: every later request falls within the hour).
    assert recorder.operations(permissions.BEARER) == {"GetItem", "UpdateItem"}
    assert refused(recorder, policies) == {}


def test_the_check_reports_a_call_the_role_no_longer_grants(
    client: Client, recorder: CallRecorder, policies: dict[str, Policy]
):
    """The check can fail: a statement removed, one partition taken out of a LeadingKeys condition, or a
    call to another resource than the statement names, and the call it allowed is reported."""
    from tests.test_customers import customer_of, event, process

    first = event("s1", email="sam@example.com", text="Broken again")
    process(first)
    token, _ = tokens.create_token("self-test", ["erase", "admin"])
    with recorder.running(permissions.API_HANDLER):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"name": "Checkout CSAT", "rating_scale": "csat"})
        assert client.http.put("/forms/checkout", headers=headers, body=body).status_code == 201
        assert client.http.delete(f"/customers/{customer_of(first)}", headers=headers).status_code == 200
    requests = recorder.requests[permissions.API_HANDLER]
    api = policies[permissions.API_HANDLER]
    assert api.denied(requests) == []

    def reported(policy: Policy) -> set[tuple[str, str]]:
        return {(r.action, r.operation) for r in policy.denied(requests)}

    assert reported(api.without("SaveFormConfigs")) == {("dynamodb:PutItem", "PutItem")}
    assert reported(api.without("EraseCountedFeedback", leading_key="COUNTER#*")) == {
        ("dynamodb:UpdateItem", "TransactWriteItems")
    }
    assert reported(api.without("EraseCountedFeedback", leading_key="FEEDBACK#*")) == {
        ("dynamodb:DeleteItem", "TransactWriteItems")
    }
    assert reported(api.without("QueryIndexes")) == {("dynamodb:Query", "Query")}
    # The same calls from a role that grants them elsewhere: the bearer authorizer's (tokens only).
    assert ("dynamodb:GetItem", "GetItem") in reported(policies[permissions.BEARER])
    (token_read,) = {r for r in recorder.requests[permissions.BEARER] if r.operation == "GetItem"}
    assert token_read.leading_keys == {"TOKEN"}
    elsewhere = Request("dynamodb:GetItem", token_read.resource + "/index/by_day", frozenset({"TOKEN"}))
    assert not policies[permissions.BEARER].allows(elsewhere)


def test_analyze_calls_only_what_it_is_granted(
    client: Client, recorder: CallRecorder, policies: dict[str, Policy], monkeypatch
):
    from chalicelib.ingest.queue import encode_events
    from chalicelib.models import PlatformDeletion
    from tests.test_customers import customer_of, event
    from tools.bench.comprehend import ComprehendResponder

    by_email = event("m1", email="mo@example.com", text="Love the app", rating=9, scale=RatingScale.NPS)
    by_user = event("m2", user="u-mo", source="src_chat", channel=Channel.WEBHOOK, text="Awful wait")
    # New customers, each first seen in this batch, and a customer with no identity at all.
    analyze_batch(client, recorder, by_email, by_user, event("n1", text="Fine", minutes=1))
    assert customer_of(by_email) != customer_of(by_user)
    # Both identities on one event: the two customers merge.
    both = event(
        "m3",
        email="mo@example.com",
        user="u-mo",
        source="src_chat",
        channel=Channel.WEBHOOK,
        text="Still broken",
        minutes=2,
    )
    analyze_batch(client, recorder, both)
    assert customer_of(by_email) == customer_of(by_user)
    # Redelivered (stored once), and a platform's deletion of a stored item, applied by analyze.
    analyze_batch(client, recorder, both, by_user)
    deletion = PlatformDeletion(feedback_id=by_user.feedback_id, source_id="src_chat", deleted_at=NOW)
    (body,) = encode_events([], [deletion])
    sqs_event = client.events.generate_sqs_event(message_bodies=[body], queue_name="ingest")
    with recorder.running(permissions.ANALYZE):
        assert client.lambda_.invoke("analyze", sqs_event).payload == {"batchItemFailures": []}

    # As deployed: Comprehend for language, sentiment and PII (its stand-in answers, as in the bench).
    monkeypatch.setenv("ANALYZER", "comprehend")
    settings.cache_clear()
    assert settings().analyzer == "comprehend"  # read here: Chalice's invoke sets .chalice/config.json's
    with ComprehendResponder(aws.client("comprehend")):
        analyze_batch(
            client,
            recorder,
            event("c1", email="cy@example.com", text="It broke: deliver the new one to 42 Elm Street"),
        )

    comprehend = {"BatchDetectSentiment", "DetectPiiEntities"}
    assert (
        recorder.operations(permissions.ANALYZE)
        >= {"TransactWriteItems", "BatchGetItem", "Query"} | comprehend
    )
    assert refused(recorder, policies) == {}


def test_the_nightly_export_fanned_out_and_rewriting_calls_only_what_it_is_granted(
    client: Client,
    recorder: CallRecorder,
    invocations: Invocations,
    policies: dict[str, Policy],
    monkeypatch,
):
    import moto.s3.models

    from chalicelib.export import day as export
    from chalicelib.export import fanout
    from chalicelib.privacy import erasure
    from tests.test_customers import customer_of, event, process
    from tests.test_export_streaming import SMALL_PART

    # A busy day (as the count says) fanned out over the export function's invocations, in small parts.
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", SMALL_PART)
    monkeypatch.setattr(fanout, "PART_SIZE", SMALL_PART)
    monkeypatch.setattr(fanout, "day_item_count", lambda day: 1_000_000)
    monkeypatch.setenv("DAY_SHARDS", "2")  # two slices: every step of the fan-out, in fewer invocations
    settings.cache_clear()
    tomorrow = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), UTC)
    monkeypatch.setattr(export, "utc_now", lambda: tomorrow)
    erased = event("x1", email="xi@example.com", text="Slow delivery")
    process(erased, *(event(f"d{n}", email=f"d{n}@example.com", text="Great", minutes=n) for n in range(12)))
    scheduled = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])

    with recorder.running(permissions.NIGHTLY_EXPORT):
        first = client.lambda_.invoke("nightly_export", scheduled).payload
    assert first["slices"] > 1
    run_invocations(client, recorder, invocations)
    assert fanout.missing_slices(NOW.date()) == []
    # An erasure marks the exported day for rewriting; the next nightly run hands it to an invocation.
    assert erasure.erase_customer(customer_of(erased)).exports_scheduled == [NOW.date().isoformat()]
    invocations.take()  # the erasure's own invocation: the nightly run's hand-off is the one run here
    with recorder.running(permissions.NIGHTLY_EXPORT):
        client.lambda_.invoke("nightly_export", scheduled)
    run_invocations(client, recorder, invocations)

    operations = recorder.operations(permissions.NIGHTLY_EXPORT)
    assert {"DeleteObjects", "DeleteItem", "UpdateItem", "PutItem", "GetItem", "Invoke"} <= operations
    assert refused(recorder, policies) == {}


def test_the_stream_fan_out_the_deliveries_and_the_crm_sync_call_only_what_they_are_granted(
    stack, synth: Synth, recorder: CallRecorder, policies: dict[str, Policy], monkeypatch, request
):
    """Stored feedback (a detractor, a named negative), a merge and an erasure, through the table's stream:
    outbound events queued and delivered, the detractor alert (webhook, Slack, e-mail), the CRM work
    queued and synced against the fake HubSpot."""
    import app
    from chalicelib.alerts import rules
    from chalicelib.local.outbound import StreamPoller, create_delivery_queues, enable_stream
    from chalicelib.outbound import subscriptions
    from chalicelib.privacy import erasure
    from tests import test_crm_wiring
    from tests.test_customers import customer_of, event, process
    from tools.webhook_receiver import Receiver, running_receiver

    topic = aws.client("sns").create_topic(Name="feedback-collector-test-alerts")["TopicArn"]
    _, delivery_queue = create_delivery_queues()
    for name, value in {
        "OUTBOUND_ALLOW_LOOPBACK": "1",
        "ALERTS_TOPIC_ARN": topic,
        "DELIVERY_QUEUE_URL": delivery_queue,
        "DASHBOARD_URL": "https://feedback.example.com/api/dashboard",
    }.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    subscriptions.clear_cache()
    recorder.names = names_of(synth)  # the topic, named now

    def fan_out(event: dict[str, Any], context: Any) -> Any:
        with recorder.running(permissions.FAN_OUT_WEBHOOKS):
            return test_crm_wiring._stream_handler(event, context)

    def sync_crm(event: dict[str, Any], context: Any) -> Any:
        with recorder.running(permissions.SYNC_CRM):
            return app.sync_crm(event, context)

    monkeypatch.setattr(test_crm_wiring, "_crm_handler", sync_crm)
    rigs = test_crm_wiring.make_rig(stack, monkeypatch)  # the fake HubSpot runs until the generator closes
    rig = next(rigs)
    request.addfinalizer(rigs.close)
    stream = StreamPoller(enable_stream(), fan_out)
    refused_ids: list[str] = []

    def first_delivery_refused(number: int, webhook_id: str) -> tuple[int, dict[str, str], float]:
        """The first signed delivery answered 503: the worker sets when SQS hands it back."""
        if webhook_id and not refused_ids:
            refused_ids.append(webhook_id)
            return 503, {}, 0.0
        return 200, {}, 0.0

    with running_receiver(Receiver(behaviour=first_delivery_refused)) as receiver:
        _, receiver.secret = subscriptions.create(receiver.url, [t.value for t in subscriptions.EventType])
        rule = rules.DetractorRule(rule_id=rules.new_rule_id(), notify=rules.Notify(slack=True, email=True))
        rules.save(rule)
        rules.set_slack_url(rule.rule_id, receiver.url)

        detractor = event("r1", email="dee@example.com", rating=3, scale=RatingScale.NPS, text="Never again")
        chat = event("r2", user="u-dee", source="src_chat", channel=Channel.WEBHOOK, text="Awful", minutes=1)
        process(detractor, chat, event("r3", email="eve@example.com", text="Lovely", minutes=2))
        process(
            event(
                "r4",
                email="dee@example.com",
                user="u-dee",
                source="src_chat",
                channel=Channel.WEBHOOK,
                text="Broken again",
                minutes=3,
            )
        )  # a merge
        erasure.erase_customer(customer_of(event("r3", email="eve@example.com")))
        while stream.poll_once():
            pass
        delivered = drain_queue(
            delivery_queue, app.deliver_webhooks, permissions.DELIVER_WEBHOOKS, recorder, "deliver_webhooks"
        )
        rig.drain()

    assert delivered >= 5 and receiver.accepted_ids()
    assert rig.hub.fake.notes
    assert "ChangeMessageVisibility" in recorder.operations(permissions.DELIVER_WEBHOOKS)
    for function in (permissions.FAN_OUT_WEBHOOKS, permissions.DELIVER_WEBHOOKS, permissions.SYNC_CRM):
        assert recorder.requests.get(function), function
    assert {"Publish", "SendMessageBatch", "GetParameter"} <= recorder.operations(
        permissions.FAN_OUT_WEBHOOKS
    )
    assert refused(recorder, policies) == {}


def test_pull_reviews_calls_only_what_it_is_granted(
    stack, recorder: CallRecorder, policies: dict[str, Policy]
):
    from app import pull_reviews
    from chalicelib.channels import sources
    from chalicelib.channels.pull import credentials
    from chalicelib.channels.sources import SourceConfig
    from chalicelib.local.lambda_runtime import lambda_context
    from chalicelib.local.pull import scheduled_event
    from tools.fakes.review_sources import start_fake_source

    credentials.clear_tokens()
    fake_source = start_fake_source("google_play")
    try:
        for minutes_ago in (90, 45, 10):
            fake_source.fake.add_review(f"Review {minutes_ago}", 2, author="A", age_seconds=minutes_ago * 60)
        source = SourceConfig(
            source_id="src_play", type="google_play", name="Play", settings=fake_source.settings
        )
        sources.save(source, fake_source.secrets)
        with recorder.running(permissions.PULL_REVIEWS):
            pull_reviews(scheduled_event(), lambda_context("pull_reviews", 256, 240_000))
    finally:
        fake_source.stop()

    assert stack.queue_depth() > 0
    assert {"SendMessage", "PutItem", "Query"} <= recorder.operations(permissions.PULL_REVIEWS)
    assert refused(recorder, policies) == {}


def test_receive_email_calls_only_what_it_is_granted(
    stack, recorder: CallRecorder, policies: dict[str, Policy]
):
    from app import receive_email
    from chalicelib.channels import sources
    from chalicelib.local.lambda_runtime import lambda_context
    from tests.channels.test_email_receiving import email_source, ses_event, store_raw

    email_source("src_mail_1", "feedback@acme.example")
    store_raw("ses-1", "gmail_reply_en.eml")
    sources.clear_cache()
    with recorder.running(permissions.RECEIVE_EMAIL):
        assert (
            receive_email(ses_event("ses-1", ["feedback@acme.example"]), lambda_context("receive_email"))[
                "queued"
            ]
            == 1
        )

    assert {"GetObject", "SendMessage", "Query"} <= recorder.operations(permissions.RECEIVE_EMAIL)
    assert refused(recorder, policies) == {}


def test_evaluate_alerts_calls_only_what_it_is_granted(
    stack, synth: Synth, recorder: CallRecorder, policies: dict[str, Policy], monkeypatch
):
    """A spike over four quiet weeks, and a source gone silent: each alert by webhook, Slack and e-mail."""
    from app import evaluate_alerts
    from chalicelib.alerts import rules
    from chalicelib.local.lambda_runtime import lambda_context
    from chalicelib.local.outbound import create_delivery_queues
    from chalicelib.models import Sentiment
    from chalicelib.outbound import subscriptions
    from tests.alerts_support import Timeline, every_hour, feedback
    from tools.webhook_receiver import Receiver, running_receiver

    topic = aws.client("sns").create_topic(Name="feedback-collector-test-alerts")["TopicArn"]
    _, delivery_queue = create_delivery_queues()
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic)
    monkeypatch.setenv("DELIVERY_QUEUE_URL", delivery_queue)
    settings.cache_clear()
    subscriptions.clear_cache()
    recorder.names = names_of(synth)
    now = NOW.replace(minute=30, second=0, microsecond=0)
    usual = every_hour(now - timedelta(weeks=4), now - timedelta(hours=1), 1)
    quiet_source = every_hour(now - timedelta(weeks=4), now - timedelta(hours=8), 4, source="src_quiet")
    burst = [feedback(now - timedelta(minutes=m), sentiment=Sentiment.NEGATIVE) for m in range(1, 25)]
    timeline = Timeline(usual + quiet_source + burst)
    timeline.seed(now - timedelta(hours=1))
    timeline.advance(now)
    notify = rules.Notify(webhook=True, slack=True, email=True)
    spike = rules.SpikeRule(rule_id=rules.new_rule_id(), notify=notify)
    silence = rules.SilenceRule(rule_id=rules.new_rule_id(), notify=notify, source_id="src_quiet")
    with running_receiver(Receiver()) as receiver:
        subscriptions.create(receiver.url, ["alert.triggered"])
        for rule in (spike, silence):
            rules.save(rule)
            rules.set_slack_url(rule.rule_id, receiver.url)
        scheduled = aws.eventbridge_event("aws.events", "Scheduled Event", {})
        with recorder.running(permissions.EVALUATE_ALERTS):
            outcome = evaluate_alerts(scheduled, lambda_context("evaluate_alerts"))

    assert outcome, outcome
    assert {"Publish", "SendMessageBatch", "BatchGetItem"} <= recorder.operations(permissions.EVALUATE_ALERTS)
    assert refused(recorder, policies) == {}


def test_on_deploy_calls_only_what_it_is_granted(
    client: Client, recorder: CallRecorder, policies: dict[str, Policy], monkeypatch
):
    from chalicelib.operations import deploy_hooks
    from tests.test_deploy_hooks import request as custom_resource_request

    monkeypatch.setattr(deploy_hooks, "put_response", lambda url, body: None)  # CloudFormation's S3 URL
    with recorder.running(permissions.ON_DEPLOY):
        assert (
            client.lambda_.invoke("on_deploy", custom_resource_request("Create")).payload["Status"]
            == "SUCCESS"
        )

    assert recorder.operations(permissions.ON_DEPLOY) == {"UpdateItem"}
    assert refused(recorder, policies) == {}
