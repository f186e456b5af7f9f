"""Channel type → its implementation. Adding a channel: one module, one fixture folder, one line here, and
one table in tests/channels/ (README, "Webhook sources").

A channel's module is imported on the first use of its type, not when the package is: a function serving
one platform's webhooks loads that platform only, and the analyze and export functions none.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from chalicelib.channels.base import Channel

# type → "module:Class"; a test imports every line and checks the class's own `type` matches its key.
CHANNEL_CLASSES: dict[str, str] = {
    "webhook": "chalicelib.channels.webhook:StandardWebhooksChannel",
    "slack": "chalicelib.channels.slack:SlackChannel",
    "x": "chalicelib.channels.x:XChannel",
    "telegram": "chalicelib.channels.telegram:TelegramChannel",
    "trustpilot": "chalicelib.channels.trustpilot:TrustpilotChannel",
    "meta": "chalicelib.channels.meta:MetaChannel",
    "instagram": "chalicelib.channels.instagram:InstagramChannel",
    "whatsapp": "chalicelib.channels.whatsapp:WhatsAppChannel",
    "typeform": "chalicelib.channels.typeform:TypeformChannel",
    "zendesk": "chalicelib.channels.zendesk:ZendeskChannel",
    "intercom": "chalicelib.channels.intercom:IntercomChannel",
}


class LazyChannels(Mapping[str, Channel]):
    """The registered channels by type, each imported and built on its first lookup, then kept."""

    def __init__(self, classes: Mapping[str, str]) -> None:
        self._classes = dict(classes)
        self._loaded: dict[str, Channel] = {}

    def __getitem__(self, source_type: str) -> Channel:
        channel = self._loaded.get(source_type)
        if channel is None:
            module_name, class_name = self._classes[source_type].split(":")
            channel = getattr(importlib.import_module(module_name), class_name)()
            self._loaded[source_type] = channel
        return channel

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def loaded(self) -> frozenset[str]:
        """The types whose module this process has imported through the registry."""
        return frozenset(self._loaded)


CHANNELS = LazyChannels(CHANNEL_CLASSES)


def channel_for(source_type: str) -> Channel | None:
    """The channel implementing a source type, or None for a type this version does not know."""
    return CHANNELS.get(source_type)
