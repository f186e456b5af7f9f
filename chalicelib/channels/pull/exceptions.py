"""What a pull can fail with, and what the scheduler does about each (scheduler.py)."""

from __future__ import annotations


class PullError(Exception):
    """A pull that could not finish; the checkpoint keeps what the pages before it brought."""


class SourceRejected(PullError):
    """The platform refuses this source as configured (unknown app or location, no access): retrying cannot
    help, so the source is paused and alerted until someone fixes it and runs `sources resume`."""


class CredentialsRejected(SourceRejected):
    """The platform refused the source's credentials (a revoked key, an expired refresh token …)."""


class QuotaExceeded(PullError):
    """The platform's quota is spent (429, RESOURCE_EXHAUSTED): the source waits for its next run, or longer
    when the platform says how long (`retry_after`, seconds: a Retry-After header or Google's RetryInfo)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PlatformUnavailable(PullError):
    """A 5xx, a timeout or an answer that is not the documented JSON: tried again at the next run."""
