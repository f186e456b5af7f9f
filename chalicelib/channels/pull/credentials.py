"""Access tokens for the pull clients: Google's service-account JWT grant and OAuth refresh-token grant, and
the App Store Connect API's ES256 JWT. JWTs are signed with joserfc (on `cryptography`), not by hand.

Google's tokens live an hour: they are kept in memory per source until a minute before they expire, so a
warm function asks the token endpoint once an hour, not at every run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from chalicelib.channels.pull.exceptions import CredentialsRejected, PlatformUnavailable, QuotaExceeded
from chalicelib.channels.pull.http import JsonHttp

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Apple refuses App Store Connect tokens that live longer than 20 minutes.
APP_STORE_TOKEN_SECONDS = 19 * 60
APP_STORE_AUDIENCE = "appstoreconnect-v1"
REFRESH_MARGIN_SECONDS = 60


@dataclass
class _Cached:
    token: str
    expires_at: float


_tokens: dict[str, _Cached] = {}


def clear_tokens() -> None:
    """Forget cached access tokens (tests, and after a source's secrets change)."""
    _tokens.clear()


def _cached(key: str, now: float) -> str | None:
    cached = _tokens.get(key)
    return cached.token if cached and cached.expires_at - REFRESH_MARGIN_SECONDS > now else None


def google_service_account_token(
    source_id: str, key_json: str, scope: str, http: JsonHttp, now: float | None = None
) -> str:
    """An access token for a service account (its JSON key file): a signed JWT exchanged at token_uri."""
    now = time.time() if now is None else now
    if token := _cached(source_id, now):
        return token
    try:
        key_file = json.loads(key_json)
        private_key = RSAKey.import_key(key_file["private_key"])
        email, token_uri = key_file["client_email"], key_file.get("token_uri") or GOOGLE_TOKEN_URL
    except (ValueError, KeyError, TypeError, JoseError) as error:
        raise CredentialsRejected(
            f"the service-account key is not a JSON key file: {type(error).__name__}"
        ) from error
    claims = {"iss": email, "scope": scope, "aud": token_uri, "iat": int(now), "exp": int(now) + 3600}
    header = {"alg": "RS256", "typ": "JWT"}
    if key_id := key_file.get("private_key_id"):
        header["kid"] = key_id
    assertion = jwt.encode(header, claims, private_key, algorithms=["RS256"])
    return _exchange(
        source_id, http, token_uri, {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}, now
    )


def google_refresh_token(
    source_id: str,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    http: JsonHttp,
    token_uri: str = GOOGLE_TOKEN_URL,
    now: float | None = None,
) -> str:
    """An access token from an OAuth client's refresh token (the Business Profile API's user consent)."""
    now = time.time() if now is None else now
    if token := _cached(source_id, now):
        return token
    fields = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    return _exchange(source_id, http, token_uri, fields, now)


def _exchange(source_id: str, http: JsonHttp, token_uri: str, fields: dict[str, str], now: float) -> str:
    response = http.post_form(token_uri, fields)
    body: dict[str, Any] = response.body if isinstance(response.body, dict) else {}
    if response.status == 200 and isinstance(body.get("access_token"), str):
        _tokens[source_id] = _Cached(body["access_token"], now + float(body.get("expires_in", 3600)))
        return body["access_token"]
    if response.status == 429:
        raise QuotaExceeded("the token endpoint answered 429")
    if response.status >= 500 or response.status == 200:
        raise PlatformUnavailable(f"the token endpoint answered {response.status}")
    # RFC 6749 §5.2: {"error": "invalid_grant", "error_description": …}; only the error code is kept.
    raise CredentialsRejected(f"the token endpoint refused the grant: {body.get('error', response.status)}")


def app_store_token(key_id: str, issuer_id: str, private_key_pem: str, now: float | None = None) -> str:
    """An App Store Connect API token: ES256 over {iss, iat, exp ≤ 20 min, aud}, the key's id as kid."""
    now = time.time() if now is None else now
    try:
        key = ECKey.import_key(private_key_pem)
    except (ValueError, TypeError, JoseError) as error:
        raise CredentialsRejected(
            f"the App Store Connect key is not a .p8 EC key: {type(error).__name__}"
        ) from error
    claims = {
        "iss": issuer_id,
        "iat": int(now),
        "exp": int(now) + APP_STORE_TOKEN_SECONDS,
        "aud": APP_STORE_AUDIENCE,
    }
    return jwt.encode({"alg": "ES256", "kid": key_id, "typ": "JWT"}, claims, key, algorithms=["ES256"])
