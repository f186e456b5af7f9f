"""What the alerts room raises (Powertools style: one module of exceptions per room)."""

from __future__ import annotations


class AlertsError(Exception):
    """Base of the alerts room's errors."""


class UnknownRule(AlertsError, KeyError):
    """No alert rule has this id."""


class NotificationFailed(AlertsError):
    """A notifier could not hand an alert over (the receiver refused it or could not be reached)."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason


class RateLimited(NotificationFailed):
    """The channel answered 429: nothing more goes to it before `retry_after_seconds` (never slept on)."""

    def __init__(self, channel: str, retry_after_seconds: float | None) -> None:
        super().__init__(channel, f"rate limited (Retry-After {retry_after_seconds or 'unset'})")
        self.retry_after_seconds = retry_after_seconds
