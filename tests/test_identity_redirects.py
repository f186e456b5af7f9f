"""A customer's first identity is its profile; its other identities are redirects at their derived profile
key (chalicelib/store/identities.py): concurrent first events in either order, a crash between them, tables
written before (identity items), merge chains, and erasure leaving no redirect."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import Channel, FeedbackEvent, StoredFeedback
from chalicelib.outbound.events import events_from_stream_record
from chalicelib.privacy.erasure import erase_customer
from chalicelib.store import customers, dynamo, feedback_write, identities, profiles, schema
from chalicelib.store.merge import merge
from tests.test_customers import T0, _analysis, customer_of, event, process
from tests.test_identities_unindexed import redirects, written_before

EMAIL, CHAT = "email#ren@example.com", "src_chat#u-ren"


def with_both(external_id: str, minutes: int = 0) -> FeedbackEvent:
    """An event giving the email and the chat user id: the chat id is not its customer's first identity."""
    return event(
        external_id, email="ren@example.com", user="u-ren", source="src_chat", channel=Channel.WEBHOOK,
        minutes=minutes,
    )  # fmt: skip


def chat_only(external_id: str, user: str = "u-ren", minutes: int = 0) -> FeedbackEvent:
    return event(external_id, user=user, source="src_chat", channel=Channel.WEBHOOK, minutes=minutes)


def write(e: FeedbackEvent, resolution: identities.Resolution) -> list[str]:
    """Store one resolved event as the analyze path does (the resolution may be stale by now)."""
    item = StoredFeedback.from_event(e, _analysis(), T0, resolution.customers[e.feedback_id])
    return feedback_write.save_feedback([item], resolution, {}).created


def table() -> list[dict[str, Any]]:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=settings().table_name)
    return [dynamo.deserialize(item) for page in pages for item in page["Items"]]


def owners(*wanted: str) -> dict[str, str]:
    return identities.lookup_identities(wanted, consistent=True)


def test_the_first_identity_writes_nothing_but_the_profile_and_another_a_redirect(stack):
    process(with_both("b1"))
    customer = identities.customer_id_for(EMAIL)

    records = sorted(str(item[schema.RECORD_TYPE]) for item in table() if "#" in str(item[schema.PK]))
    assert records.count("IDENTITY") == 0
    assert redirects() == {
        identities.customer_id_for(CHAT): {
            **identities.profile_key(identities.customer_id_for(CHAT)),
            schema.RECORD_TYPE: identities.REDIRECT,
            "merged_into": customer,
        }
    }
    assert owners(EMAIL, CHAT) == {EMAIL: customer, CHAT: customer}
    assert customers.find_by_email("Ren@Example.com") == customer
    # A redirect is no customer: the view has none, and its creation is no `customer.merged` event.
    assert customers.view(identities.customer_id_for(CHAT)) is None
    image = dynamo.serialize(redirects()[identities.customer_id_for(CHAT)])
    assert events_from_stream_record({"eventName": "INSERT", "dynamodb": {"NewImage": image}}) == []


def test_concurrent_first_events_the_email_and_chat_one_landing_first(stack):
    both, alone = with_both("a1"), chat_only("c1", minutes=1)
    # Both resolve before either writes: each makes a customer of its own first identity.
    resolved_both, resolved_alone = identities.resolve([both]), identities.resolve([alone])
    assert resolved_alone.customers[alone.feedback_id] == identities.customer_id_for(CHAT)

    assert write(both, resolved_both) == [both.feedback_id]
    # The chat customer's profile update meets the redirect (`merged_into`): its item goes to the email's.
    assert write(alone, resolved_alone) == [alone.feedback_id]

    customer = identities.customer_id_for(EMAIL)
    assert customer_of(both) == customer_of(alone) == customer
    assert customers.get_profile(customer)["feedback_count"] == 2
    assert customers.get_profile(identities.customer_id_for(CHAT)) == {"merged_into": customer}
    assert owners(EMAIL, CHAT) == {EMAIL: customer, CHAT: customer}


