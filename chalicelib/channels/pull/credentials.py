"""Access tokens for the pull clients: Google's service-account JWT grant and OAuth refresh-token grant, and
the App Store Connect API's ES256 JWT.

The signatures are made by `rsa` (RS256: RSASSA-PKCS1-v1_5 with SHA-256) and `ecdsa` (ES256: deterministic
ECDSA on P-256, RFC 6979, encoded as JWS wants it: r and s, 32 bytes each), two small pure-Python libraries;
`cryptography` (what PyJWT and joserfc sign with) would add ~17 MB to every function's package. Only the
JWT's framing is written here (RFC 7515 compact form: base64url JSON header and claims, then the signature),
and the fakes check the tokens with joserfc, an independent implementation.

Google's tokens live an hour: they are kept in memory per source until a minute before they expire, so a
warm function asks the token endpoint once an hour, not at every run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import ecdsa
import rsa
from ecdsa.util import sigencode_string
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.error import PyAsn1Error

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


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_input(header: dict[str, Any], claims: dict[str, Any]) -> bytes:
    parts = (json.dumps(part, separators=(",", ":")).encode() for part in (header, claims))
    return ".".join(_b64url(part) for part in parts).encode()


def _rsa_key(pem: str) -> rsa.PrivateKey:
    """An RSA key from PKCS#1 or PKCS#8 PEM (Google's key files hold PKCS#8: PrivateKeyInfo)."""
    if "BEGIN RSA PRIVATE KEY" in pem:
        return rsa.PrivateKey.load_pkcs1(pem.encode())
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    info, _ = der_decoder.decode(base64.b64decode(body))
    return rsa.PrivateKey.load_pkcs1(bytes(info[2]), format="DER")  # PrivateKeyInfo.privateKey


def rs256_jwt(header: dict[str, Any], claims: dict[str, Any], private_key_pem: str) -> str:
    signing_input = _signing_input({**header, "alg": "RS256"}, claims)
    signature = rsa.sign(signing_input, _rsa_key(private_key_pem), "SHA-256")
    return f"{signing_input.decode()}.{_b64url(signature)}"


def es256_jwt(header: dict[str, Any], claims: dict[str, Any], private_key_pem: str) -> str:
    key = ecdsa.SigningKey.from_pem(private_key_pem)
    if key.curve != ecdsa.NIST256p:
        raise ValueError("an ES256 key is on P-256")
    signing_input = _signing_input({**header, "alg": "ES256"}, claims)
    signature = key.sign_deterministic(signing_input, hashfunc=hashlib.sha256, sigencode=sigencode_string)
    return f"{signing_input.decode()}.{_b64url(signature)}"


_KEY_ERRORS = (ValueError, KeyError, TypeError, IndexError, PyAsn1Error, ecdsa.der.UnexpectedDER)


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
        raise QuotaExceeded("the token endpoint answered 429")
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
