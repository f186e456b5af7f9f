"""`GET /themes` (scope read): the taxonomy in force, so a dashboard or BI tool can name and group the themes
items carry (retired themes included: items tagged before keep them)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.http import ANY_CONTENT, check_query, json_errors
from chalicelib.themes import records

themes_api = Blueprint(__name__)


@themes_api.route("/themes", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def list_themes() -> Response:
    """Every theme with every field, and the taxonomy's version."""
    # `?version=3` would otherwise answer today's taxonomy as if it were version 3.
    check_query(themes_api.current_request, "GET /themes")
    taxonomy = records.current()
    body = {
        "version": taxonomy.version,
        "themes": [theme.model_dump(mode="json") for theme in taxonomy.themes],
    }
    return Response(body=body, status_code=200, headers={"Cache-Control": "no-store"})
