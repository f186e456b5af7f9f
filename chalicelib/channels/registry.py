"""Channel type → its implementation. Adding a channel: one module, one fixture folder, one line here."""

from __future__ import annotations

from chalicelib.channels.base import Channel
from chalicelib.channels.webhook import StandardWebhooksChannel

CHANNELS: dict[str, Channel] = {channel.type: channel for channel in (StandardWebhooksChannel(),)}


def channel_for(source_type: str) -> Channel | None:
    """The channel implementing a source type, or None for a type this version does not know."""
    return CHANNELS.get(source_type)
