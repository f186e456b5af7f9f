"""What a browser downloads for the widget: widget.js as served (its seven languages in) gzipped, against the
12 KB budget, and the public form config with and without every branding, text and display option set.

Computed from the served bytes (no timing): `gzip -9`, as a CDN would at most compress them.
"""

from __future__ import annotations

import gzip
import json

from chalicelib.forms.config import FormConfig
from chalicelib.forms.routes import public_config
from chalicelib.web.routes import WEB_DIR, asset, widget_strings

WIDGET_BUDGET_BYTES = 12 * 1024
# A form using every option, as a team might set it up.
BRANDED_FORM = {
    "form_id": "bench-brand",
    "name": "Checkout CSAT",
    "rating_scale": "csat",
    "csat_style": "faces",
    "branding": {
        "accent_color": "#0f7b3a",
        "button_label": "Tell us",
        "position": "bottom-left",
        "logo_url": "https://cdn.example.com/logo.svg",
        "intro": "Two minutes, promise.",
        "privacy_note": "We only use your email to reply.",
        "privacy_url": "https://shop.example.com/privacy",
    },
    "strings": {"fr": {"send": "Envoyer", "follow_up_negative": "Qu'est-ce qui n'a pas marché ?"}},
    "follow_up": {"negative": "What went wrong?", "positive": "What did you like most?"},
    "display": {"delay_seconds": 10, "scroll_percent": 40, "include_urls": ["https://shop.example.com/*"]},
}


def _gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


def widget_size_figures() -> dict[str, int]:
    """Bytes: the source file, as served, served gzipped, the strings table gzipped, public configs."""
    served = asset("widget.js")[0].encode()
    strings = json.loads((WEB_DIR / "strings.json").read_bytes())
    plain = FormConfig(form_id="bench-plain", name="NPS")
    branded = FormConfig.model_validate(BRANDED_FORM)
    return {
        "source": len((WEB_DIR / "widget.js").read_bytes()),
        "served": len(served),
        "served_gzip": _gzipped(served),
        "strings_gzip": _gzipped(widget_strings(strings).encode()),
        "config_plain": len(json.dumps(public_config(plain)).encode()),
        "config_branded": len(json.dumps(public_config(branded)).encode()),
    }


def widget_size_section() -> list[str]:
    """The BENCHMARKS.md lines."""
    figures = widget_size_figures()
    return [
        "| what | bytes |",
        "|---|---:|",
        f"| widget.js source (commented) | {figures['source']:,} |",
        f"| widget.js served (translations in, comment lines and indentation out) | {figures['served']:,} |",
        f"| widget.js served, gzip -9 (budget {WIDGET_BUDGET_BYTES:,}) | {figures['served_gzip']:,} |",
        f"| of which its 7-language strings table, gzip -9 alone | {figures['strings_gzip']:,} |",
        f"| `GET /forms/{{id}}` body, a form with defaults | {figures['config_plain']:,} |",
        f"| `GET /forms/{{id}}` body, every option set | {figures['config_branded']:,} |",
        "",
        "The form POST is unchanged: one SQS send (the requests table's ack rows); the follow-up question is",
        "looked up in the cached form config, not fetched.",
    ]
