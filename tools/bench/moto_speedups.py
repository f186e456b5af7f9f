"""Changes to moto's speed, none to what it answers: see BENCHMARKS.md, "How measured"."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def one_rollback_copy_per_transaction() -> Iterator[Counter[str]]:
    """Within the block, moto's TransactWriteItems deep-copies each table once per transaction for its
    rollback, instead of once per action; yields the copies made and the copies saved.

    moto 5.2 copies the whole table for every action of a transaction (the loop that builds its backup
    overwrites the same entry each time), so a 50-action transaction against a 2,000-item table copies
    100,000 items, and the analyze phase grows with the square of the run. Nothing changes the table
    between those copies, so one copy is the same backup: what the transaction does, answers and rolls back
    is unchanged.
    """
    import copy as copy_module

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    stock = models.DynamoDBBackend.transact_write_items
    tally: Counter[str] = Counter()

    class OnceCopy:
        """The `copy` module as transact_write_items sees it: tables copied once per call."""

        def __init__(self) -> None:
            self.tables: dict[int, Any] = {}

        def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
            if not isinstance(obj, Table):
                return copy_module.deepcopy(obj, memo)
            if id(obj) in self.tables:
                tally["saved"] += 1
            else:
                tally["made"] += 1
                self.tables[id(obj)] = copy_module.deepcopy(obj, memo)
            return self.tables[id(obj)]

        def __getattr__(self, name: str) -> Any:
            return getattr(copy_module, name)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        models.copy = OnceCopy()  # type: ignore[assignment]
        try:
            return stock(self, transact_items)
        finally:
            models.copy = copy_module

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield tally
    finally:
        models.DynamoDBBackend.transact_write_items = stock  # type: ignore[method-assign]


# Read responses the throughput worker encodes with json.dumps instead of moto's model-driven serializer.
FAST_ENCODED_OPERATIONS = frozenset({"Query", "BatchGetItem"})


@contextmanager
def fast_dynamodb_read_encoding() -> Iterator[Counter[str]]:
    """Within the block, moto encodes Query and BatchGetItem responses with `json.dumps`; yields how many
    responses took that path, by operation.

    moto 5.2's model-driven response serializer walks every AttributeValue of every item through the
    DynamoDB service model: about 3-4 ms per item returned, which would make a 100,000-item export take
    longer than the whole bench may. Those responses are plain DynamoDB JSON already (moto's own
    `dynamo_to_dict` output: {"S": ...}, {"N": "1"}, {"M": {...}} …), so `json.dumps` writes the same
    document; anything it cannot encode (binary values, timestamps) falls back to moto's serializer. Query
    evaluation, pagination, ScannedCount and botocore's parsing of the responses are unchanged.
    """
    from moto.dynamodb.responses import DynamoResult

    stock = DynamoResult.execute_result
    used: Counter[str] = Counter()

    def execute_result(self: Any, context: Any) -> Any:
        operation = context.operation_model.name
        if operation in FAST_ENCODED_OPERATIONS:
            try:
                body = json.dumps(self.result, separators=(",", ":"))
            except TypeError:
                pass
            else:
                used[operation] += 1
                content_type = f"application/x-amz-json-{context.service_model.metadata['jsonVersion']}"
                return 200, {"Content-Type": content_type}, body
        return stock(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    try:
        yield used
    finally:
        DynamoResult.execute_result = stock  # type: ignore[method-assign]
