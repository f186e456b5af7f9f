"""The export's one-pass decoding of Query pages gives exactly what botocore and `deserialize` give."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import aws
from chalicelib.store import dynamo

scalars = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    st.integers(min_value=-(10**20), max_value=10**20),
    # DynamoDB numbers carry 38 digits within 1e-130..1e125: stay well inside.
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f == 0 or 1e-100 < abs(f) < 1e100),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
items = st.dictionaries(st.text(min_size=1, max_size=10), values, min_size=1, max_size=6)


@given(items)
@settings(max_examples=300, deadline=None)
def test_decode_item_matches_deserialize_on_the_wire_format(item):
    wire = json.loads(json.dumps(dynamo.serialize(item), default=str))  # as DynamoDB sends it
    assert dynamo.decode_item(wire) == dynamo.deserialize(dynamo.serialize(item))


def test_sets_and_exponent_numbers_decode_as_deserialize_does():
    wire = {
        "tags": {"SS": ["a", "b"]},
        "scores": {"NS": ["1", "2.5", "1E+2"]},
        "big": {"N": "1E+2"},
        "half": {"N": "-0.5"},
    }
    typed = {
        "tags": {"SS": ["a", "b"]},
        "scores": {"NS": ["1", "2.5", "1E+2"]},
        "big": {"N": "1E+2"},
        "half": {"N": "-0.5"},
    }
    decoded = dynamo.decode_item(wire)
    assert sorted(decoded["tags"]) == ["a", "b"]
    assert sorted(decoded["scores"]) == [1, 2.5, 100]
    assert (decoded["big"], decoded["half"]) == (100, -0.5)
    assert type(decoded["big"]) is int
    assert {k: sorted(v) if isinstance(v, list) else v for k, v in decoded.items()} == {
        k: sorted(v) if isinstance(v, list) else v for k, v in dynamo.deserialize(typed).items()
    }
    assert Decimal("1E+2") == 100


def test_unparsed_query_pages_read_the_same_items_and_leave_other_queries_parsed(stack):
    table = "feedback-test"
    rows = [{"pk": "P", "sk": f"{n:03d}", "score": n / 4, "tags": ["x", {"y": n}]} for n in range(40)]
    dynamo.batch_write(table, [dynamo.put_request(row) for row in rows])
    query = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "P"}},
        "Limit": 7,  # several pages
    }
    assert list(dynamo.query_pages_unparsed(**query)) == list(dynamo.query_pages(**query)) == rows
    # Outside query_pages_unparsed, a Query is botocore's as before (the hook stays registered but idle).
    page = aws.client("dynamodb").query(**query)
    assert (len(page["Items"]), page["Items"][0]["sk"]) == (7, {"S": "000"})


def test_unparsed_batch_gets_read_the_same_items_and_leave_other_batch_gets_parsed(stack):
    table = "feedback-test"
    rows = [{"pk": "B", "sk": f"{n:03d}", "count": n, "share": n / 4, "tags": ["x"]} for n in range(130)]
    dynamo.batch_write(table, [dynamo.put_request(row) for row in rows])
    keys = [{"pk": "B", "sk": f"{n:03d}"} for n in range(140)]  # 10 absent; two requests of 100 keys

    wire = dynamo.batch_get_unparsed(table, keys)

    assert wire[0]["count"] == {"N": "0"}  # as DynamoDB sends it
    by_sort_key = sorted(map(dynamo.decode_item, wire), key=lambda item: item["sk"])
    assert by_sort_key == sorted(dynamo.batch_get(table, keys), key=lambda item: item["sk"]) == rows
    # Outside batch_get_unparsed a BatchGetItem is botocore's as before (the hook stays registered but idle).
    response = aws.client("dynamodb").batch_get_item(
        RequestItems={table: {"Keys": [dynamo.serialize(keys[1])]}}
    )
    assert response["Responses"][table][0]["count"] == {"N": "1"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_unparsed_batch_gets_retry_the_unprocessed_keys(stack, monkeypatch):
    table = "feedback-test"
    rows = [{"pk": "U", "sk": f"{n:02d}", "count": n} for n in range(6)]
    dynamo.batch_write(table, [dynamo.put_request(row) for row in rows])
    keys = [{"pk": "U", "sk": row["sk"]} for row in rows]
    client = aws.client("dynamodb")
    stock = client.batch_get_item
    calls = []

    def half_processed(RequestItems):  # botocore's parameter name
        calls.append(RequestItems)
        response = stock(RequestItems=RequestItems)
        if len(calls) == 1:  # the first answer holds back its last three keys, as a throttled table does
            spec = RequestItems[table]
            held_back = {item["sk"]["S"] for item in spec["Keys"][3:]}
            response["Responses"][table] = [
                item for item in response["Responses"][table] if item["sk"]["S"] not in held_back
            ]
            response["UnprocessedKeys"] = {table: {**spec, "Keys": spec["Keys"][3:]}}
        return response

    monkeypatch.setattr(client, "batch_get_item", half_processed)
    monkeypatch.setattr(dynamo, "sleep", lambda seconds: None)

    wire = dynamo.batch_get_unparsed(table, keys)

    assert len(calls) == 2 and len(calls[1][table]["Keys"]) == 3
    assert sorted(map(dynamo.decode_item, wire), key=lambda item: item["sk"]) == rows


def test_read_ahead_yields_every_item_in_order_and_raises_the_workers_error():
    assert list(dynamo.read_ahead(iter(range(5000)), depth=3)) == list(range(5000))

    def failing():
        yield 1
        raise RuntimeError("throttled for good")

    reader = dynamo.read_ahead(failing())
    assert next(reader) == 1
    with pytest.raises(RuntimeError, match="throttled for good"):
        next(reader)


def test_a_reader_that_stops_early_stops_the_worker():
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    reader = dynamo.read_ahead(endless(), depth=2)
    assert next(reader) == 0
    reader.close()
    time.sleep(0.5)
    settled = len(produced)
    time.sleep(0.3)
    assert len(produced) == settled <= 5  # the worker stopped, a few items ahead at most
