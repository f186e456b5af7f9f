"""The synthetic mix's language evidence: which form each response is posted to (one with a default language,
or the demo form without) and the Accept-Language its browser sends, stated in the report beside the units."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_LANGUAGE_FORM = "bench-en"  # a form configured with default_language "en"
PLAIN_FORM = "demo"  # the demo form: no default language
DEFAULT_FORM_SHARE = 0.2  # responses posted to the form with a default language
ACCEPT_LANGUAGE_SHARE = 0.6  # POSTs carrying the browser's Accept-Language (widget, hosted page)
BROWSER_LANGUAGES = ("en-US,en;q=0.9", "en-GB,en;q=0.8", "en", "es-ES,es;q=0.9,en;q=0.5")


@dataclass(frozen=True)
class AckContext:
    """Where one response is posted and with which headers."""

    form_id: str
    accept_language: str | None

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.accept_language:
            headers["accept-language"] = self.accept_language
        return headers


def ack_contexts(count: int, seed: int = 11) -> list[AckContext]:
    """Each response's form and Accept-Language, drawn independently of its text (seeded)."""
    rng = random.Random(seed)
    contexts = []
    for _ in range(count):
        form_id = DEFAULT_LANGUAGE_FORM if rng.random() < DEFAULT_FORM_SHARE else PLAIN_FORM
        browser = rng.choice(BROWSER_LANGUAGES) if rng.random() < ACCEPT_LANGUAGE_SHARE else None
        contexts.append(AckContext(form_id, browser))
    return contexts


def save_default_language_form() -> None:
    """Configure the bench's form with a default language (before the ack phase, in the moto stack)."""
    from chalicelib.forms import records as form_store
    from chalicelib.forms.config import FormConfig

    form_store.save(FormConfig(form_id=DEFAULT_LANGUAGE_FORM, name="Bench (English)", default_language="en"))
    form_store.get_cached(DEFAULT_LANGUAGE_FORM)  # loaded once here, as after a Lambda's first request


def mix_line(responses: Sequence[dict[str, Any]], contexts: Sequence[AckContext]) -> str:
    """The synthetic mix stated: what language evidence the comments arrive with (each by the first that
    applies: the response's own language, the form's default, the browser's Accept-Language, none)."""
    from tools.bench.synthetic import DIGIT_COMMENT_SHARE, PII_COMMENT_SHARE

    given = default = browser = unknown = 0
    for response, context in zip(responses, contexts, strict=True):
        if not response.get("comment"):
            continue
        if response.get("language"):
            given += 1
        elif context.form_id == DEFAULT_LANGUAGE_FORM:
            default += 1
        elif context.accept_language:
            browser += 1
        else:
            unknown += 1
    total = max(1, given + default + browser + unknown)
    return (
        f"Synthetic mix ({total} comments): language given by the response {given / total:.0%}, "
        f"form default language {default / total:.0%}, browser Accept-Language only {browser / total:.0%}, "
        f"no evidence {unknown / total:.0%}; {PII_COMMENT_SHARE:.0%} carry the writer's email or phone, "
        f"{DIGIT_COMMENT_SHARE:.0%} harmless digits. The local detector decides where it is confident; the "
        "default language, then Accept-Language, only where it is unsure; Comprehend detects the rest."
    )
