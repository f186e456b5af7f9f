"""`GET /subscriptions/{subscription_id}/deliveries` (scope admin): a subscription's recent deliveries with
their status, attempts, latency and last error, newest first. The subscription itself (URL, secret) is not
shown: that stays with the CLI."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.http import ANY_CONTENT, BadRequest, NotFound, check_query, json_errors

subscriptions_api = Blueprint(__name__)
DEFAULT_LIMIT = 50
MAX_LIMIT = 100  # deliveries.MAX_LISTED, named here so `import app` does not load the module


@subscriptions_api.route(
    "/subscriptions/{subscription_id}/deliveries",
    methods=["GET"],
    authorizer=bearer,
    content_types=ANY_CONTENT,
)
@json_errors
@requires_scope("admin")
def list_deliveries(subscription_id: str) -> Response:
    request = subscriptions_api.current_request
    check_query(
        request, "GET /subscriptions/{subscription_id}/deliveries", ("limit",), {"limit": "invalid_limit"}
    )
    limit = _limit((request.query_params or {}).get("limit"))
    # Imported by the request that needs them: every function runs `import app` at INIT (cold start).
    from chalicelib.outbound import deliveries, subscriptions

    subscription = subscriptions.get_fresh(subscription_id)
    if subscription is None:
        raise NotFound("no such subscription", code="subscription_not_found")
    body = {
        "subscription_id": subscription.subscription_id,
        "paused": subscription.paused,
        "deliveries": deliveries.recent(subscription.subscription_id, limit),
    }
    return Response(body=body, status_code=200, headers={"Cache-Control": "no-store"})


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", code="invalid_limit")
    return int(value)
