"""A local Google Business Profile API (My Business v4): reviews.list and the OAuth token endpoint.

- POST /token, grant_type=refresh_token with client_id, client_secret and refresh_token: 401
  {"error": "invalid_client"} for another client, 400 {"error": "invalid_grant"} for a revoked or unknown
  refresh token; else an access token for an hour.
- GET /v4/accounts/{a}/locations/{l}/reviews (pageSize ≤ 50, default 50; pageToken; orderBy
  "updateTime desc", the default): {reviews[], averageRating, totalReviewCount, nextPageToken}; each review
  {name, reviewId, reviewer {displayName, profilePhotoUrl, isAnonymous}, starRating ONE…FIVE, comment,
  createTime, updateTime, reviewReply {comment, updateTime} once the owner replied}.
- A deleted review is no longer listed (`delete_review`; reviews.get answers NOT_FOUND for "a review that
  does not exist or has been deleted", the list has no deletion field); an edit moves its updateTime.
- Errors in Google's shape: 401 UNAUTHENTICATED, 404 NOT_FOUND (another location), 400 INVALID_ARGUMENT,
  429 RESOURCE_EXHAUSTED when the quota is spent (google_play.google_quota_error).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from tools.fakes.google_play import google_error, google_quota_error
from tools.fakes.review_api import Answer, FakeReviewApi, Request, bearer, offset_of, page_token

MAX_PAGE_SIZE = 50
STARS = {1: "ONE", 2: "TWO", 3: "THREE", 4: "FOUR", 5: "FIVE"}


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class FakeGoogleBusiness(FakeReviewApi):
    def __init__(
        self, account_id: str = "1122334455", location_id: str = "9988776655", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.account_id, self.location_id = account_id, location_id
        self.client_id = "demo-client.apps.googleusercontent.com"
        self.client_secret = secrets.token_urlsafe(18)
        self.refresh_token = f"1//{secrets.token_urlsafe(30)}"
        self.tokens: set[str] = set()

    def revoke_refresh_token(self) -> None:
        self.refresh_token = f"1//{secrets.token_urlsafe(30)}"
        self.tokens.clear()

    def handle(self, request: Request) -> Answer:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        if bearer(request) not in self.tokens:
            return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if not self.spend_quota():
            return google_quota_error("Requests", self.quota_retry_seconds)
        expected = f"/v4/accounts/{self.account_id}/locations/{self.location_id}/reviews"
        if request.method != "GET" or request.path != expected:
            return google_error(404, "NOT_FOUND", "Requested entity was not found.")
        return self._list(request)

    def _token(self, request: Request) -> Answer:
        form = request.form
        if form.get("grant_type") != "refresh_token":
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {}, {"error": "invalid_client", "error_description": "Unauthorized"}
        if form.get("refresh_token") != self.refresh_token:
            return (
                400,
                {},
                {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            )
        access = f"ya29.{secrets.token_urlsafe(24)}"
        self.tokens.add(access)
        scope = "https://www.googleapis.com/auth/business.manage"
        return 200, {}, {"access_token": access, "expires_in": 3599, "scope": scope, "token_type": "Bearer"}

    def _list(self, request: Request) -> Answer:
        try:
            size = int(request.query.get("pageSize", MAX_PAGE_SIZE))
        except ValueError:
            size = -1
        offset = offset_of(request.query.get("pageToken"))
        order = request.query.get("orderBy", "updateTime desc")
        if not 1 <= size <= MAX_PAGE_SIZE or offset is None or order != "updateTime desc":
            return google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        listed = self.newest_first()
        body: dict[str, Any] = {
            "reviews": [self._resource(review) for review in listed[offset : offset + size]],
            "averageRating": round(sum(r.rating for r in listed) / len(listed), 1) if listed else 0,
            "totalReviewCount": len(listed),
        }
        if offset + size < len(listed):
            body["nextPageToken"] = page_token(offset + size)
        return 200, {}, body

    def _resource(self, review: Any) -> dict[str, Any]:
        name = f"accounts/{self.account_id}/locations/{self.location_id}/reviews/{review.review_id}"
        return {
            "name": name,
            "reviewId": review.review_id,
            "reviewer": {
                "displayName": review.author,
                "profilePhotoUrl": "https://lh3.googleusercontent.com/a/x",
                "isAnonymous": False,
            },
            "starRating": STARS[review.rating],
            "comment": review.text,
            "createTime": _rfc3339(review.created),
            "updateTime": _rfc3339(review.modified),
            **(
                {"reviewReply": {"comment": review.reply, "updateTime": _rfc3339(review.replied)}}
                if review.replied is not None
                else {}
            ),
        }
