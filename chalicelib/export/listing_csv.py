"""`GET /feedback.csv` (scope read): the dashboard's "Download CSV", the listing `GET /feedback` answers for
the same filters as one CSV in the export's layout (the nightly feedback.csv's columns, dialect and cell
escaping: `escape_cell`, `for_export`).

A Lambda answer holds at most 6 MB and API Gateway waits 29 s, so one answer holds at most MAX_CSV_BYTES of
rows (UTF-8 bytes) read in at most MAX_CSV_PAGES listing pages, each within the listing's read budget and
asking for no more rows than the bytes left can hold at ROW_BYTES_BOUND a row. When rows remain, the answer
says where to go on: the `X-Next` header holds the listing's signed cursor, and the same request with
`next=<it>` answers the following rows without a header row, so parts joined in order are one file.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from chalice import Blueprint, Response

from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.http import ANY_CONTENT, json_errors
from chalicelib.read.routes import LISTING_PARAMETERS, check_parameters, query_value, requested_listing

if TYPE_CHECKING:
    import csv

listing_csv_api = Blueprint(__name__)

MAX_CSV_BYTES = 5 * 1024 * 1024  # under Lambda's 6 MB answer, with room for the headers
# The most bytes one row can take: a comment of at most 20,000 characters is at most 80 KB in UTF-8 (or 40 KB
# of doubled quotes), and every other column is bounded by the model (ids 512, names 256, links 2,048
# characters), so a page never asks for more rows than the bytes left can hold.
ROW_BYTES_BOUND = 128 * 1024
MAX_CSV_PAGES = 20
PAGE_ROWS = 500


def _write_rows(writer: csv.DictWriter, raw: io.BytesIO, token: str | None) -> str | None:
    """Rows from the listing's cursor `token` until the byte or page cap; the cursor of what remains."""
    from chalicelib.export.base import feedback_row, for_export
    from chalicelib.export.csv_writer import escape_cell, themes_cell

    listing = requested_listing()
    for _ in range(MAX_CSV_PAGES):
        room = min(PAGE_ROWS, (MAX_CSV_BYTES - raw.tell()) // ROW_BYTES_BOUND)
        if room < 1:
            return token
        items, token = listing.page(token, room)
        for item in items:
            row = feedback_row(for_export(item))
            row["themes"] = themes_cell(row["themes"])
            writer.writerow({column: escape_cell(value) for column, value in row.items()})
        if token is None:
            return None
    return token


@listing_csv_api.route("/feedback.csv", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("read")
def feedback_csv() -> Response:
    """The filtered listing as CSV (GET /feedback's parameters; `next` continues a capped answer)."""
    # The export's CSV layout, imported by the request that writes it: an API cold start for any other
    # route does not load it.
    import csv

    from chalicelib.export.base import FEEDBACK_COLUMNS
    from chalicelib.export.csv_writer import CSV_CONTENT_TYPE

    # GET /feedback's parameters but `limit`: an answer's rows are bounded by bytes and pages instead.
    check_parameters("GET /feedback.csv", tuple(name for name in LISTING_PARAMETERS if name != "limit"))
    token = query_value("next")
    raw = io.BytesIO()
    # Counted in bytes as sent (UTF-8), not in characters.
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=FEEDBACK_COLUMNS, lineterminator="\r\n")
    if token is None:
        writer.writeheader()
    remaining = _write_rows(writer, raw, token)
    headers = {
        "Content-Type": CSV_CONTENT_TYPE,
        "Content-Disposition": 'attachment; filename="feedback.csv"',
        "Cache-Control": "no-store",
        "Access-Control-Expose-Headers": "X-Next",
    }
    if remaining:
        headers["X-Next"] = remaining
    return Response(body=raw.getvalue().decode("utf-8"), status_code=200, headers=headers)
