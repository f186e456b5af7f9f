"""`google_business`: Google Business Profile reviews through the My Business API v4
(GET https://mybusiness.googleapis.com/v4/accounts/{a}/locations/{l}/reviews, `pageSize` ≤ 50,
`nextPageToken`, `orderBy=updateTime desc`), authorized by an OAuth client's refresh token (a Google account
that manages the location consented once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from chalicelib.channels.pull.base import (
    Page,
    PulledReview,
    PullPlatform,
    Session,
    raise_for_google,
    require_json_object,
)
from chalicelib.channels.pull.credentials import GOOGLE_TOKEN_URL, google_refresh_token
from chalicelib.channels.pull.exceptions import PlatformUnavailable
from chalicelib.models import Channel as ChannelName

API_URL = "https://mybusiness.googleapis.com"
ACCOUNT_ID = "account_id"
LOCATION_ID = "location_id"
PAGE_SIZE = 50  # the documented maximum of pageSize
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _one_word(value: str) -> bool:
    value = value.strip()
    return bool(re.fullmatch(r"[\x21-\x7e]{1,2048}", value)) and not value.startswith(("{", "-----"))


class GoogleBusiness(PullPlatform):
    type = "google_business"
    channel = ChannelName.GOOGLE_BUSINESS
    secret_names = ("client_id", "client_secret", "refresh_token")
    required_settings = (ACCOUNT_ID, LOCATION_ID)
    setting_help = {
        ACCOUNT_ID: "the Business Profile account's id (accounts/{account_id})",
        LOCATION_ID: "the location's id (locations/{location_id})",
        "api_base_url": "another API host (the local fake); default the My Business API",
        "token_url": "another OAuth token endpoint (the local fake)",
    }
    console_help = (
        "In Google Cloud, request Business Profile API access, enable the My Business API, create an OAuth "
        "client (Web application), and have a manager of the location consent to the "
        "https://www.googleapis.com/auth/business.manage scope (OAuth Playground with your client, offline "
        "access) to get a refresh token. Pass --secret client_id=… client_secret=… refresh_token=…."
    )
    page_size = PAGE_SIZE

    def secret_errors(self, secrets: Mapping[str, str]) -> list[str]:
        """An OAuth client's id and secret and a refresh token are each one word: a file's content (the
        client's JSON file, a key) or a pasted line with spaces is refused, not stored to pause a run."""
        return [
            f"--secret {name}: not one {name.replace('_', ' ')} (one line without spaces, as Google shows "
            "it; not the client's JSON file)"
            for name, value in sorted(secrets.items())
            if name in self.secret_names and not _one_word(value)
        ]

    def authorize(self, session: Session) -> None:
        session.access_token = google_refresh_token(
            session.source.source_id,
            client_id=session.secret("client_id"),
            client_secret=session.secret("client_secret"),
            refresh_token=session.secret("refresh_token"),
            http=session.http,
            token_uri=session.setting("token_url") or GOOGLE_TOKEN_URL,
        )

    def fetch_page(self, session: Session, page_token: str | None) -> Page:
        account = quote(session.required_setting(ACCOUNT_ID), safe="")
        location = quote(session.required_setting(LOCATION_ID), safe="")
        base = (session.setting("api_base_url") or API_URL).rstrip("/")
        response = session.http.get(
            f"{base}/v4/accounts/{account}/locations/{location}/reviews",
            {"pageSize": PAGE_SIZE, "pageToken": page_token, "orderBy": "updateTime desc"},
            token=session.access_token,
        )
        raise_for_google(response)
        body = require_json_object(response)
        reviews = [self._review(item) for item in body.get("reviews") or []]
        next_token = body.get("nextPageToken")
        return Page(reviews, next_token if isinstance(next_token, str) and next_token else None)

    def _review(self, item: Any) -> PulledReview:
        if not isinstance(item, dict) or not isinstance(item.get("reviewId"), str):
            raise PlatformUnavailable("a review without a reviewId")
        created, updated = _time(item.get("createTime")), _time(item.get("updateTime"))
        if updated is None and created is None:
            raise PlatformUnavailable("a review without createTime or updateTime")
        reviewer = item.get("reviewer") if isinstance(item.get("reviewer"), dict) else {}
        name = reviewer.get("displayName")
        modified = updated or created
        return PulledReview(
            review_id=item["reviewId"],
            rating=STARS.get(str(item.get("starRating"))),
            text=str(item.get("comment") or "").strip(),
            modified_at=modified,  # type: ignore[arg-type]
            created_at=created,
            author_name=name if isinstance(name, str) and name and not reviewer.get("isAnonymous") else None,
            edited=True if created and updated and updated > created else None,
            metadata={"review_name": item.get("name") if isinstance(item.get("name"), str) else None},
        )
