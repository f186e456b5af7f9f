"""The headers every HTML page gets: a Content-Security-Policy allowing only this API's own scripts, styles
(plus a page's inline style, by nonce) and requests, no framing, no caching."""

from __future__ import annotations

from chalice import Response

HTML_TYPE = "text/html; charset=utf-8"


def content_security_policy(nonce: str | None = None, image_origins: tuple[str, ...] = ()) -> str:
    """The CSP of an HTML page: nothing but this origin's scripts, styles and API (and images from
    `image_origins`, e.g. a form's logo host); no framing."""
    style = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    images = " ".join(("'self'", "data:", *image_origins))
    return (
        "default-src 'none'; script-src 'self'; "
        f"style-src {style}; connect-src 'self'; img-src {images}; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def html_response(
    body: str, status: int = 200, nonce: str | None = None, image_origins: tuple[str, ...] = ()
) -> Response:
    """An HTML page with its security headers; pages are per-request (nonce), so never cached."""
    return Response(
        body=body,
        status_code=status,
        headers={
            "Content-Type": HTML_TYPE,
            "Content-Security-Policy": content_security_policy(nonce, image_origins),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Cache-Control": "no-store",
        },
    )
