"""JSON error responses and the request guards every public route shares.

Also the one reader of a server's `Retry-After` (the CRM clients, outbound webhooks and alerts use it).

Every client mistake becomes `{"error": {"code": ..., "message": ...}}` with a 4xx status, and nothing is
queued; an unexpected failure becomes a logged 500 in the same shape (never a stack trace to the client).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from chalice import Response
from chalice.app import Request

from chalicelib.observability import logger

JSON_TYPE = "application/json"
FORM_URLENCODED_TYPE = "application/x-www-form-urlencoded"
# `content_types=` for routes that take no body: Chalice checks a request's Content-Type against the route's
# list (default JSON) before the view runs, so a GET or preflight carrying another one would get Chalice's
# own 415 `{"Code", "Message"}` instead of the route's answer. A body-less route ignores the header.
ANY_CONTENT = ["*/*"]


class ApiError(Exception):
    """A failure with a status, a stable machine-readable code and a message safe to show the client."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(400, code, message)


class Unauthorized(ApiError):
    def __init__(self, message: str, code: str = "unauthorized") -> None:
        super().__init__(401, code, message)


class Forbidden(ApiError):
    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(403, code, message)


class NotFound(ApiError):
    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(404, code, message)


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "payload_too_large", f"The request body is larger than {limit} bytes.")


class UnsupportedMediaType(ApiError):
    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(415, "unsupported_media_type", f"Send the body as one of: {', '.join(allowed)}.")


class ValidationFailed(ApiError):
    """422 with one entry per offending field, so a form can show each error beside its field: `fields` maps
    a field to a short message people can read, `field_codes` the same field to a stable code for programs
    (`required`, `too_long`, `invalid_email` …; `invalid` when the caller named none)."""

    def __init__(
        self, message: str, fields: dict[str, str] | None = None, field_codes: dict[str, str] | None = None
    ) -> None:
        super().__init__(422, "validation_failed", message)
        self.fields = fields or {}
        self.field_codes = {name: (field_codes or {}).get(name, "invalid") for name in self.fields}


class ServiceUnavailable(ApiError):
    def __init__(self, message: str, retry_after_seconds: int = 5) -> None:
        super().__init__(503, "unavailable", message, headers={"Retry-After": str(retry_after_seconds)})


def error_response(error: ApiError) -> Response:
    """The JSON response for an ApiError."""
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if isinstance(error, ValidationFailed) and error.fields:
        body["fields"] = error.fields
        body["field_codes"] = error.field_codes
    return Response(
        body={"error": body},
        status_code=error.status,
        headers={"Content-Type": JSON_TYPE, **error.headers},
    )


def json_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a Chalice view so ApiErrors and unexpected failures answer in the JSON error shape.

    Chalice turns view exceptions into its own `{"Code", "Message"}` body before any middleware runs, so the
    translation has to happen around the view itself.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except Exception as error:  # every failure becomes an answer in the one shape
            return error_response(as_api_error(error))

    return wrapper


def as_api_error(error: Exception) -> ApiError:
    """The ApiError to answer a view's exception with, logged: itself, or a 500 that reveals nothing."""
    if isinstance(error, ApiError):
        logger.info("request refused", extra={"status": error.status, "error_code": error.code})
        return error
    logger.exception("unhandled error", exc_info=error)
    return ApiError(500, "internal_error", "Something went wrong on our side.")


def check_query(
    request: Request,
    route: str,
    accepted: tuple[str, ...] = (),
    repeated_codes: Mapping[str, str] | None = None,
) -> None:
    """400 for a query parameter `route` does not take (invalid_filter; its name is not repeated: it may be
    anything a client sent) or for one given more than once (the code `repeated_codes` names for it, else
    invalid_filter). An authenticated route refuses what it would otherwise ignore: `?version=3` or a
    misspelt filter must not answer as if it had been understood."""
    query = request.query_params
    for name in query or ():
        if name not in accepted:
            takes = f"takes only {', '.join(accepted)}" if accepted else "takes no query parameters"
            raise BadRequest(
                f"{route} {takes}: a parameter given is not one of them (check its spelling).",
                code="invalid_filter",
            )
        if len(query.getlist(name)) > 1:
            raise BadRequest(
                f"{name} is given more than once: each parameter takes one value (for several, make one "
                "request per value).",
                code=(repeated_codes or {}).get(name, "invalid_filter"),
            )


def media_type(request: Request) -> str:
    """The request's media type without parameters, lower-cased ('' when absent)."""
    header = request.headers.get("content-type", "")
    return header.split(";", 1)[0].strip().lower()


