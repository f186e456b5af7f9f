"""The browser-facing routes without a browser: per-form CORS, the public form config, the hosted page (HTML
escaping, the no-JavaScript post and its errors), widget.js (headers, size budget) and the dashboard shell
(GET /stats: test_stats_api.py). The same features in a real browser: tests/browser/."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from urllib.parse import urlencode

import pytest

from chalicelib import aws
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.auth import tokens
from chalicelib.forms import pages
from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.ingest import processing
from chalicelib.ingest.queue import decode_events
from chalicelib.models import Channel, RatingScale
from chalicelib.web import demo
from chalicelib.web.routes import WEB_DIR, asset

WIDGET_BUDGET_BYTES = 12 * 1024  # minified + gzip, per the issue; we measure gzip of the served bytes
SHOP = "https://shop.example.com"
HOST = "api.example.com"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
URLENCODED = "application/x-www-form-urlencoded"


def post_json(client, form_id: str, body: dict, headers: dict | None = None):
    return client.http.post(
        f"/forms/{form_id}/responses",
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(body).encode(),
    )


def post_hosted(client, form_id: str, fields: dict, headers: dict | None = None):
    """What a browser sends when the hosted page's form is submitted without JavaScript."""
    return client.http.post(
        f"/forms/{form_id}/responses",
        headers={
            "content-type": URLENCODED,
            "accept": BROWSER_ACCEPT,
            "host": HOST,
            "origin": f"https://{HOST}",
            **(headers or {}),
        },
        body=urlencode({"_hosted": "1", **fields}).encode(),
    )


def options(client, path: str, origin: str):
    return client.http.request(
        "OPTIONS",
        path,
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )


# --- per-form CORS -------------------------------------------------------------------------------------


def test_preflight_for_a_form_open_to_any_site(client):
    response = options(client, "/forms/demo/responses", "https://anywhere.example")

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_preflight_names_an_allowed_origin_and_refuses_others(client, csat_form):
    allowed = options(client, f"/forms/{csat_form.form_id}/responses", SHOP)
    other = options(client, f"/forms/{csat_form.form_id}/responses", "https://evil.example")
    unknown = options(client, "/forms/nope/responses", SHOP)

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert allowed.headers["Vary"] == "Origin"
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.json_body["error"]["code"] == "origin_not_allowed"
    assert (unknown.status_code, unknown.json_body["error"]["code"]) == (404, "unknown_form")


def test_responses_carry_cors_headers_on_success_and_on_json_errors(client, stack, csat_form):
    origin = {"Origin": SHOP}
    accepted = post_json(client, csat_form.form_id, {"rating": 5, "email": "b@example.com"}, origin)
    refused = post_json(client, csat_form.form_id, {"rating": 9}, origin)
    anywhere = post_json(client, "demo", {"rating": 9}, {"Origin": "https://blog.example"})

    assert accepted.status_code == 202
    assert accepted.headers["Access-Control-Allow-Origin"] == SHOP
    assert refused.status_code == 422
    assert refused.headers["Access-Control-Allow-Origin"] == SHOP  # the widget can read the field errors
    assert set(refused.json_body["error"]["fields"]) == {"rating", "email"}
    assert anywhere.headers["Access-Control-Allow-Origin"] == "*"


