"""The counters' completeness mark set at deploy time: a custom resource backed by the project's own
`on_deploy` function (so every function still runs the project's runtime: infra/rules.py), answering
CloudFormation's request with the documented response, marking from the deploy day (UTC) + 1, never moving a
mark that exists and never failing a deploy."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from botocore.exceptions import ClientError

from chalicelib.config import settings
from chalicelib.operations import deploy_hooks
from chalicelib.store import counters, dynamo
from infra import runtime
from infra.permissions import COUNTERS_MARK_PARTITION, ON_DEPLOY
from tests.infra_synth import Synth, arn

DEPLOYED_AT = datetime(2026, 12, 4, 23, 59, tzinfo=UTC)  # a minute before midnight: tomorrow is the 5th
RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/arn%3A...?X-Amz-Signature=abc"
)


def request(request_type: str) -> dict:
    """CloudFormation's custom resource request (its documented fields)."""
    fields = {
        "RequestType": request_type,
        "ResponseURL": RESPONSE_URL,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/feedback-collector-prod/guid",
        "RequestId": "unique-id-for-this-request",
        "ResourceType": "Custom::CountersCompleteMark",
        "LogicalResourceId": "CountersCompleteMark",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:on_deploy"},
    }
    if request_type != "Create":
        fields["PhysicalResourceId"] = deploy_hooks.PHYSICAL_RESOURCE_ID
    return fields


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    monkeypatch.setattr(deploy_hooks, "utc_now", lambda: DEPLOYED_AT)
    responses: list[tuple[str, dict]] = []
    return responses


def handle(request_type: str, sent: list) -> dict:
    return deploy_hooks.handle_custom_resource(
        request(request_type), lambda url, body: sent.append((url, json.loads(body)))
    )


def mark() -> str | None:
    item = dynamo.get_item(settings().table_name, counters.COMPLETE_KEY, consistent=True)
    return item["since"] if item else None


def test_the_first_deploy_marks_the_counters_complete_from_the_next_utc_day(stack, sent):
    assert mark() is None

    handle("Create", sent)

    assert mark() == "2026-12-05"
    ((url, response),) = sent
    assert url == RESPONSE_URL
    assert response == {
        "Status": "SUCCESS",
        "Reason": "marked complete from 2026-12-05",
        "PhysicalResourceId": deploy_hooks.PHYSICAL_RESOURCE_ID,
        "StackId": request("Create")["StackId"],
        "RequestId": "unique-id-for-this-request",
        "LogicalResourceId": "CountersCompleteMark",
        "Data": {"Marked": "true", "Since": "2026-12-05"},
    }


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_a_mark_that_exists_is_never_moved(stack, sent, request_type):
    counters.mark_complete_if_unset(date(2026, 1, 1))  # e.g. a rebuild reached back to January

    handle(request_type, sent)

    assert mark() == "2026-01-01"
    assert sent[0][1]["Status"] == "SUCCESS" and sent[0][1]["Data"]["Marked"] == "false"


def test_deleting_the_stack_leaves_the_mark_and_answers(stack, sent):
    handle("Create", sent)
    handle("Delete", sent)

    assert mark() == "2026-12-05"
    assert [response["Status"] for _, response in sent] == ["SUCCESS", "SUCCESS"]
    assert sent[1][1]["PhysicalResourceId"] == deploy_hooks.PHYSICAL_RESOURCE_ID


def test_a_write_that_fails_never_fails_the_deploy(stack, sent, monkeypatch):
    def refused(since):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "UpdateItem")

    monkeypatch.setattr(counters, "mark_complete_if_unset", refused)

    handle("Create", sent)

    assert sent[0][1]["Status"] == "SUCCESS" and sent[0][1]["Data"] == {}
    assert "nightly run" in sent[0][1]["Reason"]


def test_the_response_goes_only_to_an_https_url():
    with pytest.raises(ValueError, match="https"):
        deploy_hooks.put_response("file:///etc/passwd", b"{}")


def test_the_app_function_answers_the_request(stack, sent, monkeypatch):
    from chalice.test import Client

    from app import app

    monkeypatch.setattr(deploy_hooks, "put_response", lambda url, body: sent.append((url, json.loads(body))))
    with Client(app) as client:
        payload = client.lambda_.invoke("on_deploy", request("Create")).payload

    assert payload["Status"] == "SUCCESS" and mark() == "2026-12-05"
    assert sent[0][1] == payload


def test_the_template_creates_the_mark_with_the_projects_own_function(synth: Synth, transformed: dict):
    (resource,) = [r for r in synth.resources.values() if r["Type"] == "Custom::CountersCompleteMark"]
    assert resource["Properties"]["ServiceToken"] == arn(ON_DEPLOY)
    # The function runs the project's runtime, architecture and tracing (infra/rules.py holds for it).
    function = transformed["template"]["Resources"][ON_DEPLOY]["Properties"]
    assert (function["Runtime"], function["Architectures"]) == (
        runtime.LAMBDA_RUNTIME,
        [runtime.LAMBDA_ARCHITECTURE],
    )
    assert function["Handler"] == "app.on_deploy"
    # It may write the completeness mark and nothing else of the table.
    role = synth.resources[synth.logical_id("AWS::IAM::Role", f"{ON_DEPLOY}Role")]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (write,) = [s for s in statements if s["Sid"] == "MarkCountersComplete"]
    assert write["Action"] == "dynamodb:UpdateItem"
    assert write["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [COUNTERS_MARK_PARTITION]}
    }
