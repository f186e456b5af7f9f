"""A small HubSpot API client: bearer token, JSON, and the backoff HubSpot asks for.

- 429: wait what `Retry-After` says (seconds), else the rate-limit window
  (`X-HubSpot-RateLimit-Interval-Milliseconds`), then retry; after `max_attempts` a RateLimited error. The
  daily limit's 429 (policyName DAILY) raises RateLimited at once: it resets only at midnight.
- 5xx and connection errors: exponential backoff, then CrmError (the caller keeps the items for later).
- 401: CredentialsRejected at once (retrying a refused token only burns the daily limit).
- other 4xx: RequestFailed with HubSpot's error category and message.

Written on urllib3 (already in the Lambda package with botocore) rather than an SDK: the official
`hubspot-api-client` pulls in a large generated package, and its retries sleep for real, where the tests and
the bench need a clock they control.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import urllib3

from chalicelib.crm.exceptions import CredentialsRejected, CrmError, RateLimited, RequestFailed
from chalicelib.crm.transport import MAX_WAIT_SECONDS, Response, Transport, backoff_seconds
from chalicelib.http import retry_after_seconds

API_URL = "https://api.hubapi.com"
MAX_ATTEMPTS = 8
TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)


class HubSpotApi:
    def __init__(
        self,
        token: str,
        connection_id: str,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._token = token
        self.connection_id = connection_id
        self.base_url = (base_url or API_URL).rstrip("/")
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._transport = Transport("HubSpot", TIMEOUT, sleep, max_attempts)

    def __repr__(self) -> str:  # never the token
        return f"HubSpotApi({self.base_url}, connection={self.connection_id})"

    def call(self, method: str, path: str, body: Any = None) -> Response:
        """One API call with HubSpot's backoff; 2xx (including 207 Multi-Status) is returned."""
        encoded = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if encoded is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(self._max_attempts):
            response = self._transport.attempt(
                method, self.base_url + path, encoded, headers, attempt=attempt
            )
            if response is None:
                continue
            if response.status < 300:
                return response
            category, message = _error_of(response.body)
            if response.status == 401:
                raise CredentialsRejected(self.connection_id, category or "401")
            if response.status == 429:
                if _policy_of(response.body) == "DAILY":  # waiting helps nothing before midnight
                    raise RateLimited(
                        "HubSpot's daily API limit is used up (it resets at midnight in the portal's time "
                        "zone); the items stay unsynced until then"
                    )
                if attempt + 1 == self._max_attempts:
                    raise RateLimited(f"HubSpot still answered 429 after {self._max_attempts} attempts")
                self._sleep(_retry_after(response.headers))
                continue
            if response.status >= 500:
                if attempt + 1 == self._max_attempts:
                    raise CrmError(f"HubSpot answered {response.status} {category}")
                self._sleep(backoff_seconds(attempt))
                continue
            raise RequestFailed(response.status, category, message)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _error_of(body: Any) -> tuple[str, str]:
    """HubSpot's error body (status, message, correlationId, category; every field optional)."""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("category") or body.get("errorType") or ""), str(body.get("message") or "")[:300]


def _policy_of(body: Any) -> str:
    """Which limit a 429 names: TEN_SECONDLY_ROLLING (wait the window) or DAILY (wait for midnight)."""
    return str(body.get("policyName") or "") if isinstance(body, dict) else ""


def _retry_after(headers: dict[str, str]) -> float:
    """Seconds to wait after a 429: Retry-After, else one rate-limit window, else a second."""
    wait = retry_after_seconds(headers.get("retry-after"))
    if wait is None:
        try:
            wait = float(headers["x-hubspot-ratelimit-interval-milliseconds"]) / 1000
        except (KeyError, ValueError):
            wait = 1.0
    return min(max(wait, 0.0), MAX_WAIT_SECONDS)
