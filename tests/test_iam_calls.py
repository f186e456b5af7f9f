"""Every AWS call each function makes, driven through its handler under moto, is allowed by that function's
role in the synthesized template: the action, the resource (table, index, object key, queue, parameter,
function, topic) and the partitions `dynamodb:LeadingKeys` limits it to. A new code path that calls what the
role does not grant fails here instead of with AccessDenied on AWS (tests/iam_calls.py: the recorder and
the evaluator, written by hand; moto's IAM access control checks neither resources nor conditions)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from chalice.test import Client

from chalicelib import aws
from chalicelib.auth import authorizer, tokens
from chalicelib.config import settings
from chalicelib.export import rewrite
from chalicelib.models import Channel, RatingScale
from infra import permissions
from tests.iam_calls import CallRecorder, Names, Policy, Request
from tests.infra_synth import STAGE, Synth

EXPORT_FUNCTION_NAME = "feedback-collector-test-NightlyExport"


def role_statements(synth: Synth, function: str) -> list[dict[str, Any]]:
    role = synth.resources[synth.logical_id("AWS::IAM::Role", f"{function}Role")]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    # Policies of their own attached to the role (the export function's self-invocation).
    role_id = synth.logical_id("AWS::IAM::Role", f"{function}Role")
    for resource in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in resource["Properties"].get("Roles", []):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def names_of(synth: Synth) -> Names:
    """The moto stack's names for the template's resources (the test stage is `test`, the template's prod)."""
    config = settings()
    (table,) = synth.of_type("AWS::DynamoDB::Table")
    queues = {
        resource["Properties"]["QueueName"].replace(f"-{STAGE}", f"-{config.stage}"): logical
        for logical, resource in synth.of_type("AWS::SQS::Queue").items()
    }
    return Names(
        tables={config.table_name: table},
        buckets={config.bucket_name: synth.logical_id("AWS::S3::Bucket", "ExportBucket")},
        queues=queues,
        functions={EXPORT_FUNCTION_NAME: permissions.NIGHTLY_EXPORT},
        topics={config.alerts_topic_arn: synth.logical_id("AWS::SNS::Topic", "AlertsTopic")},
        parameter_prefix=config.parameter_prefix,
        template_parameter_prefix=f"/feedback/{STAGE}",
    )


class Invocations:
    """Asynchronous Lambda invocations, answered 202 as Lambda does and kept to be run through the handler."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.events.append(json.loads(params["body"]))
        return AWSResponse("", 202, {}, None), {"StatusCode": 202}

    def take(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events


@pytest.fixture
def recorder(stack, synth: Synth, monkeypatch) -> Iterator[CallRecorder]:
    monkeypatch.setenv("EXPORT_FUNCTION_NAME", EXPORT_FUNCTION_NAME)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", EXPORT_FUNCTION_NAME)
    # A deployed function's clock (Chalice's test context has none that matches a deployed timeout).
    monkeypatch.setattr(rewrite, "remaining_time", lambda context: lambda: 800_000)
    settings.cache_clear()
    recorder = CallRecorder(names_of(synth))
    invocations = Invocations()
    recorder.invocations = invocations  # type: ignore[attr-defined]
    events = boto3._get_default_session().events
    recorder.attach(events)
    events.register("before-call.lambda.Invoke", invocations, unique_id="iam-calls-invoke")
    aws.reset_clients()  # clients copy the session's handlers when they are built

    verify = authorizer.verify

    def verify_as_the_authorizer(token: str) -> Any:
        with recorder.running(permissions.BEARER):
            return verify(token)

    monkeypatch.setattr(authorizer, "verify", verify_as_the_authorizer)
    tokens.clear_cache()
    yield recorder
    recorder.detach(events)
    events.unregister("before-call.lambda.Invoke", unique_id="iam-calls-invoke")
    aws.reset_clients()
    settings.cache_clear()


@pytest.fixture(scope="module")
def policies(synth: Synth) -> dict[str, Policy]:
    return {function: Policy(role_statements(synth, function)) for function in permissions.FUNCTIONS}


def refused(recorder: CallRecorder, policies: dict[str, Policy]) -> dict[str, list[str]]:
    found = {}
    for function, requests in recorder.requests.items():
        denied = sorted({str(r) for r in policies[function].denied(requests)})
        if denied:
            found[function] = denied
    return found


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


def run_invocations(client: Client, recorder: CallRecorder) -> list[Any]:
    """What the functions invoked asynchronously (the export function), run through its handler."""
    results = []
    while events := recorder.invocations.take():  # type: ignore[attr-defined]
        with recorder.running(permissions.NIGHTLY_EXPORT):
            results += [client.lambda_.invoke("nightly_export", event).payload for event in events]
    return results


def test_the_api_handler_and_the_export_it_invokes_call_only_what_they_are_granted(
    client: Client, recorder: CallRecorder, policies: dict[str, Policy]
):
    from chalicelib.export.day import export_day
    from chalicelib.outbound import subscriptions
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
    process(*ann, event("b1", email="bob@example.com", text="Terrible and slow", minutes=2))
    export_day(NOW.date())
    subscription, _ = subscriptions.create("https://hooks.example.com/in", ["feedback.stored"])
    token, _ = tokens.create_token("tour", ["read", "export", "erase", "admin"])
    auth = {"Authorization": f"Bearer {token}"}
    customer, day = customer_of(ann[0]), NOW.date().isoformat()

    def call(method: str, path: str, body: Any = None, expected: int = 200) -> None:
        headers = {**auth, "Content-Type": "application/json"} if body is not None else auth
        with recorder.running(permissions.API_HANDLER):
            data = json.dumps(body) if body is not None else None
            response = client.http.request(method, path, headers=headers, body=data or b"")
        assert response.status_code == expected, (method, path, response.body[:300])

    call("POST", "/forms/demo/responses", {"rating": 9, "text": "Nice"}, expected=202)
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
    assert run_invocations(client, recorder)
    call("GET", f"/exports/{day}")

    assert recorder.operations(permissions.API_HANDLER) >= {"SendMessage", "TransactWriteItems", "Invoke"}
    print_recorded(recorder)
    assert refused(recorder, policies) == {}


def print_recorded(recorder: CallRecorder) -> None:
    for function, requests in recorder.requests.items():
        for line in sorted({str(r) for r in requests}):
            print(function, line)


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
    (token_read,) = {r for r in recorder.requests[permissions.BEARER]}
    assert token_read.leading_keys == {"TOKEN"}
    elsewhere = Request("dynamodb:GetItem", token_read.resource + "/index/by_day", frozenset({"TOKEN"}))
    assert not policies[permissions.BEARER].allows(elsewhere)
