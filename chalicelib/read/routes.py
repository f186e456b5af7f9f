"""The authenticated read API for CRM, BI and dashboards.

- `GET /feedback?date=&from=&to=&channel=&sentiment=&customer_id=&theme=&theme_sentiment=&limit=&next=`
  (scope read): feedback by the UTC day it was stored (as the exports are cut), or a customer's feedback
  newest first (with dates: what occurred on those days); cursor pagination, each page within a read
  budget (so a page may hold fewer than `limit` items while `next` continues). `theme` keeps the items
  tagged with that theme or one of its children. `order=newest` lists the days' items newest first (each day's
  partitions merged by the time they were stored), as the dashboard shows them.
- `GET /customers/{id}` (read): profile, identities and recent feedback, from one Query.
- `POST /customers/search` `{"email": …}` (read): the customer an email belongs to; the address travels in
  the body, so no request log on the way (API Gateway, proxies, `make run`) holds it.
- `GET /customers?email=` (read): the same answer; kept for compatibility, deprecated (the address is in
  the URL, which proxies and gateways log).
- `GET /feedback` also takes `source` (a source or form id), `rating` (a band: nps:promoter, csat:4 …),
  `language` and `q` (text the comment contains, case-insensitive): checked on each item read, so within
  the same page budget as the themes (a rare match gives short pages that `next` continues).
- `GET /stats?from=&to=&channel=|source=|sentiment=|theme=` (read): the dashboard's aggregates from the day
  counters, per theme, scale and source too, cut by at most one dimension (stats.py).
Erasure (`DELETE /customers/{id}`) is the privacy package's route.
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's string annotation when the
# class is defined, a cost every cold start pays (tests/test_cold_start_classes.py keeps them real objects).

from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from chalice import Blueprint, Response
from pydantic import ConfigDict, StrictStr, ValidationError

from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.http import (
    ANY_CONTENT,
    JSON_TYPE,
    BadRequest,
    NotFound,
    ValidationFailed,
    check_query,
    json_errors,
    parse_body,
)
from chalicelib.models import Channel, DeferredModel, Sentiment, StoredFeedback, utc_now
from chalicelib.read import params
from chalicelib.store.identities import is_customer_id
from chalicelib.themes import records as taxonomy_records

# The listing's cursors and the feedback store's read side are imported by the request that lists feedback
# (Listing, requested_listing): an API cold start for any other route does without them.
if TYPE_CHECKING:
    from chalicelib.read import stats
    from chalicelib.store import customers, feedback_pages

read_api = Blueprint(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_DAYS = 93
DEFAULT_STATS_DAYS = 30


def _query(name: str) -> str | None:
    return params.present((read_api.current_request.query_params or {}).get(name))


# The parameters each read route takes: any other is refused, and so is one given twice, since either would
# otherwise be answered silently (a misspelt filter with everything, `channel=form&channel=x` with x alone).
LISTING_PARAMETERS = (
    "date", "from", "to", "channel", "sentiment", "customer_id", "theme", "theme_sentiment",
    "source", "rating", "language", "q", "order", "limit", "next",
)  # fmt: skip
STATS_PARAMETERS = ("from", "to", "channel", "source", "sentiment", "theme")

_REPEATED_CODES = {
    "date": "invalid_date", "from": "invalid_date", "to": "invalid_date",
    "limit": "invalid_limit", "next": "invalid_cursor",
}  # fmt: skip


def check_parameters(route: str, accepted: tuple[str, ...]) -> None:
    """400 for a query parameter `route` does not take or for one given twice (http.check_query)."""
    check_query(read_api.current_request, route, accepted, _REPEATED_CODES)


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
        raise BadRequest("from must not be after to (to is today, UTC, when not given).", code="invalid_date")
    if (end - start).days >= MAX_DAYS:
        raise BadRequest(f"A listing spans at most {MAX_DAYS} days.", code="invalid_date")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _feedback_json(item: StoredFeedback) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_none=True)


# The listing's records are NamedTuples, not dataclasses: chalicelib/records.py says why.
class ThemeFilter(NamedTuple):
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


class FieldFilters(NamedTuple):
    """`source`, `rating`, `language` and `q` as asked: checked on each item read (within the page budget)."""

    source: str | None
    rating: str | None
    band: tuple[str, frozenset[int]] | None
    language: str | None
    text: str | None

    def listing(self) -> dict[str, str]:
        """What the cursor fingerprint adds: only the filters given, so other cursors keep their meaning."""
        asked = {"source": self.source, "rating": self.rating, "language": self.language, "q": self.text}
        return {name: value for name, value in asked.items() if value is not None}

    def store_filters(self) -> dict[str, Any]:
        scale, ratings = self.band or (None, frozenset())
        return {
            "source_id": self.source,
            "language": self.language,
            "rating_scale": scale,
            "ratings": ratings,
            "text": self.text,
        }


def _field_filters() -> FieldFilters:
    rating = _query("rating")
    return FieldFilters(
        source=params.parse_source_id("source", _query("source")),
        rating=rating,
        band=params.parse_rating_band("rating", rating),
        language=params.parse_language("language", _query("language")),
        text=params.parse_search("q", _query("q")),
    )


class Listing(NamedTuple):
    """A GET /feedback request's listing: what it keeps, which days or customer, and its cursor identity."""

    filters: "feedback_pages.Filters"
    days: list[date] | None
    customer_id: str | None
    identity: dict[str, Any]

    def fingerprint(self) -> str:
        from chalicelib.read import cursors

        if self.customer_id:
            # Without dates: the fingerprint such listings always had, so their cursors stay valid.
            span = {"days": [self.days[0], self.days[-1]]} if self.days else {}
            return cursors.fingerprint(customer=self.customer_id, customer_id=None, **span, **self.identity)
        days = self.days or [utc_now().date()]
        return cursors.fingerprint(days=[days[0], days[-1]], customer_id=None, **self.identity)

    def page(self, token: str | None, limit: int) -> tuple[list[StoredFeedback], str | None]:
        """One page from the cursor `token` (as issued; None for the first): its items and the next token."""
        from chalicelib.read import cursors
        from chalicelib.store import feedback_pages

        listing = self.fingerprint()
        if self.customer_id:
            # By the customer index, newest first; with dates, the days the feedback occurred (its sort key).
            by_customer = replace(self.filters, customer_id=None)
            cursor = cursors.read_customer_cursor(token, listing, self.customer_id, self.days)
            paged = (cursor or {}).get("merged_into") or self.customer_id
            page = feedback_pages.page_customer(paged, by_customer, limit, cursor, self.days)
            if token is None and not page.items and page.cursor is None:
                # A merged customer's old id (as an earlier export names it) lists its survivor's feedback,
                # as GET /customers/{id} answers with the survivor; looked up only when the id lists nothing.
                survivor = _merged_into(self.customer_id)
                if survivor:
                    paged = survivor
                    page = feedback_pages.page_customer(paged, by_customer, limit, None, self.days)
            if page.cursor and paged != self.customer_id:
                return page.items, cursors.issue({**page.cursor, "merged_into": paged}, listing)
        elif self.identity.get("order") == "newest":
            days = self.days or [utc_now().date()]
            cursor = cursors.read_newest_cursor(token, listing, days)
            page = feedback_pages.page_days_newest(days, self.filters, limit, cursor)
        else:
            days = self.days or [utc_now().date()]
            cursor = cursors.read_days_cursor(token, listing, days)
            page = feedback_pages.page_days(days, self.filters, limit, cursor)
        return page.items, cursors.issue(page.cursor, listing)


