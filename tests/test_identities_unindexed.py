"""Identities without a customer index entry: found from the profile's `emails` and `user_ids`, the
feedback's authors and (tables written before) the index entries they still have, by the customer view,
merges and erasure; what another customer owns is never moved or deleted. A customer's first identity is
its profile's key and the others are redirects (identities.py); identity items are those of tables written
before."""

from __future__ import annotations

from typing import Any

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.models import Channel
from chalicelib.privacy.erasure import erase_customer
from chalicelib.store import customers, dynamo, identities, profiles, schema
from chalicelib.store import feedback as feedback_store
from chalicelib.store.merge import merge
from tests.test_customers import customer_of, event, process


def identity_items() -> dict[str, dict[str, Any]]:
    """identity → identity item, for every identity item in the table."""
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=settings().table_name)
    items = [dynamo.deserialize(item) for page in pages for item in page["Items"]]
    return {item["identity"]: item for item in items if item.get(schema.RECORD_TYPE) == identities.IDENTITY}


def redirects() -> dict[str, dict[str, Any]]:
    """customer id at whose key a redirect is → the redirect, for every redirect in the table."""
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=settings().table_name)
    items = [dynamo.deserialize(item) for page in pages for item in page["Items"]]
    return {
        item[schema.PK].removeprefix("CUSTOMER#"): item
        for item in items
        if item.get(schema.RECORD_TYPE) == identities.REDIRECT
    }


def owners(*wanted: str) -> dict[str, str]:
    """identity → customer, as a lookup answers (strongly consistent)."""
    return identities.lookup_identities(wanted, consistent=True)


def written_before(identity: str, customer_id: str) -> None:
    """An identity item as written before identities left the customer index (its profile not naming it)."""
    item = {
        **identities.identity_item(identity, customer_id),
        schema.CUSTOMER_PK: schema.customer_partition(customer_id),
        schema.CUSTOMER_SK: f"{identities.IDENTITY}#{identity}",
    }
    dynamo.batch_write(settings().table_name, [dynamo.put_request(item)])


def chat(external_id: str, user: str, email: str | None = None, minutes: int = 0):
    return event(
        external_id, email=email, user=user, source="src_chat", channel=Channel.WEBHOOK, minutes=minutes
    )


def test_identities_have_no_index_entry_and_the_profile_names_them(stack):
    first = chat("n1", "u-1", email="Nia@Example.com")
    process(first)
    customer = customer_of(first)

    # The email made the customer (its profile is the identity); the channel id is a redirect to it.
    assert customer == identities.customer_id_for("email#nia@example.com")
    assert identity_items() == {}
    assert set(redirects()) == {identities.customer_id_for("src_chat#u-1")}
    redirect = redirects()[identities.customer_id_for("src_chat#u-1")]
    assert set(redirect) == {schema.PK, schema.SK, schema.RECORD_TYPE, "merged_into"}
    assert redirect["merged_into"] == customer
    assert owners("email#nia@example.com", "src_chat#u-1") == {
        "email#nia@example.com": customer,
        "src_chat#u-1": customer,
    }
    profile = customers.get_profile(customer)
    assert set(profile["user_ids"]) == {"src_chat#u-1"}
    assert set(profile["emails"]) == {"nia@example.com"}
    view = customers.view(customer)
    assert [(i["kind"], i["value"]) for i in view.identities] == [
        ("channel", "u-1"),
        ("email", "nia@example.com"),
    ]
    assert all(i["customer_id"] == customer for i in view.identities)


def test_a_merge_moves_every_identity_of_the_absorbed_customer_and_no_other(stack):
    keep_event, absorb_event = chat("k1", "u-keep", email="keep@example.com"), chat("a1", "u-a", minutes=1)
    other_event = event("o1", email="other@example.com", minutes=2)
    process(
        keep_event, absorb_event, other_event, chat("a2", "u-a2", email="absorbed@example.com", minutes=3)
    )
    keep, other = customer_of(keep_event), customer_of(other_event)
    absorb = customer_of(absorb_event)
    assert customer_of(chat("a2", "u-a2")) != absorb  # the email made its own customer: link it by hand
    merge(absorb, customer_of(chat("a2", "u-a2")))
    # A pending link: the absorbed profile names the other customer's email, which must stay the other's.
    aws.client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=dynamo.serialize(profiles.profile_key(absorb)),
        UpdateExpression="ADD emails :other",
        ExpressionAttributeValues={":other": {"SS": ["other@example.com"]}},
    )
    written_before("src_old#u-legacy", absorb)

    report = merge(keep, absorb)

    expected = {
        "email#keep@example.com": keep,
        "src_chat#u-keep": keep,
        "src_chat#u-a": keep,
        "src_chat#u-a2": keep,
        "email#absorbed@example.com": keep,
        "src_old#u-legacy": keep,
        "email#other@example.com": other,
    }
    assert owners(*expected) == expected
    # Moved: absorb's first identity (its tombstone), u-a2's redirect and the identity written before; the
    # email absorbed@ follows its own tombstone, which points at absorb (a chain a lookup follows).
    assert report.identities_moved == 3
    assert redirects()[identities.customer_id_for("src_chat#u-a2")]["merged_into"] == keep
    assert (
        customers.get_profile(identities.customer_id_for("email#absorbed@example.com"))["merged_into"]
        == absorb
    )
    # The identity written before keeps an index entry, now in the survivor's partition; the others have none.
    assert identity_items()["src_old#u-legacy"][schema.CUSTOMER_PK] == schema.customer_partition(keep)
    assert all(schema.CUSTOMER_PK not in redirect for redirect in redirects().values())
    listed = {i["identity"] for i in customers.view(keep).identities}
    assert listed >= set(expected) - {"email#other@example.com"}
    assert merge(keep, absorb).identities_moved == 0  # again: nothing left to move


def test_an_identity_written_before_is_still_listed_and_erased(stack):
    first = event("l1", email="leg@example.com")
    process(first)
    customer = customer_of(first)
    written_before("src_old#u-old", customer)

    assert {i["identity"] for i in customers.view(customer).identities} == {
        "email#leg@example.com",
        "src_old#u-old",
    }
    report = erase_customer(customer)

    assert report is not None and report.identities_deleted == 2
    assert identity_items() == {}
    assert owners("email#leg@example.com", "src_old#u-old") == {}


def test_an_erasure_deletes_identities_whose_feedback_already_expired(stack):
    gone, kept = chat("x1", "u-gone", email="gone@example.com"), chat("x2", "u-stays", minutes=1)
    process(gone, kept)
    customer = customer_of(gone)
    # The item expired (retention): only the profile still names its author's identities.
    aws.client("dynamodb").delete_item(
        TableName=settings().table_name, Key=dynamo.serialize(feedback_store.feedback_key(gone.feedback_id))
    )

    report = erase_customer(customer)

    assert report is not None and report.identities_deleted == 2
    assert redirects() == {}  # u-gone's is gone; u-stays is the first identity of its own customer
    assert owners("email#gone@example.com", "src_chat#u-gone", "src_chat#u-stays") == {
        "src_chat#u-stays": customer_of(kept)
    }
