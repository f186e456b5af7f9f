"""What the stack does once, at deploy time: CloudFormation creates a custom resource backed by the
`on_deploy` function (infra/stack.py), which marks the counters complete (store/counters.py COMPLETE_KEY)
from the day after the deploy, unless a mark exists. A freshly deployed stack's filtered listings then skip
empty days from its first full day, not from the day after its first nightly run.

The day is the deploy day (UTC) + 1, as the nightly run sets it: the resource is created by a stack's first
deploy, but also by the first deploy of this code onto a stack that already holds items, possibly stored
before the counters existed; items stored from the next day on are all written by code that counts them.

CloudFormation's custom resource protocol (its documented request and the response PUT to the request's
presigned S3 URL) is written here by hand: a few lines of the standard library, where the helper libraries
(crhelper, the CDK provider framework) add a dependency or functions on another runtime. Whatever happens,
CloudFormation gets an answer, SUCCESS: the mark is an optimisation the nightly run sets anyway, so it never
fails or holds up a deploy (a handler that never answered would hold the stack for an hour).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.models import utc_now
from chalicelib.observability import logger
from chalicelib.store import counters

PHYSICAL_RESOURCE_ID = "counters-complete-mark"
RESPONSE_TIMEOUT_SECONDS = 10
# Sends the response body to the request's ResponseURL (replaced in tests).
Responder = Callable[[str, bytes], None]


def put_response(url: str, body: bytes) -> None:
    """PUT the response to CloudFormation's presigned S3 URL (signed for an empty Content-Type)."""
    if not url.startswith("https://"):
        raise ValueError("a custom resource's ResponseURL is an https URL")
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})  # noqa: S310 - https only, checked above
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS):  # noqa: S310 - https only, checked above
        pass


def handle_custom_resource(request: Mapping[str, Any], respond: Responder | None = None) -> dict[str, Any]:
    """Answer one custom resource request: Create (and Update) marks the counters complete from tomorrow
    unless a mark exists; Delete leaves the mark with the table. Returns the response sent."""
    data: dict[str, str] = {}
    reason = "nothing to do"
    if request.get("RequestType") in ("Create", "Update"):
        since = utc_now().date() + timedelta(days=1)
        try:
            marked = counters.mark_complete_if_unset(since)
        except (BotoCoreError, ClientError):
            logger.exception("counters completeness not marked at deploy; the nightly run marks it")
            reason = "not marked: the nightly run marks it"
        else:
            data = {"Marked": str(marked).lower(), "Since": since.isoformat()}
            reason = f"marked complete from {since.isoformat()}" if marked else "a mark exists: left as it is"
            logger.info(
                "counters completeness at deploy", extra={"marked": marked, "since": since.isoformat()}
            )
    response = {
        "Status": "SUCCESS",
        "Reason": reason,
        "PhysicalResourceId": request.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID,
        "StackId": request.get("StackId"),
        "RequestId": request.get("RequestId"),
        "LogicalResourceId": request.get("LogicalResourceId"),
        "Data": data,
    }
    (respond or put_response)(str(request.get("ResponseURL", "")), json.dumps(response).encode())
    return response
