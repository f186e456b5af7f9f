"""The `channel_harness` fixture every channel test module uses."""

from __future__ import annotations

import pytest

from tests.channels.harness import ChannelHarness


@pytest.fixture
def channel_harness(client, stack, monkeypatch):
    def make(channel_type, secrets, settings=None) -> ChannelHarness:
        return ChannelHarness(client, stack, monkeypatch, channel_type, secrets, settings)

    return make
