"""Property tests on every registered channel: whatever a correctly signed body holds, the channel answers
with valid FeedbackEvents or with its documented client error, never with an exception of its own.

For each channel type in the registry (so a new channel is covered, or fails here for want of a table in
tests/channels/test_<type>.py), Hypothesis generates bodies, signs exactly those bytes with the channel's
own `sign` and its table's secrets, and runs verify → parse → normalize in process:
- arbitrary JSON (objects and every other JSON value, NaN and Infinity too: Python's parser accepts them);
- arbitrary JSON built from the channel's own vocabulary (the keys and values of its fixtures), so objects
  have the field names the normalizer looks for;
- the channel's fixtures with random subtrees replaced, deleted, wrapped in lists or turned into strings, so
  generation reaches deep into the documented envelope;
- raw bytes: random binary, non-UTF-8, UTF-16, truncated fixtures, nesting deeper than the parser allows.
The only exceptions allowed are the documented ones: from parse 400 `malformed_json` or `PayloadInvalid`
(422, the body does not fit the channel's payload model), and from normalize `PayloadInvalid` or
`DeliveryTooLarge` (413, a delivery whose events do not fit in one queue request).
Events must satisfy the FeedbackEvent model, belong to the source, carry a rating only on its scale, and
survive the ingest queue's envelope (UTF-8 encodable, decoded back equal).

A smaller property sends such deliveries through the HTTP route: a 2xx with what it queued, or a 4xx in the
JSON error shape with nothing queued; never a 5xx.

Bounded and deterministic for `make test`; `HYPOTHESIS_PROFILE=thorough` runs ten times as many examples.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from chalicelib.channels.base import Delivery, WebhookRequest
from chalicelib.channels.exceptions import DeliveryTooLarge, PayloadInvalid
from chalicelib.channels.pull.registry import PULL_TYPES, platform_for
from chalicelib.channels.registry import CHANNELS
from chalicelib.channels.routes import queue_bodies
from chalicelib.channels.sources import SourceConfig, SourceSecrets
from chalicelib.http import ApiError, BadRequest
from chalicelib.ingest.queue import decode_events, encode_events
from chalicelib.models import Channel as ChannelName
from chalicelib.models import FeedbackEvent, feedback_id_for
from tests.channels.harness import FIXTURES, NOW, ChannelTable, WebhookCase, table_for

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
SCALE = 10 if THOROUGH else 1
CHANNEL_TYPES = sorted(CHANNELS)
SPEC_PATH = FIXTURES.parents[1] / "openapi.yaml"


def bounded(max_examples: int, **extra: Any) -> settings:
    """Deterministic, database-free settings: the same examples on every run and machine."""
    return settings(
        max_examples=max_examples * SCALE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        **extra,
    )


# --- the channel's own material ----------------------------------------------------------------------------


def table_of(channel_type: str) -> ChannelTable:
    try:
        return table_for(channel_type)
    except LookupError as error:
        pytest.fail(f"Channel {channel_type!r} is registered but has no table: {error}")


@cache
def fixtures_of(channel_type: str) -> tuple[Any, ...]:
    """The channel's fixture documents (tests/fixtures/<type>/*.json), parsed."""
    paths = sorted((FIXTURES / channel_type).glob("*.json"))
    return tuple(json.loads(path.read_bytes()) for path in paths)


def _walk(value: Any) -> Iterator[tuple[str | None, Any]]:
    """(key, value) of every node, keys None for list items and the root."""
    stack: list[tuple[str | None, Any]] = [(None, value)]
    while stack:
        key, node = stack.pop()
        yield key, node
        if isinstance(node, dict):
            stack.extend(node.items())
        elif isinstance(node, list):
            stack.extend((None, item) for item in node)


@cache
def vocabulary(channel_type: str) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The keys, and the short scalar values, that the channel's fixtures use."""
    keys: set[str] = set()
    scalars: set[Any] = set()
    for document in fixtures_of(channel_type):
        for key, node in _walk(document):
            if key is not None:
                keys.add(key)
            if isinstance(node, str | int | float | bool) and len(str(node)) <= 80:
                scalars.add(node)
    return tuple(sorted(keys)), tuple(sorted(scalars, key=repr))


# --- strategies -------------------------------------------------------------------------------------------

