"""`GET /feedback.csv` (scope read): the dashboard's "Download CSV", the listing `GET /feedback` answers for
the same filters as one CSV in the export's layout (the nightly feedback.csv's columns, dialect and cell
escaping: `escape_cell`, `for_export`).

A Lambda answer holds at most 6 MB and API Gateway waits 29 s, so one answer holds at most MAX_CSV_BYTES of
rows read in at most MAX_CSV_PAGES listing pages (each within the listing's read budget). When rows remain,
the answer says where to go on: the `X-Next` header holds the listing's signed cursor, and the same request
with `next=<it>` answers the following rows without a header row, so parts joined in order are one file.
"""

from __future__ import annotations

import csv
import io

from chalice import Blueprint, Response

from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.export.base import FEEDBACK_COLUMNS, feedback_row, for_export
from chalicelib.export.csv_writer import CSV_CONTENT_TYPE, escape_cell, themes_cell
from chalicelib.http import ANY_CONTENT, json_errors
from chalicelib.read.routes import query_value, requested_listing

listing_csv_api = Blueprint(__name__)

MAX_CSV_BYTES = 5 * 1024 * 1024  # under Lambda's 6 MB answer, with room for the headers and one long row
MAX_CSV_PAGES = 20
PAGE_ROWS = 500


def _write_rows(writer: csv.DictWriter, buffer: io.StringIO, token: str | None) -> str | None:
    """Rows from the listing's cursor `token` until the byte or page cap; the cursor of what remains."""
    listing = requested_listing()
    for _ in range(MAX_CSV_PAGES):
        items, token = listing.page(token, PAGE_ROWS)
        for item in items:
            row = feedback_row(for_export(item))
            row["themes"] = themes_cell(row["themes"])
            writer.writerow({column: escape_cell(value) for column, value in row.items()})
        if token is None or buffer.tell() >= MAX_CSV_BYTES:
            return token
    return token


@listing_csv_api.route("/feedback.csv", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def feedback_csv() -> Response:
    """The filtered listing as CSV (GET /feedback's parameters; `next` continues a capped answer)."""
    token = query_value("next")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FEEDBACK_COLUMNS, lineterminator="\r\n")
    if token is None:
        writer.writeheader()
    remaining = _write_rows(writer, buffer, token)
    headers = {
        "Content-Type": CSV_CONTENT_TYPE,
        "Content-Disposition": 'attachment; filename="feedback.csv"',
        "Cache-Control": "no-store",
        "Access-Control-Expose-Headers": "X-Next",
    }
    if remaining:
        headers["X-Next"] = remaining
    return Response(body=buffer.getvalue(), status_code=200, headers=headers)