def _merged_into(customer_id: str) -> str | None:
    """The customer merges folded `customer_id` into, or None (one GetItem a merge)."""
    from chalicelib.store import customers

    current, _ = customers.current_customer(customer_id)
    return current if current != customer_id else None


def _sentiment() -> str | None:
    """The `sentiment` filter, the listing's and /stats's alike: NONE is the items /stats counts as not
    analysed, so every bucket of its sentiment mix can be listed and cut by."""
    from chalicelib.store.feedback_pages import NOT_ANALYSED

    values = [*(member.value for member in Sentiment), NOT_ANALYSED]
    return params.parse_choice("sentiment", _query("sentiment"), values)


def requested_listing() -> Listing:
    """The listing the current request's query asks for (every parameter checked: 400 otherwise); also
    what the filtered CSV (export/listing_csv.py) reads."""
    from chalicelib.store import feedback_pages

    channel = _choice("channel", Channel)
    sentiment = _sentiment()
    customer_id, themed, fields = _customer_filter(), _theme_filter(), _field_filters()
    days = _days()
    order = params.parse_choice("order", _query("order"), ("oldest", "newest"))
    if order == "oldest" and customer_id:
        raise BadRequest("A customer's feedback is listed newest first.", code="invalid_filter")
    filters = feedback_pages.Filters(
        channel=channel,
        sentiment=sentiment,
        customer_id=customer_id,
        themes=themed.matching_ids(),
        theme_sentiment=themed.sentiment,
        **fields.store_filters(),
    )
    identity = {"channel": channel, "sentiment": sentiment, **themed.listing(), **fields.listing()}
    if order == "newest" and not customer_id:
        identity["order"] = order  # only when asked: the oldest-first listing's cursors keep their meaning
    return Listing(filters, days, customer_id, identity)


