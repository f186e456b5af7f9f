"""One HTTP POST to a subscriber, with the guards a sender owes the network it runs in.

Written on the standard library's http.client rather than a client package because it must pin the
connection to the address it checked: the host is resolved once, every address it resolves to must be public
(on AWS: never private, loopback, link-local or reserved, so a subscriber cannot aim us at the VPC or the
instance metadata service, including by DNS rebinding), and the socket connects to that address while TLS
still verifies the host name. http.client never follows a redirect: a 3xx is reported as a failure.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.http import retry_after_seconds

DEFAULT_TIMEOUT_SECONDS = 15.0  # the time a receiver gets to answer, as Svix allows
MAX_ERROR_BODY = 512
Resolver = Callable[[str, int], list[str]]


# What `post` raises besides TargetRefused: the network's errors, and an answer that is not HTTP or is cut
# short (http.client.BadStatusLine from, say, an SSH or TLS port; IncompleteRead), which are not OSErrors.
NETWORK_ERRORS = (OSError, http.client.HTTPException)


class TargetRefused(Exception):
    """The URL points somewhere a delivery must not go (nothing was sent)."""


@dataclass(frozen=True)
class Response:
    status: int
    latency_ms: int
    retry_after_seconds: float | None = None
    body_excerpt: str = ""


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def allowed_address(address: str, allow_loopback: bool) -> bool:
    """Whether a delivery may connect to `address`: public addresses only (loopback too, locally)."""
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_loopback: bool,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    resolver: Resolver = resolve,
) -> Response:
    """POST `body` to `url`; raises TargetRefused (nothing sent) or one of NETWORK_ERRORS."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TargetRefused("not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise TargetRefused("the host does not resolve")
    refused = [a for a in addresses if not allowed_address(a, allow_loopback)]
    if refused:
        raise TargetRefused("the host resolves to a private, loopback or link-local address")
    pinned = addresses[0]
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, port, timeout=timeout)
    # Connect to the address checked above; the Host header and TLS (SNI, certificate) keep the name.
    connection._create_connection = lambda _address, *args, **kwargs: socket.create_connection(  # type: ignore[attr-defined]
        (pinned, port), timeout
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        connection.request("POST", path, body=body, headers={**headers, "content-length": str(len(body))})
        response = connection.getresponse()
        excerpt = response.read(MAX_ERROR_BODY).decode("utf-8", "replace")
        return Response(
            status=response.status,
            latency_ms=round((time.monotonic() - started) * 1000),
            retry_after_seconds=retry_after_seconds(response.getheader("retry-after")),
            body_excerpt=excerpt,
        )
    finally:
        connection.close()
