"""The widget demo host page `make run` serves on a second port: a customer's site on another origin than the
API, embedding the widget as a floating button (`/`) or inline (`/inline`)."""

from __future__ import annotations

import threading
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

TEMPLATE = Path(__file__).resolve().parent / "demo.html"
PAGES = {
    "/": (
        "A floating feedback button",
        "<p>The <strong>Feedback</strong> button in the corner opens the form.</p>",
    ),
    "/inline": (
        "An inline feedback form",
        "<p>The form renders where the page puts <code>&lt;div data-feedback-form&gt;</code>:</p>"
        "<div data-feedback-form></div>",
    ),
}


def render(path: str, api_base: str, form_id: str, host: str) -> str | None:
    """The demo page at `path`, or None for any other path."""
    page = PAGES.get(path)
    if page is None:
        return None
    title, body = page
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in {"TITLE": escape(title), "API": escape(api_base), "FORM": escape(form_id)}.items():
        text = text.replace("{{" + name + "}}", value)
    return text.replace("{{HOST}}", escape(host)).replace("{{BODY}}", body)


class DemoHandler(BaseHTTPRequestHandler):
    """Serves the two demo pages; quiet (no access log)."""

    api_base: ClassVar[str] = ""
    form_id: ClassVar[str] = ""

    def do_GET(self) -> None:
        """Answer one of PAGES, or 404."""
        host = self.headers.get("host", "")
        page = render(self.path.split("?", 1)[0], self.api_base, self.form_id, host)
        status = HTTPStatus.OK if page is not None else HTTPStatus.NOT_FOUND
        body = (page or "Not found").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if page else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """No access log: the API's own log is what matters."""


def serve_demo(api_base: str, form_id: str, port: int, address: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the demo host site in a daemon thread; `server.shutdown()` stops it."""
    handler = type("BoundDemoHandler", (DemoHandler,), {"api_base": api_base, "form_id": form_id})
    server = ThreadingHTTPServer((address, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="widget-demo", daemon=True).start()
    return server
