"""The outbound webhooks in openapi.yaml, derived from the event models (chalicelib/outbound/events.py).

OpenAPI 3.0.3 has no `webhooks` section (3.1 added it): the events are documented under `x-webhooks`, the
extension Redoc renders, one entry per event type with the Standard Webhooks headers and the body schema.
The schemas of each event's `data` and of the envelope are derived here from the pydantic models, in the
OpenAPI 3.0 dialect: an optional field is one the body leaves out when it has no value (bodies are dumped
with exclude_none), so it is not required and never null; enums are inlined. `python -m tools.webhook_docs`
rewrites the two generated blocks of openapi.yaml (between the BEGIN/END markers);
tests/test_outbound.py fails when the file differs from what this derives, so the documentation cannot drift
from the models. Written by hand (about 100 lines): no OpenAPI 3.0 generator for pydantic models fits a
hand-kept document like this one.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from chalicelib.outbound import events, signing
from chalicelib.outbound.events import DATA_MODELS, PAYLOAD_VERSION, EventType
from chalicelib.outbound.transport import DEFAULT_TIMEOUT_SECONDS

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
ENVELOPE = "WebhookEnvelope"
# The component name of each model's schema (FeedbackData kept its documented name).
SCHEMA_NAMES = {events.FeedbackData: "FeedbackEventData"}
SUMMARIES = {
    EventType.FEEDBACK_STORED: "A feedback item was stored (analysed, PII redacted)",
    EventType.FEEDBACK_NEGATIVE: "A stored feedback item is NEGATIVE",
    EventType.CUSTOMER_MERGED: "Two customers were merged into one",
    EventType.CUSTOMER_ERASED: "A customer was erased everywhere",
    EventType.ALERT_TRIGGERED: "An alert rule fired",
}
HEADER_DESCRIPTIONS = {
    "webhook-id": "The event's id, the same on every attempt and replay: dedupe on it",
    "webhook-timestamp": "When this attempt was signed, in Unix seconds",
    "webhook-signature": "`v1,<base64 HMAC-SHA256>` per active secret (two while rotating), space-separated",
}
BLOCKS = {  # marker → (indentation, what it holds)
    "x-webhooks": 0,
    "webhook schemas": 4,
}


def schema_name(model: type[BaseModel]) -> str:
    return SCHEMA_NAMES.get(model, model.__name__)


def data_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI 3.0 schema of what `model_dump(mode="json", exclude_none=True)` gives."""
    raw = model.model_json_schema(mode="serialization")
    definitions = raw.get("$defs", {})

    def converted(prop: dict[str, Any]) -> dict[str, Any]:
        documented = {k: prop[k] for k in ("description", "minimum", "maximum") if k in prop}
        if "anyOf" in prop:  # `X | None`: None is left out of the body, never sent as null
            (present,) = [option for option in prop["anyOf"] if option.get("type") != "null"]
            base = converted(present)
        elif "$ref" in prop:
            target = definitions[prop["$ref"].rsplit("/", 1)[1]]
            if "enum" in target:  # an enum type, written out in place
                base = {"type": target["type"], "enum": target["enum"]}
            else:  # a nested model (e.g. a theme and its count), its properties in place
                base = {
                    "type": "object",
                    "required": target.get("required", []),
                    "properties": {name: converted(inner) for name, inner in target["properties"].items()},
                }
        else:
            base = {k: prop[k] for k in ("type", "format", "enum") if k in prop}
            if "items" in prop:
                base["items"] = converted(prop["items"])
        return {**base, **documented}

    return {
        "type": "object",
        "description": " ".join(raw.get("description", "").split()),
        "additionalProperties": model.model_config.get("extra") == "allow",
        "required": [
            name
            for name, field in model.model_fields.items()
            if field.is_required() or field.get_default() is not None
        ],
        "properties": {name: converted(prop) for name, prop in raw["properties"].items()},
    }


def envelope_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every delivery's body: the Standard Webhooks payload shape, plus the payload version",
        "required": ["type", "version", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "enum": [t.value for t in EventType]},
            "version": {
                "type": "integer",
                "enum": [PAYLOAD_VERSION],
                "description": "The payload version; a breaking change adds a new one",
            },
            "timestamp": {"type": "string", "format": "date-time", "description": "When the event happened"},
            "data": {"type": "object"},
        },
    }


def component_schemas() -> dict[str, Any]:
    """The envelope and each model's data schema, by component name."""
    models = dict.fromkeys(DATA_MODELS.values())  # in order, each once
    return {ENVELOPE: envelope_schema(), **{schema_name(m): data_schema(m) for m in models}}


def header_names() -> list[str]:
    """The Standard Webhooks headers a delivery carries (signing.headers, with a throwaway secret)."""
    sent = signing.headers([signing.SECRET_PREFIX + "A" * 32], "msg_x", datetime.now(UTC), b"{}")
    return [name for name in sent if name.startswith("webhook-")]


def x_webhooks() -> dict[str, Any]:
    """One entry per event type: its headers, its body (the envelope with its type and data)."""
    entries = {}
    for event_type, model in DATA_MODELS.items():
        entries[event_type.value] = {
            "post": {
                "summary": SUMMARIES[event_type],
                "description": f"Sent to each subscription to `{event_type.value}` whose filters match; "
                f"answer 2xx within {DEFAULT_TIMEOUT_SECONDS:g} s.",
                "parameters": [
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": HEADER_DESCRIPTIONS[name],
                        "schema": {"type": "string"},
                    }
                    for name in header_names()
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "allOf": [
                                    {"$ref": f"#/components/schemas/{ENVELOPE}"},
                                    {
                                        "type": "object",
                                        "properties": {
                                            "type": {"type": "string", "enum": [event_type.value]},
                                            "data": {"$ref": f"#/components/schemas/{schema_name(model)}"},
                                        },
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {"200": {"description": "Received; any 2xx will do, anything else is retried"}},
            }
        }
    return entries


def _dumped(value: dict[str, Any], indent: int) -> str:
    text = yaml.safe_dump(value, sort_keys=False, width=110, allow_unicode=True, default_flow_style=False)
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def generated_blocks() -> dict[str, str]:
    return {
        "x-webhooks": _dumped({"x-webhooks": x_webhooks()}, BLOCKS["x-webhooks"]),
        "webhook schemas": _dumped(component_schemas(), BLOCKS["webhook schemas"]),
    }


def marker(name: str, edge: str) -> str:
    return f"{' ' * BLOCKS[name]}# {edge} {name}: generated by `python -m tools.webhook_docs`\n"


def rewritten(spec: str) -> str:
    """openapi.yaml's text with each generated block replaced by what the models give now."""
    for name, block in generated_blocks().items():
        begin, end = marker(name, "BEGIN"), marker(name, "END")
        if spec.count(begin) != 1 or spec.count(end) != 1 or spec.index(begin) > spec.index(end):
            raise ValueError(f"openapi.yaml needs one {name!r} BEGIN marker, then one END marker")
        head, rest = spec.split(begin)
        _, tail = rest.split(end)
        spec = head + begin + block + end + tail
    return spec


if __name__ == "__main__":
    current = SPEC_PATH.read_text(encoding="utf-8")
    updated = rewritten(current)
    if updated != current:
        SPEC_PATH.write_text(updated, encoding="utf-8")
    print("openapi.yaml " + ("updated" if updated != current else "already up to date"), file=sys.stderr)
