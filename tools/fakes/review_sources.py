"""A pull source's fake platform started and described: the settings and secrets a source of that type
needs to pull from it (tests, the bench and `make run` configure their sources from this)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tools.fakes.app_store import FakeAppStore
from tools.fakes.google_business import FakeGoogleBusiness
from tools.fakes.google_play import FakeGooglePlay
from tools.fakes.review_api import FakeReviewApi, ReviewApiServer


@dataclass
class FakeSource:
    type: str
    fake: FakeReviewApi
    server: ReviewApiServer
    settings: dict[str, str]
    secrets: dict[str, str]
    # Makes the platform refuse the secrets above from now on (a revoked key or refresh token).
    break_credentials: Callable[[], None]

    def stop(self) -> None:
        self.server.stop()


def start_fake_source(source_type: str) -> FakeSource:
    """Start the fake for `source_type` on a free loopback port."""
    if source_type == "google_play":
        play = FakeGooglePlay()
        server = ReviewApiServer(play).start()
        play.base_url = server.url
        return FakeSource(
            source_type,
            play,
            server,
            {"package_name": play.package_name, "api_base_url": server.url},
            {"service_account_json": play.service_account_json()},
            play.revoke_key,
        )
    if source_type == "app_store":
        store = FakeAppStore()
        server = ReviewApiServer(store).start()
        store.base_url = server.url
        return FakeSource(
            source_type,
            store,
            server,
            {
                "app_id": store.app_id,
                "key_id": store.key_id,
                "issuer_id": store.issuer_id,
                "api_base_url": server.url,
            },
            {"private_key": store.private_key_pem()},
            store.rotate_key,
        )
    if source_type == "google_business":
        business = FakeGoogleBusiness()
        server = ReviewApiServer(business).start()
        return FakeSource(
            source_type,
            business,
            server,
            {
                "account_id": business.account_id,
                "location_id": business.location_id,
                "api_base_url": server.url,
                "token_url": f"{server.url}/token",
            },
            {
                "client_id": business.client_id,
                "client_secret": business.client_secret,
                "refresh_token": business.refresh_token,
            },
            business.revoke_refresh_token,
        )
    raise ValueError(f"no fake for {source_type}")
