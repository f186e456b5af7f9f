"""The read API through chalice.test.Client: tokens and scopes on every read route, and GET /exports/{date}.

Every route behind the bearer authorizer is one line in ROUTES; the auth tests below run for each of them.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from chalice.app import ChaliceAuthorizer

from chalicelib.auth import tokens
from chalicelib.config import settings
from chalicelib.export import rewrite
from chalicelib.export.day import export_day
from chalicelib.models import utc_now

DAY = date(2026, 11, 21)

# (method, path as a client calls it, the scope it needs). Add read routes here.
ROUTES = [
    ("GET", "/exports/2026-11-21", "export"),
    ("GET", "/feedback?date=2026-11-21", "read"),
    ("GET", "/feedback.csv?date=2026-11-21", "read"),
    ("GET", "/customers/cus_0123", "read"),
    ("GET", "/customers?email=a@example.com", "read"),
    ("POST", "/customers/search", "read"),
    ("DELETE", "/customers/cus_0123", "erase"),
    ("GET", "/stats?from=2026-11-21&to=2026-11-21", "read"),
    ("GET", "/themes", "read"),
    ("GET", "/subscriptions/sub_abcdefghijkmnopqrst/deliveries", "admin"),
    ("GET", "/forms/demo/config", "admin"),
    ("PUT", "/forms/demo", "admin"),
    ("PATCH", "/forms/demo", "admin"),
]


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    tokens.clear_cache()
    yield
    tokens.clear_cache()


def token_with(*scopes: str) -> str:
    token, _ = tokens.create_token("test", scopes)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(client, method: str, path: str, headers: dict[str, str] | None = None):
    return client.http.request(method, path, headers=headers or {})


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.body
    assert response.json_body["error"]["code"] == code
    assert response.json_body["error"]["message"]


route_cases = pytest.mark.parametrize(
    ("method", "path", "scope"), ROUTES, ids=[f"{method} {path}" for method, path, _ in ROUTES]
)


# --- every read route -----------------------------------------------------------------------------------


@route_cases
def test_no_token_is_401(client, method, path, scope):
    """With no Authorization header the gateway answers before any of our code runs: Chalice's local gateway
    here, API Gateway on AWS, both with `{"message": "Unauthorized"}` (see chalicelib/auth/tokens.py)."""
    response = call(client, method, path)
    assert response.status_code == 401
    assert response.json_body == {"message": "Unauthorized"}


@route_cases
@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-token", "fbk_x"])
def test_malformed_token_is_401(client, method, path, scope, header):
    response = call(client, method, path, {"Authorization": header})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@route_cases
def test_wrong_secret_is_401(client, method, path, scope):
    prefix, token_id, secret = token_with(scope).split("_", 2)
    forged = f"{prefix}_{token_id}_{secret[::-1] if secret[::-1] != secret else 'A' * len(secret)}"
    assert_error(call(client, method, path, bearer(forged)), 401, "invalid_token")


@route_cases
def test_unknown_token_is_401(client, method, path, scope):
    token = token_with(scope)
    unknown = f"fbk_{'0' * 12}_{token.split('_', 2)[2]}"
    assert_error(call(client, method, path, bearer(unknown)), 401, "invalid_token")


@route_cases
def test_revoked_token_is_401(client, method, path, scope):
    token, info = tokens.create_token("test", [scope])
    tokens.revoke_token(info.token_id)
    assert_error(call(client, method, path, bearer(token)), 401, "token_revoked")


@route_cases
def test_token_without_the_scope_is_403(client, method, path, scope):
    others = [s.value for s in tokens.Scope if s.value != scope]
    response = call(client, method, path, bearer(token_with(*others)))
    assert_error(response, 403, "insufficient_scope")
    assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]


@route_cases
def test_token_with_the_scope_gets_through(client, method, path, scope):
    response = call(client, method, path, bearer(token_with(scope)))
    assert response.status_code not in (401, 403), response.body


def _template_matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path.split("?", 1)[0]) is not None


def test_every_route_behind_the_authorizer_is_in_the_table():
    from app import app

    for template, methods in app.routes.items():
        for method, entry in methods.items():
            if isinstance(entry.authorizer, ChaliceAuthorizer):
                listed = [s for m, p, s in ROUTES if m == method and _template_matches(template, p)]
                assert listed, f"add {method} {template} to ROUTES in {__name__}"
                assert [tokens.Scope(s) for s in listed] == [entry.view_function.required_scope] * len(listed)


# --- GET /exports/{date} --------------------------------------------------------------------------------


def test_export_manifest_with_presigned_urls(client):
    manifest = export_day(DAY)  # an empty day still has its files and manifest
    before = utc_now()

    response = client.http.get(f"/exports/{DAY.isoformat()}", headers=bearer(token_with("export")))

    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json_body
    assert body["date"] == "2026-11-21"
    assert body["counts"] == manifest["counts"]
    assert [f["key"] for f in body["files"]] == [f["key"] for f in manifest["files"]]
    assert len(body["files"]) >= 2
    for entry in body["files"]:
        url = urlsplit(entry["url"])
        query = parse_qs(url.query)
        assert settings().bucket_name in url.netloc + url.path
        assert url.path.endswith("/" + quote(entry["key"]))
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == ["900"]
        expires_at = datetime.fromisoformat(entry["expires_at"])
        assert before + timedelta(seconds=899) <= expires_at <= utc_now() + timedelta(seconds=901)


def test_a_token_with_several_scopes_reads_exports(client):
    export_day(DAY)
    response = client.http.get("/exports/2026-11-21", headers=bearer(token_with("read", "export")))
    assert response.status_code == 200


def test_a_day_without_an_export_is_404(client):
    response = client.http.get("/exports/2026-11-20", headers=bearer(token_with("export")))
    assert_error(response, 404, "export_not_found")
    # Before: "No export for 2026-11-20." left a BI user asking for today's files guessing when they come.
    assert "nightly run at 02:15 UTC" in json.loads(response.body)["error"]["message"]


@pytest.mark.parametrize("day", ["2026-13-01", "2026-02-30", "20261121", "yesterday", "2026-11-21T00:00"])
def test_a_bad_date_is_400(client, day):
    response = client.http.get(f"/exports/{day}", headers=bearer(token_with("export")))
    assert_error(response, 400, "invalid_date")


def test_the_scope_is_checked_before_the_date(client):
    response = client.http.get("/exports/yesterday", headers=bearer(token_with("read")))
    assert_error(response, 403, "insufficient_scope")


def test_a_day_whose_rewrite_is_pending_gets_no_links(client):
    """An erasure marked the day: its files may still hold the customer until the export function has run."""
    export_day(DAY)
    rewrite.mark_pending([DAY])

    response = client.http.get("/exports/2026-11-21", headers=bearer(token_with("export")))

    assert_error(response, 409, "export_rewrite_pending")
    assert response.headers["Retry-After"] == str(rewrite.RETRY_AFTER_SECONDS)
    assert "X-Amz-Signature" not in response.body.decode()
    rewrite.rewrite_pending()
    assert client.http.get("/exports/2026-11-21", headers=bearer(token_with("export"))).status_code == 200


def test_a_pending_mark_on_a_day_without_an_export_is_still_404(client):
    rewrite.mark_pending([], upcoming=[DAY])
    assert_error(
        client.http.get("/exports/2026-11-21", headers=bearer(token_with("export"))), 404, "export_not_found"
    )


def test_a_bad_date_is_not_echoed_back(client):
    response = client.http.get(f"/exports/{'9' * 5000}", headers=bearer(token_with("export")))

    assert_error(response, 400, "invalid_date")
    assert "9999" not in response.json_body["error"]["message"]
