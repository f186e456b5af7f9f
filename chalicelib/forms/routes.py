"""Public form routes: the response endpoint (JSON or urlencoded)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import queue
from chalicelib.config import settings
from chalicelib.forms.validation import is_honeypot_filled, to_event, validate_response
from chalicelib.http import FORM_URLENCODED_TYPE, JSON_TYPE, Forbidden, NotFound, json_errors, parse_body
from chalicelib.observability import logger, metrics
from chalicelib.store import forms as form_store

forms_api = Blueprint(__name__)

ACCEPTED_TYPES = (JSON_TYPE, FORM_URLENCODED_TYPE)


@forms_api.route("/forms/{form_id}/responses", methods=["POST"], content_types=["*/*"])
@json_errors
def submit_response(form_id: str) -> Response:
    """Validate a response and queue it: one SQS request, then 202 with the feedback id."""
    request = forms_api.current_request
    form = form_store.get_cached(form_id)
    if form is None:
        raise NotFound(f"No form with id {form_id!r}.", code="unknown_form")
    if not form.allows_origin(request.headers.get("origin")):
        raise Forbidden("This form does not accept submissions from this site.", code="origin_not_allowed")
    body = parse_body(request, settings().max_form_body_bytes, ACCEPTED_TYPES)
    if is_honeypot_filled(body):
        # Answer as if accepted so the bot learns nothing; nothing is queued.
        metrics.add_metric(name="HoneypotRejected", unit="Count", value=1)
        return Response(body={"status": "accepted"}, status_code=202)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key and not body.get("response_id"):
        # The standard header is an alternative to the body field; both are validated the same way.
        body["response_id"] = idempotency_key
    event = to_event(form, validate_response(form, body))
    queue.enqueue([event])
    logger.info("form response queued", extra={"feedback_id": event.feedback_id, "form_id": form_id})
    metrics.add_metric(name="FeedbackAccepted", unit="Count", value=1)
    return Response(body={"feedback_id": event.feedback_id, "status": "queued"}, status_code=202)
