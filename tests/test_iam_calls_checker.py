"""The IAM call check's own parts (tests/iam_calls.py, written by hand): the recorder names every request
IAM authorizes and every partition it touches, and the evaluator refuses a statement shape it cannot judge.
The functions' calls are checked in test_iam_calls.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.iam_calls import CallRecorder, Names, Policy, Request, UnsupportedStatement


def test_the_recorder_names_every_partition_a_batch_a_transaction_or_a_query_touches():
    """What IAM authorizes each call as: one request per transaction item, one per table of a batch with all
    of its partition keys, a query's partition key through an attribute name, an index as its own ARN."""
    names = Names(tables={"t": "Table"}, buckets={"b": "Bucket"}, queues={"q": "Queue"})
    recorder = CallRecorder(names)

    def key(pk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": "x"}}

    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": key("FEEDBACK#1")}},
            {"Update": {"TableName": "t", "Key": key("CUSTOMER#c")}},
            {"ConditionCheck": {"TableName": "t", "Key": key("IDENTITY#e")}},
        ]
    }
    assert [
        (r.action, r.leading_keys)
        for r in recorder.requests_of("dynamodb", "TransactWriteItems", transaction)
    ] == [
        ("dynamodb:PutItem", {"FEEDBACK#1"}),
        ("dynamodb:UpdateItem", {"CUSTOMER#c"}),
        ("dynamodb:ConditionCheckItem", {"IDENTITY#e"}),
    ]
    batch_write = {
        "RequestItems": {"t": [{"PutRequest": {"Item": key("A")}}, {"DeleteRequest": {"Key": key("B")}}]}
    }
    (write,) = recorder.requests_of("dynamodb", "BatchWriteItem", batch_write)
    assert (write.action, write.resource, write.leading_keys) == (
        "dynamodb:BatchWriteItem",
        "{Table}",
        {"A", "B"},
    )
    (get,) = recorder.requests_of("dynamodb", "BatchGetItem", {"RequestItems": {"t": {"Keys": [key("C")]}}})
    assert get.leading_keys == {"C"}
    query = {
        "TableName": "t",
        "IndexName": "by_customer",
        "KeyConditionExpression": "#p = :p AND begins_with(gsi2sk, :s)",
        "ExpressionAttributeNames": {"#p": "gsi2pk"},
        "ExpressionAttributeValues": {":p": {"S": "CUSTOMER#c"}, ":s": {"S": "F"}},
    }
    (read,) = recorder.requests_of("dynamodb", "Query", query)
    assert (read.resource, read.leading_keys) == ("{Table}/index/by_customer", {"CUSTOMER#c"})
    (unknown,) = recorder.requests_of("dynamodb", "GetItem", {"TableName": "other", "Key": key("A")})
    assert unknown.resource == "{unknown table other}"
    copy = {"Bucket": "b", "Key": "exports/k", "CopySource": "b/exports/_parts/p"}
    assert {(r.action, r.resource) for r in recorder.requests_of("s3", "UploadPartCopy", copy)} == {
        ("s3:PutObject", "{Bucket}/exports/k"),
        ("s3:GetObject", "{Bucket}/exports/_parts/p"),
    }
    (send,) = recorder.requests_of(
        "sqs", "SendMessageBatch", {"QueueUrl": "https://sqs/123/q", "Entries": []}
    )
    assert (send.action, send.resource) == ("sqs:SendMessage", "{Queue}")


def test_the_evaluator_refuses_a_statement_shape_it_does_not_know():
    """A condition or intrinsic function it cannot evaluate fails the check instead of passing it."""
    allowed = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "{Table}"}
    request = Request("dynamodb:GetItem", "{Table}", frozenset({"A"}))
    assert Policy([allowed]).allows(request)
    with pytest.raises(UnsupportedStatement):
        Policy([{**allowed, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]).allows(request)
    with pytest.raises(UnsupportedStatement):
        Policy([{**allowed, "Resource": {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:::table/t"}}])
    with pytest.raises(UnsupportedStatement):
        Policy([{**allowed, "Effect": "Deny"}])
    like = {**allowed, "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["FEEDBACK#*"]}}}
    assert Policy([like]).allows(Request("dynamodb:GetItem", "{Table}", frozenset({"FEEDBACK#1"})))
    assert not Policy([like]).allows(Request("dynamodb:GetItem", "{Table}", frozenset({"FEEDBACK#1", "X"})))
    assert not Policy([like]).allows(
        Request("dynamodb:GetItem", "{Table}/index/by_day", frozenset({"FEEDBACK#1"}))
    )
