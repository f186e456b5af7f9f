"""`app_store`: App Store reviews through the App Store Connect API (GET /v1/apps/{id}/customerReviews,
`sort=-createdDate`, `limit` ≤ 200, pages by `links.next`), authorized by an ES256 JWT made from the team's
API key (kid = key id, iss = issuer id, aud = appstoreconnect-v1, expiring within 20 minutes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from chalicelib.channels.pull.base import (
    Page,
    PulledReview,
    PullPlatform,
    Session,
    require_json_object,
    star_rating,
)
from chalicelib.channels.pull.credentials import app_store_key_error, app_store_token
from chalicelib.channels.pull.exceptions import (
    CredentialsRejected,
    PlatformUnavailable,
    QuotaExceeded,
    SourceRejected,
)
from chalicelib.channels.pull.http import JsonResponse
from chalicelib.models import Channel as ChannelName

API_URL = "https://api.appstoreconnect.apple.com"
APP_ID = "app_id"
KEY_ID = "key_id"
ISSUER_ID = "issuer_id"
PRIVATE_KEY = "private_key"
LIMIT = 200  # the documented maximum of `limit`
# The shapes App Store Connect gives its ids in: the app's Apple ID (digits), the key's ten-character Key ID,
# the team's Issuer ID (a UUID).
_ID_SHAPES = {
    APP_ID: (re.compile(r"[0-9]{1,20}"), "an app's Apple ID (digits, App Information)"),
    KEY_ID: (re.compile(r"[A-Z0-9]{10}"), "a Key ID (ten capital letters and digits, 2X9R4HXF34)"),
    ISSUER_ID: (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "an Issuer ID (a UUID, 57246542-96fe-1a63-e053-0824d011072a)",
    ),
}


def _raise_for_apple(response: JsonResponse) -> None:
    """Apple's error body {"errors": [{"status", "code", "title", "detail"}]} as the pull error it means."""
    if response.status < 300:
        return
    errors = response.body.get("errors") if isinstance(response.body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = f"{response.status} {first.get('code', '')}".strip()
    if response.status == 429:
        raise QuotaExceeded(message, response.retry_after)
    if response.status in (401, 403):
        raise CredentialsRejected(message)
    if response.status in (400, 404):
        raise SourceRejected(message)
    raise PlatformUnavailable(message)


class AppStore(PullPlatform):
    type = "app_store"
    channel = ChannelName.APP_STORE
    secret_names = (PRIVATE_KEY,)
    required_settings = (APP_ID, KEY_ID, ISSUER_ID)
    setting_help = {
        APP_ID: "the app's Apple ID (App Store Connect → App Information)",
        KEY_ID: "the API key's Key ID",
        ISSUER_ID: "the team's Issuer ID (Users and Access → Integrations)",
        "api_base_url": "another API host (the local fake); default the App Store Connect API",
    }
    console_help = (
        "In App Store Connect → Users and Access → Integrations → App Store Connect API, generate a team "
        "key with the Customer Support role (or higher), download the .p8 once, and note its Key ID and the "
        "Issuer ID. Pass --secret private_key=@AuthKey_<key id>.p8 (the file Apple names after the key)."
    )
    page_size = LIMIT

    def secret_errors(self, secrets: Mapping[str, str]) -> list[str]:
        error = app_store_key_error(secrets[PRIVATE_KEY]) if PRIVATE_KEY in secrets else None
        return [f"--secret {PRIVATE_KEY}: the value {error}"] if error else []

    def setting_errors(self, settings: Mapping[str, str]) -> list[str]:
        """The schedule's numbers, and the ids as App Store Connect shows them: a token signed with a key id
        or issuer id of another shape is refused at the first run, which would pause the source."""
        errors = super().setting_errors(settings)
        errors += [
            f"--setting {name}: {settings[name]!r} is not {shape}"
            for name, (pattern, shape) in _ID_SHAPES.items()
            if name in settings and not pattern.fullmatch(settings[name].strip())
        ]
        return errors

    def authorize(self, session: Session) -> None:
        # A fresh token per run: it is signed locally (no request), and a run is far shorter than 19 minutes.
        session.access_token = app_store_token(
            session.required_setting(KEY_ID), session.required_setting(ISSUER_ID), session.secret(PRIVATE_KEY)
        )

    def _base(self, session: Session) -> str:
        return (session.setting("api_base_url") or API_URL).rstrip("/")

    def fetch_page(self, session: Session, page_token: str | None) -> Page:
        base = self._base(session)
        if page_token:
            # `links.next` is a whole URL; the token is sent to the API's own host only.
            if urlsplit(page_token).netloc != urlsplit(base).netloc:
                raise PlatformUnavailable("links.next points at another host")
            response = session.http.get(page_token, token=session.access_token)
        else:
            app_id = quote(session.required_setting(APP_ID), safe="")
            response = session.http.get(
                f"{base}/v1/apps/{app_id}/customerReviews",
                {"sort": "-createdDate", "limit": LIMIT},
                token=session.access_token,
            )
        _raise_for_apple(response)
        body = require_json_object(response)
        reviews = [self._review(item) for item in body.get("data") or []]
        links = body.get("links")
        next_url = links.get("next") if isinstance(links, dict) else None
        return Page(reviews, next_url if isinstance(next_url, str) and next_url else None)

    def _review(self, item: Any) -> PulledReview:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise PlatformUnavailable("a customer review without an id")
        attributes = item.get("attributes") if isinstance(item.get("attributes"), dict) else {}
        try:
            created = datetime.fromisoformat(str(attributes.get("createdDate")))
        except ValueError as error:
            raise PlatformUnavailable("a customer review without a createdDate") from error
        title, body = (str(attributes.get(name) or "").strip() for name in ("title", "body"))
        nickname = attributes.get("reviewerNickname")
        return PulledReview(
            review_id=item["id"],
            rating=star_rating(attributes.get("rating")),
            text="\n\n".join(part for part in (title, body) if part),
            modified_at=created,
            created_at=created,
            author_name=nickname if isinstance(nickname, str) and nickname else None,
            metadata={
                "territory": attributes.get("territory")
                if isinstance(attributes.get("territory"), str)
                else None,
                "title": title or None,
            },
        )
