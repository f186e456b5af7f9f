"""Pull source type → its platform, imported on first use (like channels/registry.py)."""

from __future__ import annotations

import importlib
from functools import cache

from chalicelib.channels.pull.base import PullPlatform

PULL_CLASSES: dict[str, str] = {
    "google_play": "chalicelib.channels.pull.google_play:GooglePlay",
    "app_store": "chalicelib.channels.pull.app_store:AppStore",
    "google_business": "chalicelib.channels.pull.google_business:GoogleBusiness",
}
PULL_TYPES = frozenset(PULL_CLASSES)


@cache
def platform_for(source_type: str) -> PullPlatform:
    module_name, class_name = PULL_CLASSES[source_type].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
