"""No role reaches every item of the single table: each grant on the table's items names the partitions
(`dynamodb:LeadingKeys`) its code paths touch. That every call a function makes stays inside them is
test_iam_calls.py's check; the other IAM checks are test_infra_security.py's."""

from __future__ import annotations

import json
from typing import Any

from infra import permissions
from tests.iam_calls import Policy, Request, role_statements
from tests.infra_synth import Synth
from tests.test_infra_security import _listed, _statements

# The calls on a table's items (a transaction's items are authorized as the single-item calls they are).
DYNAMODB_ITEM_ACTIONS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
    }
)


def _leading_keys(statement: dict[str, Any]) -> list[str] | None:
    for operator, condition in statement.get("Condition", {}).items():
        if operator.startswith("ForAllValues:") and "dynamodb:LeadingKeys" in condition:
            return _listed(condition["dynamodb:LeadingKeys"])
    return None


def test_every_grant_on_the_tables_items_names_the_partitions_it_may_touch(synth: Synth):
    """No role may read or write every item of the single table: each statement on the table itself (not an
    index) lists the partitions its code paths touch (dynamodb:LeadingKeys), none of them a bare `*`; the
    calls each function makes stay inside them (test_iam_calls.py)."""
    checked = 0
    for owner, statement in _statements(synth):
        actions = set(_listed(statement.get("Action", []))) & DYNAMODB_ITEM_ACTIONS
        on_table = [r for r in _listed(statement.get("Resource", [])) if "/index/" not in json.dumps(r)]
        if statement["Effect"] != "Allow" or not actions or not on_table:
            continue
        checked += 1
        partitions = _leading_keys(statement)
        assert partitions, f"{owner}: {statement.get('Sid')} grants {sorted(actions)} on every partition"
        assert all(p.strip("*#") for p in partitions), f"{owner}: {statement.get('Sid')}: {partitions}"
    assert checked >= 25


def test_the_api_and_analyze_cannot_reach_the_partitions_of_other_functions(synth: Synth):
    """The partitions the internet-facing API and the analyze step are refused, though they hold grants of
    the same actions elsewhere: tokens, CRM connections and links, alert rules, pull checkpoints."""
    (table,) = synth.of_type("AWS::DynamoDB::Table")

    def allowed(function: str, action: str, partition: str) -> bool:
        policy = Policy(role_statements(synth, function))
        return policy.allows(Request(action, "{" + table + "}", frozenset({partition})))

    for function in (permissions.API_HANDLER, permissions.ANALYZE):
        for action in ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"):
            for partition in ("TOKEN", "CRM", "CRMLINK#c#CUSTOMER#x", "ALERT_RULE", "PULL"):
                assert not allowed(function, action, partition), (function, action, partition)
    # What their code reads and writes stays allowed (every call: test_iam_calls.py).
    assert allowed(permissions.API_HANDLER, "dynamodb:GetItem", "FORM")
    assert allowed(permissions.API_HANDLER, "dynamodb:BatchWriteItem", "ERASURE")
    assert allowed(permissions.ANALYZE, "dynamodb:BatchGetItem", "IDENTITY#email#a@example.com")
    assert allowed(permissions.ANALYZE, "dynamodb:PutItem", "FEEDBACK#fb_1")
    assert not allowed(permissions.ANALYZE, "dynamodb:PutItem", "FORM")
    assert not allowed(permissions.NIGHTLY_EXPORT, "dynamodb:BatchGetItem", "FEEDBACK#fb_1")
    assert allowed(permissions.NIGHTLY_EXPORT, "dynamodb:BatchGetItem", "CUSTOMER#cus_1")
