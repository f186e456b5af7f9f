"""A small Salesforce REST API client: a connected app's OAuth access token, JSON, and Salesforce's limits.

- The token comes from `{login URL}/services/oauth2/token`: the client credentials flow (client id and
  secret; the connected app's "Run As" user) or the JWT bearer flow (an RS256 assertion signed with the
  private key whose certificate the connected app holds, for `username`). It is kept per connection for the
  life of the process; a 401 INVALID_SESSION_ID (the session timed out) fetches a new one once and repeats
  the request. A refused grant (`invalid_grant`, `invalid_client`, …) is CredentialsRejected.
- 403 REQUEST_LIMIT_EXCEEDED: "TotalRequests" (the org's rolling 24-hour allocation is used up) is
  RateLimited at once, since waiting seconds cannot help and the items stay unsynced for later; any other
  (concurrent long-running requests) waits `Retry-After` if sent, else 1, 2, 4 … seconds, then retries.
  429 is treated the same way.
- 5xx and connection errors: exponential backoff, then CrmError. Other 4xx: RequestFailed with Salesforce's
  errorCode and message.

Written on urllib3 (already in the Lambda package with botocore) like hubspot_api.py: simple-salesforce
would add requests, zeep and more to the package, and its retries would sleep for real where the tests and
the bench need a clock they control. The JWT is signed by chalicelib/jws.py (why by hand: there).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3

from chalicelib import jws
from chalicelib.crm.exceptions import CredentialsRejected, CrmError, RateLimited, RequestFailed
from chalicelib.crm.transport import MAX_WAIT_SECONDS, Response, Transport, backoff_seconds
from chalicelib.http import retry_after_seconds

API_VERSION = "v62.0"
DATA_PATH = f"/services/data/{API_VERSION}"
LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts an assertion whose exp is at most 3 minutes ahead
MAX_ATTEMPTS = 8
TIMEOUT = urllib3.Timeout(connect=5.0, read=60.0)
# connection id and login URL → (access token, instance URL, user id): a warm Lambda reuses its session.
_SESSIONS: dict[str, tuple[str, str, str]] = {}


@dataclass(frozen=True)
class Credentials:
    """A connected app's credentials: a client secret (client credentials flow) or a private key and the
    username it acts as (JWT bearer flow)."""

    client_id: str
    client_secret: str | None = None
    private_key: str | None = None
    username: str | None = None

    def __repr__(self) -> str:  # never the secret or the key
        flow = "jwt-bearer" if self.private_key else "client-credentials"
        return f"Credentials({flow})"


def jwt_assertion(credentials: Credentials, audience: str, now: float) -> str:
    """The JWT bearer flow's assertion: iss the client id, sub the username, aud the login host, RS256."""
    claims = {
        "iss": credentials.client_id,
        "sub": credentials.username,
        "aud": audience,
        "exp": int(now) + JWT_LIFETIME_SECONDS,
    }
    return jws.rs256_jwt({"typ": "JWT"}, claims, str(credentials.private_key))


def audience_of(login_url: str) -> str:
    """The assertion's aud: Salesforce wants login.salesforce.com, or test.salesforce.com for a sandbox (a
    local fake is its own audience)."""
    host = urlsplit(login_url).hostname or ""
    if host in {"127.0.0.1", "localhost"}:
        return login_url
    return SANDBOX_LOGIN_URL if host == "test.salesforce.com" or ".sandbox." in host else LOGIN_URL


