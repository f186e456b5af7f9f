"""The payload seam every channel shares (issue 13, item 2): `Channel.parse` validates the body into the
channel's typed `payload_model` once, and a body that does not fit answers 422 `payload_invalid` from that
one place; `normalize` reads typed fields. Also the field types of payloads.py, whose leniency the channels'
rules depend on, and the route's answer to a channel's own bug (500, no longer blamed on the sender).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, BeforeValidator, Field, StrictInt, field_validator

from chalicelib.channels.base import Channel, Delivery, SignedRequest, WebhookRequest
from chalicelib.channels.exceptions import PayloadInvalid
from chalicelib.channels.payloads import (
    MAX_NAMED_FIELDS,
    Deferred,
    Identifier,
    Ignored,
    Invalid,
    LaxObject,
    Name,
    NonEmptyObject,
    Object,
    Objects,
    OptionalString,
    PlatformObject,
    RequiredIdentifier,
    Text,
    absent,
    one_of,
    refused,
    valid,
)
from chalicelib.channels.registry import CHANNELS
from chalicelib.channels.telegram import TelegramChannel
from chalicelib.http import BadRequest
from tests.channels.harness import WebhookCase, table_for
from tests.channels.test_normalizer_properties import fixtures_of, signed_request

# --- a channel declared only for these tests -------------------------------------------------------------


class Author(PlatformObject):
    name: Name = None


class Greeting(PlatformObject):
    text: Text = ""
    count: StrictInt = 0
    author: Object[Author] = Author()
    items: list[Annotated[int, Field(ge=0)]] = []


class GreetingChannel(Channel):
    type = "greeting-test"
    secret_names = ()
    payload_model = Greeting
    payload_name = "greeting"

    def verify(self, request: WebhookRequest) -> None:
        pass

    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        return SignedRequest()

    def normalize(self, request: WebhookRequest, payload: Greeting) -> Delivery:
        return Delivery.nothing("test")


def parse(body: bytes, channel: Channel | None = None) -> Any:
    request = signed_request("webhook", body, with_settings=False)  # any source: only the body is read
    return (channel or GreetingChannel()).parse(request)


def refusal(body: bytes, channel: Channel | None = None) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as raised:
        parse(body, channel)
    assert (raised.value.status, raised.value.code) == (422, "payload_invalid")
    return raised.value


def test_parse_returns_the_typed_model():
    greeting = parse(b'{"text": "hi", "count": 2, "author": null, "other": [1]}')
    assert isinstance(greeting, Greeting)
    assert (greeting.text, greeting.count, greeting.author) == ("hi", 2, Author())


@pytest.mark.parametrize("body", [b"[1]", b'"text"', b"{", b"\xff"])
def test_a_body_that_is_no_json_object_is_still_a_400(body):
    with pytest.raises(BadRequest) as raised:
        parse(body)
    assert raised.value.code == "malformed_json"


def test_a_body_that_does_not_fit_is_a_422_naming_the_fields_by_their_json_path():
    error = refusal(b'{"text": 5, "count": true, "items": [1, -2]}')
    assert (
        error.message
        == "Invalid greeting fields: text (a string), count (a JSON integer), items[1] (at least 0)."
    )


def test_the_422_never_repeats_the_offending_values():
    # The answer goes back to the sender; a value may be a customer's words.
    error = refusal(b'{"text": {"said": "my card 4111 1111 1111 1111"}, "count": "12345678"}')
    assert "4111" not in error.message
    assert "12345678" not in error.message


def test_the_422_names_at_most_ten_fields():
    body = json.dumps({"items": [-1] * 25}).encode()
    error = refusal(body)
    assert error.message.endswith(f"items[{MAX_NAMED_FIELDS - 1}] (at least 0) and 15 more.")


class Rated(PlatformObject):
    rating: int | None = None

    @field_validator("rating")
    @classmethod
    def _in_range(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 5:
            raise refused("must be between 1 and 5")
        return value


class Leaky(PlatformObject):
    # A ValueError's message may quote the value (int("…") does): only `refused` reasons are repeated.
    number: Annotated[int, BeforeValidator(lambda value: int(str(value)))] = 0


class RatedChannel(GreetingChannel):
    payload_model = Rated


class LeakyChannel(GreetingChannel):
    payload_model = Leaky


def test_a_rule_of_the_model_gives_its_reason_but_a_value_error_does_not():
    assert refusal(b'{"rating": 9}', RatedChannel()).message == (
        "Invalid greeting fields: rating (must be between 1 and 5)."
    )
    error = refusal(b'{"number": "secret words"}', LeakyChannel())
    assert error.message == "Invalid greeting fields: number."


# --- every registered channel --------------------------------------------------------------------------


@pytest.mark.parametrize("channel_type", sorted(CHANNELS))
def test_every_channel_parses_its_fixtures_into_its_payload_model(channel_type):
    channel = CHANNELS[channel_type]
    assert "payload_model" in {name for cls in type(channel).__mro__ for name in vars(cls)}
    for document in fixtures_of(channel_type):
        request = signed_request(channel_type, json.dumps(document).encode(), with_settings=False)
        payload = channel.parse(request)
        assert isinstance(payload, BaseModel), (channel_type, type(payload))
        assert isinstance(channel.normalize(request, payload), Delivery)


# --- one_of: a value in one of several documented shapes --------------------------------------------------


class Circle(PlatformObject):
    radius: StrictInt


class Square(PlatformObject):
    side: StrictInt


def _shape(value: Any) -> type[PlatformObject]:
    if isinstance(value, dict) and value.get("kind") == "circle":
        return Circle
    return Square if isinstance(value, dict) and value.get("kind") == "square" else Ignored


class Drawing(PlatformObject):
    shapes: list[Annotated[Circle | Square | Ignored, one_of(_shape)]] = []


class DrawingChannel(GreetingChannel):
    payload_model = Drawing


def test_one_of_validates_each_value_as_the_shape_its_tag_names():
    drawing = parse(
        b'{"shapes": [{"kind": "circle", "radius": 2}, {"kind": "square", "side": 3}, {"kind": "?"}]}',
        DrawingChannel(),
    )
    assert drawing.shapes == [Circle(radius=2), Square(side=3), Ignored()]


def test_one_of_errors_name_the_json_path_without_the_tag():
    error = refusal(
        b'{"shapes": [{"kind": "circle", "radius": 2}, {"kind": "square", "side": "3"}, 7]}', DrawingChannel()
    )
    assert error.message == "Invalid greeting fields: shapes[1].side (a JSON integer), shapes[2] (an object)."


# --- Deferred: checked with the rest, refused only where it is read ---------------------------------------


class Message(PlatformObject):
    own: bool = False
    text: Deferred[Text] = ""
    sent_at: Deferred[StrictInt] = absent("sent_at")


class MessageChannel(GreetingChannel):
    payload_model = Message

    def normalize(self, request: WebhookRequest, payload: Message) -> Delivery:
        if payload.own:
            return Delivery.nothing("own_message")  # neither field is read: neither can be refused
        valid(payload.text)
        valid(payload.sent_at)
        return Delivery.nothing("read")


def outcome(body: bytes) -> str:
    request = signed_request("webhook", body, with_settings=False)
    channel = MessageChannel()
    try:
        return channel.normalize(request, channel.parse(request)).skipped[0].reason
    except PayloadInvalid as error:
        return error.message


def test_a_deferred_field_is_refused_only_on_the_path_that_reads_it():
    assert outcome(b'{"own": true, "text": 5}') == "own_message"
    assert outcome(b'{"own": false, "text": 5, "sent_at": 1}') == "Invalid payload fields: text (a string)."
    assert outcome(b'{"text": "hi", "sent_at": 1}') == "read"


def test_a_deferred_field_that_must_be_there_is_refused_where_it_is_read():
    assert outcome(b'{"own": true}') == "own_message"
    assert outcome(b'{"text": "hi"}') == "Invalid payload fields: sent_at (missing)."
    assert outcome(b'{"text": "hi", "sent_at": null}') == "Invalid payload fields: sent_at (a JSON integer)."


def test_a_deferred_value_is_held_not_raised_when_parsed():
    message = Message.model_validate({"text": {"nested": 1}, "sent_at": "1"})
    assert isinstance(message.text, Invalid) and isinstance(message.sent_at, Invalid)
    assert "nested" not in repr(message.text)


# --- the field types -----------------------------------------------------------------------------------


class Fields(PlatformObject):
    identifier: Identifier = None
    required_identifier: RequiredIdentifier = "-"
    name: Name = None
    string: OptionalString = None
    text: Text = ""
    author: Object[Author] = Author()
    authors: Objects[Author] = []
    edit: NonEmptyObject[Author] = None
    lax: LaxObject[Author] = None


@pytest.mark.parametrize(
    ("field", "value", "read_as"),
    [
        ("identifier", 1234, "1234"),
        ("identifier", "1234", "1234"),
        ("identifier", "", None),
        ("identifier", True, None),
        ("identifier", 1.5, None),
        ("identifier", {"id": 1}, None),
        ("required_identifier", 7, "7"),
        ("name", "Kim", "Kim"),
        ("name", "", None),
        ("name", 5, None),
        ("string", "", ""),
        ("string", ["a"], None),
        ("text", None, ""),
        ("text", "words", "words"),
        ("author", None, Author()),
        ("author", {"name": "Kim"}, Author(name="Kim")),
        ("authors", None, []),
        ("authors", [{}], [Author()]),
        ("edit", None, None),
        ("edit", {}, None),
        ("edit", {"name": "Kim"}, Author(name="Kim")),
        ("lax", [], None),
        ("lax", "Kim", None),
        ("lax", {}, Author()),
    ],
)
def test_a_field_type_reads_a_value_as_the_channels_rules_say(field, value, read_as):
    assert getattr(Fields.model_validate({field: value}), field) == read_as


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("required_identifier", None),
        ("required_identifier", ""),
        ("required_identifier", False),
        ("text", 5),
        ("text", ["words"]),
        ("author", []),
        ("author", "Kim"),
        ("authors", {}),
        ("authors", [1]),
        ("edit", []),
    ],
)
def test_a_field_type_refuses_what_the_channels_rules_refuse(field, value):
    with pytest.raises(ValueError, match=field):
        Fields.model_validate({field: value})


# --- through the route ---------------------------------------------------------------------------------


def _telegram(channel_harness):
    return channel_harness("telegram", table_for("telegram").secrets)


def test_the_route_answers_the_models_422_and_queues_nothing(channel_harness):
    harness = _telegram(channel_harness)
    result = harness.run(
        WebhookCase(
            "a message date that is no number",
            body=b'{"update_id": 1, "edited_message": {"message_id": 1, "date": "soon", "chat": {}}}',
            status=422,
            error_code="payload_invalid",
        )
    )
    message = json.loads(result.body)["error"]["message"]
    assert (
        message
        == "Invalid payload fields: edited_message.date (a JSON integer), edited_message.chat.id (missing), "
        "edited_message.chat.type (missing)."
    )


def test_a_channels_own_bug_is_a_500_not_a_422_blaming_the_sender(channel_harness, monkeypatch):
    """The route once turned any KeyError, TypeError, AttributeError or IndexError of a normalizer into 422
    `payload_invalid`; shapes are now the model's to refuse, so such an exception is a defect of ours."""
    harness = _telegram(channel_harness)

    def broken(self, request, payload):
        return {}["missing"]

    monkeypatch.setattr(TelegramChannel, "normalize", broken)
    harness.run(
        WebhookCase(
            "a normalizer that fails",
            body=b'{"update_id": 1, "callback_query": {}}',
            status=500,
            error_code="internal_error",
        )
    )