# Values that sit on the edges the normalizers test: empty and blank strings, lone surrogates, numeric and
# date strings, times beyond datetime's range, ints beyond 64 bits, floats at the limits.
EDGES = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "\ud800",
        "0",
        "-1",
        "1e3",
        "NaN",
        "1355517523.000005",
        "1700000000000",
        "99999999999999999999",
        "2026-11-21T12:00:00Z",
        "2026-13-45T99:99:99",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "Wed Oct 10 20:19:24 +0000 2018",
        "{{ticket.id}}",
        "<p>Hi<br>there &amp; <script>x</script></p>",
        0,
        -1,
        1,
        5,
        10,
        11,
        2**31,
        2**63,
        -(2**63) - 1,
        10**20,
        253_402_300_800,
        1e308,
        -1e308,
        0.5,
        float("inf"),
        float("-inf"),
        float("nan"),
        True,
        False,
        None,
        [],
        {},
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    EDGES,
)


def json_values(keys: st.SearchStrategy[str] | None = None, extra: st.SearchStrategy[Any] | None = None):
    """Arbitrary JSON (with NaN and ±Infinity, which Python's parser accepts), keys optionally biased."""
    key_strategy = st.text(max_size=12) if keys is None else st.one_of(keys, st.text(max_size=12))
    leaves = SCALARS if extra is None else st.one_of(SCALARS, extra)
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(key_strategy, children, max_size=5)
        ),
        max_leaves=25,
    )


def channel_json(channel_type: str) -> st.SearchStrategy[Any]:
    """Arbitrary JSON spelt with the channel's own field names and values."""
    keys, scalars = vocabulary(channel_type)
    return json_values(st.sampled_from(keys), st.sampled_from(scalars))


def _paths(document: Any) -> list[tuple[Any, ...]]:
    """Every path (tuple of keys / indexes) below the root."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), document)]
    while stack:
        path, node = stack.pop()
        children = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        )
        for key, child in children:
            found.append((*path, key))
            stack.append(((*path, key), child))
    return sorted(found, key=repr)


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


@st.composite
def mutated_fixture(draw: st.DrawFn, channel_type: str) -> Any:
    """One of the channel's fixtures with 1-4 random subtrees replaced, deleted, wrapped or stringified."""
    document = copy.deepcopy(draw(st.sampled_from(fixtures_of(channel_type))))
    replacement = channel_json(channel_type)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(document, path[:-1]), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "stringify", "duplicate"]))
        if action == "replace":
            parent[key] = draw(replacement)
        elif action == "delete":
            del parent[key]
        elif action == "wrap":
            parent[key] = [parent[key]]
        elif action == "stringify":
            parent[key] = json.dumps(parent[key]) if not isinstance(parent[key], str) else 0
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))  # the same item twice in one delivery
        else:
            parent[key] = [copy.deepcopy(parent[key]), copy.deepcopy(parent[key])]
    return document


@st.composite
def serialized(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> bytes:
    """A document as a sender might write it: escaped or raw UTF-8, compact or spaced."""
    document = draw(documents)
    text = json.dumps(
        document,
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
        allow_nan=True,
    )
    # A lone surrogate written raw is not UTF-8; the parser must refuse it, not the route crash on it.
    return text.encode("utf-8", "surrogatepass")


def _nest_inside(fixture: bytes, depth: int) -> bytes:
    """The fixture with a first member nested `depth` lists deep (as text: json.dumps would recurse)."""
    return b'{"deep": ' + b"[" * depth + b"1" + b"]" * depth + b", " + fixture[1:]


def raw_bodies(channel_type: str) -> st.SearchStrategy[bytes]:
    """Bodies that are not (plain UTF-8) JSON objects, and nesting beyond what the parser allows."""
    fixture = st.sampled_from(fixtures_of(channel_type)).map(lambda document: json.dumps(document).encode())
    # Shallow nesting, and past CPython's parser limit (~1,000 levels): the sampled depths make sure of it.
    depth = st.one_of(st.sampled_from([1_500, 100_000]), st.integers(1, 5_000))
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=20).map(
            lambda text: json.dumps({"text": f"{text}é"}, ensure_ascii=False).encode("latin-1", "replace")
        ),
        st.tuples(fixture, st.sampled_from(["utf-16", "utf-16-le", "utf-32"])).map(
            lambda pair: pair[0].decode().encode(pair[1])
        ),
        fixture.map(lambda body: b"\xef\xbb\xbf" + body),
        fixture.flatmap(lambda body: st.integers(0, len(body) - 1).map(lambda cut: body[:cut])),
        st.tuples(st.binary(min_size=1, max_size=8), fixture).map(lambda pair: pair[0] + pair[1]),
        depth.map(lambda n: b"[" * n + b"]" * n),
        st.tuples(fixture, depth).map(lambda pair: _nest_inside(*pair)),
        SCALARS.map(lambda value: json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")),
    )


