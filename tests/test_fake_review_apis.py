"""The review platforms' fakes answer in the documented shapes (their errors, quota answers, page limits,
tokens), and the product's JWTs verify with an independent JOSE library (joserfc)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from joserfc import jwt

from chalicelib.channels.pull.credentials import (
    APP_STORE_TOKEN_SECONDS,
    app_store_token,
    es256_jwt,
    rs256_jwt,
)
from tools.fakes.review_sources import FakeSource, start_fake_source


def call(url: str, token: str | None = None, form: dict[str, str] | None = None) -> tuple[int, Any]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def play() -> Any:
    source = start_fake_source("google_play")
    yield source
    source.stop()


@pytest.fixture
def business() -> Any:
    source = start_fake_source("google_business")
    yield source
    source.stop()


@pytest.fixture
def store() -> Any:
    source = start_fake_source("app_store")
    yield source
    source.stop()


def _play_token(play: FakeSource) -> str:
    key_file = json.loads(play.secrets["service_account_json"])
    now = int(time.time())
    claims = {
        "iss": key_file["client_email"],
        "scope": "https://www.googleapis.com/auth/androidpublisher",
        "aud": key_file["token_uri"],
        "iat": now,
        "exp": now + 3600,
    }
    assertion = rs256_jwt({"typ": "JWT", "kid": key_file["private_key_id"]}, claims, key_file["private_key"])
    grant = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    status, body = call(key_file["token_uri"], form=grant)
    assert status == 200 and body["token_type"] == "Bearer"
    return body["access_token"]


def test_google_play_errors_are_googles_error_body(play: FakeSource):
    reviews = f"{play.server.url}/androidpublisher/v3/applications/com.example.app/reviews"
    status, body = call(reviews)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED" and body["error"]["code"] == 401
    token = _play_token(play)
    assert call(f"{reviews}?maxResults=101", token)[1]["error"]["status"] == "INVALID_ARGUMENT"
    assert call(f"{reviews}?token=not-ours", token)[0] == 400
    other = f"{play.server.url}/androidpublisher/v3/applications/com.other/reviews"
    assert call(other, token)[1]["error"]["status"] == "NOT_FOUND"
    play.fake.quota_remaining = 0
    status, body = call(reviews, token)
    assert status == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_google_play_pages_by_token_and_shapes_each_review(play: FakeSource):
    for n in range(3):
        play.fake.add_review(f"Review {n}", 4, age_seconds=60 * (3 - n))
    reviews = f"{play.server.url}/androidpublisher/v3/applications/com.example.app/reviews"
    token = _play_token(play)
    _, first = call(f"{reviews}?maxResults=2", token)
    assert [r["comments"][0]["userComment"]["text"].strip() for r in first["reviews"]] == [
        "Review 2",
        "Review 1",
    ]
    comment = first["reviews"][0]["comments"][0]["userComment"]
    assert set(comment["lastModified"]) == {"seconds", "nanos"} and comment["starRating"] == 4
    next_token = first["tokenPagination"]["nextPageToken"]
    _, second = call(f"{reviews}?maxResults=2&token={next_token}", token)
    assert [r["reviewId"] for r in second["reviews"]] == ["rev-000001"] and "tokenPagination" not in second
    # A title is the text's part before a tab; the developer's reply is a second comment (developerComment).
    titled = play.fake.add_review("Crashes on start", 1, title="Broken")
    play.fake.reply_to_review(titled.review_id, "Fixed in 2.5, sorry!")
    _, listed = call(f"{reviews}?maxResults=1", token)
    [user, developer] = listed["reviews"][0]["comments"]
    assert user["userComment"]["text"] == "Broken\tCrashes on start"
    assert developer["developerComment"]["text"] == "Fixed in 2.5, sorry!"
    assert set(developer["developerComment"]["lastModified"]) == {"seconds", "nanos"}


def test_google_play_refuses_a_jwt_signed_with_another_key(play: FakeSource):
    key_file = json.loads(play.secrets["service_account_json"])
    play.break_credentials()
    status, body = call(
        key_file["token_uri"],
        form={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y.z"},
    )
    assert (status, body["error"]) == (400, "invalid_grant")


def test_app_store_errors_are_apples_error_body(store: FakeSource):
    reviews = f"{store.server.url}/v1/apps/1234567890/customerReviews"
    status, body = call(reviews)
    [error] = body["errors"]
    assert (
        status == 401
        and {"status", "code", "title", "detail"} <= set(error)
        and error["code"] == "NOT_AUTHORIZED"
    )
    token = app_store_token(
        store.settings["key_id"], store.settings["issuer_id"], store.secrets["private_key"]
    )
    assert call(f"{reviews}?limit=201", token)[1]["errors"][0]["code"] == "PARAMETER_ERROR.INVALID"
    # A token living longer than Apple's 20 minutes is refused.
    now = int(time.time())
    claims = {
        "iss": store.settings["issuer_id"],
        "iat": now,
        "exp": now + 30 * 60,
        "aud": "appstoreconnect-v1",
    }
    long_lived = es256_jwt(
        {"kid": store.settings["key_id"], "typ": "JWT"}, claims, store.secrets["private_key"]
    )
    assert call(reviews, long_lived)[0] == 401
    store.fake.quota_remaining = 0
    status, body = call(reviews, token)
    assert status == 429 and body["errors"][0]["code"] == "RATE_LIMIT_EXCEEDED"


def test_the_app_store_token_verifies_with_joserfc(store: FakeSource):
    token = app_store_token(
        store.settings["key_id"], store.settings["issuer_id"], store.secrets["private_key"]
    )
    decoded = jwt.decode(token, store.fake.key, algorithms=["ES256"])
    assert decoded.header == {"alg": "ES256", "kid": store.settings["key_id"], "typ": "JWT"}
    assert decoded.claims["aud"] == "appstoreconnect-v1"
    assert decoded.claims["exp"] - decoded.claims["iat"] == APP_STORE_TOKEN_SECONDS <= 20 * 60


def test_google_business_token_errors_and_page_limit(business: FakeSource):
    token_url = business.settings["token_url"]
    grant = {"grant_type": "refresh_token", **business.secrets}
    status, body = call(token_url, form={**grant, "client_secret": "wrong"})
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = call(token_url, form={**grant, "refresh_token": "1//revoked"})
    assert (status, body["error"]) == (400, "invalid_grant")
    _, body = call(token_url, form=grant)
    reviews = f"{business.server.url}/v4/accounts/1122334455/locations/9988776655/reviews"
    assert call(f"{reviews}?pageSize=51", body["access_token"])[1]["error"]["status"] == "INVALID_ARGUMENT"
    business.fake.add_review("Lovely", 5)
    _, listed = call(reviews, body["access_token"])
    [review] = listed["reviews"]
    assert (
        review["starRating"] == "FIVE" and listed["totalReviewCount"] == 1 and "nextPageToken" not in listed
    )
    assert review["name"].endswith(f"/reviews/{review['reviewId']}") and "reviewReply" not in review
    business.fake.reply_to_review(review["reviewId"], "Thank you!")
    [replied] = call(reviews, body["access_token"])[1]["reviews"]
    assert replied["reviewReply"]["comment"] == "Thank you!" and replied["reviewReply"]["updateTime"]
    assert replied["updateTime"] == review["updateTime"]  # the customer's review itself is unchanged
