"""Fixtures for the browser tests: the real local stack (`python -m chalicelib.local`, as `make run` starts
it), host pages on another origin (a small http.server), and Debian's Chromium driven by Playwright.

Chromium comes from Debian (`make browser` installs it); Playwright's own browser download is never used.
Without /usr/bin/chromium these tests are skipped, except in CI (CI=true), where that is a failure.

UPDATE_BASELINES=1 rewrites the screenshot baselines in tests/browser/baselines/; UPDATE_SCREENSHOTS=1 writes
the README's screenshots into docs/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from tools.local_process import free_port, start_reading_banner, stop

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).resolve().parent / "pages"
BASELINES = Path(__file__).resolve().parent / "baselines"
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As the machine notes say: without the background-networking flags Chromium keeps calling home, and this
# machine's closed network refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
EXPECT_TIMEOUT_MS = 20_000  # a loaded 2-core runner can take 10 s to answer the first /stats
STACK_START_SECONDS = 60
STORE_WAIT_SECONDS = 30
OUTBOX_KEY = "feedback-widget:outbox"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@dataclass
class LocalStack:
    """The running local stack: its API, its moto endpoint, the read token it printed."""

    api: str
    moto_port: int
    env: dict[str, str]
    read_token: str
    banner: str

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return self.run_module("chalicelib.cli", *args, "--local")

    def run_module(self, module: str, *args: str) -> subprocess.CompletedProcess:
        """`python -m module args…` against this stack (its environment), output captured."""
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def stored(self, day: str | None = None) -> list[dict[str, Any]]:
        """Every item stored on a day (today), read with `feedback list --local --json`."""
        listing = self.cli("feedback", "list", "--date", day or today(), "--json")
        assert listing.returncode == 0, listing.stderr
        return [json.loads(line) for line in listing.stdout.splitlines()]

    def wait_for_items(
        self, keep: Callable[[dict[str, Any]], bool], count: int = 1, seconds: float = STORE_WAIT_SECONDS
    ) -> list[dict[str, Any]]:
        """The stored items `keep` selects, once there are at least `count` (the poller analyses within a
        couple of seconds); fails after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            items = [item for item in self.stored() if keep(item)]
            if len(items) >= count or time.monotonic() > deadline:
                assert len(items) >= count, f"expected {count} stored item(s), found {items}"
                return items
            time.sleep(0.3)

    def sqs(self) -> Any:
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=f"http://127.0.0.1:{self.moto_port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def wait_until_queue_drained(self, seconds: float = STORE_WAIT_SECONDS) -> None:
        """Until the poller has processed (and deleted) every queued delivery."""
        sqs = self.sqs()
        url = sqs.get_queue_url(QueueName="feedback-ingest-local")["QueueUrl"]
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        deadline = time.monotonic() + seconds
        while True:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if all(attributes[name] == "0" for name in names):
                return
            assert time.monotonic() < deadline, f"the ingest queue still holds {attributes}"
            time.sleep(0.2)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


@pytest.fixture(scope="package")
def local_stack(chromium_path: str) -> Iterator[LocalStack]:
    """`python -m chalicelib.local` on free ports, shared by the browser tests, stopped after them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "INGEST_", "TABLE_", "EXPORT_", "PARAMETER_", "STAGE"))
    }
    moto_port, port = free_port(), free_port()
    env.update(
        {
            "MOTO_PORT": str(moto_port),
            "PORT": str(port),
            "DEMO_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    process, text = start_reading_banner(env, STACK_START_SECONDS)
    assert "Serving on" in text, text
    # Keep reading its output so the pipe never fills up and blocks the server.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    token = re.search(r"/dashboard#token=(\S+)", text)
    assert token, text
    yield LocalStack(f"http://127.0.0.1:{port}", moto_port, env, token.group(1), text)
    stop(process, timeout=20)


@dataclass
class HostSite:
    """Host pages on another origin than the API: tests/browser/pages/<name>.html, {{API}} and {{FORM}}
    filled in."""

    port: int

    def url(self, page: str, form: str = "demo", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{page}?form={form}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# A host page's own stylesheet must be text/css, or the browser ignores it.
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8"}


@pytest.fixture(scope="package")
def host_site(local_stack: LocalStack) -> Iterator[HostSite]:
    api = local_stack.api

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = PAGES / parts.path.lstrip("/")
            if parts.path.count("/") != 1 or not path.is_file():
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            form = parse_qs(parts.query).get("form", ["demo"])[0]
            if not re.fullmatch(r"[A-Za-z0-9_-]+", form):
                self.send_error(HTTPStatus.BAD_REQUEST)
                return
            body = path.read_text().replace("{{API}}", api).replace("{{FORM}}", form).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPES.get(path.suffix, CONTENT_TYPES[".html"]))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HostSite(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Any]:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


CONTEXT_OPTIONS: dict[str, Any] = {
    "viewport": {"width": 1000, "height": 800},
    "device_scale_factor": 1,
    "locale": "en-US",
    "timezone_id": "UTC",
    "color_scheme": "light",
    "reduced_motion": "reduce",
}


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    """Makes browser contexts (own storage each) and closes them after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(**{**CONTEXT_OPTIONS, **options})
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Any:
    """A page in a fresh context; page errors fail the test."""
    page = new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, errors


def save_screenshot(locator_or_page: Any, name: str, **options: Any) -> None:
    """With UPDATE_SCREENSHOTS=1, the README's screenshot docs/<name>."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        locator_or_page.screenshot(path=str(DOCS / name), **options)
