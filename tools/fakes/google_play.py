"""A local Google Play Developer API: `reviews.list` and the OAuth token endpoint a service account uses.

- POST /token (RFC 7523 JWT bearer grant): the assertion must be an RS256 JWT signed with the service
  account's key (`service_account_json()` hands out its key file), iss = client_email, aud = the token
  endpoint, the androidpublisher scope, unexpired; else 400 {"error": "invalid_grant", …}.
- GET /androidpublisher/v3/applications/{packageName}/reviews (maxResults ≤ 100, token): the reviews written
  or edited in the last 7 days, newest first, as Review resources (reviewId, authorName,
  comments[].userComment {text, lastModified {seconds, nanos}, starRating, reviewerLanguage, device,
  androidOsVersion, appVersionCode, appVersionName}, the title and body separated by a tab; a developer's
  reply as a second comment {developerComment {text, lastModified}}), tokenPagination.nextPageToken and
  pageInfo.
- A deleted review is no longer listed (`delete_review`: Review has no deletion field); an edit is listed
  again with its new lastModified (`edit_review`).
- Errors in Google's shape {"error": {"code", "message", "status"}}: 401 UNAUTHENTICATED (no or unknown
  token), 404 NOT_FOUND (another package), 400 INVALID_ARGUMENT (maxResults, token), 429 RESOURCE_EXHAUSTED
  when the quota is spent (with a google.rpc.RetryInfo detail when `quota_retry_seconds` is set).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from tools.fakes.review_api import Answer, FakeReviewApi, Request, bearer, offset_of, page_token

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
WINDOW_SECONDS = 7 * 24 * 3600
MAX_RESULTS = 100
DEFAULT_RESULTS = 10  # what reviews.list serves without maxResults (a small default)
CLIENT_EMAIL = "reviews@demo-project.iam.gserviceaccount.com"


def google_error(code: int, status: str, message: str) -> Answer:
    return code, {}, {"error": {"code": code, "message": message, "status": status}}


def google_quota_error(metric: str, retry_seconds: int | None) -> Answer:
    """429 RESOURCE_EXHAUSTED, with a RetryInfo detail when told a delay (AIP-193's error model)."""
    message = f"Quota exceeded for quota metric '{metric}'."
    code, headers, body = google_error(429, "RESOURCE_EXHAUSTED", message)
    if retry_seconds is not None:
        body["error"]["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_seconds}s"}
        ]
    return code, headers, body


class FakeGooglePlay(FakeReviewApi):
    def __init__(self, package_name: str = "com.example.app", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.package_name = package_name
        self.key = RSAKey.generate_key(2048)
        self.key_id = secrets.token_hex(20)
        self.tokens: set[str] = set()
        self.base_url = ""  # set by the server's owner: the token endpoint's address (aud)

    def service_account_json(self, key: RSAKey | None = None) -> str:
        """A service-account key file as Google Cloud's console downloads it (this fake's key by default)."""
        pem = (key or self.key).as_pem(private=True).decode()
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "demo-project",
                "private_key_id": self.key_id,
                "private_key": pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "1234567890",
                "token_uri": f"{self.base_url}/token",
            }
        )

    def revoke_key(self) -> None:
        """Delete the service account's key in the console: its JWTs and the tokens they got are refused."""
        self.key = RSAKey.generate_key(2048)
        self.tokens.clear()

    def handle(self, request: Request) -> Answer:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        prefix = "/androidpublisher/v3/applications/"
        if request.method == "GET" and request.path.startswith(prefix) and request.path.endswith("/reviews"):
            return self._list(request, request.path[len(prefix) : -len("/reviews")])
        return google_error(404, "NOT_FOUND", "The requested URL was not found on this server.")

    def _token(self, request: Request) -> Answer:
        refused = 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if request.form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        try:
            token = jwt.decode(request.form.get("assertion", ""), self.key, algorithms=["RS256"])
        except (JoseError, ValueError):
            return refused
        claims, now = token.claims, self.clock()
        if (
            claims.get("iss") != CLIENT_EMAIL
            or claims.get("aud") != f"{self.base_url}/token"
            or SCOPE not in str(claims.get("scope", "")).split()
            or not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0))
        ):
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT: claims"}
        access = f"ya29.{secrets.token_urlsafe(24)}"
        self.tokens.add(access)
        return 200, {}, {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}

    def _list(self, request: Request, package: str) -> Answer:
        if bearer(request) not in self.tokens:
            return google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if not self.spend_quota():
            return google_quota_error("Queries", self.quota_retry_seconds)
        if package != self.package_name:
            return google_error(404, "NOT_FOUND", "Package not found: " + package)
        try:
            size = int(request.query.get("maxResults", DEFAULT_RESULTS))
        except ValueError:
            size = -1
        offset = offset_of(request.query.get("token"))
        if not 1 <= size <= MAX_RESULTS or offset is None:
            return google_error(400, "INVALID_ARGUMENT", "Invalid maxResults or token.")
        window_start = self.clock() - WINDOW_SECONDS
        listed = [review for review in self.newest_first() if review.modified >= window_start]
        page = listed[offset : offset + size]
        body: dict[str, Any] = {
            "reviews": [self._resource(review) for review in page],
            "pageInfo": {"totalResults": len(listed), "resultPerPage": size, "startIndex": offset},
        }
        if offset + size < len(listed):
            body["tokenPagination"] = {"nextPageToken": page_token(offset + size)}
        return 200, {}, body

    def _resource(self, review: Any) -> dict[str, Any]:
        seconds = int(review.modified)
        # "In some cases users have been able to write a review with separate title and body; in those cases
        # the title and body are concatenated and separated by a tab character" (UserComment.text).
        resource: dict[str, Any] = {
            "reviewId": review.review_id,
            "authorName": review.author,
            "comments": [
                {
                    "userComment": {
                        "text": f"{review.title}\t{review.text}",
                        "lastModified": {
                            "seconds": str(seconds),
                            "nanos": int((review.modified - seconds) * 1e9),
                        },
                        "starRating": review.rating,
                        "reviewerLanguage": review.language,
                        "device": review.device,
                        "androidOsVersion": 34,
                        "appVersionCode": 241,
                        "appVersionName": review.app_version,
                        "thumbsUpCount": 0,
                        "thumbsDownCount": 0,
                    }
                }
            ],
        }
        if review.replied is not None:
            replied = int(review.replied)
            resource["comments"].append(
                {
                    "developerComment": {
                        "text": review.reply,
                        "lastModified": {"seconds": str(replied), "nanos": 0},
                    }
                }
            )
        return resource
