"""The pull clients' HTTP: JSON over urllib3 (already in the Lambda package with botocore), one request per
call and no retries of its own (the schedule is the retry), with a count of requests for the bench.

Written on urllib3 rather than the platforms' SDKs (google-api-python-client, an App Store Connect SDK):
each pull is one GET, and the SDKs pull in large generated packages and retry on their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import urllib3

from chalicelib.channels.pull.exceptions import PlatformUnavailable
from chalicelib.http import retry_after_seconds

TIMEOUT = urllib3.Timeout(connect=5.0, read=20.0)


@dataclass(frozen=True)
class JsonResponse:
    status: int
    body: Any  # the parsed JSON, or None when the answer was not JSON
    retry_after: float | None = None  # seconds the Retry-After header asks to wait, None when absent


class JsonHttp:
    """GET and form POST answering parsed JSON; `requests` counts every request sent."""

    def __init__(self) -> None:
        self._pool = urllib3.PoolManager(timeout=TIMEOUT, retries=False)
        self.requests = 0

    def get(self, url: str, params: dict[str, Any] | None = None, token: str | None = None) -> JsonResponse:
        query = {name: value for name, value in (params or {}).items() if value is not None}
        target = f"{url}?{urlencode(query)}" if query else url
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self._send("GET", target, headers, None)

    def post_form(self, url: str, fields: dict[str, str]) -> JsonResponse:
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        return self._send("POST", url, headers, urlencode(fields).encode())

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> JsonResponse:
        self.requests += 1
        try:
            raw = self._pool.request(method, url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as error:
            raise PlatformUnavailable(f"unreachable: {type(error).__name__}") from error
        try:
            parsed = json.loads(raw.data) if raw.data else None
        except ValueError:
            parsed = None
        return JsonResponse(raw.status, parsed, retry_after_seconds(raw.headers.get("Retry-After")))
