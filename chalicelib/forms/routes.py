"""Public form routes: the response endpoint (JSON or urlencoded), its CORS preflight, and the form's public
configuration the widget renders from.

CORS is per form, so Chalice's static `cors=` cannot express it: the routes answer preflight themselves and
set `Access-Control-Allow-Origin` only for an origin the form allows (`*` when it allows any), on successes
and on JSON errors alike, so the widget can read a 422's `error.fields`. The form's configuration comes from
the in-memory cache, so CORS adds no AWS call: the ack path stays one SQS send.

A plain HTML form post from the hosted page (`GET /f/{form_id}`, marked by its hidden `_hosted` field) that
prefers text/html gets HTML back: a 303 to the thank-you page, or the page again with each error beside its
field (422). Every other client gets the JSON answers, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.config import settings
from chalicelib.forms import pages
from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.forms.validation import is_honeypot_filled, to_event, validate_response
from chalicelib.http import (
    ANY_CONTENT,
    FORM_URLENCODED_TYPE,
    JSON_TYPE,
    ApiError,
    Forbidden,
    NotFound,
    ValidationFailed,
    accept_language_hint,
    as_api_error,
    error_response,
    json_errors,
    media_type,
    parse_body,
)
from chalicelib.ingest import queue
from chalicelib.models import SENTIMENT_LANGUAGES, FeedbackEvent
from chalicelib.observability import logger, metrics
from chalicelib.web import html

forms_api = Blueprint(__name__)

ACCEPTED_TYPES = (JSON_TYPE, FORM_URLENCODED_TYPE)
# The hidden field the hosted page's HTML form carries: answer it with HTML pages instead of JSON.
HOSTED_FIELD = "_hosted"
PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_REQUEST_HEADERS = "Content-Type, Idempotency-Key"
PUBLIC_CONFIG_MAX_AGE_SECONDS = 300


# --- CORS -----------------------------------------------------------------------------------------------


def same_origin(request: Request) -> bool:
    """Whether the browser's Origin is this API's own host (the hosted page posting to its own endpoint)."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    if not origin or not host:
        return False
    return urlsplit(origin.strip()).netloc.lower() == host.strip().lower()


def origin_allowed(form: FormConfig, request: Request) -> bool:
    """The form's allowlist, plus the API's own origin (its hosted page) which is always allowed."""
    return form.allows_origin(request.headers.get("origin")) or same_origin(request)


def cors_headers(form: FormConfig | None, origin: str | None) -> dict[str, str]:
    """CORS response headers for a browser at `origin`: `*` for forms open to any site (and for unknown
    forms, so the widget can read the 404), the origin itself when the form allows it, none otherwise."""
    if form is None or not form.allowed_origins:
        return {"Access-Control-Allow-Origin": "*"}
    headers = {"Vary": "Origin"}
    if origin and form.allows_origin(origin):
        headers["Access-Control-Allow-Origin"] = origin.strip().rstrip("/")
    return headers


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    response.headers = {**(response.headers or {}), **headers}
    return response


# --- the form ---------------------------------------------------------------------------------------------


def known_form(form_id: str) -> FormConfig:
    """The form, or 404: an id that cannot be a form's is unknown without an AWS call and is never echoed."""
    form = form_store.get_cached(form_id)
    if form is None:
        raise NotFound("This feedback form does not exist.", code="unknown_form")
    return form


def _with_cors(form_id: str, request: Request, answer: Callable[[FormConfig], Response]) -> Response:
    """`answer` for the form, any failure (the lookup's included) in the JSON error shape, with the form's
    CORS headers on both, so a widget can read the error."""
    form: FormConfig | None = None
    try:
        form = known_form(form_id)
        response = answer(form)
    except Exception as error:  # every failure becomes an answer in the one shape
        response = error_response(as_api_error(error))
    return _with_headers(response, cors_headers(form, request.headers.get("origin")))


# --- the response endpoint --------------------------------------------------------------------------------


def _accept(form: FormConfig, request: Request, body: dict[str, Any] | None = None) -> FeedbackEvent | None:
    """Check, validate and queue one response (one SQS request); None when the honeypot caught a bot.

    Raises the ApiError to answer with. `body` is the already parsed body (the hosted page's path).
    """
    if not origin_allowed(form, request):
        raise Forbidden("This form does not accept submissions from this site.", code="origin_not_allowed")
    if body is None:
        body = parse_body(request, settings().max_form_body_bytes, ACCEPTED_TYPES)
    if is_honeypot_filled(body):
        # Answer as if accepted so the bot learns nothing; nothing is queued.
        metrics.add_metric(name="HoneypotRejected", unit="Count", value=1)
        return None
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key and not body.get("response_id"):
        # The standard header is an alternative to the body field; both are validated the same way.
        body["response_id"] = idempotency_key
    form_encoded = media_type(request) == FORM_URLENCODED_TYPE
    # Read from the request itself: a language hint costs the ack path nothing.
    browser_language = accept_language_hint(request.headers.get("accept-language"), SENTIMENT_LANGUAGES)
    event = to_event(form, validate_response(form, body, form_encoded=form_encoded), browser_language)
    queue.enqueue([event])
    logger.info("form response queued", extra={"feedback_id": event.feedback_id, "form_id": form.form_id})
    metrics.add_metric(name="FeedbackAccepted", unit="Count", value=1)
    return event