def test_a_site_the_form_does_not_allow_gets_no_cors_header(client, stack, csat_form):
    response = post_json(client, csat_form.form_id, {"rating": 5}, {"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert stack.queue_depth() == 0


def test_cors_adds_no_aws_call_to_the_ack_path(client, stack, csat_form):
    calls: Counter[str] = Counter()

    def count(event_name: str, **kwargs) -> None:
        calls[event_name.split(".", 1)[1]] += 1

    for service in ("sqs", "dynamodb"):
        aws.client(service).meta.events.register("before-call", count)
    body, origin = {"rating": 4, "email": "c@example.com"}, {"Origin": SHOP}
    options(client, f"/forms/{csat_form.form_id}/responses", SHOP)  # the preflight warms the cache
    calls.clear()

    for _ in range(5):
        assert options(client, f"/forms/{csat_form.form_id}/responses", SHOP).status_code == 204
        assert post_json(client, csat_form.form_id, body, origin).status_code == 202

    assert calls == Counter({"sqs.SendMessage": 5})


# --- GET /forms/{form_id}: the widget's view of a form ----------------------------------------------------


def test_public_config_has_only_public_fields(client, csat_form):
    response = client.http.get(f"/forms/{csat_form.form_id}", headers={"Origin": SHOP})

    assert response.status_code == 200
    assert response.json_body == {
        "form_id": "csat-shop",
        "name": "Shop CSAT",
        "question": "How satisfied are you with your experience?",
        "low_label": "Very dissatisfied",
        "high_label": "Very satisfied",
        "rating_scale": "csat",
        "rating_min": 1,
        "rating_max": 5,
        "require_email": True,
        "branding": {"position": "bottom-right"},
        "strings": {},
        "follow_up": {},
        "csat_style": "numbers",
        "display": {
            "delay_seconds": 0,
            "scroll_percent": 0,
            "exit_intent": False,
            "include_urls": [],
            "exclude_urls": [],
            "sample_percent": 100.0,
            "snooze_days": 0,
        },
    }
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Cache-Control"] == "no-cache"


def test_a_browser_that_fetched_a_form_gets_its_change_within_the_config_cache(client, csat_form):
    # Cached with max-age=300 before: a visitor who loaded the form kept its old scale five minutes after the
    # change had reached the API, and the score they picked on it was refused.
    first = client.http.get(f"/forms/{csat_form.form_id}", headers={"Origin": SHOP})
    etag = first.headers["ETag"]
    unchanged = client.http.get(
        f"/forms/{csat_form.form_id}", headers={"Origin": SHOP, "If-None-Match": etag}
    )
    form_store.save(csat_form.model_copy(update={"rating_scale": RatingScale.NPS}))
    form_store.clear_cache()  # CONFIG_CACHE_SECONDS have passed
    changed = client.http.get(f"/forms/{csat_form.form_id}", headers={"Origin": SHOP, "If-None-Match": etag})

    assert first.headers["Cache-Control"] == unchanged.headers["Cache-Control"] == "no-cache"
    assert (unchanged.status_code, unchanged.body) == (304, b"")
    assert unchanged.headers["ETag"] == etag
    assert unchanged.headers["Access-Control-Allow-Origin"] == SHOP
    assert changed.status_code == 200
    assert (changed.json_body["rating_min"], changed.json_body["rating_max"]) == (0, 10)
    assert changed.headers["ETag"] != etag


def test_public_config_for_other_sites_and_unknown_forms(client, csat_form):
    other = client.http.get(f"/forms/{csat_form.form_id}", headers={"Origin": "https://evil.example"})
    unknown = client.http.get("/forms/nope", headers={"Origin": SHOP})
    open_form = client.http.get("/forms/demo", headers={"Origin": "https://anywhere.example"})

    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers
    assert unknown.status_code == 404
    assert unknown.json_body["error"]["code"] == "unknown_form"
    assert open_form.headers["Access-Control-Allow-Origin"] == "*"


# --- the hosted page ---------------------------------------------------------------------------------------


@pytest.fixture
def hostile_form(stack) -> FormConfig:
    """A form whose texts try to break out of the HTML they are put in."""
    form = FormConfig(
        form_id="hostile",
        name='Shop <script>alert("name")</script> & co',
        question="Rate us </legend><img src=x onerror=alert(1)>",
        low_label="</span><script>low()</script>",
        high_label='"><b>high',
        rating_scale=RatingScale.STARS,
        allowed_origins=[SHOP],
    )
    form_store.save(form)
    return form


def test_hosted_page_is_a_plain_html_form_with_a_strict_csp(client):
    response = client.http.get("/f/demo")
    html = response.body.decode()

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "form-action 'self'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<style nonce="{nonce}">' in html
    assert '<form class="card" method="post" action="../forms/demo/responses" novalidate>' in html
    assert '<input type="hidden" name="_hosted" value="1">' in html
    assert 'name="_hp" tabindex="-1"' in html  # the honeypot
    assert sorted(int(v) for v in re.findall(r'name="rating" value="(\d+)"', html)) == list(range(11))
    assert f'<script src="../widget.js" data-form="demo" nonce="{nonce}" async></script>' in html


def test_hosted_page_escapes_the_form_configuration(client, hostile_form):
    html = client.http.get("/f/hostile").body.decode()

    assert "<script>alert" not in html
    assert "<img" not in html
    assert "Shop &lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt; &amp; co" in html
    assert "Rate us &lt;/legend&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>" not in html and "low()</script>" not in html
    low = "&lt;/span&gt;&lt;script&gt;low()&lt;/script&gt;"
    assert f'<span class="lo" aria-hidden="true">{low}</span>' in html
    assert '<span class="hi" aria-hidden="true">&quot;&gt;&lt;b&gt;high</span>' in html
    assert html.count('<span aria-hidden="true">★</span>') == 5


def test_unknown_hosted_form_is_an_html_404(client):
    response = client.http.get("/f/nope")

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "does not exist" in response.body.decode()


def test_hosted_post_without_javascript_redirects_to_the_thank_you_page(client, stack):
    response = post_hosted(client, "demo", {"rating": "9", "comment": "Great", "email": "", "_hp": ""})

    assert response.status_code == 303
    assert response.headers["Location"] == "../../f/demo/thanks"  # relative: works under a stage prefix
    [event] = decode_events(stack.queued_bodies()[0])
    assert (event.rating, event.text) == (9, "Great")
    thanks = client.http.get("/f/demo/thanks")
    assert thanks.status_code == 200
    assert "Thank you" in thanks.body.decode()


def test_hosted_post_with_errors_shows_the_page_again_escaped_with_each_error_beside_its_field(client, stack):
    typed = '</textarea><script>alert("x")</script>'
    response = post_hosted(client, "demo", {"rating": "11", "comment": typed, "email": '"><b>bad'})
    html = response.body.decode()

    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Content-Security-Policy" in response.headers
    assert "<script>alert" not in html and "<b>bad" not in html
    assert "&lt;/textarea&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</textarea>" in html
    assert 'value="&quot;&gt;&lt;b&gt;bad"' in html
    email_error = "This is not a valid email address (like name@example.com)."
    assert f'<p class="err" id="email-error">{email_error}</p>' in html
    assert 'aria-invalid="true" aria-describedby="email-error"' in html
    # Re-rendered at /forms/demo/responses: links climb two levels.
    assert 'action="../../forms/demo/responses"' in html and 'src="../../widget.js"' in html

    out_of_range = post_hosted(client, "demo", {"rating": "11", "comment": "ok", "email": "a@example.com"})
    html = out_of_range.body.decode()
    assert '<p class="err" id="rating-error">Choose a rating from 0 to 10.</p>' in html
    assert '<fieldset aria-describedby="rating-error">' in html
    assert 'value="a@example.com"' in html
    assert stack.queue_depth() == 0


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def test_each_render_of_the_hosted_page_has_its_own_response_id_and_is_never_cached(client):
    first, second = client.http.get("/f/demo"), client.http.get("/f/demo")
    ids = [hidden_fields(page.body.decode()).get("response_id") for page in (first, second)]

    assert None not in ids and ids[0] != ids[1]
    assert all(re.fullmatch(r"[A-Za-z0-9_.:-]{8,100}", response_id) for response_id in ids)
    assert first.headers["Cache-Control"] == "no-store"


def test_a_double_submit_of_the_hosted_page_is_stored_once(client, stack):
    page = client.http.get("/f/demo").body.decode()
    fields = {**hidden_fields(page), "rating": "9", "comment": "Clicked twice", "email": "", "_hp": ""}

    first = post_hosted(client, "demo", fields)
    second = post_hosted(client, "demo", fields)  # the double click, or the browser's resubmit

    assert (first.status_code, second.status_code) == (303, 303)
    processing.analyze_and_store(stack.queued_bodies(), LexiconAnalyzer())
    assert stack.table_item_count() == 1


def test_a_refused_hosted_post_keeps_its_response_id_and_a_malformed_one_is_replaced(client, stack):
    page = client.http.get("/f/demo").body.decode()
    response_id = hidden_fields(page)["response_id"]

    refused = post_hosted(client, "demo", {"response_id": response_id, "rating": "11"})
    tampered = post_hosted(client, "demo", {"response_id": "not an id", "rating": "9"})

    assert refused.status_code == 422
    assert hidden_fields(refused.body.decode())["response_id"] == response_id
    assert tampered.status_code == 422
    fresh = hidden_fields(tampered.body.decode())["response_id"]
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{8,100}", fresh)
    assert "<p>The response id must be 8 to 100 characters" in tampered.body.decode()
    assert stack.queue_depth() == 0


def test_the_hosted_page_may_post_to_a_form_that_allows_other_sites_only(client, stack, csat_form):
    """The hosted page's own origin (the API's host) is always allowed; a foreign one is not."""
    own = post_hosted(client, csat_form.form_id, {"rating": "4", "email": "d@example.com"})
    foreign = post_hosted(
        client,
        csat_form.form_id,
        {"rating": "4", "email": "d@example.com"},
        {"origin": "https://evil.example"},
    )

    assert own.status_code == 303
    assert foreign.status_code == 403
    assert foreign.headers["Content-Type"].startswith("text/html")
    assert stack.queue_depth() == 1


def test_hosted_post_honeypot_and_unknown_form(client, stack):
    bot = post_hosted(client, "demo", {"rating": "9", "_hp": "http://spam.example"})
    unknown = post_hosted(client, "nope", {"rating": "9"})

    assert bot.status_code == 303
    assert unknown.status_code == 404
    assert "<h1>Sorry</h1>" in unknown.body.decode()
    assert stack.queue_depth() == 0


@pytest.mark.parametrize(
    ("label", "accept", "fields"),
    [
        ("fetch's default Accept", "*/*", {"_hosted": "1", "rating": "9"}),
        ("a JSON client", "application/json", {"_hosted": "1", "rating": "9"}),
        ("another site's HTML form", BROWSER_ACCEPT, {"rating": "9"}),
    ],
)
def test_json_clients_are_unchanged(client, stack, label, accept, fields):
    response = client.http.post(
        "/forms/demo/responses",
        headers={"content-type": URLENCODED, "accept": accept},
        body=urlencode(fields).encode(),
    )

    assert response.status_code == 202, label
    assert response.json_body["status"] == "queued"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),
        (None, False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0", False),
        ("text/html;q=oops, */*;q=0.1", False),
    ],
)
def test_prefers_html(accept, expected):
    assert pages.prefers_html(accept) is expected


