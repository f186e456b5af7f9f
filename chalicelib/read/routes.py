"""The authenticated read API for CRM, BI and dashboards.

- `GET /feedback?date=&from=&to=&channel=&sentiment=&customer_id=&theme=&theme_sentiment=&limit=&next=`
  (scope read): feedback by the UTC day it was stored (as the exports are cut), or a customer's feedback
  newest first (with dates: what occurred on those days); cursor pagination, each page within a read
  budget (so a page may hold fewer than `limit` items while `next` continues). `theme` keeps the items
  tagged with that theme or one of its children.
- `GET /customers/{id}` (read): profile, identities and recent feedback, from one Query.
- `POST /customers/search` `{"email": …}` (read): the customer an email belongs to; the address travels in
  the body, so no request log on the way (API Gateway, proxies, `make run`) holds it.
- `GET /customers?email=` (read): the same answer; kept for compatibility, deprecated (the address is in
  the URL, which proxies and gateways log).
- `GET /stats?from=&to=` (read): the dashboard's aggregates over the per-day index, per theme too (stats.py).
Erasure (`DELETE /customers/{id}`) is the privacy package's route.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from chalice import Blueprint, Response
from pydantic import ConfigDict, StrictStr, ValidationError

from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.http import (
    ANY_CONTENT,
    JSON_TYPE,
    BadRequest,
    NotFound,
    ValidationFailed,
    json_errors,
    parse_body,
)
from chalicelib.models import Channel, DeferredModel, Sentiment, StoredFeedback, utc_now
from chalicelib.read import cursors, params, stats
from chalicelib.store import customers
from chalicelib.store import feedback as feedback_store
from chalicelib.store.identities import is_customer_id
from chalicelib.themes import records as taxonomy_records

read_api = Blueprint(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_DAYS = 93
DEFAULT_STATS_DAYS = 30


def _query(name: str) -> str | None:
    return params.present((read_api.current_request.query_params or {}).get(name))


def _day(name: str) -> date | None:
    return params.parse_day(name, _query(name))


def _choice(name: str, allowed: type[Channel] | type[Sentiment]) -> str | None:
    return params.parse_choice(name, _query(name), (member.value for member in allowed))


def _limit() -> int:
    limit = params.parse_whole_number("limit", _query("limit"), 1, MAX_LIMIT, code="invalid_limit")
    return DEFAULT_LIMIT if limit is None else limit


def _customer_filter() -> str | None:
    value = _query("customer_id")
    if value is not None and not is_customer_id(value):
        raise BadRequest("customer_id must be a customer id (cus_ and 24 hex digits).", code="invalid_filter")
    return value


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


@dataclass(frozen=True)
class ThemeFilter:
    """`theme` and `theme_sentiment` as asked (the listing's identity) and the ids they match."""

    theme: str | None
    sentiment: str | None

    def listing(self) -> dict[str, str | None]:
        """What the cursor fingerprint adds (nothing without a theme, so other cursors keep their meaning)."""
        return {"theme": self.theme, "theme_sentiment": self.sentiment} if self.theme else {}

    def matching_ids(self) -> tuple[str, ...]:
        """The theme and its children, from the taxonomy in force; 400 unknown_theme for an id it lacks
        (retired themes stay: items tagged before keep them)."""
        if self.theme is None:
            return ()
        taxonomy = taxonomy_records.current()
        if taxonomy.get(self.theme) is None:
            # The id is not repeated: a client sees which one it sent.
            raise BadRequest(
                "theme is not a theme of the taxonomy (GET /themes lists them).", code="unknown_theme"
            )
        return tuple(sorted(taxonomy.with_children(self.theme)))


def _theme_filter() -> ThemeFilter:
    theme = params.parse_theme_id("theme", _query("theme"))
    sentiment = _choice("theme_sentiment", Sentiment)
    if sentiment is not None and theme is None:
        raise BadRequest("theme_sentiment needs a theme.", code="invalid_filter")
    return ThemeFilter(theme, sentiment)


@read_api.route("/feedback", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def list_feedback() -> Response:
    """Feedback by stored day (default today, UTC) or by customer, filtered and paginated."""
    channel, sentiment = _choice("channel", Channel), _choice("sentiment", Sentiment)
    customer_id, themed = _customer_filter(), _theme_filter()
    limit, token, days = _limit(), _query("next"), _days()
    filters = feedback_store.Filters(
        channel=channel,
        sentiment=sentiment,
        customer_id=customer_id,
        themes=themed.matching_ids(),
        theme_sentiment=themed.sentiment,
    )
    identity = {"channel": channel, "sentiment": sentiment, **themed.listing()}
    if customer_id:
        # By the customer index, newest first; with dates, the days the feedback occurred (its sort key).
        by_customer = replace(filters, customer_id=None)
        # Without dates: the fingerprint such listings always had, so their cursors stay valid.
        span = {"days": [days[0], days[-1]]} if days else {}
        listing = cursors.fingerprint(customer=customer_id, customer_id=None, **span, **identity)
        cursor = cursors.read_customer_cursor(token, listing, customer_id, days)
        page = feedback_store.page_customer(customer_id, by_customer, limit, cursor, days)
    else:
        days = days or [utc_now().date()]
        listing = cursors.fingerprint(days=[days[0], days[-1]], customer_id=None, **identity)
        cursor = cursors.read_days_cursor(token, listing, days)
        page = feedback_store.page_days(days, filters, limit, cursor)
    return Response(
        body={
            "items": [_feedback_json(item) for item in page.items],
            "next": cursors.issue(page.cursor, listing),
        },
        status_code=200,
    )


def _customer_body(view: customers.CustomerView) -> dict[str, Any]:
    return {
        **customers.summarize(view.profile),
        "identities": [{"kind": i["kind"], "value": i["value"]} for i in view.identities],
        "recent_feedback": [_feedback_json(item) for item in view.recent_feedback],
    }


def _unknown_customer() -> NotFound:
    # The id is not repeated: it may be anything a client sent, of any length.
    return NotFound("No such customer.", code="unknown_customer")


@read_api.route("/customers/{customer_id}", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def get_customer(customer_id: str) -> Response:
    """A customer's profile, identities and recent feedback; a merged id answers with its survivor's."""
    profile = customers.get_profile(customer_id)
    survivor = profile.get("merged_into") if profile else None
    view = customers.view(survivor or customer_id)
    if view is None:
        raise _unknown_customer()
    body = _customer_body(view)
    if survivor:
        body["merged_from"] = customer_id
    return Response(body=body, status_code=200)


def _customer_with_email(email: str) -> Response:
    customer_id = customers.find_by_email(email)
    view = customers.view(customer_id) if customer_id else None
    if view is None:
        raise NotFound("No customer with that email.", code="unknown_customer")
    return Response(body=_customer_body(view), status_code=200)


@read_api.route("/customers", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def find_customer() -> Response:
    """The customer an email address belongs to (deprecated: the address ends up in proxies' request logs;
    POST /customers/search takes it in the body)."""
    email = _query("email")
    if email is None:
        raise BadRequest(
            'Give the email to look up: POST /customers/search {"email": …}', code="missing_email"
        )
    return _customer_with_email(email)


class CustomerSearch(DeferredModel):
    """The body of POST /customers/search."""

    model_config = ConfigDict(extra="forbid")

    email: StrictStr


MAX_SEARCH_BODY_BYTES = 4096


@read_api.route("/customers/search", methods=["POST"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def search_customers() -> Response:
    """The customer an email address belongs to, the address in the JSON body (so it stays out of URLs,
    and so out of every request log on the way)."""
    body = parse_body(read_api.current_request, MAX_SEARCH_BODY_BYTES, (JSON_TYPE,))
    try:
        search = CustomerSearch.model_validate(body)
    except ValidationError as error:
        raise _search_refused(error) from None
    if not search.email.strip():
        raise ValidationFailed(
            "Give the email to look up.",
            fields={"email": "Enter an email address."},
            field_codes={"email": "required"},
        )
    return _customer_with_email(search.email)


def _search_refused(error: ValidationError) -> ValidationFailed:
    """422 naming each offending field, in plain words (never the value sent)."""
    fields: dict[str, str] = {}
    codes: dict[str, str] = {}
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "body"
        if problem["type"] == "missing":
            fields[name], codes[name] = "Enter an email address.", "required"
        elif problem["type"] == "extra_forbidden":
            fields[name], codes[name] = "Only email can be given.", "not_allowed"
        else:
            fields[name], codes[name] = "Give the email address as text.", "not_text"
    return ValidationFailed("The search is not valid.", fields=fields, field_codes=codes)


def stats_days(start: date | None, end: date | None, today: date) -> list[date]:
    """The days of a /stats request: from..to inclusive; to defaults to today (UTC), from to 30 days
    before to; at most MAX_DAYS. `from` and `to` come through params.parse_day, whose bounds keep this
    arithmetic inside `date`'s range."""
    end = end or (start + timedelta(days=DEFAULT_STATS_DAYS - 1) if start else today)
    start = start or end - timedelta(days=DEFAULT_STATS_DAYS - 1)
    if end < start:
        raise BadRequest("from must not be after to.", code="invalid_date")
    if (end - start).days >= MAX_DAYS:
        raise BadRequest(f"Statistics span at most {MAX_DAYS} days.", code="invalid_date")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


@read_api.route("/stats", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def get_stats() -> Response:
    """Sentiment mix per day and per channel, NPS per day, counts, latest negative feedback."""
    query = read_api.current_request.query_params or {}
    start, end = (
        params.parse_day("from", query.get("from")),
        params.parse_day("to", query.get("to")),
    )
    days = stats_days(start, end, utc_now().date())
    return Response(body=stats.compute(days), status_code=200, headers={"Cache-Control": "no-store"})
