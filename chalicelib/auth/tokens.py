"""Bearer tokens for the read API: creation, hashed storage, scopes, verification and revocation.

A token is `fbk_<id>_<secret>`, shown once; the table keeps its SHA-256, scopes and metadata, never the token.
Scopes never imply one another. A token may be given an expiry (`expires_at`): refused from then on, as
revoked ones are. A revoked token stops working within CONFIG_CACHE_SECONDS. When a token was last used is
kept to the hour (`last_used_at`, `note_use`), so an operator can find the ones nobody uses any more. The
README's "Read API and tokens" section has the details; authorizer.py checks tokens on requests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from chalicelib.http import Unauthorized
from chalicelib.models import utc_now
from chalicelib.store.config_records import TOKENS

TOKEN_PREFIX = "fbk"  # noqa: S105 - a public prefix, not a secret
TOKEN_ID_BYTES = 6  # 12 hex characters: short enough to type, random enough never to collide in practice
TOKEN_SECRET_BYTES = 32
MAX_EXPIRY_DAYS = 3650  # ten years: longer is "never", which is what leaving the expiry out says
# A token's last use is written at most once this often (a conditional update the API's processes share), not
# on every request: an hour is fine enough to tell a token in use from one forgotten.
LAST_USE_RESOLUTION = timedelta(hours=1)
LAST_USED = "last_used_at"
_TOKEN_ID_PATTERN = re.compile(rf"[0-9a-f]{{{TOKEN_ID_BYTES * 2}}}")
# The secret is token_urlsafe(TOKEN_SECRET_BYTES): exactly 43 characters.
_TOKEN_PATTERN = re.compile(rf"{TOKEN_PREFIX}_(?P<id>[0-9a-f]{{{TOKEN_ID_BYTES * 2}}})_[A-Za-z0-9_-]{{43}}")

_tokens = TOKENS
# When this process last wrote each token's use: it tries again only after LAST_USE_RESOLUTION.
_uses_noted: dict[str, datetime] = {}


class Scope(StrEnum):
    READ = "read"
    EXPORT = "export"
    ERASE = "erase"
    # Configuration, never feedback: form configs over HTTP and the outbound webhooks' delivery logs.
    ADMIN = "admin"


_SCOPE_NAMES = frozenset(s.value for s in Scope)


def known_scopes(values: Iterable[str]) -> frozenset[Scope]:
    return frozenset(Scope(v) for v in values if v in _SCOPE_NAMES)


class TokenRejected(Unauthorized):
    """401 with the RFC 6750 challenge header."""

    def __init__(self, message: str, code: str = "unauthorized") -> None:
        super().__init__(message, code=code)
        error = "" if code == "unauthorized" else ', error="invalid_token"'
        self.headers = {"WWW-Authenticate": f'Bearer realm="feedback"{error}'}


# NamedTuples (immutable records): cheaper to define at the API's cold start than frozen dataclasses.
class TokenInfo(NamedTuple):
    """What is stored about a token (never the token)."""

    token_id: str
    name: str
    scopes: tuple[Scope, ...]
    created_at: str
    last4: str
    description: str | None = None
    revoked_at: str | None = None
    expires_at: str | None = None
    last_used_at: str | None = None  # to within LAST_USE_RESOLUTION; None: not used since it was recorded

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and datetime.fromisoformat(self.expires_at) <= utc_now()

    @classmethod
    def from_fields(cls, token_id: str, fields: dict[str, Any]) -> TokenInfo:
        return cls(
            token_id=token_id,
            name=fields.get("name", ""),
            scopes=tuple(sorted(known_scopes(fields.get("scopes", [])))),
            created_at=fields.get("created_at", ""),
            last4=fields.get("last4", ""),
            description=fields.get("description"),
            revoked_at=fields.get("revoked_at"),
            expires_at=fields.get("expires_at"),
            last_used_at=fields.get(LAST_USED),
        )


class Principal(NamedTuple):
    """The caller a valid token identifies."""

    token_id: str
    scopes: frozenset[Scope]


def token_hash(token: str) -> str:
    """SHA-256 of the whole token, hex.

    A fast hash is right here: the token carries 256 random bits, so there is nothing to brute-force that a
    slow password hash (bcrypt, scrypt) would protect, and the check runs on every request.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(values: Iterable[str]) -> tuple[Scope, ...]:
    """Validated, de-duplicated, sorted scopes; ValueError on an unknown name or none at all."""
    scopes = set()
    for value in values:
        try:
            scopes.add(Scope(value))
        except ValueError as error:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {value!r} (known: {known})") from error
    if not scopes:
        raise ValueError("a token needs at least one scope")
    return tuple(sorted(scopes))


