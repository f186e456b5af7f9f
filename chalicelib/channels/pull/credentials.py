"""Access tokens for the pull clients: Google's service-account JWT grant and OAuth refresh-token grant, and
the App Store Connect API's ES256 JWT.

The JWTs are RFC 7515 compact tokens (base64url JSON header and claims, then the signature) made by
chalicelib/jws.py (RS256, ES256; why by hand: its docstring); the fakes check every token with joserfc, an
independent implementation.

Google's tokens live an hour: they are kept in memory per source until a minute before they expire, so a
warm function asks the token endpoint once an hour, not at every run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.channels.pull.exceptions import CredentialsRejected, PlatformUnavailable, QuotaExceeded
from chalicelib.channels.pull.http import JsonHttp
from chalicelib.jws import KeyInvalid, es256_jwt, rs256_jwt

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


def forget_token(source_id: str) -> bool:
    """Forget one source's cached access token; whether there was one (a refusal of it may be its own)."""
    return _tokens.pop(source_id, None) is not None


_KEY_ERRORS = (KeyInvalid, ValueError, KeyError, TypeError)


def service_account_key_error(key_json: str) -> str | None:
    """Why a service account's key file cannot sign the token grant a run makes (None: it can), checked
    when the source is added or its key rotated, so a wrong file is refused there and never pauses a run."""
    try:
        key_file = json.loads(key_json)
    except ValueError:
        return "is not JSON: a service account's key is the JSON file its Keys tab downloads"
    if not isinstance(key_file, dict):
        return "is JSON but not a key file (a JSON object)"
    if problem := _key_file_problem(key_file):
        return problem
    try:
        rs256_jwt({"typ": "JWT"}, {}, key_file["private_key"])
    except _KEY_ERRORS as error:
        return f"has a private_key that is not a PEM RSA private key ({_reason(error)})"
    return None


def _key_file_problem(key_file: dict[str, Any]) -> str | None:
    """What in a JSON object's fields says it is no service account's key file, or None."""
    token_uri = key_file.get("token_uri")
    missing = [name for name in ("client_email", "private_key") if not isinstance(key_file.get(name), str)]
    problems = [
        (
            isinstance(key_file.get("installed") or key_file.get("web"), dict),
            "is an OAuth client's file (client_secret.json), not a service account's key file",
        ),
        (
            key_file.get("type", "service_account") != "service_account",
            f"is a key file of type {str(key_file.get('type'))[:40]!r}, not service_account",
        ),
        (bool(missing), f"lacks {' and '.join(missing)}: not a service account's key file"),
        (not missing and "@" not in key_file["client_email"], "has a client_email that is no e-mail address"),
        (
            token_uri is not None
            and not (isinstance(token_uri, str) and token_uri.startswith(("https://", "http://"))),
            "has a token_uri that is no URL",
        ),
    ]
    return next((problem for found, problem in problems if found), None)


def app_store_key_error(private_key_pem: str) -> str | None:
    """Why an App Store Connect key cannot sign a run's token (None: it can): as service_account_key_error."""
    try:
        es256_jwt({"typ": "JWT"}, {}, private_key_pem)
    except _KEY_ERRORS as error:
        return (
            f"is not the .p8 key App Store Connect downloads, a PEM EC P-256 private key ({_reason(error)})"
        )
    return None


def _reason(error: Exception) -> str:
    # KeyInvalid says what is wrong in words of its own; another error's text might quote the key.
    return str(error) if isinstance(error, KeyInvalid) else type(error).__name__


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
        email, token_uri = key_file["client_email"], key_file.get("token_uri") or GOOGLE_TOKEN_URL
        claims = {"iss": email, "scope": scope, "aud": token_uri, "iat": int(now), "exp": int(now) + 3600}
        header = {
            "typ": "JWT",
            **({"kid": key_file["private_key_id"]} if key_file.get("private_key_id") else {}),
        }
        assertion = rs256_jwt(header, claims, key_file["private_key"])
    except _KEY_ERRORS as error:
        raise CredentialsRejected(
            f"the service-account key is not a JSON key file: {type(error).__name__}"
        ) from error
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
        raise QuotaExceeded("the token endpoint answered 429", response.retry_after)
    if response.status >= 500 or response.status == 200:
        raise PlatformUnavailable(f"the token endpoint answered {response.status}")
    # RFC 6749 §5.2: {"error": "invalid_grant", "error_description": …}; only the error code is kept.
    raise CredentialsRejected(f"the token endpoint refused the grant: {body.get('error', response.status)}")


def app_store_token(key_id: str, issuer_id: str, private_key_pem: str, now: float | None = None) -> str:
    """An App Store Connect API token: ES256 over {iss, iat, exp ≤ 20 min, aud}, the key's id as kid."""
    now = time.time() if now is None else now
    claims = {
        "iss": issuer_id,
        "iat": int(now),
        "exp": int(now) + APP_STORE_TOKEN_SECONDS,
        "aud": APP_STORE_AUDIENCE,
    }
    try:
        return es256_jwt({"kid": key_id, "typ": "JWT"}, claims, private_key_pem)
    except _KEY_ERRORS as error:
        raise CredentialsRejected(
            f"the App Store Connect key is not a .p8 EC key: {type(error).__name__}"
        ) from error