class SalesforceApi:
    def __init__(
        self,
        credentials: Credentials,
        connection_id: str,
        login_url: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._credentials = credentials
        self.connection_id = connection_id
        self.login_url = (login_url or LOGIN_URL).rstrip("/")
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._transport = Transport("Salesforce", TIMEOUT, sleep, max_attempts)
        self.token_requests = 0

    def __repr__(self) -> str:  # never the token or the credentials
        return f"SalesforceApi({self.login_url}, connection={self.connection_id})"

    # --- the session ---------------------------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        """The id (005…) of the user the connected app acts as: the client credentials flow's "Run As" user,
        the JWT bearer flow's username; the last part of the token response's identity URL."""
        return self._session()[2]

    def _session(self, renew: bool = False) -> tuple[str, str, str]:
        key = f"{self.connection_id} {self.login_url}"
        if renew:
            _SESSIONS.pop(key, None)
        if key not in _SESSIONS:
            _SESSIONS[key] = self._log_in()
        return _SESSIONS[key]

    def _log_in(self) -> tuple[str, str, str]:
        """A new access token, the org's instance URL and the user's id from the token endpoint."""
        credentials = self._credentials
        if credentials.private_key:
            if not credentials.username:
                raise CredentialsRejected(self.connection_id, "the JWT bearer flow needs a username")
            try:
                assertion = jwt_assertion(credentials, audience_of(self.login_url), self._clock())
            except ValueError as error:
                raise CredentialsRejected(self.connection_id, "the private key cannot be read") from error
            form = {"grant_type": JWT_BEARER, "assertion": assertion}
        else:
            form = {
                "grant_type": "client_credentials",
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret or "",
            }
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        for attempt in range(self._max_attempts):
            self.token_requests += 1
            url = f"{self.login_url}/services/oauth2/token"
            raw = self._transport.attempt(
                "POST", url, urlencode(form), headers, attempt=attempt, what="Salesforce login"
            )
            if raw is None:
                continue
            body = raw.body
            if raw.status == 200 and isinstance(body, dict) and body.get("access_token"):
                instance_url = str(body.get("instance_url") or self.login_url).rstrip("/")
                user_id = str(body.get("id") or "").rstrip("/").rpartition("/")[2]
                return str(body["access_token"]), instance_url, user_id
            if raw.status >= 500 and attempt + 1 < self._max_attempts:
                self._sleep(backoff_seconds(attempt))
                continue
            error = body.get("error") if isinstance(body, dict) else None
            raise CredentialsRejected(
                self.connection_id, str(error or f"token endpoint answered {raw.status}")
            )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    # --- calls ---------------------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> Response:
        """One REST call (path under /services/data/vXX.X) with the backoff Salesforce's limits ask for."""
        encoded = None if body is None else json.dumps(body).encode()
        renewed = False
        for attempt in range(self._max_attempts):
            token, instance_url, _ = self._session()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if encoded is not None:
                headers["Content-Type"] = "application/json"
            url = f"{instance_url}{DATA_PATH}{path}"
            response = self._transport.attempt(method, url, encoded, headers, attempt=attempt)
            if response is None:
                continue
            if response.status < 300:
                return response
            code, message = _error_of(response.body)
            if response.status == 401:
                if renewed:  # a brand-new session refused too: the app's access was revoked
                    raise CredentialsRejected(self.connection_id, code or "401")
                self._session(renew=True)
                renewed = True
                continue
            limited = response.status == 429 or code == "REQUEST_LIMIT_EXCEEDED"
            if limited and "TotalRequests" in message:
                raise RateLimited(f"Salesforce's 24-hour API allocation is used up ({_usage(response)})")
            if limited or response.status >= 500:
                if attempt + 1 == self._max_attempts:
                    kind = RateLimited if limited else CrmError
                    raise kind(f"Salesforce still answered {response.status} {code} after every retry")
                self._sleep(_retry_after(response.headers, attempt))
                continue
            raise RequestFailed(response.status, code, message)
        raise RateLimited(f"Salesforce kept refusing after {self._max_attempts} attempts")

    def composite(self, subrequests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Up to 25 subrequests in one request (one call against the allocation), run in order and
        independently (allOrNone false); each one's {body, httpStatusCode, referenceId}."""
        for sub in subrequests:
            sub["url"] = DATA_PATH + sub["url"]
        response = self.call("POST", "/composite", {"allOrNone": False, "compositeRequest": subrequests})
        answers = (response.body or {}).get("compositeResponse") if isinstance(response.body, dict) else None
        if not isinstance(answers, list):
            raise CrmError("Salesforce answered a composite request without compositeResponse")
        return answers


def forget_sessions() -> None:
    """Drop every cached session (tests; a rotated secret)."""
    _SESSIONS.clear()


def _error_of(body: Any) -> tuple[str, str]:
    """Salesforce's error body: a list of {message, errorCode} (the first one names the failure)."""
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    return str(first.get("errorCode") or ""), str(first.get("message") or "")[:300]


def _usage(response: Response) -> str:
    """api-usage=used/allocation from Sforce-Limit-Info, for messages."""
    return response.headers.get("sforce-limit-info", "api-usage unknown")


def _retry_after(headers: dict[str, str], attempt: int) -> float:
    """Retry-After when sent (Salesforce's REST API usually sends none), else exponential backoff."""
    wait = retry_after_seconds(headers.get("retry-after"))
    return backoff_seconds(attempt) if wait is None else min(wait, MAX_WAIT_SECONDS)
