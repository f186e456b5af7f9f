"""Form routes: the response endpoint (JSON or urlencoded), its CORS preflight, the form's public
configuration the widget renders from, the hosted page, and the configuration writer (`PUT`/`PATCH
/forms/{id}`, `GET /forms/{id}/config`: scope admin, checked by forms/admin.py as the CLI is).

CORS is per form, so Chalice's static `cors=` cannot express it: the routes answer preflight themselves and
set `Access-Control-Allow-Origin` only for an origin the form allows (`*` when it allows any), on successes
and on JSON errors alike, so the widget can read a 422's `error.fields`. The form's configuration comes from
the in-memory cache, so CORS adds no AWS call: the ack path stays one SQS send.

A plain HTML form post from the hosted page (`GET /f/{form_id}`, marked by its hidden `_hosted` field) that
prefers text/html gets HTML back: a 303 to the thank-you page, or the page again with each error beside its
field (422); a form with follow-up questions first posts its score alone (`_step=score`: checked, nothing
queued, answered with the band's question). Every other client gets the JSON answers, unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.config import settings
from chalicelib.forms import admin, pages
from chalicelib.forms import records as form_store
from chalicelib.forms.appearance import public_appearance
from chalicelib.forms.config import FormConfig
from chalicelib.forms.validation import is_honeypot_filled, to_event, validate_response
from chalicelib.http import (
    ANY_CONTENT,
    FORM_URLENCODED_TYPE,
    JSON_TYPE,
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
    accept_language_hint,
    as_api_error,
    check_query,
    error_response,
    json_errors,
    media_type,
    parse_body,
    parse_json_object,
    raw_body,
)
from chalicelib.ingest import queue
from chalicelib.models import SENTIMENT_LANGUAGES, FeedbackEvent
from chalicelib.observability import logger, metrics
from chalicelib.store.config_records import VersionConflict, unavailable_when_unreadable
from chalicelib.web import html

forms_api = Blueprint(__name__)

ACCEPTED_TYPES = (JSON_TYPE, FORM_URLENCODED_TYPE)
# The hidden field the hosted page's HTML form carries: answer it with HTML pages instead of JSON.
HOSTED_FIELD = "_hosted"
PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_REQUEST_HEADERS = "Content-Type, Idempotency-Key"
# Kept by browsers but checked on every use (a 304 while unchanged, no AWS call): a form's change reaches
# returning visitors within CONFIG_CACHE_SECONDS; `max-age=300` kept the old scale in front of them for five
# minutes more, so a score on it was refused.
PUBLIC_CONFIG_CACHE_CONTROL = "no-cache"


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
    with unavailable_when_unreadable("feedback form"):
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
    # The messages of a refused response in the visitor's language: the one the widget sends, else the header.
    sent_language = str(body.get("language") or "").split("-")[0]
    language = pages.page_language(form, request.headers.get("accept-language"), sent_language)
    response = validate_response(form, body, form_encoded=form_encoded, language=language)
    event = to_event(form, response, browser_language)
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


def _to_thanks(form: FormConfig, chosen_language: str | None = None) -> Response:
    # Relative to /forms/{id}/responses (and to a stage prefix such as /api): /f/{id}/thanks, with the
    # language the visitor chose (?lang=) when the browser's would not give it.
    query = f"?lang={chosen_language}" if chosen_language else ""
    return Response(
        body="",
        status_code=303,
        headers={
            "Location": f"{pages.POST_PREFIX}f/{form.form_id}/thanks{query}",
            "Content-Type": html.HTML_TYPE,
            "Cache-Control": "no-store",
        },
    )


def _score_step(
    form: FormConfig, request: Request, body: dict[str, Any], language: str, chosen_language: str | None
) -> Response:
    """The hosted page's first step without JavaScript (a form with follow-up questions): the score is
    checked and the page asks the chosen band's question; nothing is queued and no AWS call is made (the
    response, score included, is stored once, from the second step). The same origin check and honeypot as
    a response guard it."""
    if not origin_allowed(form, request):
        raise Forbidden("This form does not accept submissions from this site.", code="origin_not_allowed")
    if is_honeypot_filled(body):
        metrics.add_metric(name="HoneypotRejected", unit="Count", value=1)
        return _to_thanks(form, chosen_language)  # as if accepted, so the bot learns nothing
    chosen = {key: body.get(key) for key in ("rating", "response_id")}
    try:
        if chosen["rating"] is not None and str(chosen["rating"]).strip():
            validate_response(form, chosen, form_encoded=True, language=language)
    except ValidationFailed as error:
        return pages.hosted_form_response(
            form, pages.POST_PREFIX, body, error.fields, 422, language=language, step=pages.SCORE_STEP
        )
    return pages.hosted_form_response(
        form,
        pages.POST_PREFIX,
        chosen,
        language=language,
        step=pages.ANSWER_STEP,
        keep_language=chosen_language is not None,
    )


@pages.html_errors(lambda: forms_api.current_request)
def _submit_html(form_id: str, request: Request, body: dict[str, Any]) -> Response:
    """The hosted page without JavaScript: 303 to the thank-you page, the page again with errors (422), the
    follow-up step after a score (200), or an HTML error page."""
    form = known_form(form_id)
    accept_language = request.headers.get("accept-language")
    language = pages.page_language(form, accept_language, str(body.get(pages.LANGUAGE_FIELD) or ""))
    chosen_language = language if language != pages.page_language(form, accept_language) else None
    if body.get(pages.STEP_FIELD) == pages.SCORE_STEP:
        return _score_step(form, request, body, language, chosen_language)
    try:
        _accept(form, request, body)
    except ValidationFailed as error:
        step = pages.step_after_refusal(form, language, error.fields)
        return pages.hosted_form_response(
            form,
            pages.POST_PREFIX,
            values=body,
            errors=error.fields,
            status=422,
            language=language,
            step=step,
            keep_language=chosen_language is not None,
        )
    return _to_thanks(form, chosen_language)


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
        **public_appearance(form),
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
    body = public_config(form)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]
    headers = {"Cache-Control": PUBLIC_CONFIG_CACHE_CONTROL, "ETag": f'"{digest}"'}
    if_none_match = request.headers.get("if-none-match") or ""
    if headers["ETag"] in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body, status_code=200, headers=headers)


# --- the hosted page -----------------------------------------------------------------------------------


@forms_api.route("/f/{form_id}", methods=["GET"], content_types=ANY_CONTENT)
@pages.html_errors(lambda: forms_api.current_request)
def hosted_form(form_id: str) -> Response:
    """The hosted form page (works without JavaScript; widget.js enhances it), in the browser's language;
    `?preview=1` shows it as a site would (the widget's position, nothing sent), `?lang=fr` in a language."""
    request = forms_api.current_request
    form = known_form(form_id)
    query = request.query_params or {}
    language = pages.page_language(form, request.headers.get("accept-language"), query.get("lang"))
    preview = query.get("preview") in {"1", "true"}
    step = pages.first_step(form, language)
    return pages.hosted_form_response(form, pages.FORM_PREFIX, language=language, preview=preview, step=step)


@forms_api.route("/f/{form_id}/thanks", methods=["GET"], content_types=ANY_CONTENT)
@pages.html_errors(lambda: forms_api.current_request)
def hosted_thanks(form_id: str) -> Response:
    """Where a hosted-page post without JavaScript lands (`?lang=`: the language the visitor chose)."""
    request = forms_api.current_request
    form = known_form(form_id)
    chosen = (request.query_params or {}).get("lang")
    language = pages.page_language(form, request.headers.get("accept-language"), chosen)
    return pages.thanks_response(form, language, chosen=bool(chosen) and language == chosen.strip().lower())


# --- the configuration writer (scope admin) --------------------------------------------------------------

MERGE_PATCH_TYPE = "application/merge-patch+json"
_ENTITY_TAG = re.compile(r'^(?:W/)?"(?P<version>[0-9]{1,12})"$')


class PreconditionFailed(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(412, "precondition_failed", message)


class PreconditionRequired(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(428, "precondition_required", message)


def entity_tag(version: int) -> str:
    """A stored form's ETag: its version, quoted."""
    return f'"{version}"'


def _tagged_version(header: str) -> int:
    # One entity tag this API gave out; any other value matches no version of the form.
    match = _ENTITY_TAG.fullmatch(header.strip())
    if match is None:
        raise PreconditionFailed('If-Match takes the ETag a read or write of this form answered, e.g. "3".')
    return int(match.group("version"))


def _config_body(request: Request) -> dict[str, Any]:
    """A configuration body: a JSON object (PATCH: a JSON merge patch, either media type)."""
    kind = media_type(request)
    allowed = (JSON_TYPE, MERGE_PATCH_TYPE) if request.method == "PATCH" else (JSON_TYPE,)
    if kind not in allowed:
        raise UnsupportedMediaType(allowed)
    return parse_json_object(raw_body(request, admin.MAX_CONFIG_BYTES))


def _config_answer(stored: form_store.StoredForm, status: int = 200) -> Response:
    body = {**stored.form.model_dump(mode="json", exclude_none=True), "version": stored.version}
    headers = {"ETag": entity_tag(stored.version), "Cache-Control": "no-store"}
    return Response(body=body, status_code=status, headers=headers)


def _conflict(form_id: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"The form {form_id} changed since that version: read it again (GET /forms/{form_id}/config), "
        "apply your change to it and send it with its ETag."
    )


def _replace_precondition(form_id: str, request: Request) -> int:
    """The version a PUT may replace: 0 to create. Replacing an existing form needs its ETag (If-Match), so
    a whole-form write never drops a change made since the writer read it."""
    if_none_match, if_match = request.headers.get("if-none-match"), request.headers.get("if-match")
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise BadRequest("If-None-Match takes only * (create the form only if it does not exist).")
        return 0
    if if_match is not None and if_match.strip() != "*":
        return _tagged_version(if_match)
    stored = form_store.get_fresh(form_id)
    if if_match is not None:  # "*": replace whatever version exists, never create
        if stored is None:
            raise PreconditionFailed(f"There is no form {form_id} to replace (If-Match: *).")
        return stored.version
    if stored is not None:
        raise PreconditionRequired(
            f"The form {form_id} exists: send If-Match with its ETag to replace it (or PATCH some options)."
        )
    return 0


@forms_api.route("/forms/{form_id}", methods=["PUT"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("admin")
def put_form(form_id: str) -> Response:
    """Create (201) or replace (200, If-Match: its ETag) a form's whole configuration, checked by the same
    validator as `forms create`: a bad value is a 400 naming the option, and nothing is stored."""
    request = forms_api.current_request
    form = admin.validated(admin.with_id(form_id, _config_body(request)))
    expected = _replace_precondition(form_id, request)
    try:
        version = form_store.write(form, expected)
    except VersionConflict as error:
        if expected == 0:  # "changed since that version" would mislead: there was no version, the form exists
            raise PreconditionFailed(
                f"The form {form_id} already exists: PATCH some options, or PUT with If-Match: its ETag "
                f"(GET /forms/{form_id}/config) to replace it."
            ) from error
        raise _conflict(form_id) from error
    return _config_answer(form_store.StoredForm(form, version), 201 if expected == 0 else 200)


@forms_api.route("/forms/{form_id}", methods=["PATCH"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("admin")
def patch_form(form_id: str) -> Response:
    """Change some options with a JSON merge patch (null clears an option); If-Match (optional) applies it
    only to that version. 404 for an unknown form, 400 naming each bad option (nothing stored)."""
    request = forms_api.current_request
    patch = _config_body(request)
    if_match = (request.headers.get("if-match") or "").strip()
    expected = _tagged_version(if_match) if if_match and if_match != "*" else None
    try:
        stored = admin.change(form_id, admin.patched(patch), expected)
    except admin.UnknownForm as error:
        raise NotFound("This feedback form does not exist.", code="unknown_form") from error
    except VersionConflict as error:
        raise _conflict(form_id) from error
    return _config_answer(stored)


@forms_api.route("/forms/{form_id}/config", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("admin")
def get_form_config(form_id: str) -> Response:
    """A form's whole configuration as stored now, with its version as ETag (for If-Match)."""
    check_query(forms_api.current_request, "GET /forms/{form_id}/config")
    stored = form_store.get_fresh(form_id)
    if stored is None:
        raise NotFound("This feedback form does not exist.", code="unknown_form")
    return _config_answer(stored)
