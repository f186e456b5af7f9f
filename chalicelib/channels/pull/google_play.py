"""`google_play`: Google Play reviews through the Android Publisher API v3 `reviews.list`
(GET …/androidpublisher/v3/applications/{packageName}/reviews, `maxResults`, `token` from
`tokenPagination.nextPageToken`), with a service account's key (a signed JWT exchanged for an access token).

Google lists only the reviews written or edited in the last seven days: a source must run at least every few
days to miss none (the default is every 15 minutes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from chalicelib.channels.pull.base import (
    Page,
    PulledReview,
    PullPlatform,
    Session,
    raise_for_google,
    require_json_object,
    star_rating,
)
from chalicelib.channels.pull.credentials import google_service_account_token, service_account_key_error
from chalicelib.channels.pull.exceptions import PlatformUnavailable
from chalicelib.http import primary_language
from chalicelib.models import LANGUAGE_HINTS
from chalicelib.models import Channel as ChannelName

API_URL = "https://androidpublisher.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
SERVICE_ACCOUNT_KEY = "service_account_json"
PACKAGE_NAME = "package_name"
STORE_PAGE = "https://play.google.com/store/apps/details?id={package}&reviewId={review}"
# reviews.list serves up to 100 reviews a page.
MAX_RESULTS = 100


def _timestamp(value: Any) -> datetime | None:
    """Google's Timestamp message as JSON: {"seconds": "1700000000", "nanos": 0}."""
    if not isinstance(value, dict):
        return None
    try:
        return datetime.fromtimestamp(int(value.get("seconds", 0)) + int(value.get("nanos", 0)) / 1e9, UTC)
    except (TypeError, ValueError, OverflowError):
        return None


class GooglePlay(PullPlatform):
    type = "google_play"
    channel = ChannelName.GOOGLE_PLAY
    secret_names = (SERVICE_ACCOUNT_KEY,)
    required_settings = (PACKAGE_NAME,)
    setting_help = {
        PACKAGE_NAME: "the app's package name (com.example.app)",
        "api_base_url": "another API host (the local fake); default the Android Publisher API",
    }
    console_help = (
        "In Google Cloud, create a service account and a JSON key for it, enable the Google Play Android "
        "Developer API; in Play Console → Users and permissions, invite the service account's e-mail with "
        "'View app information' for the app. Pass the key file with --secret service_account_json=@key.json."
    )
    page_size = MAX_RESULTS
    listing_days = 7  # reviews.list: "Only reviews from last week will be returned."

    def secret_errors(self, secrets: Mapping[str, str]) -> list[str]:
        error = (
            service_account_key_error(secrets[SERVICE_ACCOUNT_KEY])
            if SERVICE_ACCOUNT_KEY in secrets
            else None
        )
        return [f"--secret {SERVICE_ACCOUNT_KEY}: the value {error}"] if error else []

    def authorize(self, session: Session) -> None:
        session.access_token = google_service_account_token(
            session.source.source_id, session.secret(SERVICE_ACCOUNT_KEY), SCOPE, session.http
        )

    def fetch_page(self, session: Session, page_token: str | None) -> Page:
        package = session.required_setting(PACKAGE_NAME)
        base = (session.setting("api_base_url") or API_URL).rstrip("/")
        url = f"{base}/androidpublisher/v3/applications/{quote(package, safe='')}/reviews"
        response = session.http.get(
            url, {"maxResults": MAX_RESULTS, "token": page_token}, token=session.access_token
        )
        raise_for_google(response)
        body = require_json_object(response)
        reviews = [review for item in body.get("reviews") or [] if (review := self._review(package, item))]
        pagination = body.get("tokenPagination")
        next_token = pagination.get("nextPageToken") if isinstance(pagination, dict) else None
        return Page(reviews, next_token if isinstance(next_token, str) and next_token else None)

    def _review(self, package: str, item: Any) -> PulledReview | None:
        if not isinstance(item, dict) or not isinstance(item.get("reviewId"), str):
            raise PlatformUnavailable("a review without a reviewId")
        comment = next(
            (
                c["userComment"]
                for c in item.get("comments") or []
                if isinstance(c, dict) and "userComment" in c
            ),
            None,
        )
        if not isinstance(comment, dict):
            return None  # only the developer's reply: nothing the customer wrote
        modified_at = _timestamp(comment.get("lastModified"))
        if modified_at is None:
            raise PlatformUnavailable("a review without lastModified")
        author = item.get("authorName")
        return PulledReview(
            review_id=item["reviewId"],
            rating=star_rating(comment.get("starRating")),
            text=str(comment.get("text") or "").strip(),
            modified_at=modified_at,
            author_name=author if isinstance(author, str) and author else None,
            language_hint=_language_hint(comment.get("reviewerLanguage")),
            permalink=STORE_PAGE.format(
                package=quote(package, safe=""), review=quote(item["reviewId"], safe="")
            ),
            metadata={
                "app_version": _text(comment.get("appVersionName")),
                "app_version_code": comment.get("appVersionCode")
                if isinstance(comment.get("appVersionCode"), int)
                else None,
                "device": _text(comment.get("device")),
                "android_os_version": comment.get("androidOsVersion")
                if isinstance(comment.get("androidOsVersion"), int)
                else None,
                "reviewer_language": _text(comment.get("reviewerLanguage")),
            },
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _language_hint(value: Any) -> str | None:
    """Play's reviewerLanguage ("en_GB", "zh_TW") as a language hint ("en", "zh-TW"). It is the device's
    language, which Google says is not guaranteed to be the review's, so the analysis detects the review's
    own language and uses this only where it is unsure of the text."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = primary_language(value)
    return code if code in LANGUAGE_HINTS else None
