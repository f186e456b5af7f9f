"""The authentication cases every registered channel gets without writing them, derived by the harness
from the channel's `sign` (the inverse of its `verify`), `signs_body` and `replay_window` around the
delivery its table accepts (nyaruka/courier adds its generic incoming cases the same way):

- signed as the platform signs: accepted; without any of what `sign` adds: 401 `signature_missing`;
- signed with other secrets: 401 `signature_invalid`; signed over another body (when the scheme covers the
  body): 401 `signature_invalid`;
- a replay window: signed just outside it (and a day outside it), before or after arrival, 401
  `timestamp_expired`; at its edges, and a retry a minute inside it, accepted. Without one, a delivery
  signed a day earlier is accepted (the same request: nothing time-bound is signed);
- rotation of every secret `sign` depends on: the previous value verifies until it is dropped, then 401.

A channel registered without a table (tests/channels/test_<type>.py with a `TABLE`) fails here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.channels.registry import CHANNELS
from tests.channels.harness import (
    NOW,
    ChannelTable,
    WebhookCase,
    body_of,
    generic_cases,
    other_secrets,
    signing_secret_names,
    table_for,
)

CHANNEL_TYPES = sorted(CHANNELS)


def _tables() -> dict[str, ChannelTable]:
    tables = {}
    for channel_type in CHANNEL_TYPES:
        try:
            tables[channel_type] = table_for(channel_type)
        except LookupError:
            continue  # test_every_registered_channel_has_a_table says which
    return tables


TABLES = _tables()
GENERIC = [(channel_type, case) for channel_type, table in TABLES.items() for case in generic_cases(table)]
SIGNING_SECRETS = [
    (channel_type, name)
    for channel_type, table in TABLES.items()
    for name in signing_secret_names(
        CHANNELS[channel_type], table.secrets, body_of(channel_type, table.accepted)
    )
]


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_every_registered_channel_has_a_table(channel_type: str):
    table = table_for(channel_type)
    assert set(table.secrets) >= set(CHANNELS[channel_type].secret_names)


@pytest.mark.parametrize(
    ("channel_type", "case"), GENERIC, ids=[f"{channel_type}: {case.label}" for channel_type, case in GENERIC]
)
def test_generic_case(channel_harness, channel_type: str, case: WebhookCase):
    channel_harness(channel_type, TABLES[channel_type].secrets).run(case)


@pytest.mark.parametrize(("channel_type", "secret_name"), SIGNING_SECRETS, ids=lambda value: value)
def test_previous_secret_verifies_until_the_rotation_ends(
    channel_harness, channel_type: str, secret_name: str
):
    table = TABLES[channel_type]
    harness = channel_harness(channel_type, table.secrets)
    harness.assert_signing_secret_rotation(table.accepted, secret_name)


@pytest.mark.parametrize("channel_type", sorted(TABLES))
def test_sign_is_what_the_channel_declares(channel_type: str):
    """The declarations the generic cases rely on hold for the channel's own `sign`: it depends on a
    secret, gives the same request for the same arguments, covers the body exactly when `signs_body` says
    so, and depends on the time only when there is a replay window."""
    channel, table = CHANNELS[channel_type], TABLES[channel_type]
    body = body_of(channel_type, table.accepted)
    request = channel.sign(body, table.secrets, NOW)

    assert request.headers or request.query
    assert channel.sign(body, table.secrets, NOW) == request
    assert any(
        channel.sign(body, {**table.secrets, name: value}, NOW) != request
        for name, value in other_secrets(channel, table.secrets).items()
    ), "sign() depends on no secret"
    assert (channel.sign(body + b"\n", table.secrets, NOW) != request) is channel.signs_body
    later = channel.sign(body, table.secrets, NOW + timedelta(seconds=1))
    assert (later != request) is (channel.replay_window is not None)