def test_concurrent_first_events_the_chat_one_landing_first(stack):
    both, alone = with_both("a1", minutes=1), chat_only("c1")
    resolved_both, resolved_alone = identities.resolve([both]), identities.resolve([alone])

    assert write(alone, resolved_alone) == [alone.feedback_id]
    # The redirect of the chat id is refused (a live profile holds its key): resolved again, the event joins
    # the chat customer and the email becomes that customer's redirect.
    assert write(both, resolved_both) == [both.feedback_id]

    customer = identities.customer_id_for(CHAT)
    assert customer_of(both) == customer_of(alone) == customer
    assert customers.get_profile(customer)["feedback_count"] == 2
    assert set(customers.get_profile(customer)["emails"]) == {"ren@example.com"}
    assert customers.get_profile(identities.customer_id_for(EMAIL)) == {"merged_into": customer}
    assert owners(EMAIL, CHAT) == {EMAIL: customer, CHAT: customer}
    assert customers.find_by_email("ren@example.com") == customer


def test_a_crash_between_the_two_events_is_healed_by_the_redelivery(stack):
    both, alone = with_both("a1"), chat_only("c1", minutes=1)
    stale = identities.resolve([alone])  # the invocation resolved `alone`, then died before writing
    process(both)

    process(alone)  # its message comes back: the lookup now finds the redirect

    assert stale.customers[alone.feedback_id] == identities.customer_id_for(CHAT)
    assert customer_of(alone) == customer_of(both) == identities.customer_id_for(EMAIL)
    assert customers.get_profile(identities.customer_id_for(EMAIL))["feedback_count"] == 2


def test_a_redirect_written_to_a_survivor_keeps_the_tombstone_at_its_key(stack):
    by_email, by_chat = event("e1", email="ren@example.com"), chat_only("c1", minutes=1)
    process(by_email, by_chat)
    keep, absorb = customer_of(by_email), customer_of(by_chat)
    merge(keep, absorb)
    tombstone = customers.get_profile(absorb)

    # A write that learnt of the merge (survivors) points the chat id at the survivor: a no-op here.
    aws.client("dynamodb").transact_write_items(TransactItems=[identities.redirect_update(CHAT, keep)])

    assert customers.get_profile(absorb) == tombstone
    assert tombstone["merged_into"] == keep and tombstone["feedback_count"] == 1


def test_a_table_written_before_keeps_its_identity_items_which_win(stack):
    process(event("e1", email="ren@example.com"))
    legacy_customer = identities.customer_id_for("email#someone-else@example.com")
    process(event("e0", email="someone-else@example.com"))
    # Written before: the chat id's identity item, and the email's pointing elsewhere than its profile.
    written_before(CHAT, legacy_customer)
    written_before(EMAIL, legacy_customer)

    assert owners(EMAIL, CHAT) == {EMAIL: legacy_customer, CHAT: legacy_customer}
    later = with_both("b1", minutes=5)
    process(later)
    assert customer_of(later) == legacy_customer
    # A new identity of that customer is a redirect, not an identity item.
    process(event("b2", email="someone-else@example.com", user="u-new", source="src_chat",
                  channel=Channel.WEBHOOK, minutes=6))  # fmt: skip
    assert set(redirects()) == {identities.customer_id_for("src_chat#u-new")}
    assert owners("src_chat#u-new") == {"src_chat#u-new": legacy_customer}


def test_a_merge_chain_is_followed_by_lookups_and_writes(stack):
    a, b, c = chat_only("a", user="u-a"), chat_only("b", user="u-b"), chat_only("c", user="u-c")
    process(a, b, c)
    first, middle, last = customer_of(a), customer_of(b), customer_of(c)
    merge(middle, first)  # a into b
    merge(last, middle)  # b into c: a's profile still points at b

    assert customers.get_profile(first)["merged_into"] == middle
    assert owners("src_chat#u-a", "src_chat#u-b") == {"src_chat#u-a": last, "src_chat#u-b": last}
    later = chat_only("a2", user="u-a", minutes=5)
    process(later)
    assert customer_of(later) == last
    assert customers.get_profile(last)["feedback_count"] == 4
    assert customers.get_profile(first)["feedback_count"] == 1  # the tombstone counted nothing more
    assert {i["identity"] for i in customers.view(last).identities} >= {
        "src_chat#u-a",
        "src_chat#u-b",
        "src_chat#u-c",
    }


