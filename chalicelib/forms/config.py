"""A feedback form's configuration, as marketing teams set it up."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.models import RatingScale


def new_form_id() -> str:
    """A short, URL-safe, unguessable form id."""
    return f"frm_{secrets.token_urlsafe(9)}"


class FormConfig(BaseModel):
    """One configured form. `allowed_origins` empty means any origin may embed it."""

    model_config = ConfigDict(extra="forbid")

    form_id: str = Field(pattern=r"^[A-Za-z0-9_-]{3,64}$")
    name: str = Field(min_length=1, max_length=200)
    rating_scale: RatingScale = RatingScale.NPS
    allowed_origins: list[str] = Field(default_factory=list)
    require_email: bool = False
    # Mask emails, phone and card numbers … in the comment before it is stored (the author's own email
    # stays in the identity record).
    redact_pii: bool = True
    question: str = "How likely are you to recommend us to a friend or colleague?"

    @field_validator("allowed_origins")
    @classmethod
    def _normalize_origins(cls, origins: list[str]) -> list[str]:
        normalized = []
        for origin in origins:
            parts = urlsplit(origin.strip())
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
                raise ValueError(f"an origin is scheme://host[:port], got {origin!r}")
            normalized.append(f"{parts.scheme}://{parts.netloc}".lower())
        return normalized

    def allows_origin(self, origin: str | None) -> bool:
        """Whether a browser at `origin` may submit; requests without an Origin (server-side) are allowed."""
        if not self.allowed_origins or not origin:
            return True
        return origin.strip().rstrip("/").lower() in self.allowed_origins
