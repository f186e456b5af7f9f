"""Signature helpers every channel shares: HMAC over the raw body bytes, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime

from chalicelib.channels.exceptions import SignatureInvalid, SignatureMissing, TimestampExpired


def hmac_digest(key: str | bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    """HMAC of `message` (raw bytes, exactly as received) under `key`."""
    key_bytes = key.encode() if isinstance(key, str) else key
    return hmac.new(key_bytes, message, getattr(hashlib, algorithm)).digest()


def hex_digest(key: str | bytes, message: bytes, algorithm: str = "sha256") -> str:
    return hmac_digest(key, message, algorithm).hex()


def b64_digest(key: str | bytes, message: bytes, algorithm: str = "sha256") -> str:
    return base64.b64encode(hmac_digest(key, message, algorithm)).decode()


def constant_time_in(provided: str, candidates: Iterable[str]) -> bool:
    """Whether `provided` equals any candidate; every comparison is constant-time and all are made."""
    provided_bytes = provided.encode()
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(provided_bytes, candidate.encode())
    return matched


def strip_prefix(header_value: str | None, prefix: str, header_name: str) -> str:
    """The signature after a scheme prefix such as `sha256=`; 401 when the header is absent or malformed."""
    if not header_value:
        raise SignatureMissing(header_name)
    value = header_value.strip()
    if not value.lower().startswith(prefix.lower()):
        raise SignatureInvalid(f"The {header_name} header must start with {prefix!r}.")
    return value[len(prefix) :]


def require(provided: str, candidates: Iterable[str]) -> None:
    """Raise 401 unless `provided` matches one of the candidate signatures."""
    if not constant_time_in(provided, list(candidates)):
        raise SignatureInvalid()


# Unix seconds as platforms send them: ASCII digits only (int() also takes other scripts' digits, "1_700",
# " 17 " and "+17"), and no more digits than a time before the year 33658 needs, so the number always
# converts to a float for the window check (a 400-digit one overflows it: a 500, not a 401).
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def check_timestamp(raw: str | None, now: datetime, tolerance_seconds: int, header: str) -> int:
    """Parse the Unix-seconds timestamp sent in `header` and refuse it (401) when absent, malformed or outside
    the replay window, whatever its length."""
    if raw is None or not _UNIX_SECONDS.fullmatch(raw):
        raise TimestampExpired(tolerance_seconds, header, raw, "a time in Unix seconds (such as 1700000000)")
    timestamp = int(raw)
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise TimestampExpired(tolerance_seconds, header, raw, "")
    return timestamp


def decode_base64_key(value: str) -> bytes:
    """Decode a base64 key (Standard Webhooks' `whsec_…` body); a malformed key is a configuration error."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("the signing secret is not valid base64") from error
