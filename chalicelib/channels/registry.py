"""Channel type → its implementation. Adding a channel: one module, one fixture folder, one line here, and
one table in tests/channels/ (README, "Webhook sources")."""

from __future__ import annotations

from chalicelib.channels.base import Channel
from chalicelib.channels.instagram import InstagramChannel
from chalicelib.channels.intercom import IntercomChannel
from chalicelib.channels.meta import MetaChannel
from chalicelib.channels.slack import SlackChannel
from chalicelib.channels.telegram import TelegramChannel
from chalicelib.channels.trustpilot import TrustpilotChannel
from chalicelib.channels.typeform import TypeformChannel
from chalicelib.channels.webhook import StandardWebhooksChannel
from chalicelib.channels.whatsapp import WhatsAppChannel
from chalicelib.channels.x import XChannel
from chalicelib.channels.zendesk import ZendeskChannel

CHANNELS: dict[str, Channel] = {
    channel.type: channel
    for channel in (
        StandardWebhooksChannel(),
        SlackChannel(),
        XChannel(),
        TelegramChannel(),
        TrustpilotChannel(),
        MetaChannel(),
        InstagramChannel(),
        WhatsAppChannel(),
        TypeformChannel(),
        ZendeskChannel(),
        IntercomChannel(),
    )
}


def channel_for(source_type: str) -> Channel | None:
    """The channel implementing a source type, or None for a type this version does not know."""
    return CHANNELS.get(source_type)
