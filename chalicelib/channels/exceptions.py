"""Errors a channel raises; each maps to the JSON error answer of the public contract."""

from __future__ import annotations

from chalicelib.http import ApiError, BadRequest, Forbidden, Unauthorized


class SignatureMissing(Unauthorized):
    def __init__(self, header: str, what: str = "signature") -> None:
        super().__init__(f"The request has no {header} {what}.", code="signature_missing")


class SignatureInvalid(Unauthorized):
    def __init__(self, message: str = "The signature does not match the body.") -> None:
        super().__init__(message, code="signature_invalid")


class TimestampExpired(Unauthorized):
    """A signed time that is absent, unreadable or outside the replay window; the message names the header
    and which of the three, so the integrator knows what to fix."""

    def __init__(self, tolerance_seconds: int, header: str, sent: str | None, expected_format: str) -> None:
        if not (sent or "").strip():
            message = f"The request has no {header} header."
        elif expected_format:
            message = f"The {header} header is not {expected_format}."
        else:
            message = (
                f"The {header} header is more than {tolerance_seconds} s from now: a replayed request, or "
                "the sender's clock is wrong."
            )
        super().__init__(message, code="timestamp_expired")


class HandshakeRefused(Forbidden):
    def __init__(self, message: str = "The verification token does not match.") -> None:
        super().__init__(message, code="handshake_refused")


class HandshakeMalformed(BadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="handshake_malformed")


class PayloadInvalid(ApiError):
    """A correctly signed body whose content is not what the platform documents (422)."""

    def __init__(self, message: str) -> None:
        super().__init__(422, "payload_invalid", message)


class DeliveryTooLarge(ApiError):
    """A delivery whose feedback does not fit in the one queue request an acknowledgement stands for (413)."""

    def __init__(self, events: int) -> None:
        super().__init__(
            413,
            "payload_too_large",
            f"The delivery holds more feedback ({events} items) than one request can queue; "
            "send it in smaller batches.",
        )