def query_value(name: str) -> str | None:
    """A query parameter of the current request, trimmed; None when absent or blank."""
    return _query(name)


@read_api.route("/feedback", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def list_feedback() -> Response:
    """Feedback by stored day (default today, UTC) or by customer, filtered and paginated."""
    check_parameters("GET /feedback", LISTING_PARAMETERS)
    limit = _limit()
    listing = requested_listing()
    items, next_token = listing.page(_query("next"), limit)
    return Response(
        body={"items": [_feedback_json(item) for item in items], "next": next_token},
        status_code=200,
    )


def _customer_body(view: "customers.CustomerView") -> dict[str, Any]:
    from chalicelib.store import customers

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
    check_parameters("GET /customers/{customer_id}", ())
    from chalicelib.store import customers  # imported by the customer routes only (cold start)

    current, _ = customers.current_customer(customer_id)
    view = customers.view(current)
    if view is None:
        raise _unknown_customer()
    body = _customer_body(view)
    if current != customer_id:
        body["merged_from"] = customer_id
    return Response(body=body, status_code=200)


def _customer_with_email(email: str) -> Response:
    from chalicelib.store import customers

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
    check_parameters("GET /customers", ("email",))
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
    end = end or today
    start = start or end - timedelta(days=DEFAULT_STATS_DAYS - 1)
    if end < start:
        raise BadRequest("from must not be after to (to is today, UTC, when not given).", code="invalid_date")
    if (end - start).days >= MAX_DAYS:
        raise BadRequest(f"Statistics span at most {MAX_DAYS} days.", code="invalid_date")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


@read_api.route("/stats", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def get_stats() -> Response:
    """Sentiment mix per day and per channel, NPS per day, counts, latest negative feedback."""
    from chalicelib.read import stats  # imported by the request that computes them (cold start)

    _check_stats_parameters()
    days = stats_days(_day("from"), _day("to"), utc_now().date())
    only = _stats_slice()
    return Response(
        body=stats.name_sources(stats.compute(days, only=only)),
        status_code=200,
        headers={"Cache-Control": "no-store"},
    )


# GET /feedback's parameters /stats does not take: its filters the counters cannot answer (they count no item
# text, language, theme by another dimension or rating by another dimension), refused rather than answered
# from a read of every item, and its day and paging (/stats takes from and to).
ITEM_ONLY_FILTERS = ("theme_sentiment", "rating", "language", "q", "customer_id", "date", "limit", "next")


def _check_stats_parameters() -> None:
    """400 for a parameter only GET /feedback takes (unsupported_filter), for any other /stats does not take,
    or for one given twice."""
    for name in ITEM_ONLY_FILTERS:
        if _query(name) is not None:
            raise BadRequest(
                f"{name} is a GET /feedback parameter: /stats takes from, to and one of channel, source, "
                "sentiment or theme.",
                code="unsupported_filter",
            )
    check_parameters("GET /stats", STATS_PARAMETERS)


def _stats_slice() -> "stats.Slice | None":
    """The one dimension /stats is cut by (channel, source, sentiment or theme), None for none; 400 for two
    or for a theme the taxonomy lacks."""
    from chalicelib.read import stats

    asked = {
        "channel": _choice("channel", Channel),
        "source": params.parse_source_id("source", _query("source")),
        "sentiment": _sentiment(),
        "theme": params.parse_theme_id("theme", _query("theme")),
    }
    given = [stats.Slice(name, value) for name, value in asked.items() if value is not None]
    if len(given) > 1:
        raise BadRequest(
            "/stats is cut by one of channel, source, sentiment and theme at a time (the counters do not "
            "cross them); GET /feedback combines every filter.",
            code="unsupported_filter",
        )
    if asked["theme"] is not None and taxonomy_records.current().get(asked["theme"]) is None:
        message = "theme is not a theme of the taxonomy (GET /themes lists them)."
        raise BadRequest(message, code="unknown_theme")
    return given[0] if given else None
