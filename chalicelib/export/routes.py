"""`GET /exports/{date}`: a day's export manifest with presigned S3 links to its files (scope `export`); while
an erasure's rewrite of the day is pending, 409 export_rewrite_pending instead (no link to erased data)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from botocore.exceptions import ClientError
from chalice import Blueprint, Response

from chalicelib import aws
from chalicelib.auth.authorizer import bearer, requires_scope
from chalicelib.config import settings
from chalicelib.http import ANY_CONTENT, ApiError, BadRequest, NotFound, check_query, json_errors
from chalicelib.models import utc_now
from chalicelib.read import params

exports_api = Blueprint(__name__)

URL_LIFETIME_SECONDS = 15 * 60
_MISSING = {"NoSuchKey", "404", "NotFound"}


def presigned_get_url(key: str) -> str:
    """A GET URL for an export object, valid for URL_LIFETIME_SECONDS (or until the signing credentials
    expire, if sooner: in Lambda they are the function role's session)."""
    return aws.client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": settings().bucket_name, "Key": key},
        ExpiresIn=URL_LIFETIME_SECONDS,
    )


def _parse_day(value: str) -> dt.date:
    # Strict (ASCII digits, a sane range) and never echoing the value: a path segment may be anything.
    day = params.parse_day("date", value)
    if day is None:
        raise BadRequest("date must be a date as YYYY-MM-DD.", code="invalid_date")
    return day


def read_manifest(day: dt.date) -> dict[str, Any]:
    """The day's manifest from S3, or 404 export_not_found.

    S3 reports a missing key as NoSuchKey only to a caller allowed to list the bucket; without
    s3:ListBucket it says AccessDenied, which is left to surface as a 500 (a deployment error).
    """
    # The export package (its writers) loads on this route's first use, not on every API cold start.
    from chalicelib.export.day import MANIFEST_NAME, partition_prefix

    try:
        response = aws.client("s3").get_object(
            Bucket=settings().bucket_name, Key=partition_prefix(day) + MANIFEST_NAME
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            # Today's (or an unfinished day's) export is the usual miss: say when a day's files appear.
            raise NotFound(
                f"No export for {day.isoformat()}: a UTC day is exported once it is over, by the nightly run "
                "at 02:15 UTC (an operator can export a day at any time: cli export --date).",
                code="export_not_found",
            ) from error
        raise
    return json.loads(response["Body"].read())


@exports_api.route("/exports/{date}", methods=["GET"], authorizer=bearer, content_types=ANY_CONTENT)
@json_errors
@requires_scope("export")
def get_export(date: str) -> Response:
    """The manifest of one UTC day's export, each file with a presigned `url` and its `expires_at`."""
    check_query(exports_api.current_request, "GET /exports/{date}")
    from chalicelib.export import rewrite  # on first use, as read_manifest's imports

    day = _parse_day(date)
    manifest = read_manifest(day)
    if rewrite.is_pending(day):
        raise ApiError(
            409,
            "export_rewrite_pending",
            f"The export of {day.isoformat()} is being rewritten after a customer's erasure; "
            f"retry in {rewrite.RETRY_AFTER_SECONDS} seconds.",
            headers={"Retry-After": str(rewrite.RETRY_AFTER_SECONDS)},
        )
    expires_at = (utc_now() + dt.timedelta(seconds=URL_LIFETIME_SECONDS)).isoformat()
    for entry in manifest.get("files", []):
        entry["url"] = presigned_get_url(entry["key"])
        entry["expires_at"] = expires_at
    # The body holds bearer links: no shared cache may keep it.
    return Response(body=manifest, status_code=200, headers={"Cache-Control": "no-store"})