_DELAY_SECONDS = re.compile(r"[0-9]+")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` value asks to wait (RFC 9110 §10.2.3): delay-seconds (ASCII digits only) or an
    HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms, which are GMT); a date in the past is
    0; absent or unreadable (a sign, a fraction, garbage) is None, so the caller picks its own wait."""
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime carries no zone; every HTTP-date is GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# Bounds on the Accept-Language header read: browsers send a handful of languages in well under 200 bytes.
MAX_ACCEPT_LANGUAGE_CHARS = 1_000
MAX_ACCEPT_LANGUAGE_ENTRIES = 20
_LANGUAGE_RANGE = re.compile(r"^(?:[A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*$")
_QUALITY = re.compile(r"^[qQ]\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
# Subtags naming Traditional Chinese ('zh-TW', 'zh-Hant', 'zh-HK' …), which Comprehend scores apart from
# Simplified: items name it "zh-TW".
_TRADITIONAL_CHINESE = frozenset({"tw", "hk", "mo", "hant"})


def primary_language(tag: str) -> str:
    """A language tag's language as items name it: its primary subtag, lower-case ('pt-BR', 'pt_br' → 'pt'),
    and "zh-TW" for Traditional Chinese. Whether that names a language is the caller's check."""
    subtags = tag.strip().replace("_", "-").lower().split("-")
    return "zh-TW" if subtags[0] == "zh" and _TRADITIONAL_CHINESE & set(subtags[1:]) else subtags[0]


def accept_language_hint(header: str | None, supported: Iterable[str]) -> str | None:
    """The browser's most preferred language among `supported`, named as a primary subtag ('en-GB' → 'en';
    Traditional Chinese 'zh-TW'/'zh-Hant' → 'zh-TW'), from an Accept-Language header (RFC 9110 §12.5.4).

    Ranges are ordered by q-value, ties in the order written; q=0 means "not this one"; '*' and malformed
    entries are skipped; None when nothing fits. Written by hand: no runtime dependency parses the header,
    and the ack path needs only this much of it.
    """
    if not header:
        return None
    wanted = frozenset(supported)
    ranked: list[tuple[float, int, str]] = []
    entries = header[:MAX_ACCEPT_LANGUAGE_CHARS].split(",")[:MAX_ACCEPT_LANGUAGE_ENTRIES]
    for position, entry in enumerate(entries):
        tag, *parameters = (part.strip() for part in entry.split(";"))
        if not _LANGUAGE_RANGE.match(tag):
            continue
        quality = 1.0
        for parameter in parameters:
            match = _QUALITY.match(parameter)
            quality = float(match.group(1)) if match else -1.0
        if quality <= 0:
            continue
        language = primary_language(tag)
        if language in wanted:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def raw_body(request: Request, limit: int) -> bytes:
    """The body bytes as received, refusing anything over `limit` (413)."""
    declared = (request.headers.get("content-length") or "").strip().lstrip("0")
    # ASCII digits only ("²".isdigit() is true), compared by length first: int() refuses 4,300+ digits. A
    # malformed value refuses nothing here: the body's own length is checked below either way.
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise PayloadTooLarge(limit)
    body = request.raw_body or b""
    if len(body) > limit:
        raise PayloadTooLarge(limit)
    return body


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object, or raise 400."""
    try:
        value = json.loads(body)
    except UnicodeDecodeError as error:
        # Valid JSON in another encoding (Latin-1, Windows-1252): "not valid JSON" would not say what to fix.
        raise BadRequest(
            "The body is not UTF-8: send JSON encoded as UTF-8 (RFC 8259).", code="malformed_json"
        ) from error
    except (ValueError, RecursionError) as error:
        # RecursionError: nesting deeper than the parser's stack allows ("[[[[…"), a client's doing too.
        raise BadRequest("The body is not valid JSON.", code="malformed_json") from error
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    if _may_hold_surrogates(body):
        try:
            # SQS, DynamoDB and CSV exports need UTF-8: refuse a lone surrogate here rather than crash later.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError) as error:
            raise BadRequest(
                "The body has text that is not valid Unicode (a lone surrogate).", code="malformed_json"
            ) from error
    return value


def _may_hold_surrogates(body: bytes) -> bool:
    # The parser lets lone surrogates through from `\ud800` escapes and, decoding with surrogatepass, from
    # raw UTF-8 (0xED …) or UTF-16/32 bodies (NUL bytes); a body with none of those cannot hold one.
    return b"\\u" in body or b"\xed" in body or b"\x00" in body


def parse_body(request: Request, limit: int, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Read a JSON or urlencoded body into a dict, enforcing size and content type."""
    kind = media_type(request)
    if kind not in allowed:
        raise UnsupportedMediaType(allowed)
    body = raw_body(request, limit)
    if kind == JSON_TYPE:
        return parse_json_object(body)
    try:
        # Percent-encoded bytes are decoded strictly too: a page in another charset posts "Caf%E9", which the
        # default (errors="replace") would store as "Caf\ufffd" without a word.
        # A repeated field keeps its last value, as browsers' own form handling does for scalar fields.
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except UnicodeDecodeError as error:
        raise BadRequest(
            'The form body is not UTF-8: send it as UTF-8 (an HTML form: accept-charset="UTF-8").',
            code="malformed_form",
        ) from error