# --- widget.js ---------------------------------------------------------------------------------------------


def test_widget_is_served_with_cache_headers_and_revalidates_by_etag(client):
    response = client.http.get("/widget.js")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert "max-age=" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag = response.headers["ETag"]
    again = client.http.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.body == b""


def test_widget_fits_the_size_budget():
    """The issue's budget is 12 KB minified + gzip. The widget is served as written (readable, commented,
    no build step), so gzip of the served bytes bounds the minified size from above."""
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        served = client.http.get("/widget.js").body
    compressed = len(gzip.compress(served, compresslevel=9))

    assert compressed <= WIDGET_BUDGET_BYTES, f"widget.js is {compressed} bytes gzipped"


def test_widget_carries_only_the_texts_it_shows():
    """The API's messages and the hosted page's steps without JavaScript are worded on the server: their
    seven translations are not in every visitor's download. Every text the widget's code reads is."""
    served, _ = asset("widget.js")
    table = json.loads(re.search(r"const STRINGS = (\{.*?\});\n", served).group(1))
    shipped = json.loads((WEB_DIR / "strings.json").read_text(encoding="utf-8"))
    server_only = ["msg_rating_required", "msg_email_invalid", "thanks_page", "another", "your_rating"]

    for language, texts in shipped.items():
        assert not {key: texts[key] for key in server_only if key in table[language]}, language
        assert table[language] == {key: text for key, text in texts.items() if key in table[language]}
    code = (WEB_DIR / "widget.js").read_text(encoding="utf-8")
    read = set(re.findall(r"\bt\.([a-z_]+)\b(?!\s*=)", code)) - {"question", "low_label", "high_label"}
    read -= {"button_label", "intro", "privacy_note"}  # the form's own, set from its config
    assert read and read <= set(table["en"]), read - set(table["en"])
    # The keys it builds: each scale's wording, the faces' names, "{n} star(s)".
    built = [key for key in shipped["en"] if key.startswith(("face_", "nps_", "csat_", "stars_", "star"))]
    assert len(built) == 16 and set(built) <= set(table["en"])