def _submit_json(form: FormConfig, request: Request) -> Response:
    event = _accept(form, request)
    if event is None:
        return Response(body={"status": "accepted"}, status_code=202)
    return Response(body={"feedback_id": event.feedback_id, "status": "queued"}, status_code=202)


def _hosted_body(request: Request) -> dict[str, Any] | None:
    """The parsed body of a hosted-page form post that wants HTML back, else None (the JSON path)."""
    if not pages.prefers_html(request.headers.get("accept")):
        return None
    if media_type(request) != FORM_URLENCODED_TYPE:
        return None
    try:
        body = parse_body(request, settings().max_form_body_bytes, (FORM_URLENCODED_TYPE,))
    except ApiError:
        return None  # the JSON path answers the same error
    return body if body.get(HOSTED_FIELD) else None


@pages.html_errors
def _submit_html(form_id: str, request: Request, body: dict[str, Any]) -> Response:
    """The hosted page without JavaScript: 303 to the thank-you page, the page again with errors (422), or
    an HTML error page."""
    form = known_form(form_id)
    try:
        _accept(form, request, body)
    except ValidationFailed as error:
        return pages.hosted_form_response(
            form, pages.POST_PREFIX, values=body, errors=error.fields, status=422
        )
    # Relative to /forms/{id}/responses (and to a stage prefix such as /api): /f/{id}/thanks.
    return Response(
        body="",
        status_code=303,
        headers={
            "Location": f"{pages.POST_PREFIX}f/{form.form_id}/thanks",
            "Content-Type": html.HTML_TYPE,
            "Cache-Control": "no-store",
        },
    )


@forms_api.route("/forms/{form_id}/responses", methods=["POST"], content_types=["*/*"])
@json_errors
def submit_response(form_id: str) -> Response:
    """Validate a response and queue it: one SQS request, then 202 with the feedback id (with per-form CORS
    headers), or HTML pages for the hosted page's plain form post."""
    request = forms_api.current_request
    hosted_body = _hosted_body(request)
    if hosted_body is not None:
        return _submit_html(form_id, request, hosted_body)
    return _with_cors(form_id, request, lambda form: _submit_json(form, request))


@forms_api.route("/forms/{form_id}/responses", methods=["OPTIONS"], content_types=ANY_CONTENT)
@json_errors
def preflight(form_id: str) -> Response:
    """CORS preflight: 204 with the allow headers for an origin the form allows; 403 (no CORS headers, so
    the browser refuses the request) for any other; 404 for an unknown form."""
    request = forms_api.current_request
    form = known_form(form_id)
    origin = request.headers.get("origin")
    if not form.allows_origin(origin):
        raise Forbidden("This form does not accept submissions from this site.", code="origin_not_allowed")
    headers = {
        **cors_headers(form, origin),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }
    return Response(body="", status_code=204, headers=headers)


def public_config(form: FormConfig) -> dict[str, Any]:
    """What a browser may know about a form: what it asks and how, never its origins or privacy settings."""
    low, high = form.rating_scale.bounds
    texts = form.texts
    return {
        "form_id": form.form_id,
        "name": form.name,
        "question": texts.question,
        "low_label": texts.low_label,
        "high_label": texts.high_label,
        "rating_scale": form.rating_scale.value,
        "rating_min": low,
        "rating_max": high,
        "require_email": form.require_email,
    }


@forms_api.route("/forms/{form_id}", methods=["GET"], content_types=ANY_CONTENT)
@json_errors
def get_public_config(form_id: str) -> Response:
    """The form's public configuration for the widget, readable by the sites the form allows."""
    request = forms_api.current_request
    return _with_cors(form_id, request, lambda form: _public_config(form, request))


def _public_config(form: FormConfig, request: Request) -> Response:
    if not origin_allowed(form, request):
        raise Forbidden("This form cannot be embedded on this site.", code="origin_not_allowed")
    return Response(
        body=public_config(form),
        status_code=200,
        headers={"Cache-Control": f"public, max-age={PUBLIC_CONFIG_MAX_AGE_SECONDS}"},
    )


# --- the hosted page -----------------------------------------------------------------------------------


@forms_api.route("/f/{form_id}", methods=["GET"], content_types=ANY_CONTENT)
@pages.html_errors
def hosted_form(form_id: str) -> Response:
    """The hosted form page (works without JavaScript; widget.js enhances it)."""
    return pages.hosted_form_response(known_form(form_id), pages.FORM_PREFIX)


@forms_api.route("/f/{form_id}/thanks", methods=["GET"], content_types=ANY_CONTENT)
@pages.html_errors
def hosted_thanks(form_id: str) -> Response:
    """Where a hosted-page post without JavaScript lands."""
    return pages.thanks_response(known_form(form_id))
