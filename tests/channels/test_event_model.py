"""The FeedbackEvent contract every channel builds on (issue 11): text bounded and flagged in one place,
labels cut, identifiers refused beyond their bound, permalinks only http(s), and the platforms' HTML
escaping undone exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.channels.slack import plain_text
from chalicelib.channels.text import unescape_entities
from chalicelib.models import (
    MAX_ID_CHARS,
    MAX_METADATA_VALUE_CHARS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    Author,
    FeedbackEvent,
    Kind,
)
from chalicelib.models import Channel as ChannelName

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def event(**fields: Any) -> FeedbackEvent:
    return FeedbackEvent.create(
        **{
            "source_id": "src_webhook_unit",
            "external_id": "e-1",
            "channel": ChannelName.WEBHOOK,
            "kind": Kind.COMMENT,
            "occurred_at": NOW,
            "received_at": NOW,
            **fields,
        }
    )


def test_text_at_the_bound_is_kept_whole_and_beyond_it_is_cut_and_flagged():
    whole = event(text="x" * MAX_TEXT_CHARS)
    assert len(whole.text) == MAX_TEXT_CHARS and whole.text_truncated is False

    cut = event(text="y" * (MAX_TEXT_CHARS + 1))
    assert cut.text == "y" * MAX_TEXT_CHARS and cut.text_truncated is True


def test_the_flag_survives_the_queue_round_trip():
    cut = event(text="z" * (MAX_TEXT_CHARS * 3))
    again = FeedbackEvent.model_validate(cut.model_dump(mode="json"))
    assert again.text_truncated is True and again.text == cut.text


def test_labels_and_metadata_values_are_cut():
    long = event(
        author=Author(name="n" * 5_000, handle="@" + "h" * 5_000),
        metadata={"form_title": "t" * 50_000, "count": 3},
    )
    assert long.author.name == "n" * MAX_NAME_CHARS
    assert long.author.handle is not None and len(long.author.handle) == MAX_NAME_CHARS
    assert long.metadata == {"form_title": "t" * MAX_METADATA_VALUE_CHARS, "count": 3}


@pytest.mark.parametrize(
    "fields",
    [
        {"external_id": "i" * (MAX_ID_CHARS + 1)},
        {"thread_id": "t" * (MAX_ID_CHARS + 1)},
        {"author": {"channel_user_id": "u" * (MAX_ID_CHARS + 1)}},
        {"author": {"email": "e" * 400 + "@example.com"}},
        {"language": "l" * 100},
    ],
    ids=["external_id", "thread_id", "channel_user_id", "email", "language"],
)
def test_identifiers_beyond_their_bound_are_refused_not_cut(fields):
    with pytest.raises(ValidationError):
        event(**fields)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://files.example.com/a",
        "mailto:dana@example.com",
        "//example.com/relative",
        "/tickets/1",
        "https://",
        "https://example.com/" + "a" * 3_000,
        "",
    ],
)
def test_a_permalink_that_is_not_http_or_https_is_dropped(url):
    assert event(permalink=url).permalink is None


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://x.com/acme/status/1", "https://x.com/acme/status/1"),
        ("http://crm.example.com/tickets/1001?tab=2", "http://crm.example.com/tickets/1001?tab=2"),
        ("HTTPS://Example.COM", "https://example.com/"),
    ],
)
def test_an_http_permalink_is_kept_normalized(url, kept):
    assert event(permalink=url).permalink == kept


@pytest.mark.parametrize(
    ("sent", "written"),
    [
        ("Prices &lt; competitors &amp; quality &gt; expected", "Prices < competitors & quality > expected"),
        ("I typed &amp;lt; literally", "I typed &lt; literally"),  # unescaped once, not twice
        ("&quot;quoted&quot; &#39;kept&#39; &copy;", "&quot;quoted&quot; &#39;kept&#39; &copy;"),
        ("AT&T & friends", "AT&T & friends"),
    ],
)
def test_x_and_slack_entities_are_unescaped_exactly_once(sent, written):
    assert unescape_entities(sent) == written


@pytest.mark.parametrize(
    ("mrkdwn", "shown"),
    [
        ("Hey <@U0LAN0Z89>, is it done?", "Hey @U0LAN0Z89, is it done?"),
        ("Ask <@U024BE7LH|bob>", "Ask @bob"),
        ("See <#C024BE7LR|general> and <#C0001>", "See #general and #C0001"),
        ("<!here> the build &amp; deploy broke", "@here the build & deploy broke"),
        ("<!subteam^SAZ94GDB8|@design> look", "@design look"),
        ("<!date^1392734382^{date}|Feb 18, 2014> is late", "Feb 18, 2014 is late"),
        ("Read <https://example.com/a?b=1&amp;c=2|the docs &amp; faq>", "Read the docs & faq"),
        ("Open <https://example.com/a?b=1&amp;c=2>", "Open https://example.com/a?b=1&c=2"),
        ("Prices &lt; competitors &amp; quality &gt; expected", "Prices < competitors & quality > expected"),
        ("a &amp;lt; b", "a &lt; b"),
    ],
)
def test_slack_markup_becomes_what_people_see(mrkdwn, shown):
    assert plain_text(mrkdwn) == shown