def bodies(channel_type: str, family: str) -> st.SearchStrategy[bytes]:
    if family == "arbitrary":
        return serialized(
            st.one_of(st.dictionaries(st.text(max_size=12), json_values(), max_size=6), json_values())
        )
    if family == "vocabulary":
        keys, _ = vocabulary(channel_type)
        return serialized(
            st.dictionaries(st.sampled_from(keys), channel_json(channel_type), min_size=1, max_size=8)
        )
    if family == "mutated":
        return serialized(mutated_fixture(channel_type))
    if family == "raw":
        return raw_bodies(channel_type)
    raise AssertionError(family)


# --- the properties ---------------------------------------------------------------------------------------


def signed_request(channel_type: str, body: bytes, with_settings: bool) -> WebhookRequest:
    """The request a platform would send with `body`, authenticated with the source's secret."""
    table = table_of(channel_type)
    signed = CHANNELS[channel_type].sign(body, table.secrets, NOW)
    return WebhookRequest(
        source=SourceConfig(
            source_id=f"src_{channel_type}_prop",
            type=channel_type,
            name="property",
            settings=dict(table.settings) if with_settings else {},
        ),
        secrets=SourceSecrets(dict(table.secrets)),
        method="POST",
        headers={"content-type": "application/json", **{k.lower(): v for k, v in signed.headers.items()}},
        query=dict(signed.query),
        body=body,
        received_at=NOW,
    )


def assert_valid_delivery(request: WebhookRequest, delivery: Delivery) -> None:
    """What every event of an accepted delivery must be, whatever the body held."""
    assert isinstance(delivery, Delivery)
    for event in delivery.events:
        assert isinstance(event, FeedbackEvent)
        # The model's own rules, re-checked on the dumped values (nothing built around validation).
        assert FeedbackEvent.model_validate(event.model_dump()) == event
        assert event.source_id == request.source.source_id
        assert event.external_id, "an empty external_id would make unrelated items one"
        assert event.feedback_id == feedback_id_for(event.source_id, event.external_id)
        assert event.received_at == NOW
        assert event.occurred_at.tzinfo is not None
        # Issue 11, item 2: an item with nothing in it is acknowledged and skipped, never stored.
        assert event.text.strip() or event.rating is not None, "an event with neither text nor rating"
        if event.rating is None:
            assert event.rating_scale is None
        else:
            assert event.rating_scale is not None, "a rating needs its scale"
            low, high = event.rating_scale.bounds
            assert low <= event.rating <= high, f"rating {event.rating} outside {event.rating_scale}"
    if delivery.events:
        # What the route will queue: SQS takes UTF-8 text, and the analyzer must read back the same events.
        messages = encode_events(delivery.events)
        for message in messages:
            message.encode("utf-8")
        assert [e for message in messages for e in decode_events(message)] == delivery.events


def run_in_process(channel_type: str, body: bytes, with_settings: bool) -> Delivery | ApiError:
    """verify → parse → normalize → queue bodies as the route runs them; the documented refusal, or the
    checked delivery."""
    channel = CHANNELS[channel_type]
    request = signed_request(channel_type, body, with_settings)
    channel.verify(request)  # a valid signature over these exact bytes: must pass, whatever they are
    try:
        payload = channel.parse(request)
    except BadRequest as error:
        assert error.code == "malformed_json", error.code
        return error
    except PayloadInvalid as error:  # the body does not fit the channel's payload model
        assert error.status == 422
        return error
    try:
        delivery = channel.normalize(request, payload)
        queue_bodies(delivery)
    except (PayloadInvalid, DeliveryTooLarge) as error:
        assert 400 <= error.status < 500
        return error
    assert_valid_delivery(request, delivery)
    return delivery


