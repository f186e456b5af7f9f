"""`cli analysis pause|resume|status`: the kill switch for the bill.

Pausing disables the analyze function's SQS trigger (its event source mapping). Deliveries are still
acknowledged and queued; they wait in the ingest queue (kept 14 days) and nothing calls Comprehend until
`resume` enables the trigger again, when the backlog drains at the function's usual concurrency. Nothing is
lost and nothing is analyzed twice: the queue and the idempotent store are unchanged by the switch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.config import settings

FUNCTION_VARIABLE = "ANALYZE_FUNCTION"  # from the stack output AnalyzeFunctionName (infra/outputs.py)


class SwitchUnavailable(Exception):
    """The switch cannot be found or used (no function name, no trigger)."""


@dataclass(frozen=True)
class TriggerState:
    uuid: str
    state: str  # Enabled, Disabled, Enabling, Disabling, Updating …
    queued: int  # messages waiting in the ingest queue
    changed: bool = True  # False: the trigger was already as asked, and was left alone

    @property
    def paused(self) -> bool:
        return self.state in {"Disabled", "Disabling"}

    @property
    def running(self) -> bool:
        return self.state in {"Enabled", "Enabling"}


def analyze_function() -> str:
    """The deployed analyze function's name (eval "$(python -m infra.outputs <stage>)" sets it)."""
    name = os.environ.get(FUNCTION_VARIABLE, "").strip()
    if not name:
        raise SwitchUnavailable(
            f'{FUNCTION_VARIABLE} is not set: run eval "$(.venv/bin/python -m infra.outputs <stage>)" first '
            "(the local stack has no Lambda trigger to switch: stop `make run` instead)."
        )
    return name


def _queued(sqs: Any) -> int:
    url = settings().queue_url
    if not url:
        return 0
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))


def _mapping(lambda_client: Any, function: str) -> dict[str, Any]:
    mappings = lambda_client.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    sqs_mappings = [m for m in mappings if ":sqs:" in m.get("EventSourceArn", "")]
    if len(sqs_mappings) != 1:
        raise SwitchUnavailable(f"{function} has {len(sqs_mappings)} SQS triggers; expected exactly one.")
    return sqs_mappings[0]


def status(function: str | None = None) -> TriggerState:
    """Whether analysis runs, and how many deliveries wait."""
    name = function or analyze_function()
    mapping = _mapping(aws.client("lambda"), name)
    return TriggerState(uuid=mapping["UUID"], state=mapping["State"], queued=_queued(aws.client("sqs")))


def switch(enabled: bool, function: str | None = None) -> TriggerState:
    """Enable (resume) or disable (pause) the analyze trigger; idempotent: a trigger already so is left as it
    is (`changed` False), so the operator is told so rather than that it was switched."""
    name = function or analyze_function()
    lambda_client = aws.client("lambda")
    mapping = _mapping(lambda_client, name)
    current = TriggerState(mapping["UUID"], mapping["State"], _queued(aws.client("sqs")), changed=False)
    if current.running if enabled else current.paused:
        return current
    updated = lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=enabled)
    return TriggerState(uuid=updated["UUID"], state=updated["State"], queued=_queued(aws.client("sqs")))
