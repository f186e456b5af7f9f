"""The authenticated read API for CRM, BI and dashboards, and the erasure route.

- `GET /feedback?date=&from=&to=&channel=&sentiment=&customer_id=&limit=&next=` (scope read): feedback by the
  UTC day it was stored (as the exports are cut), or a customer's feedback newest first; cursor pagination.
- `GET /customers/{id}` (read): profile, identities and recent feedback, from one Query.
- `GET /customers?email=` (read): the customer an email belongs to.
- `DELETE /customers/{id}` (erase): erasure everywhere, see chalicelib/privacy.py.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, timedelta
from typing import Any

from chalice import Blueprint, Response

from chalicelib import privacy
from chalicelib.auth import bearer, requires_scope
from chalicelib.http import ANY_CONTENT, BadRequest, NotFound, json_errors
from chalicelib.models import Channel, Sentiment, StoredFeedback, utc_now
from chalicelib.store import customers
from chalicelib.store import feedback as feedback_store

read_api = Blueprint(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_DAYS = 93


def _query(name: str) -> str | None:
    value = (read_api.current_request.query_params or {}).get(name)
    return value.strip() if value and value.strip() else None


def _day(name: str) -> date | None:
    value = _query(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD.", code="invalid_date") from error


def _choice(name: str, allowed: type[Channel] | type[Sentiment]) -> str | None:
    value = _query(name)
    if value is not None and value not in {member.value for member in allowed}:
        raise BadRequest(
            f"{name} must be one of {', '.join(m.value for m in allowed)}.", code="invalid_filter"
        )
    return value


def _limit() -> int:
    value = _query("limit")
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}.", code="invalid_limit")
    return int(value)


def encode_cursor(cursor: dict[str, Any] | None) -> str | None:
    """An opaque `next` token."""
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str | None) -> dict[str, Any] | None:
    """The cursor a `next` token carries; 400 when it is not one of ours."""
    if token is None:
        return None
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as error:
        raise BadRequest("next is not a cursor this API issued.", code="invalid_cursor") from error
    if not isinstance(cursor, dict) or not isinstance(cursor.get("key", {}), dict | None):
        raise BadRequest("next is not a cursor this API issued.", code="invalid_cursor")
    return cursor


def _days() -> list[date] | None:
    """The stored days asked for (date, or from..to inclusive), None when none was given."""
    single, start, end = _day("date"), _day("from"), _day("to")
    if single and (start or end):
        raise BadRequest("Give either date or from/to, not both.", code="invalid_date")
    if single:
        return [single]
    if not (start or end):
        return None
    start, end = start or end, end or utc_now().date()
    if start is None or end < start:
        raise BadRequest("from must not be after to.", code="invalid_date")
    if (end - start).days >= MAX_DAYS:
        raise BadRequest(f"A listing spans at most {MAX_DAYS} days.", code="invalid_date")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _feedback_json(item: StoredFeedback) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_none=True)


@read_api.route("/feedback", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def list_feedback() -> Response:
    """Feedback by stored day (default today, UTC) or by customer, filtered and paginated."""
    filters = feedback_store.Filters(
        channel=_choice("channel", Channel),
        sentiment=_choice("sentiment", Sentiment),
        customer_id=_query("customer_id"),
    )
    limit, cursor, days = _limit(), decode_cursor(_query("next")), _days()
    try:
        if filters.customer_id and days is None:
            by_customer = feedback_store.Filters(channel=filters.channel, sentiment=filters.sentiment)
            page = feedback_store.page_customer(filters.customer_id, by_customer, limit, cursor)
        else:
            page = feedback_store.page_days(days or [utc_now().date()], filters, limit, cursor)
    except (KeyError, TypeError, IndexError) as error:
        raise BadRequest("next does not belong to this listing.", code="invalid_cursor") from error
    return Response(
        body={"items": [_feedback_json(item) for item in page.items], "next": encode_cursor(page.cursor)},
        status_code=200,
    )


def _customer_body(view: customers.CustomerView) -> dict[str, Any]:
    return {
        **customers.summarize(view.profile),
        "identities": [{"kind": i["kind"], "value": i["value"]} for i in view.identities],
        "recent_feedback": [_feedback_json(item) for item in view.recent_feedback],
    }


@read_api.route("/customers/{customer_id}", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def get_customer(customer_id: str) -> Response:
    """A customer's profile, identities and recent feedback; a merged id answers with its survivor's."""
    profile = customers.get_profile(customer_id)
    survivor = profile.get("merged_into") if profile else None
    view = customers.view(survivor or customer_id)
    if view is None:
        raise NotFound(f"No customer {customer_id!r}.", code="unknown_customer")
    body = _customer_body(view)
    if survivor:
        body["merged_from"] = customer_id
    return Response(body=body, status_code=200)


@read_api.route("/customers", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def find_customer() -> Response:
    """The customer an email address belongs to."""
    email = _query("email")
    if email is None:
        raise BadRequest("Give the email to look up: /customers?email=…", code="missing_email")
    customer_id = customers.find_by_email(email)
    view = customers.view(customer_id) if customer_id else None
    if view is None:
        raise NotFound("No customer with that email.", code="unknown_customer")
    return Response(body=_customer_body(view), status_code=200)


@read_api.route("/customers/{customer_id}", methods=["DELETE"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("erase")
def erase_customer(customer_id: str) -> Response:
    """Erase a customer everywhere; answers with the counts (the customer id is not repeated)."""
    report = privacy.erase_customer(customer_id)
    if report is None:
        raise NotFound(f"No customer {customer_id!r}.", code="unknown_customer")
    return Response(
        body={
            "status": "erased",
            "feedback_deleted": report.feedback_deleted,
            "identities_deleted": report.identities_deleted,
            # Rewritten by the export function, invoked now (GET /exports answers 409 until then).
            "exports_scheduled_for_rewrite": report.exports_scheduled,
        },
        status_code=200,
    )