def create_token(
    name: str, scopes: Iterable[str], description: str | None = None, expires_in_days: int | None = None
) -> tuple[str, TokenInfo]:
    """Create a token, valid for `expires_in_days` (None: until revoked); returns it (the only time it exists
    in clear) with what was stored. ValueError on an unknown scope or an expiry out of 1..MAX_EXPIRY_DAYS."""
    chosen = parse_scopes(scopes)
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"a token expires in 1 to {MAX_EXPIRY_DAYS} days (leave it out: until revoked)")
    now = utc_now()
    token_id = secrets.token_hex(TOKEN_ID_BYTES)
    while _tokens.get(token_id, force_fetch=True):  # a collision is ~impossible; never overwrite one
        token_id = secrets.token_hex(TOKEN_ID_BYTES)
    token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(TOKEN_SECRET_BYTES)}"
    info = TokenInfo(
        token_id=token_id,
        name=name,
        scopes=chosen,
        created_at=now.isoformat(),
        last4=token[-4:],
        description=description,
        expires_at=(now + timedelta(days=expires_in_days)).isoformat() if expires_in_days else None,
    )
    _tokens.save(token_id, {**_fields(info), "token_hash": token_hash(token)})
    return token, info


def _fields(info: TokenInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "scopes": [s.value for s in info.scopes],
        "created_at": info.created_at,
        "last4": info.last4,
        "description": info.description,
        "revoked_at": info.revoked_at,
        "expires_at": info.expires_at,
    }


def list_tokens() -> list[TokenInfo]:
    """Every token (revoked ones too), oldest first, read fresh."""
    infos = [TokenInfo.from_fields(token_id, f) for token_id, f in _tokens.list_fresh().items()]
    return sorted(infos, key=lambda info: (info.created_at, info.token_id))


def revoke_token(token_id: str) -> TokenInfo | None:
    """Mark a token revoked (kept for the audit trail); None if there is no such token. Idempotent."""
    if not _TOKEN_ID_PATTERN.fullmatch(token_id):
        return None  # cannot be one of ours: no read
    fields = _tokens.get(token_id, force_fetch=True)
    if not fields:
        return None
    if not fields.get("revoked_at"):
        fields = {**fields, "revoked_at": utc_now().isoformat()}
        _tokens.save(token_id, fields)
    return TokenInfo.from_fields(token_id, fields)


def clear_cache() -> None:
    """Forget cached token records (tests; the CLI's own writes clear it already)."""
    _tokens.clear_cache()
    _uses_noted.clear()


def note_use(token_id: str) -> None:
    """Record that a token was just used, unless it was within LAST_USE_RESOLUTION: at most one conditional
    update per token and process an hour. Raises what DynamoDB raises (the authorizer logs it and goes on)."""
    now = utc_now()
    noted = _uses_noted.get(token_id)
    if noted is not None and now - noted < LAST_USE_RESOLUTION:
        return
    _uses_noted[token_id] = now
    since = (now - LAST_USE_RESOLUTION).isoformat(timespec="seconds")
    _tokens.stamp(token_id, LAST_USED, now.isoformat(timespec="seconds"), unless_since=since)


def verify(token: str) -> Principal:
    """The principal a token identifies, or 401 (unauthorized, invalid_token, token_revoked, token_expired).

    The record comes from memory when fresh (see Revocation in the module docstring); an unknown id is
    cached too, so repeating a bad token costs no reads. Revocation is only reported to a caller who holds
    the real token: anyone else learns nothing about an id they do not own.
    """
    match = _TOKEN_PATTERN.fullmatch(token)
    if match is None:
        raise TokenRejected(f"This is not a {TOKEN_PREFIX}_ token.")
    token_id = match.group("id")
    fields = _tokens.get_cached(token_id)
    if not fields or not hmac.compare_digest(str(fields.get("token_hash", "")), token_hash(token)):
        raise TokenRejected("The token is not valid.", code="invalid_token")
    if fields.get("revoked_at"):
        raise TokenRejected(f"The token was revoked at {fields['revoked_at']}.", code="token_revoked")
    expires_at = fields.get("expires_at")
    if expires_at and datetime.fromisoformat(expires_at) <= utc_now():
        raise TokenRejected(f"The token expired at {expires_at}.", code="token_expired")
    return Principal(token_id=token_id, scopes=known_scopes(fields.get("scopes", [])))
