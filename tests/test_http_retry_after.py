"""The one `Retry-After` reader (chalicelib/http.py, RFC 9110 §10.2.3) and the three clients that wait on it:
the HubSpot and Salesforce clients and outbound webhooks' transport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import pytest

from chalicelib.crm import hubspot_api, salesforce_api
from chalicelib.crm.transport import MAX_WAIT_SECONDS, backoff_seconds
from chalicelib.http import retry_after_seconds
from chalicelib.outbound import transport
from tools.fakes.base import LoopbackServer

NOW = datetime(2026, 12, 5, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("120", 120.0), (" 7 ", 7.0), ("0042", 42.0)])
def test_delay_seconds_are_read_as_seconds(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "Sat, 05 Dec 2026 01:01:30 GMT",  # IMF-fixdate, the form senders must use
        "Saturday, 05-Dec-26 01:01:30 GMT",  # obsolete RFC 850
        "Sat Dec  5 01:01:30 2026",  # obsolete asctime (no zone: GMT)
    ],
)
def test_each_http_date_form_is_the_time_left_until_it(value):
    assert retry_after_seconds(value, now=NOW) == 90.0


def test_a_date_in_the_past_means_retry_now():
    assert retry_after_seconds("Sat, 05 Dec 2026 00:59:00 GMT", now=NOW) == 0.0
    assert retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT") == 0.0


def test_without_now_a_date_is_measured_from_the_wall_clock():
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55.0 <= (retry_after_seconds(in_a_minute) or 0) <= 60.0


UNREADABLE = [
    None,
    "",
    "   ",
    "soon",
    "-5",
    "1.5",
    "+3",
    "1e3",
    "٣",
    "²",
    "Wed, 21 Oct",
    "Sat, 32 Dec 2026 GMT",
]


@pytest.mark.parametrize("value", UNREADABLE)
def test_absent_or_unreadable_is_none(value):
    assert retry_after_seconds(value, now=NOW) is None


def test_hubspot_waits_what_retry_after_says_in_either_form_else_its_window_else_a_second():
    in_30s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert hubspot_api._retry_after({"retry-after": "7"}) == 7.0
    assert 25.0 <= hubspot_api._retry_after({"retry-after": in_30s}) <= 30.0
    window = {"x-hubspot-ratelimit-interval-milliseconds": "10000"}
    assert hubspot_api._retry_after({"retry-after": "later", **window}) == 10.0
    assert hubspot_api._retry_after({}) == 1.0
    assert hubspot_api._retry_after({"retry-after": "86400"}) == MAX_WAIT_SECONDS


def test_salesforce_waits_what_retry_after_says_in_either_form_else_backs_off():
    in_30s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert salesforce_api._retry_after({"retry-after": "3"}, attempt=2) == 3.0
    assert 25.0 <= salesforce_api._retry_after({"retry-after": in_30s}, attempt=0) <= 30.0
    assert salesforce_api._retry_after({"retry-after": "Sun, 06 Nov 1994 08:49:37 GMT"}, attempt=4) == 0.0
    assert salesforce_api._retry_after({"retry-after": "nope"}, attempt=2) == backoff_seconds(2)
    assert salesforce_api._retry_after({"retry-after": "86400"}, attempt=0) == MAX_WAIT_SECONDS


class _BusyHandler(BaseHTTPRequestHandler):
    retry_after = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(429)
        self.send_header("Retry-After", self.retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.mark.parametrize("form", ["delay-seconds", "HTTP-date", "garbage"])
def test_an_outbound_delivery_reports_the_receivers_retry_after(form):
    value = {
        "delay-seconds": "120",
        "HTTP-date": format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True),
        "garbage": "in a while",
    }[form]
    handler = type("Handler", (_BusyHandler,), {"retry_after": value})
    with LoopbackServer(handler) as server:
        response = transport.post(f"{server.url}/hook", b"{}", {}, allow_loopback=True)
    assert response.status == 429
    if form == "garbage":
        assert response.retry_after_seconds is None
    else:
        assert 115.0 <= (response.retry_after_seconds or 0) <= 120.0
