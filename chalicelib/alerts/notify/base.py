"""The contract every notifier implements, and the fired alert they are all given."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from pydantic import BaseModel, Field


class Sample(BaseModel):
    """One item of the alert's slice, as stored (PII already redacted)."""

    feedback_id: str
    text: str
    sentiment: str | None = None
    rating: int | None = None
    rating_scale: str | None = None
    source_id: str | None = None
    channel: str | None = None


class Alert(BaseModel):
    """A fired alert: what every notifier formats in its own way."""

    alert_id: str
    rule_id: str
    rule_kind: str
    description: str = ""
    summary: str
    fired_at: datetime
    # The slice: `dimension` (overall, form, channel, source, theme, item) and its value.
    dimension: str
    value: str | None = None
    window_start: datetime
    window_end: datetime
    count: int = 0
    negatives: int = 0
    baseline: float | None = None
    threshold: float | None = None
    top_themes: list[tuple[str, int]] = Field(default_factory=list)
    # A detractor digest: its detractors counted by reason and by source ("NPS", 30), ("source demo", 12).
    breakdown: list[tuple[str, int]] = Field(default_factory=list)
    samples: list[Sample] = Field(default_factory=list)
    dashboard_url: str | None = None

    @property
    def slice_label(self) -> str:
        return "all feedback" if self.dimension == "overall" else f"{self.dimension} {self.value}"


class Notifier(ABC):
    """Hands one fired alert to one channel; raises NotificationFailed when the channel refused it."""

    name: str

    @abstractmethod
    def send(self, alert: Alert) -> None: ...

    def send_many(self, alerts: list[Alert]) -> None:
        """Several alerts at once (a channel that can batch them overrides this)."""
        for alert in alerts:
            self.send(alert)
