"""Routes for browsers: `GET /widget.js`, `GET /f/{form_id}` (+ `/thanks`), `GET /dashboard` with its
assets (the dashboard's figures come from the read API's `GET /stats`).

Static files live beside this module and are read once per process. widget.js is cached by browsers and
CDNs for a few minutes and revalidated by ETag, so a new release reaches every host page within minutes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.http import ANY_CONTENT, NotFound, json_errors
from chalicelib.web.html import html_response

web_api = Blueprint(__name__)

WEB_DIR = Path(__file__).resolve().parent
# name → content type; nothing else in the folder is served.
ASSETS = {
    "dashboard.js": "application/javascript; charset=utf-8",
    "dashboard-charts.js": "application/javascript; charset=utf-8",
    "dashboard-themes.js": "application/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
WIDGET_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
ASSET_CACHE_CONTROL = "public, max-age=300"


# Where widget.js takes its translations: the one table strings.json, put in as served.
STRINGS_SLOT = "/*STRINGS*/{ en: {} }"
# A comment filling whole lines of widget.js (never code: no line of its code or CSS starts with // or /*).
_COMMENT_LINES = re.compile(r"^\s*(?://[^\n]*|/\*(?:(?!\*/).)*\*/\s*)$\n?", re.MULTILINE | re.DOTALL)


# Texts only the server words (the API's messages, the hosted page's steps without JavaScript and its
# thank-you and error pages): the widget never shows them, so they stay out of every visitor's download.
SERVER_ONLY_STRINGS = re.compile(r"msg_.*|thanks_page|another|preview|next|your_rating|change")


def widget_strings(strings: dict) -> str:
    """The translations table as widget.js carries it: the texts it shows, as compact JSON."""
    shown = {
        language: {key: text for key, text in texts.items() if not SERVER_ONLY_STRINGS.fullmatch(key)}
        for language, texts in strings.items()
    }
    return json.dumps(shown, ensure_ascii=False, separators=(",", ":"))


def served_widget(source: str, strings: dict) -> str:
    """widget.js as served: the translations it shows put in, whole-line comments and indentation left out
    (the file stays readable and commented; browsers get ~20% fewer bytes, with no build step)."""
    text = source.replace(STRINGS_SLOT, widget_strings(strings))
    text = _COMMENT_LINES.sub("", text)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip()) + "\n"


@functools.cache
def asset(name: str) -> tuple[str, str]:
    """(text, strong ETag) of a file in this folder, read once (widget.js with its translations in)."""
    text = (WEB_DIR / name).read_text(encoding="utf-8")
    if name == "widget.js":
        text = served_widget(text, json.loads((WEB_DIR / "strings.json").read_text(encoding="utf-8")))
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def _static(
    name: str, content_type: str, cache_control: str, extra: dict[str, str] | None = None
) -> Response:
    text, etag = asset(name)
    headers = {
        "Content-Type": content_type,
        "Cache-Control": cache_control,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        **(extra or {}),
    }
    if_none_match = web_api.current_request.headers.get("if-none-match", "")
    if etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=text, status_code=200, headers=headers)


@web_api.route("/widget.js", methods=["GET"], content_types=ANY_CONTENT)
def widget_js() -> Response:
    """The embeddable widget: plain JavaScript, loadable from any site."""
    return _static(
        "widget.js",
        "application/javascript; charset=utf-8",
        WIDGET_CACHE_CONTROL,
        {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"},
    )


@web_api.route("/assets/{name}", methods=["GET"], content_types=ANY_CONTENT)
@json_errors
def static_asset(name: str) -> Response:
    """The dashboard's script and stylesheet."""
    if name not in ASSETS:
        raise NotFound("No such asset.")  # never echo an unbounded path segment
    return _static(name, ASSETS[name], ASSET_CACHE_CONTROL)


@web_api.route("/dashboard", methods=["GET"], content_types=ANY_CONTENT)
def dashboard() -> Response:
    """The dashboard shell; its script asks for a read token and calls /stats and the read API."""
    text, _ = asset("dashboard.html")
    return html_response(text)
