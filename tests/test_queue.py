"""The ingest queue's request encoding: a delivery's events fit in one SQS request, or it is refused whole."""

from __future__ import annotations

import pytest

from chalicelib.ingest import queue
from chalicelib.ingest.queue import QueueRequestTooLarge, decode_events, encode_request
from tests.factories import form_event


def test_events_that_fit_in_one_request_come_back_as_its_message_bodies():
    events = [form_event(f"q{n}") for n in range(3)]

    bodies = encode_request(events)

    assert bodies == queue.encode_events(events)
    assert [event for body in bodies for event in decode_events(body)] == events


def test_no_events_need_no_request():
    assert encode_request([]) == []


def test_events_needing_more_than_ten_messages_are_refused():
    # ~10 KB each: eleven 100 KiB messages' worth.
    events = [form_event(f"big{n}", "word " * 2_000) for n in range(115)]
    assert len(queue.encode_events(events)) > queue.MAX_MESSAGES_PER_BATCH

    with pytest.raises(QueueRequestTooLarge):
        encode_request(events)


def test_events_past_the_request_size_are_refused_even_in_few_messages(monkeypatch):
    events = [form_event("q1"), form_event("q2")]
    size = sum(len(body.encode()) for body in queue.encode_events(events))
    monkeypatch.setattr(queue, "MAX_REQUEST_BYTES", size - 1)

    with pytest.raises(QueueRequestTooLarge):
        encode_request(events)
    monkeypatch.setattr(queue, "MAX_REQUEST_BYTES", size)
    assert encode_request(events) == queue.encode_events(events)


def test_platform_deletions_ride_in_the_first_message_and_old_readers_ignore_them():
    from chalicelib.ingest.queue import decode_message, encode_events
    from chalicelib.models import PlatformDeletion, utc_now

    deletion = PlatformDeletion(feedback_id="fb_" + "a" * 32, source_id="trustpilot-1", deleted_at=utc_now())
    events = [form_event(f"Message {n}") for n in range(3)]
    [body] = encode_events(events, [deletion])
    assert decode_message(body) == (events, [deletion])
    assert decode_events(body) == events  # a reader of events only sees the events
    [alone] = encode_events([], [deletion])
    assert decode_message(alone) == ([], [deletion])
    assert encode_events(events) == encode_events(events, [])  # no deletions: the envelope as before
    with pytest.raises(queue.QueueMessageError):
        decode_message(alone.replace('"deleted_at":"', '"deleted_at":"not a time'))