def test_widget_talks_only_to_its_own_api():
    """Static check (the browser tests check the requests): every fetch goes to the API it was loaded from."""
    source, _ = asset("widget.js")
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)

    assert re.findall(r"fetch\(([^,]+)", code) == [
        "entry.url",
        "API + '/forms/' + encodeURIComponent(formId)",
    ]
    assert "entry = { id: body.response_id, url: API + '/forms/'" in code
    assert not re.search(r"https?://", code)
    assert "innerHTML" not in code and "eval(" not in code


# --- the dashboard shell and its assets --------------------------------------------------------------------


def test_dashboard_shell_and_assets(client):
    page = client.http.get("/dashboard")
    script = client.http.get("/assets/dashboard.js")
    style = client.http.get("/assets/dashboard.css")
    missing = client.http.get("/assets/secrets.txt")

    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert '<script src="assets/dashboard.js"></script>' in page.body.decode()
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert style.headers["Content-Type"].startswith("text/css")
    assert missing.status_code == 404
    long_name = client.http.get("/assets/" + "x" * 2000)
    assert (long_name.status_code, long_name.json_body["error"]["code"]) == (404, "not_found")
    assert "xxxxxxxxxx" not in long_name.body.decode()  # not echoed


def test_every_script_and_stylesheet_the_dashboard_names_is_served(client):
    page = client.http.get("/dashboard").body.decode()
    named = re.findall(r'(?:src|href)="(assets/[^"]+)"', page)

    assert "assets/dashboard-themes.js" in named  # the themes panel, an asset of its own
    for path in named:
        answer = client.http.get("/" + path)
        assert answer.status_code == 200, path