def test_a_merge_moves_redirects_and_one_killed_before_moving_them_is_still_followed(stack, monkeypatch):
    process(with_both("b1"), event("k1", email="kai@example.com", minutes=1))
    absorb, keep = identities.customer_id_for(EMAIL), identities.customer_id_for("email#kai@example.com")

    def died(*args, **kwargs):
        raise RuntimeError("the merging invocation died before it moved anything")

    monkeypatch.setattr(dynamo, "batch_write", died)
    with pytest.raises(RuntimeError):
        merge(keep, absorb)
    monkeypatch.undo()
    assert redirects()[identities.customer_id_for(CHAT)]["merged_into"] == absorb  # not moved yet
    assert owners(EMAIL, CHAT) == {EMAIL: keep, CHAT: keep}  # redirect → tombstone → survivor

    report = merge(keep, absorb)

    assert report.identities_moved == 1  # the redirect (the tombstone had been written by the first run)
    assert redirects()[identities.customer_id_for(CHAT)]["merged_into"] == keep


def test_an_erasure_leaves_no_redirect_tombstone_or_derived_id(stack, monkeypatch):
    # Ren: an email with a chat id (a redirect), a second chat id absorbed by a merge that died before it
    # moved the absorbed customer's feedback, and a redirect to the absorbed customer.
    process(with_both("b1"), chat_only("c2", user="u-ren2", minutes=1), event("o1", email="olga@example.com"))
    customer, absorbed = identities.customer_id_for(EMAIL), identities.customer_id_for("src_chat#u-ren2")
    process(event("b3", email="ren@example.com", user="u-ren3", source="src_chat",
                  channel=Channel.WEBHOOK, minutes=2))  # fmt: skip

    def died(*args, **kwargs):
        raise RuntimeError("the merging invocation died before it moved anything")

    monkeypatch.setattr(dynamo, "batch_write", died)
    with pytest.raises(RuntimeError):
        merge(customer, absorbed)
    monkeypatch.undo()
    # A redirect pointing at the absorbed customer, as a merge it made earlier would leave it.
    aws.client("dynamodb").put_item(
        TableName=settings().table_name,
        Item=dynamo.serialize(identities.redirect_item(identities.derived_key("src_other#u-ren4"), absorbed)),
    )
    aws.client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=dynamo.serialize(profiles.profile_key(customer)),
        UpdateExpression="ADD user_ids :u",
        ExpressionAttributeValues={":u": {"SS": ["src_other#u-ren4"]}},
    )
    person = [EMAIL, CHAT, "src_chat#u-ren2", "src_chat#u-ren3", "src_other#u-ren4"]
    assert set(owners(*person).values()) == {customer}

    report = erase_customer(customer)

    assert report is not None
    assert (report.identities_deleted, report.feedback_deleted) == (len(person), 3)
    assert owners(*person) == {}
    assert redirects() == {}
    left = json.dumps(table(), default=str)
    derived = [identities.customer_id_for(identity) for identity in person]
    assert [value for value in [customer, absorbed, *derived, "ren@example.com"] if value in left] == []
    assert customers.find_by_email("olga@example.com") == identities.customer_id_for("email#olga@example.com")


def test_a_redirect_to_a_customer_gone_meanwhile_costs_one_more_read_and_ends_there(stack):
    # A redirect an erasure killed halfway left behind, pointing at a profile deleted already.
    gone = identities.customer_id_for("email#gone@example.com")
    aws.client("dynamodb").put_item(
        TableName=settings().table_name,
        Item=dynamo.serialize(identities.redirect_item(identities.derived_key(CHAT), gone)),
    )
    calls: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem", lambda **kwargs: calls.append("BatchGetItem")
    )

    assert owners(CHAT) == {CHAT: gone}
    assert calls == ["BatchGetItem", "BatchGetItem"]  # the lookup, then the survivor's key, once
