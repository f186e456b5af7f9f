"""schemathesis against openapi.yaml, on the real app in process (tests/fuzz/gateway.py), every operation.

Each operation gets `examples_per_operation` generated cases (FUZZ_PROFILE, tests/fuzz/harness.py), positive
and negative (schema-violating) alike, a share of them aimed at things that exist (the seeded forms, sources,
customers and export day), sent with each kind of token, a wrong one, or none, so the authorized routes and
the ingest routes are exercised past their checks too. Every answer must be:

- never a 5xx, and a status the spec lists for the operation, with the content type and schema it gives;
- for every JSON error, the shared `Error` shape (checked again here, independently of schemathesis).

After the run, the queue holds exactly the feedback the ingest routes acknowledged (each 202's id among the
queued events), the DLQ nothing, and the table differs from its snapshot only by an erasure a 200 reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import APIOperation

from tests.fuzz import harness
from tests.fuzz.harness import TALLY, World

PROFILE = harness.profile()
SPEC = harness.load_schema()
LABELS = [result.ok().label for result in SPEC.get_all_operations()]
ERROR_SCHEMA = SPEC.raw_schema["components"]["schemas"]["Error"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
TELEGRAM_MESSAGE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "telegram" / "private_text.json").read_text()
)
ORIGINS = ["https://shop.example.com", "https://evil.example.net"]


@pytest.fixture(scope="module")
def bound_schema(world: World):
    return harness.load_schema(world.app)


def _operation(schema: Any, label: str) -> APIOperation:
    method, path = label.split(" ", 1)
    return schema[path][method]


def _needs_token(operation: APIOperation) -> bool:
    return bool(SPEC.raw_schema["paths"][operation.path][operation.method.lower()].get("security"))


def _has_inputs(operation: APIOperation) -> bool:
    return bool(list(operation.iter_parameters())) or bool(operation.body)


def _path_choices(operation: APIOperation, world: World) -> list[dict[str, str] | None]:
    """Path parameters pointing at seeded things (None: generated)."""
    names = {parameter.name for parameter in operation.path_parameters}
    if "form_id" in names:
        return [None, *({"form_id": form_id} for form_id in world.form_ids)]
    if "source_id" in names:
        return [None, *({"source_id": source_id} for source_id in world.source_ids[:6])]
    if "customer_id" in names:
        known = world.customer_ids if operation.method.upper() == "GET" else [world.erasable_customer]
        return [None, *({"customer_id": customer_id} for customer_id in known)]
    if "date" in names:
        return [None, {"date": world.export_day}]
    return [None]


def _header_choices(
    operation: APIOperation, world: World, path: dict[str, str] | None
) -> list[dict[str, str]]:
    """Fixed headers: each token kind (or none) on bearer routes, origins and Accept on the form routes,
    the right secret for the sources whose secret is a plain value."""
    choices: list[dict[str, str]] = [{}]
    if _needs_token(operation):
        choices += [{"Authorization": value} for value in world.tokens.values()]
    if operation.path.startswith("/forms/"):
        choices += [{"Origin": origin} for origin in ORIGINS]
        if operation.method.upper() == "POST":
            choices.append({"Accept": "text/html"})
    if not operation.body:
        # A body-less request with a stray Content-Type must get the route's answer (Chalice's own 415 did).
        choices.append({"Content-Type": "text/plain"})
    if path and path.get("source_id") == harness.FUZZ_TELEGRAM:
        choices = [world.telegram_secret, world.telegram_secret, {}]
    return choices


def _query_choices(
    operation: APIOperation, world: World, path: dict[str, str] | None
) -> list[dict[str, str] | None]:
    if path and path.get("source_id") == harness.FUZZ_TRUSTPILOT:
        return [world.trustpilot_query, None]
    if path and path.get("source_id") == harness.FUZZ_META and operation.method.upper() == "GET":
        return [
            {"hub.mode": "subscribe", "hub.verify_token": world.meta_verify_token, "hub.challenge": "42"},
            None,
        ]
    if path and path.get("source_id") == harness.FUZZ_X and operation.method.upper() == "GET":
        return [{"crc_token": "fuzz-crc"}, None]
    if operation.path == "/customers":
        return [{"email": "ann@example.com"}, {"email": "Bob@Example.com"}, None]
    if operation.path == "/feedback":
        # Ids of the starter taxonomy the stack loaded (a parent, a child) with each sentiment, and generated.
        return [
            None,
            *({"theme": theme_id} for theme_id in ("delivery", "delivery-speed")),
            *({"theme": "support", "theme_sentiment": sentiment} for sentiment in ("NEGATIVE", "MIXED")),
        ]
    return [None]


def _case_strategy(operation: APIOperation, world: World) -> st.SearchStrategy[Any]:
    """Cases of every mode, aimed at seeded things or generated, with each kind of fixed header."""
    modes = [GenerationMode.POSITIVE]
    if _has_inputs(operation):
        modes.append(GenerationMode.NEGATIVE)
    variants = []
    for path in _path_choices(operation, world):
        for headers in _header_choices(operation, world, path):
            for query in _query_choices(operation, world, path):
                fixed: dict[str, Any] = {"path_parameters": path, "headers": headers or None, "query": query}
                kwargs = {name: value for name, value in fixed.items() if value}
                variants += [operation.as_strategy(mode, **kwargs) for mode in modes]
    strategy = st.one_of(variants)
    aimed = _aimed_variants(operation, world)
    if aimed:
        # A third of the cases go where uniform choice over the variants rarely lands: past the checks.
        strategy = st.one_of(strategy, strategy, st.one_of(aimed))
    if operation.label == "POST /forms/{form_id}/responses":
        # Generated bodies fill the optional honeypot field most of the time (202, nothing queued); take it
        # out of two cases in three so the queue invariant is exercised by real acknowledgements too.
        strategy = st.tuples(strategy, st.integers(0, 2)).map(_without_honeypot)
    return strategy


def _aimed_variants(operation: APIOperation, world: World) -> list[st.SearchStrategy[Any]]:
    """Valid requests that get past auth, signatures and form rules, the rest of each still generated."""
    label = operation.label
    if label == "POST /customers/search":
        everything = {"Authorization": world.tokens["all"]}
        return [
            operation.as_strategy(headers=everything, body={"email": email}, media_type="application/json")
            for email in ("ann@example.com", "Bob@Example.com")
        ] + [operation.as_strategy(headers=everything)]
    if _needs_token(operation):
        everything = {"Authorization": world.tokens["all"]}
        # GET /feedback's theme filters with ids the taxonomy holds, past auth.
        queries = [query for query in _query_choices(operation, world, None) if query]
        return [operation.as_strategy(headers=everything)] + [
            operation.as_strategy(headers=everything, query=query) for query in queries
        ]
    if label == "POST /forms/{form_id}/responses":
        demo = {"form_id": "demo"}
        return [
            operation.as_strategy(
                path_parameters=demo, body={"rating": 9, "comment": "Fuzzed"}, media_type="application/json"
            ),
            operation.as_strategy(
                path_parameters=demo,
                headers={"Accept": "text/html"},
                body={"rating": "7", "_hosted": "1"},
                media_type="application/x-www-form-urlencoded",
            ),
        ]
    if label == "GET /webhooks/{source_id}":
        meta = {"hub.mode": "subscribe", "hub.verify_token": world.meta_verify_token, "hub.challenge": "42"}
        return [
            operation.as_strategy(path_parameters={"source_id": harness.FUZZ_META}, query=meta),
            operation.as_strategy(path_parameters={"source_id": harness.FUZZ_X}, query={"crc_token": "fuzz"}),
        ]
    if label == "POST /webhooks/{source_id}":
        telegram = {"source_id": harness.FUZZ_TELEGRAM}
        return [
            operation.as_strategy(
                path_parameters=telegram,
                headers=world.telegram_secret,
                body=TELEGRAM_MESSAGE,
                media_type="application/json",
            ),
            operation.as_strategy(path_parameters=telegram, headers=world.telegram_secret),
            operation.as_strategy(
                path_parameters={"source_id": harness.FUZZ_TRUSTPILOT},
                query=world.trustpilot_query,
            ),
        ]
    return []


def _without_honeypot(drawn: tuple[Any, int]) -> Any:
    case, keep = drawn
    if keep and isinstance(case.body, dict) and "_hp" in case.body:
        case.body = {name: value for name, value in case.body.items() if name != "_hp"}
    return case


def _check_error_shape(response: Any) -> None:
    """Every JSON error answer is the shared Error shape (the HTML routes answer errors as pages)."""
    if response.status_code < 400:
        return
    content_type = response.headers.get("Content-Type", response.headers.get("content-type", ""))
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if "html" in content_type:
        return
    jsonschema.validate(json.loads(response.content), ERROR_SCHEMA)


def _honeypot_filled(body: Any) -> bool:
    """The documented rule: anything but blanks in `_hp` marks a bot."""
    return isinstance(body, dict) and bool(str(body.get("_hp") or "").strip())


def _record_ack(label: str, case: Any, response: Any) -> None:
    if label not in harness.INGEST_OPERATIONS:
        return
    if label.startswith("POST /forms/"):
        if response.status_code == 202:
            body = json.loads(response.content)
            # "accepted" without an id exactly when the honeypot caught a bot; "queued" with one otherwise.
            assert (body["status"] == "accepted") == _honeypot_filled(case.body), body
            if body["status"] == "queued":
                TALLY.form_ack_ids.append(body["feedback_id"])
        elif response.status_code == 303 and not _honeypot_filled(case.body):
            TALLY.hosted_acks += 1
    elif response.status_code == 200:
        body = json.loads(response.content)
        TALLY.webhook_ack_events += int(body.get("events", 0))


@pytest.mark.parametrize("label", LABELS)
def test_operation_answers_within_its_contract(world: World, bound_schema: Any, label: str) -> None:
    operation = _operation(bound_schema, label)
    strategy = _case_strategy(operation, world)

    @settings(
        max_examples=PROFILE.examples_per_operation,
        derandomize=PROFILE.derandomize,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call()
        TALLY.statuses[label][response.status_code] += 1
        _record_ack(label, case, response)
        if label == "DELETE /customers/{customer_id}" and response.status_code == 200:
            TALLY.erased_customers.append(case.path_parameters["customer_id"])
        if label in ("PUT /forms/{form_id}", "PATCH /forms/{form_id}") and response.status_code in (200, 201):
            TALLY.written_forms.add(case.path_parameters["form_id"])
        case.validate_response(response, checks=CHECKS)
        _check_error_shape(response)

    run()
    assert sum(TALLY.statuses[label].values()) > 0


def test_queue_holds_exactly_the_acknowledged_feedback(world: World) -> None:
    queued = harness.queued_events(world.queue_url)
    queued_ids = {event["feedback_id"] for event in queued}

    assert len(queued) == TALLY.expected_queued_events()
    assert set(TALLY.form_ack_ids) <= queued_ids
    assert harness.queued_events(world.dlq_url) == []


def test_table_holds_nothing_from_rejected_requests(world: World) -> None:
    after = harness.table_snapshot()
    removed = set(world.snapshot) - set(after)
    added = {key: item for key, item in after.items() if key not in world.snapshot}
    changed = {key for key in set(world.snapshot) & set(after) if world.snapshot[key] != after[key]}
    # A form the admin token's PUT or PATCH answered 2xx for is the one record such a request may write.
    written = {("FORM", form_id) for form_id in TALLY.written_forms}
    assert {key for key in changed | set(added) if key[0] == "FORM"} <= written
    changed -= written
    added = {key: item for key, item in added.items() if key not in written}
    # A token a request was allowed with has its last use stamped (auth/tokens.py note_use), nothing else.
    stamped = {key for key in changed if key[0] == "TOKEN"}
    for key in stamped:
        before, now = world.snapshot[key], after[key]
        assert {name for name in before.keys() | now.keys() if before.get(name) != now.get(name)} == {
            "last_used_at"
        }, key
    changed -= stamped

    if TALLY.erased_customers:
        # The one erasure a 200 reported: that customer's items gone (and off their days' counters), one
        # erasure record (+ rewrites) added.
        assert set(TALLY.erased_customers) == {world.erasable_customer}
        assert changed <= world.erasable_counters
        assert removed <= world.erasable_keys
        assert removed
        assert {item["record_type"]["S"] for item in added.values()} <= {"ERASURE", "EXPORT_REWRITE"}
        assert sum(item["record_type"]["S"] == "ERASURE" for item in added.values()) == 1
    else:
        assert changed == set()
        assert removed == set()
        assert added == {}


def test_the_profile_ran_its_case_budget(world: World) -> None:
    assert len(TALLY.statuses) == len(LABELS)
    assert TALLY.total >= PROFILE.min_total_cases