FAMILIES = ["arbitrary", "vocabulary", "mutated", "raw"]
EXAMPLES = {"arbitrary": 20, "vocabulary": 30, "mutated": 60, "raw": 15}
HTTP_EXAMPLES = 8  # per channel, through the route and moto


def test_every_registered_channel_has_a_table_and_fixtures():
    """A new channel must come with a table and fixtures, or the properties would skip it."""
    for channel_type in CHANNELS:
        assert fixtures_of(channel_type), f"no fixtures in tests/fixtures/{channel_type}/"
        assert all(isinstance(doc, dict) for doc in fixtures_of(channel_type))
        table = table_of(channel_type)
        assert set(table.secrets) >= set(CHANNELS[channel_type].secret_names)


def test_every_fixture_is_accepted_as_is():
    """The seeds the mutations start from are valid deliveries: mutated ones explore near-valid input."""
    for channel_type in CHANNEL_TYPES:
        for document in fixtures_of(channel_type):
            outcome = run_in_process(channel_type, json.dumps(document).encode(), with_settings=False)
            assert isinstance(outcome, Delivery), (channel_type, document, outcome)


def test_the_channel_enums_name_what_the_registered_channels_and_forms_produce():
    """The FeedbackEvent `Channel` enum (models.py, which may not import the channels) and the OpenAPI
    `Channel` schema cannot be built from the registry: they must name exactly what the registered channels'
    fixtures produce plus `form` and `email`, in the same order in both."""
    # `form` comes from the forms package, `email` from channels/email (mail, not a webhook), and the pulled
    # reviews' channels from channels/pull (each platform names its own).
    produced = {ChannelName.FORM.value, ChannelName.EMAIL.value}
    produced |= {platform_for(pull_type).channel.value for pull_type in PULL_TYPES}
    for channel_type in CHANNEL_TYPES:
        for document in fixtures_of(channel_type):
            outcome = run_in_process(channel_type, json.dumps(document).encode(), with_settings=False)
            assert isinstance(outcome, Delivery)
            produced |= {event.channel.value for event in outcome.events}
    assert produced == {name.value for name in ChannelName}, "the registry and models.Channel disagree"
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert spec["components"]["schemas"]["Channel"]["enum"] == [name.value for name in ChannelName]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_signed_bodies_give_events_or_the_documented_error(channel_type: str, family: str):
    table_of(channel_type)

    @bounded(EXAMPLES[family])
    @given(body=bodies(channel_type, family), with_settings=st.booleans())
    def check(body: bytes, with_settings: bool) -> None:
        note(f"body={body[:2000]!r}")
        run_in_process(channel_type, body, with_settings)

    if family == "raw":
        # Always tried, whatever the generator draws: shapes that once crashed the shared parse step.
        fixture = json.dumps(fixtures_of(channel_type)[0]).encode()
        for body in (b"[" * 100_000, _nest_inside(fixture, 100_000), b'{"x": "\\ud800", ' + fixture[1:]):
            check = example(body=body, with_settings=False)(check)
    check()


def _nested(depth: int) -> bytes:
    return b'{"object": "page", "entry": ' + b"[" * depth + b"]" * depth + b"}"


def _tiny_messages(count: int) -> bytes:
    """A Page delivery of `count` one-letter Messenger messages: ~50 bytes each, ~400 once an event."""
    items = [{"sender": {"id": "2"}, "message": {"mid": f"m{i}", "text": "a"}} for i in range(count)]
    return json.dumps({"object": "page", "entry": [{"id": "1", "messaging": items}]}).encode()


YEAR_ZERO = "0001-01-01T00:00:00+14:00"  # parses, but is before 0001-01-01 in UTC
LONE_SURROGATE = json.dumps(
    {
        "object": "page",
        "entry": [
            {"id": "1", "messaging": [{"sender": {"id": "2"}, "message": {"mid": "m1", "text": "hi \ud800"}}]}
        ],
    }
).encode()

