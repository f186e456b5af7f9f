"""The ack path makes exactly one AWS request per submission once the form is cached."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from chalicelib import aws


@pytest.fixture
def aws_calls(stack):
    calls: Counter[str] = Counter()

    def count(event_name: str, **kwargs) -> None:
        calls[event_name.split(".", 1)[1]] += 1

    for service in ("sqs", "dynamodb", "s3", "ssm"):
        aws.client(service).meta.events.register("before-call", count)
    return calls


def test_one_sqs_send_per_submission_after_the_form_is_cached(client, aws_calls):
    body = json.dumps({"rating": 9, "comment": "Nice"}).encode()
    headers = {"content-type": "application/json"}
    client.http.post("/forms/demo/responses", headers=headers, body=body)  # warms the form cache
    aws_calls.clear()

    for _ in range(20):
        assert client.http.post("/forms/demo/responses", headers=headers, body=body).status_code == 202

    assert aws_calls == Counter({"sqs.SendMessage": 20})


def test_unknown_form_is_cached_too(client, aws_calls):
    headers = {"content-type": "application/json"}
    for _ in range(5):
        client.http.post("/forms/missing/responses", headers=headers, body=b"{}")

    assert aws_calls == Counter({"dynamodb.GetItem": 1})
