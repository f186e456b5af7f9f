"""What the two CRM API clients (hubspot_api.py, salesforce_api.py) share: one HTTP attempt over a urllib3
pool without urllib3's own retries, the response as JSON, and the exponential backoff both use for
connection errors and 5xx. Each client keeps its vendor's rules (which statuses to wait out, for how long,
what a 401 means) in its own loop. The sleep is injected so tests and the bench run on a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3

from chalicelib.crm.exceptions import CrmError

MAX_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: dict[str, str]  # names lower-cased


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def backoff_seconds(attempt: int) -> float:
    """1, 2, 4 … seconds, at most a minute."""
    return min(2.0**attempt, MAX_WAIT_SECONDS)


class Transport:
    def __init__(
        self, vendor: str, timeout: urllib3.Timeout, sleep: Callable[[float], None], max_attempts: int
    ) -> None:
        self.vendor = vendor
        self.sleep = sleep
        self.max_attempts = max_attempts
        self._pool = urllib3.PoolManager(timeout=timeout, retries=False)

    def attempt(
        self,
        method: str,
        url: str,
        body: bytes | str | None,
        headers: dict[str, str],
        *,
        attempt: int,
        what: str | None = None,
    ) -> Response | None:
        """Attempt number `attempt` (from 0): the response, or None once a connection error was waited out
        (at the last attempt it raises CrmError naming `what`, default the vendor)."""
        try:
            raw = self._pool.request(method, url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as error:
            if attempt + 1 == self.max_attempts:
                raise CrmError(f"{what or self.vendor} unreachable: {type(error).__name__}") from error
            self.sleep(backoff_seconds(attempt))
            return None
        return Response(raw.status, parse_json(raw.data), {k.lower(): v for k, v in raw.headers.items()})
