"""When a token was last used: stamped by the authorizer at most once an hour per token (a conditional update
the API's processes share), never by a refused token, never failing a request, and shown by `tokens list`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, cli
from chalicelib.auth import authorizer, tokens
from chalicelib.models import utc_now
from tests.test_auth import authorizer_event


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    tokens.clear_cache()
    yield
    tokens.clear_cache()


class UpdateCounter:
    """Counts the UpdateItem calls the DynamoDB client sends (the stamps written or refused)."""

    def __init__(self) -> None:
        self.calls = 0
        aws.client("dynamodb").meta.events.register("before-call.dynamodb.UpdateItem", self._count)

    def _count(self, **_: object) -> None:
        self.calls += 1


def allowed(token: str) -> bool:
    return authorizer.bearer(authorizer_event(f"Bearer {token}"), None)["context"]["authenticated"] == "true"


def last_used(token_id: str) -> str | None:
    [info] = [t for t in tokens.list_tokens() if t.token_id == token_id]
    return info.last_used_at


def test_a_used_token_is_stamped_once_an_hour_whatever_the_requests(stack, monkeypatch):
    token, info = tokens.create_token("BI", ["read"])
    assert last_used(info.token_id) is None
    updates = UpdateCounter()
    start = utc_now()
    now = [start]
    monkeypatch.setattr(tokens, "utc_now", lambda: now[0])

    for _ in range(5):
        assert allowed(token)
    assert updates.calls == 1
    assert last_used(info.token_id) == start.isoformat(timespec="seconds")

    now[0] = start + timedelta(minutes=59)
    assert allowed(token)
    assert updates.calls == 1

    now[0] = start + tokens.LAST_USE_RESOLUTION + timedelta(seconds=1)
    assert allowed(token)
    assert updates.calls == 2
    assert last_used(info.token_id) == now[0].isoformat(timespec="seconds")


def test_processes_stamping_within_the_hour_write_once(stack, monkeypatch):
    token, info = tokens.create_token("BI", ["read"])
    start = utc_now()
    monkeypatch.setattr(tokens, "utc_now", lambda: start)
    assert allowed(token)

    # Another process (its own memory) twenty minutes later: its conditional update is refused.
    tokens._uses_noted.clear()
    later = start + timedelta(minutes=20)
    monkeypatch.setattr(tokens, "utc_now", lambda: later)
    assert allowed(token)

    assert last_used(info.token_id) == start.isoformat(timespec="seconds")
    since = (later - timedelta(hours=1)).isoformat()
    assert not tokens.TOKENS.stamp(info.token_id, tokens.LAST_USED, later.isoformat(), unless_since=since)


@pytest.mark.parametrize("refusal", ["wrong secret", "revoked", "expired"])
def test_a_refused_token_stamps_nothing(stack, monkeypatch, refusal):
    token, info = tokens.create_token("BI", ["read"], expires_in_days=1)
    if refusal == "wrong secret":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif refusal == "revoked":
        tokens.revoke_token(info.token_id)
    else:
        later = utc_now() + timedelta(days=2)
        monkeypatch.setattr(tokens, "utc_now", lambda: later)
    updates = UpdateCounter()

    assert not allowed(token)

    assert updates.calls == 0
    assert last_used(info.token_id) is None


def test_a_stamp_that_cannot_be_written_fails_no_request(stack, monkeypatch, caplog):
    token, _ = tokens.create_token("BI", ["read"])

    def throttled(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    monkeypatch.setattr(tokens.TOKENS, "stamp", throttled)

    assert allowed(token)
    assert "token use not recorded" in caplog.text
    assert token not in caplog.text


def test_a_stamp_never_creates_a_record(stack):
    now = utc_now()
    since = (now - timedelta(hours=1)).isoformat()

    assert not tokens.TOKENS.stamp("0123456789ab", tokens.LAST_USED, now.isoformat(), unless_since=since)
    assert tokens.list_tokens() == []


def test_tokens_list_shows_the_last_use(stack, capsys):
    token, used = tokens.create_token("Used", ["read"])
    _, unused = tokens.create_token("Forgotten", ["read"])
    assert allowed(token)
    stamped = last_used(used.token_id)
    assert stamped is not None

    assert cli.main(["tokens", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()

    assert "last used" in header
    [used_row] = [r for r in rows if r.startswith(used.token_id)]
    [unused_row] = [r for r in rows if r.startswith(unused.token_id)]
    assert stamped[:16].replace("T", " ") in used_row
    assert stamped[:16].replace("T", " ") not in unused_row
