"""The privacy route: `DELETE /customers/{id}` (scope erase), erasure everywhere (erasure.py)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.auth.authorizer import bearer, principal_of, requires_scope
from chalicelib.http import ANY_CONTENT, NotFound, check_query, json_errors

privacy_api = Blueprint(__name__)


@privacy_api.route(
    "/customers/{customer_id}", methods=["DELETE"], authorizer=bearer, content_types=ANY_CONTENT
)
@json_errors
@requires_scope("erase")
def erase_customer(customer_id: str) -> Response:
    """Erase a customer everywhere; answers with the counts (the customer id is not repeated)."""
    check_query(privacy_api.current_request, "DELETE /customers/{customer_id}")
    from chalicelib.privacy import erasure  # imported by the request that erases (cold start)

    principal = principal_of(privacy_api.current_request)
    report = erasure.erase_customer(customer_id, requested_by=f"token:{principal.token_id}")
    if report is None:
        # The id is not repeated. An email in the path finds nothing: say where an email is looked up, so a
        # privacy request is not closed as "no data held".
        raise NotFound(
            "No such customer (or already erased). The path takes a customer id (cus_…): find it by email "
            "with POST /customers/search.",
            code="unknown_customer",
        )
    return Response(
        body={
            "status": "erased",
            "feedback_deleted": report.feedback_deleted,
            "identities_deleted": report.identities_deleted,
            "raw_mails_deleted": report.raw_mails_deleted,
            # Rewritten by the export function, invoked now (GET /exports answers 409 until then).
            "exports_scheduled_for_rewrite": report.exports_scheduled,
            # An id a merge absorbed erases the customer it was merged into, named here (our id, not the
            # one sent).
            **({"merged_into": report.merged_into} if report.merged_into else {}),
        },
        status_code=200,
    )