def test_every_html_page_names_its_icon_so_no_browser_asks_for_favicon_ico(client):
    pages = {
        "dashboard": client.http.get("/dashboard").body.decode(),
        "hosted form": client.http.get("/f/demo").body.decode(),
        "demo site": demo.render("/", "http://127.0.0.1:8000", "demo", "127.0.0.1:8001") or "",
    }

    for name, page in pages.items():
        # An empty data: icon (every page's img-src allows it): without one, browsers GET /favicon.ico, a 404.
        assert '<link rel="icon" href="data:,">' in page, name


def _dashboard_choices(constant: str) -> list[str]:
    """The values of one of dashboard.js's option lists (`const CHANNELS = [...]`, `RATINGS`, …)."""
    script = (WEB_DIR / "dashboard.js").read_text(encoding="utf-8")
    block = re.search(rf"const {constant} = \[(.*?)\];", script, re.DOTALL)
    assert block, f"dashboard.js has no {constant} list"
    return re.findall(r"\[?'([a-z_:0-9]+)'", block.group(1))


def test_every_filter_choice_the_dashboard_offers_is_one_the_read_api_takes(client, stack):
    """A channel the dashboard lists under a name of its own (business_profile for google_business) answered
    every view filtered by it with 400."""
    tokens.clear_cache()
    token, _ = tokens.create_token("dashboard", ["read"])
    offered = {"channel": _dashboard_choices("CHANNELS"), "language": _dashboard_choices("LANGUAGES")}
    offered["rating"] = [f"{scale}:{n}" for scale in ("csat", "stars") for n in range(1, 6)]
    offered["rating"] += _dashboard_choices("RATINGS")
    assert sorted(offered["channel"]) == sorted(channel.value for channel in Channel)

    refused = {}
    for name, values in offered.items():
        for value in values:
            for path in ("/feedback", "/stats"):
                if path == "/stats" and name != "channel":
                    continue  # /stats answers the listing-only filters with 400 by design
                answer = client.http.get(
                    f"{path}?{urlencode({name: value})}", headers={"Authorization": f"Bearer {token}"}
                )
                if answer.status_code != 200:
                    refused[f"{path} {name}={value}"] = answer.json_body["error"]["message"]
    tokens.clear_cache()
    assert refused == {}


# --- the demo host page of `make run` ----------------------------------------------------------------------


def test_demo_pages_embed_the_widget_from_the_api():
    floating = demo.render("/", "http://127.0.0.1:8000", "demo", "127.0.0.1:8001")
    inline = demo.render("/inline", "http://127.0.0.1:8000", "demo", "127.0.0.1:8001")

    assert '<script src="http://127.0.0.1:8000/widget.js" data-form="demo" async></script>' in floating
    assert "<div data-feedback-form></div>" in inline
    assert "data-feedback-form></div>" not in floating
    assert demo.render("/secret", "http://x", "demo", "h") is None


def test_a_hosted_post_of_a_long_comment_in_any_script_is_stored(client, stack):
    # The textarea takes 10,000 characters; 10,000 CJK characters are 90,000 bytes percent-encoded, which
    # the old 64 KiB limit answered with a JSON 413 in the visitor's browser, their words lost.
    comment = "配送が遅れましたが対応は丁寧でした" * 588 + "以上です"
    assert len(comment) == 10_000

    response = post_hosted(client, "demo", {"rating": "6", "comment": comment, "email": "ken@example.jp"})

    assert response.status_code == 303
    [event] = decode_events(stack.queued_bodies()[0])
    assert event.text == comment
