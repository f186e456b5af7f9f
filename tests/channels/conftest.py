"""The fixtures every channel test module uses: `channel_harness`, and `harness` for its own table."""

from __future__ import annotations

import pytest

from tests.channels.harness import ChannelHarness, ChannelTable


@pytest.fixture
def channel_harness(client, stack, monkeypatch):
    def make(channel_type, secrets, settings=None) -> ChannelHarness:
        return ChannelHarness(client, stack, monkeypatch, channel_type, secrets, settings)

    return make


@pytest.fixture
def harness(channel_harness, request: pytest.FixtureRequest) -> ChannelHarness:
    """A source of the test module's channel, made from its `TABLE` (secrets only; tests that need the
    table's settings make their own)."""
    table: ChannelTable = request.module.TABLE
    return channel_harness(table.channel_type, table.secrets)