# Shapes the properties found (each crashed a normalizer or the queue before its fix), kept as examples.
FOUND = [
    ("deep nesting", "meta", _nested(50_000), BadRequest, "malformed_json"),
    ("deep nesting the parser still takes", "meta", _nested(500), PayloadInvalid, "payload_invalid"),
    ("lone surrogate (SQS needs UTF-8)", "meta", LONE_SURROGATE, BadRequest, "malformed_json"),
    ("events past one queue request", "meta", _tiny_messages(4_000), DeliveryTooLarge, "payload_too_large"),
    (
        "time before year 1 in UTC",
        "webhook",
        json.dumps({"id": "a", "text": "t", "occurred_at": YEAR_ZERO}).encode(),
        PayloadInvalid,
        "payload_invalid",
    ),
    (
        "list as a change field",
        "instagram",
        b'{"object": "instagram", "entry": [{"id": "1", "changes": [{"field": [], "value": {}}]}]}',
        Delivery,
        None,
    ),
    ("list as a topic", "intercom", b'{"topic": [], "data": {}}', Delivery, None),
    (
        "superscript digit in ts",
        "slack",
        b'{"type": "event_callback", "event_id": "E1", '
        b'"event": {"type": "message", "user": "U1", "text": "hi", "ts": "\\u00b2"}}',
        PayloadInvalid,
        "payload_invalid",
    ),
    (
        "timestamp_ms past the year 9999",
        "x",
        b'{"for_user_id": "1", "tweet_create_events": [{"id_str": "9", "text": "hi", '
        b'"timestamp_ms": "99999999999999999", "user": {"id_str": "2"}}]}',
        PayloadInvalid,
        "payload_invalid",
    ),
]


@pytest.mark.parametrize(
    ("label", "channel_type", "body", "outcome", "code"), FOUND, ids=[f[0] for f in FOUND]
)
def test_found_shapes(label: str, channel_type: str, body: bytes, outcome: type, code: str | None):
    result = run_in_process(channel_type, body, with_settings=False)
    assert isinstance(result, outcome), result
    if code is not None:
        assert isinstance(result, ApiError) and result.code == code


# Characters outside the set SQS accepts in a message body.
SQS_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_queue_messages_hold_only_characters_sqs_accepts():
    body = json.dumps({"id": "nc", "text": "noncharacter \uffff here"}).encode()
    delivery = run_in_process("webhook", body, with_settings=False)
    assert isinstance(delivery, Delivery) and delivery.events
    for message in encode_events(delivery.events):
        assert not SQS_FORBIDDEN.search(message), "a character SQS refuses"
    assert [event.text for event in decode_events(encode_events(delivery.events)[0])] == [
        event.text for event in delivery.events
    ]


# --- through the HTTP route -------------------------------------------------------------------------------


def test_signed_deliveries_through_the_route_never_answer_5xx(channel_harness):
    """Every channel behind the real route, one moto stack: 2xx with what was queued, or a 4xx in the JSON
    error shape with nothing queued."""
    harnesses = {}
    for channel_type in CHANNEL_TYPES:
        table = table_of(channel_type)
        harnesses[channel_type] = channel_harness(channel_type, table.secrets, table.settings)

    # The stack and sources are built once for the test; each example only sends and drains the queue.
    def check(channel_type: str, body: bytes) -> None:
        note(f"channel={channel_type} body={body[:2000]!r}")
        harness = harnesses[channel_type]
        result = harness.send(WebhookCase("property", body=body))  # signed by the channel's `sign`
        assert result.status < 500, result.body
        if result.status >= 400:
            error = json.loads(result.body)["error"]
            assert set(error) >= {"code", "message"}
            assert result.events == [] and result.sends == 0, "queued despite the error"
        else:
            assert result.sends == (1 if result.events or result.deletions else 0)
            answer = json.loads(result.body)
            if "status" in answer:
                assert (answer["status"], answer["events"]) == ("accepted", len(result.events))
                assert answer.get("deletions", 0) == len(result.deletions)
                assert set(answer) <= {"status", "events", "skipped", "deletions"}
                # What was not stored is named, with a reason (issue 11, item 2).
                assert all(isinstance(item["reason"], str) for item in answer.get("skipped", []))
                assert result.events or result.deletions or answer.get("skipped"), (
                    "nothing stored, and no reason given"
                )

    def property_for(channel_type: str) -> Any:
        @bounded(HTTP_EXAMPLES)
        @given(body=st.one_of(*(bodies(channel_type, family) for family in ("mutated", "vocabulary", "raw"))))
        def deliver(body: bytes) -> None:
            check(channel_type, body)

        return deliver

    for channel_type in CHANNEL_TYPES:
        property_for(channel_type)()
