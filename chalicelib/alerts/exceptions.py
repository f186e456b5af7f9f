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
