"""A local App Store Connect API: GET /v1/apps/{id}/customerReviews.

- Auth: `Authorization: Bearer <JWT>`, ES256 with the team key (`private_key_pem()`), header kid = the key
  id, claims iss = the issuer id, aud = appstoreconnect-v1, exp at most 20 minutes after iat and not past;
  anything else is 401 NOT_AUTHORIZED.
- sort=-createdDate (newest first; other sorts refused here), limit 1-200 (default 50), paged by
  links.next (a whole URL with an opaque `cursor`), meta.paging {total, limit}. Each item is
  {"type": "customerReviews", "id", "attributes": {rating, title, body, reviewerNickname, createdDate,
  territory}, "relationships": {"response": …}, "links": {"self"}}.
- Errors in Apple's shape {"errors": [{"id", "status", "code", "title", "detail"}]}: 401 NOT_AUTHORIZED,
  404 NOT_FOUND (another app), 400 PARAMETER_ERROR.INVALID, 429 RATE_LIMIT_EXCEEDED when the quota is spent.
- The documented attributes have a createdDate and no time of change (no updatedDate, no deletion flag):
  an edit re-dated by Apple is listed again at its new date (`edit_review`), one that keeps its date is
  listed at the old one with the new text (`edit_review(…, redate=False)`); a deleted review is just no
  longer listed (`delete_review`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from tools.fakes.review_api import Answer, FakeReviewApi, Request, bearer, offset_of, page_token

AUDIENCE = "appstoreconnect-v1"
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_TOKEN_SECONDS = 20 * 60


def apple_error(status: int, code: str, title: str, detail: str) -> Answer:
    error = {"id": str(uuid.uuid4()), "status": str(status), "code": code, "title": title, "detail": detail}
    return status, {}, {"errors": [error]}


NOT_AUTHORIZED = (
    401,
    "NOT_AUTHORIZED",
    "Authentication credentials are missing or invalid.",
    "Provide a properly configured and signed bearer token, and make sure that it has not expired.",
)


class FakeAppStore(FakeReviewApi):
    def __init__(self, app_id: str = "1234567890", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_id = app_id
        self.key = ECKey.generate_key("P-256")
        self.key_id = "2X9R4HXF34"
        self.issuer_id = "57246542-96fe-1a63-e053-0824d011072a"
        self.base_url = ""

    def private_key_pem(self) -> str:
        """The team key's .p8 file as App Store Connect hands it out once."""
        return self.key.as_pem(private=True).decode()

    def rotate_key(self) -> None:
        """Revoke the key: tokens signed with the old one are refused."""
        self.key = ECKey.generate_key("P-256")

    def handle(self, request: Request) -> Answer:
        if not self._authorized(request):
            return apple_error(*NOT_AUTHORIZED)
        if not self.spend_quota():
            return apple_error(
                429,
                "RATE_LIMIT_EXCEEDED",
                "The request rate limit has been reached.",
                "We've received too many requests for this API. Please wait and try again.",
            )
        prefix, suffix = "/v1/apps/", "/customerReviews"
        if request.method != "GET" or not (request.path.startswith(prefix) and request.path.endswith(suffix)):
            return apple_error(
                404,
                "NOT_FOUND",
                "The specified resource does not exist",
                "The path provided does not match a defined resource type.",
            )
        if request.path[len(prefix) : -len(suffix)] != self.app_id:
            return apple_error(
                404,
                "NOT_FOUND",
                "The specified resource does not exist",
                "There is no resource of type 'apps' with id",
            )
        return self._list(request)

    def _authorized(self, request: Request) -> bool:
        token = bearer(request)
        if not token:
            return False
        try:
            decoded = jwt.decode(token, self.key, algorithms=["ES256"])
        except (JoseError, ValueError):
            return False
        claims, now = decoded.claims, self.clock()
        issued, expires = claims.get("iat", 0), claims.get("exp", 0)
        return (
            decoded.header.get("kid") == self.key_id
            and claims.get("iss") == self.issuer_id
            and claims.get("aud") == AUDIENCE
            and isinstance(expires, int)
            and now < expires
            and expires - (issued or now) <= MAX_TOKEN_SECONDS
        )

    def _list(self, request: Request) -> Answer:
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = -1
        offset = offset_of(request.query.get("cursor"))
        if (
            not 1 <= limit <= MAX_LIMIT
            or offset is None
            or request.query.get("sort", "-createdDate") != "-createdDate"
        ):
            return apple_error(
                400, "PARAMETER_ERROR.INVALID", "A parameter has an invalid value", "limit must be 1-200"
            )
        listed = self.newest_first()
        page = listed[offset : offset + limit]
        base = f"{self.base_url}/v1/apps/{self.app_id}/customerReviews"
        links = {"self": f"{base}?{urlencode(request.query)}"}
        if offset + limit < len(listed):
            following = {"sort": "-createdDate", "limit": limit, "cursor": page_token(offset + limit)}
            links["next"] = f"{base}?{urlencode(following)}"
        return (
            200,
            {},
            {
                "data": [self._resource(review) for review in page],
                "links": links,
                "meta": {"paging": {"total": len(listed), "limit": limit}},
            },
        )

    def _resource(self, review: Any) -> dict[str, Any]:
        url = f"{self.base_url}/v1/customerReviews/{review.review_id}"
        return {
            "type": "customerReviews",
            "id": review.review_id,
            "attributes": {
                "rating": review.rating,
                "title": review.title,
                "body": review.text,
                "reviewerNickname": review.author,
                "createdDate": datetime.fromtimestamp(review.modified, UTC)
                .astimezone()
                .isoformat(timespec="seconds"),
                "territory": review.territory,
            },
            "relationships": {
                "response": {"links": {"self": f"{url}/relationships/response", "related": f"{url}/response"}}
            },
            "links": {"self": url},
        }
