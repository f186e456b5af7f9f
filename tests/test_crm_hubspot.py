"""The HubSpot sync against the local fake: setup, upserts by email or customer id, one note per item kept
by its HubSpot id, idempotency, late items, 429 storms, refused tokens, partial failures, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chalicelib.config import settings
from chalicelib.crm import connections, hubspot
from chalicelib.crm import sync as crm_sync
from chalicelib.crm.connections import CrmConnection, CrmSettings, Status
from chalicelib.crm.exceptions import CredentialsRejected, CrmError, RateLimited
from chalicelib.models import Channel, RatingScale, Sentiment, StoredFeedback, ThemeTag
from chalicelib.store import crm_links, dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.profiles import PROFILE, profile_key
from chalicelib.store.schema import RECORD_TYPE
from tests.factories import form_event, stored_positive
from tests.test_customers import event, process
from tools.fakes.base import FakeClock
from tools.fakes.hubspot import FakeHubSpot, HubSpotServer

TOKEN = "pat-na1-test-token"


@dataclass
class Hub:
    fake: FakeHubSpot
    clock: FakeClock
    connection: CrmConnection

    def target(self) -> hubspot.HubSpotTarget:
        return hubspot.target_for(self.current(), TOKEN, self.clock.sleep)

    def current(self) -> CrmConnection:
        found = connections.get(self.connection.connection_id)
        assert found is not None
        return found

    def sync(self, items: list[StoredFeedback]):
        return crm_sync.sync_connection(self.current(), items, sleep=self.clock.sleep)


def make_hub(stack, per_window: int = 100, **settings) -> Iterator[Hub]:
    clock = FakeClock()
    fake = FakeHubSpot(tokens={TOKEN}, clock=clock, per_window=per_window)
    with HubSpotServer(fake) as server:
        connection = CrmConnection(
            connection_id="crm_hubspot_test",
            type="hubspot",
            name="Test portal",
            settings=CrmSettings(api_url=server.url, **settings),
        )
        connections.save(connection, {"token": TOKEN})
        hub = Hub(fake, clock, connection)
        hub.target().setup()
        yield hub


@pytest.fixture
def hub(stack) -> Iterator[Hub]:
    yield from make_hub(stack)


def bulk_items(count: int, without_email_every: int = 0) -> list[StoredFeedback]:
    """`count` stored items of as many customers, written straight to the table (items in memory, their
    profiles in DynamoDB: all the sync reads), for the figures that need hundreds of them."""
    items, profiles = [], []
    for i in range(count):
        email = None if without_email_every and i % without_email_every == 0 else f"bulk{i}@example.com"
        customer_id = f"cus_bulk{i:06d}"
        item = stored_positive(form_event(f"bulk{i}", email=email)).model_copy(
            update={"customer_id": customer_id}
        )
        moment = item.occurred_at.isoformat()
        profiles.append(
            {
                **profile_key(customer_id),
                RECORD_TYPE: PROFILE,
                "customer_id": customer_id,
                "feedback_count": 1,
                "channels": {"form"},
                "first_seen": moment,
                "last_seen": moment,
                **({"emails": {email}} if email else {}),
            }
        )
        items.append(item)
    dynamo.batch_write(settings().table_name, [dynamo.put_request(p) for p in profiles])
    return items


def stored(*events) -> list[StoredFeedback]:
    process(*events)
    return [feedback_store.get(e.feedback_id) for e in events]


def test_setup_creates_the_group_and_properties_once(stack):
    fake = FakeHubSpot(tokens={TOKEN}, clock=FakeClock())
    with HubSpotServer(fake) as server:
        connection = CrmConnection(
            connection_id="crm_setup", type="hubspot", name="x", settings=CrmSettings(api_url=server.url)
        )
        target = hubspot.target_for(connection, TOKEN)
        created = target.setup()
        assert "property group customer_feedback" in created
        assert {f"contact property {spec[0]}" for spec in hubspot.PROPERTIES.values()} <= set(created)
        assert fake.contact_properties["feedback_customer_id"]["hasUniqueValue"] is True
        assert fake.contact_properties["feedback_last_feedback_at"]["type"] == "datetime"
        before = fake.state()
        assert target.setup() == []
        assert fake.state() == before


def test_an_item_upserts_its_contact_by_email_and_logs_one_note_on_it(hub):
    (item,) = stored(
        event("f1", email="Ana@Example.com", name="Ana María López", rating=9, scale=RatingScale.NPS)
    )
    report = hub.sync([item])
    assert report.synced == [item.feedback_id] and not report.failed
    (contact,) = hub.fake.contacts.values()
    assert contact.properties["email"] == "ana@example.com"
    assert contact.properties["firstname"] == "Ana" and contact.properties["lastname"] == "María López"
    assert contact.properties["feedback_customer_id"] == item.customer_id
    assert contact.properties["feedback_latest_nps"] == "9"
    assert contact.properties["feedback_channels"] == "form"
    assert contact.properties["feedback_last_feedback_at"] == "2026-11-21T09:00:00.000Z"
    (note,) = hub.fake.notes_of(contact.id)
    assert note.properties["hs_timestamp"] == "2026-11-21T09:00:00Z"
    assert (
        "Great service" in note.properties["hs_note_body"] and "NPS 9/10" in note.properties["hs_note_body"]
    )
    link = crm_links.activity_links("crm_hubspot_test", [item.feedback_id])[item.feedback_id]
    assert link["note_id"] == note.id and link["contact_id"] == contact.id


def test_without_an_email_the_customer_id_is_the_key_and_no_placeholder_name_is_written(hub):
    (item,) = stored(event("w1", user="u-1", source="src_chat", channel=Channel.WEBHOOK))
    assert hub.sync([item]).synced == [item.feedback_id]
    (contact,) = hub.fake.contacts.values()
    assert contact.properties["feedback_customer_id"] == item.customer_id
    assert "email" not in contact.properties
    assert "lastname" not in contact.properties and "firstname" not in contact.properties


def test_the_same_items_synced_twice_change_nothing_and_cost_no_request(hub):
    items = stored(*(event(f"f{i}", email=f"u{i}@example.com") for i in range(5)))
    hub.sync(items)
    before, requests = hub.fake.state(), hub.fake.count()
    report = hub.sync(items)
    assert sorted(report.synced) == sorted(i.feedback_id for i in items) and not report.failed
    assert hub.fake.state() == before
    assert hub.fake.count() == requests
    assert len(hub.fake.notes) == 5


def test_a_changed_item_updates_its_note_instead_of_adding_one(hub):
    (item,) = stored(event("f1", email="a@example.com"))
    hub.sync([item])
    (note_id,) = hub.fake.notes
    changed = item.model_copy(update={"text": "Actually it was slow"})
    report = hub.sync([changed])
    assert report.activities_updated == 1 and report.activities_created == 0
    assert list(hub.fake.notes) == [note_id]
    assert "Actually it was slow" in hub.fake.notes[note_id].properties["hs_note_body"]


def test_a_late_item_adds_its_note_and_keeps_the_latest_feedback_time(hub):
    later, earlier = stored(
        event("f2", email="a@example.com", minutes=30), event("f1", email="a@example.com", minutes=0)
    )
    hub.sync([later])
    hub.sync([earlier])
    (contact,) = hub.fake.contacts.values()
    assert contact.properties["feedback_last_feedback_at"] == "2026-11-21T09:30:00.000Z"
    assert contact.properties["feedback_count"] == "2"
    assert len(hub.fake.notes_of(contact.id)) == 2


def test_a_contact_deleted_in_hubspot_is_found_again_by_its_key_on_the_next_change(hub):
    (first,) = stored(event("f1", email="a@example.com"))
    hub.sync([first])
    (contact_id,) = hub.fake.contacts
    del hub.fake.contacts[contact_id]
    (second,) = stored(event("f2", email="a@example.com", minutes=5))
    report = hub.sync([second])
    assert report.synced == [second.feedback_id] and not report.failed
    (contact,) = hub.fake.contacts.values()
    assert contact.id != contact_id and contact.properties["feedback_count"] == "2"
    assert len(hub.fake.notes_of(contact.id)) == 1


def test_a_customer_who_gives_an_email_later_keeps_their_contact(hub):
    (anonymous,) = stored(event("w1", user="u-1", source="src_chat", channel=Channel.WEBHOOK))
    hub.sync([anonymous])
    (contact_id,) = hub.fake.contacts
    (named,) = stored(
        event(
            "w2", user="u-1", email="late@example.com", source="src_chat", channel=Channel.WEBHOOK, minutes=9
        )
    )
    assert named.customer_id == anonymous.customer_id
    hub.sync([named])
    assert list(hub.fake.contacts) == [contact_id]
    assert hub.fake.contacts[contact_id].properties["email"] == "late@example.com"
    assert len(hub.fake.notes_of(contact_id)) == 2


def tagged(item: StoredFeedback, *theme_ids: str) -> StoredFeedback:
    tags = [ThemeTag(id=t, sentiment=Sentiment.NEGATIVE, evidence="slow") for t in theme_ids]
    return item.model_copy(update={"themes": tags})


def test_top_themes_count_each_item_once_however_often_it_is_synced(hub):
    a, b, c = stored(*(event(f"f{i}", email="a@example.com", minutes=i) for i in range(3)))
    items = [tagged(a, "delivery", "price"), tagged(b, "delivery"), tagged(c, "support", "price", "delivery")]
    hub.sync(items[:2])
    hub.sync(items[:2])
    hub.sync(items)
    (contact,) = hub.fake.contacts.values()
    assert contact.properties["feedback_top_themes"] == "delivery;price;support"
    counts = crm_links.contact_links("crm_hubspot_test", [a.customer_id])[a.customer_id]["theme_counts"]
    assert counts == {"delivery": 3, "price": 2, "support": 1}


def test_batches_keep_requests_per_thousand_items_within_30(hub):
    items = bulk_items(250, without_email_every=4)
    hub.sync(items)
    requests = hub.fake.count("/crm/v3/objects/")
    assert len(hub.fake.notes) == 250
    # 250 items: 188 customers upserted by email (2 requests), 62 by customer id (1), 250 notes created (3).
    assert requests == 2 + 1 + 3
    assert requests * 1000 / 250 <= 30


def test_a_429_storm_is_waited_out_as_retry_after_says_without_real_sleep(stack):
    for hub in make_hub(stack, per_window=2):
        items = bulk_items(150)
        report = hub.sync(items)
        assert len(report.synced) == 150 and not report.failed
        throttled = [r for r in hub.fake.requests if r.status == 429]
        assert throttled, "the window of 2 requests must have been exceeded"
        assert hub.clock.slept and all(0 < s <= 10 for s in hub.clock.slept)
        assert len(hub.fake.notes) == 150


def test_a_refused_token_pauses_the_connection_and_raises_for_alerting(hub, caplog):
    (item,) = stored(event("f1", email="a@example.com"))
    hub.fake.expired_tokens.add(TOKEN)
    with pytest.raises(CredentialsRejected) as raised:
        hub.sync([item])
    assert "EXPIRED_AUTHENTICATION" in str(raised.value) and TOKEN not in str(raised.value)
    assert hub.current().status is Status.PAUSED
    assert hub.current().paused_reason == "EXPIRED_AUTHENTICATION"
    logged = [(r.getMessage(), str(r.__dict__)) for r in caplog.records]
    assert any(message == "crm connection paused" for message, _ in logged)
    assert not any(TOKEN in details for _, details in logged)
    requests = hub.fake.count()
    assert crm_sync.sync([item]) == {}  # paused: nothing is sent
    assert hub.fake.count() == requests
    assert not crm_links.activity_links("crm_hubspot_test", [item.feedback_id])


def test_a_partial_batch_failure_syncs_the_rest_and_reports_the_failed_item(hub):
    items = stored(*(event(f"f{i}", email=f"u{i}@example.com") for i in range(3)))
    # Someone in the portal already holds the second customer's id on another contact.
    hub.fake.handle(
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        {"Authorization": f"Bearer {TOKEN}"},
        (
            '{"inputs": [{"idProperty": "email", "id": "other@example.com", '
            f'"properties": {{"feedback_customer_id": "{items[1].customer_id}"}}}}]}}'
        ).encode(),
    )
    report = hub.sync(items)
    assert sorted(report.synced) == sorted([items[0].feedback_id, items[2].feedback_id])
    assert list(report.failed) == [items[1].feedback_id] and "CONFLICT" in report.failed[items[1].feedback_id]
    assert len(hub.fake.notes) == 2
    # Once the conflict is resolved in HubSpot, the retry syncs it and duplicates nothing.
    other = hub.fake.contact_by("email", "other@example.com")
    del hub.fake.contacts[other.id]
    report = hub.sync(items)
    assert not report.failed and len(hub.fake.notes) == 3


def test_the_crm_down_raises_and_stores_no_link_so_a_later_sync_sends_everything(hub):
    (item,) = stored(event("f1", email="a@example.com"))
    hub.fake.unavailable = True
    with pytest.raises(CrmError):
        hub.sync([item])
    assert not crm_links.activity_links("crm_hubspot_test", [item.feedback_id])
    hub.fake.unavailable = False
    assert hub.sync([item]).synced == [item.feedback_id]
    assert len(hub.fake.notes) == 1


def test_the_settings_choose_the_items(stack):
    for hub in make_hub(stack, channels=["webhook"], min_rating=7):
        form, chat, low = stored(
            event("f1", email="a@example.com"),
            event("w1", email="b@example.com", channel=Channel.WEBHOOK, source="src_chat", user="u1"),
            event(
                "w2",
                email="c@example.com",
                channel=Channel.WEBHOOK,
                source="src_chat",
                user="u2",
                rating=3,
                scale=RatingScale.NPS,
            ),
        )
        report = hub.sync([form, chat, low])
        assert report.synced == [chat.feedback_id]
        assert sorted(report.skipped) == sorted([form.feedback_id, low.feedback_id])


def test_erasure_gdpr_deletes_created_contacts_clears_existing_ones_and_archives_notes(hub):
    # b@example.com was in HubSpot before the sync: it must survive the erasure, without our fields.
    hub.fake.handle(
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        {"Authorization": f"Bearer {TOKEN}"},
        b'{"inputs": [{"idProperty": "email", "id": "b@example.com", "properties": {"firstname": "Bea"}}]}',
    )
    ours, theirs, kept = stored(
        event("f1", email="a@example.com"),
        event("f2", email="b@example.com"),
        event("f3", email="c@example.com"),
    )
    hub.sync([ours, theirs, kept])
    report = hub.target().erase([ours.customer_id, theirs.customer_id])
    assert (report.contacts_deleted, report.contacts_cleared, report.activities_deleted) == (1, 1, 2)
    assert hub.fake.contact_by("email", "a@example.com") is None and len(hub.fake.gdpr_deleted) == 1
    bea = hub.fake.contact_by("email", "b@example.com")
    assert bea is not None and bea.properties["firstname"] == "Bea"
    assert bea.properties["feedback_customer_id"] == "" and bea.properties["feedback_count"] == ""
    remaining = hub.fake.contact_by("email", "c@example.com")
    assert [n.id for n in hub.fake.notes.values()] == [n.id for n in hub.fake.notes_of(remaining.id)]
    assert not crm_links.contact_links("crm_hubspot_test", [ours.customer_id, theirs.customer_id])
    assert hub.target().erase([ours.customer_id]).contacts_deleted == 0  # done once


def test_the_consumer_entry_points_sync_and_erase_every_active_connection(hub):
    (item,) = stored(event("f1", email="a@example.com"))
    reports = crm_sync.sync([item])
    assert reports["crm_hubspot_test"].synced == [item.feedback_id]
    erased = crm_sync.erase([item.customer_id])
    assert erased["crm_hubspot_test"].contacts_deleted == 1 and not hub.fake.contacts and not hub.fake.notes


def test_an_updated_note_is_recognised_by_its_id_when_hubspot_leaves_the_trace_id_out(hub, monkeypatch):
    (item,) = stored(event("f1", email="a@example.com"))
    hub.sync([item])
    update = hub.fake._update_notes

    def without_trace_ids(data, now):
        status, headers, body = update(data, now)
        for result in body.get("results", []):
            result.pop("objectWriteTraceId", None)
        return status, headers, body

    monkeypatch.setattr(hub.fake, "_update_notes", without_trace_ids)
    report = hub.sync([item.model_copy(update={"text": "Changed my mind"})])
    assert report.activities_updated == 1 and not report.failed and len(hub.fake.notes) == 1


def test_a_used_up_daily_limit_stops_at_once_and_says_so(stack):
    """The daily limit answered 429 like the 10-second window: the sync waited 8 times (up to 80 s of a
    Lambda's time per batch, every batch) and then said only "still answered 429 after 8 attempts"."""
    for hub in make_hub(stack):
        (item,) = stored(event("f1", email="a@example.com"))
        hub.fake.daily = len(hub.fake.requests)  # the portal used its day's requests (setup's included)
        with pytest.raises(RateLimited) as raised:
            hub.sync([item])
        assert "daily API limit" in str(raised.value) and "midnight" in str(raised.value)
        assert not hub.clock.slept and sum(1 for r in hub.fake.requests if r.status == 429) == 1
        assert not crm_links.activity_links("crm_hubspot_test", [item.feedback_id])
