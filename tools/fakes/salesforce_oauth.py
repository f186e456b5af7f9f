"""The fake org's OAuth 2.0 token endpoint (`/services/oauth2/token`), as Salesforce's OAuth help documents
it: the client credentials flow and the JWT bearer flow, their success body and their `error` /
`error_description` refusals (see tools/fakes/salesforce.py)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ORG_ID = "00Dfk0000000001AAA"
USER_ID = "005fk0000000001AAA"  # the user every session acts as (the "Run As" / JWT user)
Answer = tuple[int, dict[str, str], Any]


def _oauth_error(error: str, description: str) -> Answer:
    return 400, {}, {"error": error, "error_description": description}


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class ConnectedApp:
    client_id: str
    client_secret: str | None = None
    public_key_pem: bytes | None = None  # the certificate's key, for the JWT bearer flow
    usernames: set[str] = field(default_factory=set)  # pre-authorized users (JWT) / the run-as user


def _verified(app: ConnectedApp, signed: bytes, signature: str) -> bool:
    """The assertion's RS256 signature checked against the certificate uploaded to the connected app."""
    if app.public_key_pem is None:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_public_key(app.public_key_pem)
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(_b64decode(signature), signed, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class TokenEndpoint:
    """The connected apps an org knows and the sessions it issued."""

    def __init__(self, apps: list[ConnectedApp], clock: Callable[[], float]) -> None:
        self.apps = {app.client_id: app for app in apps}
        self.clock = clock
        self.tokens: set[str] = set()
        self.unavailable = False
        self.login_url = "https://login.salesforce.com"
        self.instance_url = "http://127.0.0.1"

    def answer(self, method: str, body: bytes) -> Answer:
        if self.unavailable:
            return 503, {}, {"error": "temporarily_unavailable", "error_description": "service unavailable"}
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        refused = self._grant_problem(form) if method == "POST" else ("invalid_request", "must use HTTP POST")
        if refused:
            return _oauth_error(*refused)
        token = f"00Dfk0000000001!{uuid.uuid4().hex}"
        self.tokens.add(token)
        return (
            200,
            {},
            {
                "access_token": token,
                "instance_url": self.instance_url,
                "id": f"{self.login_url}/id/{ORG_ID}/{USER_ID}",
                "token_type": "Bearer",
                "issued_at": str(int(self.clock() * 1000)),
                "signature": base64.b64encode(uuid.uuid4().bytes).decode(),
                "scope": "api",
            },
        )

    def _grant_problem(self, form: dict[str, str]) -> tuple[str, str] | None:
        """(error, error_description) when the token request is refused, else None."""
        grant = form.get("grant_type")
        if grant == JWT_BEARER:
            problem = self._check_assertion(form.get("assertion", ""))
            return ("invalid_grant", problem) if problem else None
        if grant != "client_credentials":
            missing = not grant
            return (
                ("invalid_request", "grant type is missing")
                if missing
                else (
                    "unsupported_grant_type",
                    "grant type not supported",
                )
            )
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return "invalid_client_id", "client identifier invalid"
        if not app.client_secret or form.get("client_secret") != app.client_secret:
            return "invalid_client", "invalid client credentials"
        return None if app.usernames else ("invalid_grant", "no client credentials user enabled")

    def _check_assertion(self, assertion: str) -> str | None:
        """The JWT bearer flow's checks; the reason it fails (Salesforce's error_description) or None."""
        try:
            header_part, claims_part, signature_part = assertion.split(".")
            header = json.loads(_b64decode(header_part))
            claims = json.loads(_b64decode(claims_part))
        except ValueError:
            return "invalid assertion"
        app = self.apps.get(str(claims.get("iss")))
        signed = f"{header_part}.{claims_part}".encode()
        if header.get("alg") != "RS256" or app is None or not _verified(app, signed, signature_part):
            return "invalid assertion"
        checks = (
            (claims.get("aud") in {self.login_url, "https://test.salesforce.com"}, "audience is invalid"),
            (float(claims.get("exp") or 0) > self.clock(), "expired authorization code"),
            (claims.get("sub") in app.usernames, "user hasn't approved this consumer"),
        )
        return next((reason for passed, reason in checks if not passed), None)
