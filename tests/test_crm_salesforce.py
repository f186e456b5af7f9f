"""The Salesforce sync against the local fake org: setup, contacts matched by email or upserted by the
customer id (never a placeholder Last Name), one Task per item kept by its Salesforce id, idempotency, late
items, limit storms, expired sessions, partial batch failures, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chalicelib.crm import connections, salesforce
from chalicelib.crm import sync as crm_sync
from chalicelib.crm.connections import CrmConnection, CrmSettings, Status
from chalicelib.crm.exceptions import CredentialsRejected, CrmError, RateLimited
from chalicelib.crm.salesforce_api import forget_sessions
from chalicelib.models import Channel, RatingScale, Sentiment, StoredFeedback, ThemeTag
from chalicelib.store import crm_links
from tests.test_crm_hubspot import bulk_items, stored
from tests.test_customers import event
from tools.fakes.base import FakeClock
from tools.fakes.salesforce import ConnectedApp, FakeSalesforce, SalesforceServer

CLIENT_ID = "3MVG9test.client"
SECRET = "test-client-secret"
CONNECTION = "crm_salesforce_test"


@dataclass
class Org:
    fake: FakeSalesforce
    clock: FakeClock
    connection: CrmConnection

    def current(self) -> CrmConnection:
        found = connections.get(self.connection.connection_id)
        assert found is not None
        return found

    def target(self) -> salesforce.SalesforceTarget:
        return crm_sync.target_for(self.current(), self.clock.sleep)  # type: ignore[return-value]

    def sync(self, items: list[StoredFeedback]):
        return crm_sync.sync_connection(self.current(), items, sleep=self.clock.sleep)

    def contact(self, email: str) -> dict:
        (found,) = self.fake.contacts_by("Email", email)
        return found


def make_org(stack, **settings) -> Iterator[Org]:
    forget_sessions()
    clock = FakeClock()
    app = ConnectedApp(CLIENT_ID, SECRET, usernames={"integration@example.com"})
    fake = FakeSalesforce(apps=[app], clock=clock)
    with SalesforceServer(fake) as server:
        connection = CrmConnection(
            connection_id=CONNECTION,
            type="salesforce",
            name="Test org",
            settings=CrmSettings(api_url=server.url, **settings),
        )
        connections.save(connection, {"client_id": CLIENT_ID, "client_secret": SECRET})
        org = Org(fake, clock, connection)
        org.target().setup()
        yield org
    forget_sessions()


@pytest.fixture
def org(stack) -> Iterator[Org]:
    yield from make_org(stack)


def test_setup_creates_the_custom_fields_once_and_says_what_it_created(org):
    fields = org.fake.custom_fields
    key = fields["Contact"]["Feedback_Customer_ID__c"]
    assert key.external_id and key.unique and key.type == "Text"
    assert fields["Contact"]["Feedback_Last_Feedback_At__c"].type == "DateTime"
    assert fields["Task"]["Feedback_ID__c"].external_id
    assert len(fields["Contact"]) == len(salesforce.CONTACT_FIELDS)
    # Field-level security: the integration user (the one the connected app acts as) may edit every field.
    expected = {f"Contact.{name}" for name in fields["Contact"]} | {"Task.Feedback_ID__c"}
    assert org.fake.field_access() == dict.fromkeys(expected, "edit")
    assert org.fake.field_access("005fk0000000002AAA") == {}  # another user: nothing
    before, requests = org.fake.state(), org.fake.count()
    assert org.target().setup() == []
    assert org.fake.state() == before
    assert org.fake.count() - requests == 1  # one Composite request reads it all; no write


def test_setup_completes_a_permission_set_an_admin_left_half_done(org):
    fake = org.fake
    (permission_set_id,) = fake.records["PermissionSet"]
    read_only = next(
        p for p in fake.records["FieldPermissions"].values() if p["Field"] == "Task.Feedback_ID__c"
    )
    read_only["PermissionsEdit"] = False
    fake.records["FieldPermissions"] = {
        k: p for k, p in fake.records["FieldPermissions"].items() if p["Field"] != "Contact.Feedback_Count__c"
    }
    fake.records["PermissionSetAssignment"].clear()
    created = org.target().setup()
    assert created == [
        "field permission Contact.Feedback_Count__c (read, edit) in Feedback_Collector",
        "field permission Task.Feedback_ID__c (read, edit) in Feedback_Collector",
        "permission set assignment of Feedback_Collector to the integration user 005fk0000000001AAA",
    ]
    assert list(fake.records["PermissionSet"]) == [permission_set_id]
    assert fake.field_access()["Task.Feedback_ID__c"] == "edit"
    assert fake.field_access()["Contact.Feedback_Count__c"] == "edit"
    assert org.target().setup() == []


def test_setup_reports_each_field_it_creates(stack):
    fake = FakeSalesforce(
        apps=[ConnectedApp(CLIENT_ID, SECRET, usernames={"u@example.com"})], clock=FakeClock()
    )
    with SalesforceServer(fake) as server:
        connection = CrmConnection(
            connection_id="crm_sf_setup",
            type="salesforce",
            name="x",
            settings=CrmSettings(api_url=server.url, field_map={"top_themes": "themes_we_heard"}),
        )
        connections.save(connection, {"client_id": CLIENT_ID, "client_secret": SECRET})
        created = crm_sync.target_for(connection).setup()
    assert "Contact field Feedback_Customer_ID__c" in created
    assert "Contact field themes_we_heard__c" in created and "Task field Feedback_ID__c" in created
    assert "permission set Feedback_Collector" in created
    assert "field permission Contact.themes_we_heard__c (read, edit) in Feedback_Collector" in created
    assert created[-1] == (
        "permission set assignment of Feedback_Collector to the integration user 005fk0000000001AAA"
    )
    fields = len(salesforce.CONTACT_FIELDS) + 1
    assert len(created) == fields + 1 + fields + 1  # fields, the permission set, its grants, its assignment
    access = fake.field_access()
    assert len(access) == fields and access["Contact.themes_we_heard__c"] == "edit"
    assert "Contact.Feedback_Top_Themes__c" not in access  # the field renamed by the map is not created


def test_an_item_creates_its_contact_and_logs_one_task_on_it(org):
    (item,) = stored(
        event("f1", email="Ana@Example.com", name="Ana María López", rating=9, scale=RatingScale.NPS)
    )
    report = org.sync([item])
    assert report.synced == [item.feedback_id] and not report.failed
    contact = org.contact("ana@example.com")
    assert (contact["FirstName"], contact["LastName"]) == ("Ana", "María López")
    assert contact["Feedback_Customer_ID__c"] == item.customer_id
    assert contact["Feedback_Latest_NPS__c"] == 9 and contact["Feedback_Count__c"] == 1
    assert contact["Feedback_Last_Feedback_At__c"] == "2026-11-21T09:00:00.000Z"
    (task,) = org.fake.tasks_of(contact["Id"])
    assert task["Feedback_ID__c"] == item.feedback_id and task["Status"] == "Completed"
    assert task["ActivityDate"] == "2026-11-21" and "NPS 9/10" in task["Subject"]
    assert "Great service" in task["Description"]
    link = crm_links.activity_links(CONNECTION, [item.feedback_id])[item.feedback_id]
    assert link["task_id"] == task["Id"] and link["contact_id"] == contact["Id"]


def test_a_customer_without_a_name_gets_their_email_local_part_as_last_name_never_a_placeholder(org):
    (item,) = stored(event("f1", email="jo.doe@example.com"))
    org.sync([item])
    contact = org.contact("jo.doe@example.com")
    assert contact["LastName"] == "jo.doe" and "FirstName" not in contact


def test_without_an_email_the_customer_id_is_the_key(org):
    (item,) = stored(event("w1", user="u-1", source="src_chat", channel=Channel.WEBHOOK))
    assert org.sync([item]).synced == [item.feedback_id]
    (contact,) = org.fake.records["Contact"].values()
    assert contact["Feedback_Customer_ID__c"] == item.customer_id and "Email" not in contact
    assert contact["LastName"] and not contact["LastName"].startswith("Customer ")


def test_an_existing_contact_with_the_email_is_updated_not_duplicated_and_keeps_its_names(org):
    existing = org.fake.add_contact(LastName="Smith", FirstName="Bea", Email="bea@example.com")
    (item,) = stored(event("f1", email="bea@example.com", name="Beatrice Other"))
    report = org.sync([item])
    assert report.synced == [item.feedback_id]
    assert list(org.fake.records["Contact"]) == [existing]
    contact = org.fake.records["Contact"][existing]
    assert (contact["FirstName"], contact["LastName"]) == ("Bea", "Smith")
    assert contact["Feedback_Customer_ID__c"] == item.customer_id
    assert crm_links.contact_links(CONNECTION, [item.customer_id])[item.customer_id]["created"] is False


def test_the_same_items_synced_twice_change_nothing_and_cost_no_request(org):
    items = stored(*(event(f"f{i}", email=f"u{i}@example.com") for i in range(5)))
    org.sync(items)
    before, requests = org.fake.state(), org.fake.count()
    report = org.sync(items)
    assert sorted(report.synced) == sorted(i.feedback_id for i in items) and not report.failed
    assert org.fake.state() == before and org.fake.count() == requests
    assert len(org.fake.records["Task"]) == 5


def test_a_changed_item_updates_its_task_instead_of_adding_one(org):
    (item,) = stored(event("f1", email="a@example.com"))
    org.sync([item])
    (task_id,) = org.fake.records["Task"]
    report = org.sync([item.model_copy(update={"text": "Actually it was slow"})])
    assert report.activities_updated == 1 and report.activities_created == 0
    assert list(org.fake.records["Task"]) == [task_id]
    assert "Actually it was slow" in org.fake.records["Task"][task_id]["Description"]


def test_a_late_item_adds_its_task_and_keeps_the_latest_feedback_time(org):
    later, earlier = stored(
        event("f2", email="a@example.com", minutes=30), event("f1", email="a@example.com", minutes=0)
    )
    org.sync([later])
    org.sync([earlier])
    contact = org.contact("a@example.com")
    assert contact["Feedback_Last_Feedback_At__c"] == "2026-11-21T09:30:00.000Z"
    assert contact["Feedback_Count__c"] == 2
    assert len(org.fake.tasks_of(contact["Id"])) == 2


def test_a_contact_deleted_in_salesforce_is_created_again_with_its_tasks(org):
    (first,) = stored(event("f1", email="a@example.com"))
    org.sync([first])
    gone = org.contact("a@example.com")["Id"]
    org.fake.handle("DELETE", f"/services/data/v62.0/composite/sobjects?ids={gone}", _auth(org), b"")
    (second,) = stored(event("f2", email="a@example.com", minutes=5))
    report = org.sync([second])
    assert report.synced == [second.feedback_id] and not report.failed
    contact = org.contact("a@example.com")
    assert contact["Id"] != gone and contact["Feedback_Count__c"] == 2
    assert [t["Feedback_ID__c"] for t in org.fake.tasks_of(contact["Id"])] == [second.feedback_id]


def _auth(org: Org) -> dict[str, str]:
    token = next(iter(org.fake.tokens))
    return {"Authorization": f"Bearer {token}"}


def tagged(item: StoredFeedback, *theme_ids: str) -> StoredFeedback:
    tags = [ThemeTag(id=t, sentiment=Sentiment.NEGATIVE, evidence="slow") for t in theme_ids]
    return item.model_copy(update={"themes": tags})


def test_top_themes_count_each_item_once_however_often_it_is_synced(org):
    a, b, c = stored(*(event(f"f{i}", email="a@example.com", minutes=i) for i in range(3)))
    items = [tagged(a, "delivery", "price"), tagged(b, "delivery"), tagged(c, "support", "price", "delivery")]
    org.sync(items[:2])
    org.sync(items[:2])
    org.sync(items)
    assert org.contact("a@example.com")["Feedback_Top_Themes__c"] == "delivery;price;support"


def test_collections_keep_requests_per_thousand_items_within_20(org):
    items = bulk_items(400, without_email_every=4)
    org.fake.requests.clear()  # setup's aside
    org.sync(items)
    assert len(org.fake.records["Task"]) == 400 and len(org.fake.records["Contact"]) == 400
    # 300 emails looked up in 3 queries; the 400 contacts created in 2 collections of 200 (one composite
    # request), then the 400 Tasks in 2 collections (one composite request).
    assert org.fake.count("/query") == 3 and org.fake.count("/composite", "POST") == 2
    requests = org.fake.count()
    assert requests == 5 and requests * 1000 / 400 <= 20


def test_a_concurrent_limit_storm_is_waited_out_without_real_sleep(org):
    items = stored(*(event(f"f{i}", email=f"u{i}@example.com") for i in range(3)))
    org.fake.busy_for(5)
    report = org.sync(items)
    assert len(report.synced) == 3 and not report.failed
    refused = [r for r in org.fake.requests if r.status == 403]
    assert len(refused) == 5 and org.clock.slept == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(org.fake.records["Task"]) == 3


def test_a_used_up_daily_allocation_raises_at_once_and_keeps_the_items_for_later(org):
    (item,) = stored(event("f1", email="a@example.com"))
    org.fake.daily_allocation = org.fake.count()  # the org's 24-hour allocation is used up
    with pytest.raises(RateLimited, match="24-hour API allocation"):
        org.sync([item])
    assert not org.clock.slept and not crm_links.activity_links(CONNECTION, [item.feedback_id])
    org.clock.now += 24 * 3600  # a day later the rolling window has room again
    assert org.sync([item]).synced == [item.feedback_id]


def test_an_expired_session_is_renewed_once_and_the_request_repeated(org):
    (item,) = stored(event("f1", email="a@example.com"))
    org.fake.expire_tokens()
    report = org.sync([item])
    assert report.synced == [item.feedback_id]
    assert [r.status for r in org.fake.requests if r.status == 401] == [401]
    assert org.current().status is Status.ACTIVE


def test_refused_credentials_pause_the_connection_and_raise_for_alerting(org, caplog):
    (item,) = stored(event("f1", email="a@example.com"))
    org.fake.apps[CLIENT_ID].client_secret = "rotated"
    org.fake.expire_tokens()
    with pytest.raises(CredentialsRejected) as raised:
        org.sync([item])
    assert "invalid_client" in str(raised.value) and SECRET not in str(raised.value)
    assert org.current().status is Status.PAUSED and org.current().paused_reason == "invalid_client"
    assert not any(SECRET in str(r.__dict__) for r in caplog.records)
    requests = org.fake.count()
    assert crm_sync.sync([item]) == {}  # paused: nothing is sent
    assert org.fake.count() == requests


def test_a_partial_batch_failure_syncs_the_rest_and_reports_the_failed_item(org):
    items = stored(*(event(f"f{i}", email=f"u{i}@example.com") for i in range(3)))
    # A validation rule in the org refuses the second customer's contact (allOrNone is false).
    org.fake.validation_rules.append(
        ("Contact", lambda values: "No test addresses" if values.get("Email") == "u1@example.com" else None)
    )
    report = org.sync(items)
    assert sorted(report.synced) == sorted([items[0].feedback_id, items[2].feedback_id])
    assert list(report.failed) == [items[1].feedback_id]
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in report.failed[items[1].feedback_id]
    assert len(org.fake.records["Task"]) == 2 and len(org.fake.records["Contact"]) == 2
    # Once the rule is lifted, the retry syncs it and duplicates nothing.
    org.fake.validation_rules.clear()
    report = org.sync(items)
    assert not report.failed and len(org.fake.records["Task"]) == 3
    assert len(org.fake.records["Contact"]) == 3


def test_the_org_down_raises_and_stores_no_link_so_a_later_sync_sends_everything(org):
    (item,) = stored(event("f1", email="a@example.com"))
    org.fake.unavailable = True
    with pytest.raises(CrmError):
        org.sync([item])
    assert not crm_links.activity_links(CONNECTION, [item.feedback_id])
    org.fake.unavailable = False
    assert org.sync([item]).synced == [item.feedback_id]
    assert len(org.fake.records["Task"]) == 1


def test_erasure_deletes_created_contacts_and_their_tasks_and_clears_existing_ones(org):
    existing = org.fake.add_contact(LastName="Smith", FirstName="Bea", Email="b@example.com")
    ours, theirs, kept = stored(
        event("f1", email="a@example.com"),
        event("f2", email="b@example.com"),
        event("f3", email="c@example.com"),
    )
    org.sync([ours, theirs, kept])
    report = org.target().erase([ours.customer_id, theirs.customer_id])
    assert (report.contacts_deleted, report.contacts_cleared, report.activities_deleted) == (1, 1, 2)
    assert not org.fake.contacts_by("Email", "a@example.com")
    bea = org.fake.records["Contact"][existing]
    assert (bea["FirstName"], bea["LastName"]) == ("Bea", "Smith")
    assert bea["Feedback_Customer_ID__c"] is None and bea["Feedback_Count__c"] is None
    remaining = org.contact("c@example.com")
    assert [t["Id"] for t in org.fake.records["Task"].values()] == [
        t["Id"] for t in org.fake.tasks_of(remaining["Id"])
    ]
    assert not crm_links.contact_links(CONNECTION, [ours.customer_id, theirs.customer_id])
    assert org.target().erase([ours.customer_id]).contacts_deleted == 0  # done once


def test_the_consumer_entry_points_sync_and_erase_a_salesforce_connection(org):
    (item,) = stored(event("f1", email="a@example.com"))
    assert crm_sync.sync([item])[CONNECTION].synced == [item.feedback_id]
    erased = crm_sync.erase([item.customer_id])
    assert erased[CONNECTION].contacts_deleted == 1
    assert not org.fake.records["Contact"] and not org.fake.records["Task"]


def test_contacts_the_sync_creates_join_the_configured_account_so_they_are_not_private(stack):
    for org in make_org(stack, account_id="001fk00000000AAAAA"):
        (item,) = stored(event("f1", email="a@example.com"))
        org.sync([item])
        assert org.contact("a@example.com")["AccountId"] == "001fk00000000AAAAA"


def test_a_refused_contact_update_fails_its_items_so_the_update_is_retried(org):
    (first,) = stored(event("f1", email="a@example.com"))
    org.sync([first])
    (second,) = stored(event("f2", email="a@example.com", minutes=5))
    org.fake.validation_rules.append(
        ("Contact", lambda values: "Frozen" if values.get("Feedback_Count__c") == 2 else None)
    )
    report = org.sync([second])
    assert list(report.failed) == [second.feedback_id] and "Frozen" in report.failed[second.feedback_id]
    assert org.contact("a@example.com")["Feedback_Count__c"] == 1
    link = crm_links.contact_links(CONNECTION, [second.customer_id])[second.customer_id]
    assert second.feedback_id in link["feedback_ids"]  # its Task was written: an erasure must find it
    org.fake.validation_rules.clear()
    report = org.sync([second])
    assert report.synced == [second.feedback_id] and not report.failed
    assert org.contact("a@example.com")["Feedback_Count__c"] == 2
    assert len(org.fake.records["Task"]) == 2


def test_an_erasure_salesforce_partly_refuses_keeps_the_links_and_a_retry_finishes(org, monkeypatch):
    (item,) = stored(event("f1", email="a@example.com"))
    org.sync([item])
    delete = org.fake._delete

    def refusing(ids, all_or_none):
        status, headers, results = delete(ids[:-1], all_or_none)  # the contact (last) is refused
        error = {"statusCode": "DELETE_FAILED", "message": "record in use", "fields": []}
        return status, headers, [*results, {"id": ids[-1], "success": False, "errors": [error]}]

    monkeypatch.setattr(org.fake, "_delete", refusing)
    report = org.target().erase([item.customer_id])
    assert (report.activities_deleted, report.contacts_deleted) == (1, 0)
    assert crm_links.contact_links(CONNECTION, [item.customer_id])
    monkeypatch.undo()
    report = org.target().erase([item.customer_id])
    assert report.contacts_deleted == 1 and not org.fake.records["Contact"]
    assert not crm_links.contact_links(CONNECTION, [item.customer_id])
