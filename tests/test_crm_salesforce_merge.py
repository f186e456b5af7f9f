"""Customer merges in Salesforce: the absorbed customer's synced Tasks move to the survivor's contact (none
lost, none duplicated, the same Task records), the absorbed contact goes if the sync created it and only
loses the feedback fields if it was the team's; a redelivered merge and a re-sync change nothing more."""

from __future__ import annotations

from chalicelib.models import Channel
from chalicelib.store import crm_links
from chalicelib.store import feedback as feedback_store
from chalicelib.store import merge as customer_merge
from tests.test_crm_hubspot import stored
from tests.test_crm_salesforce import CONNECTION, org  # noqa: F401 - the fake org fixture
from tests.test_customers import customer_of, event


def resync(org, *feedback_ids: str):  # noqa: F811 - the fixture's value
    return org.sync([feedback_store.get(f) for f in feedback_ids])


def test_a_merge_moves_the_absorbed_tasks_to_the_survivor_and_deletes_the_contact_it_created(org):  # noqa: F811
    by_email = event("f1", email="ana@example.com", name="Ana Lima")
    by_chat = event("w1", user="u-9", source="src_chat", channel=Channel.WEBHOOK)
    later_chat = event("w2", user="u-9", source="src_chat", channel=Channel.WEBHOOK, minutes=5)
    items = stored(by_email, by_chat, later_chat)
    org.sync(items)
    keep, absorbed = customer_of(by_email), customer_of(by_chat)
    ana = org.contact("ana@example.com")
    (chat_contact,) = org.fake.contacts_by("Feedback_Customer_ID__c", absorbed)
    tasks_before = {t["Feedback_ID__c"]: t["Id"] for t in org.fake.records["Task"].values()}
    assert len(tasks_before) == 3

    customer_merge.merge(keep, absorbed)
    report = org.target().merge(keep, absorbed)

    assert (report.contacts_merged, report.activities_moved) == (1, 2)
    assert list(org.fake.records["Contact"]) == [ana["Id"]]  # the chat contact the sync created: deleted
    assert chat_contact["Id"] not in org.fake.records["Contact"]
    tasks = {t["Feedback_ID__c"]: t for t in org.fake.records["Task"].values()}
    assert {f: t["Id"] for f, t in tasks.items()} == tasks_before  # the same Tasks, moved: none lost
    assert {t["WhoId"] for t in tasks.values()} == {ana["Id"]}
    links = crm_links.contact_links(CONNECTION, [keep, absorbed])
    assert set(links) == {keep} and links[keep]["contact_id"] == ana["Id"]
    assert set(links[keep]["feedback_ids"]) == {i.feedback_id for i in items}

    # The next sync of the moved items (the store re-keyed them) writes the merged profile, adds no Task.
    report = resync(org, *(i.feedback_id for i in items))
    assert sorted(report.synced) == sorted(i.feedback_id for i in items) and report.activities_created == 0
    assert {t["Feedback_ID__c"]: t["Id"] for t in org.fake.records["Task"].values()} == tasks_before
    assert org.contact("ana@example.com")["Feedback_Count__c"] == 3
    # A redelivered merge message and another re-sync change nothing.
    before = org.fake.state()
    assert org.target().merge(keep, absorbed).activities_moved == 0
    resync(org, *(i.feedback_id for i in items))
    assert org.fake.state() == before


def test_a_contact_the_team_had_keeps_its_record_and_loses_only_the_feedback_fields(org):  # noqa: F811
    theirs = org.fake.add_contact(LastName="Okafor", FirstName="Bo", Email="bo@example.com")
    by_email = event("f1", email="bo@example.com")
    by_chat = event("w1", user="u-7", source="src_chat", channel=Channel.WEBHOOK)
    org.sync(stored(by_chat, by_email))
    keep, absorbed = customer_of(by_chat), customer_of(by_email)  # the chat customer survives
    (chat_contact,) = org.fake.contacts_by("Feedback_Customer_ID__c", keep)

    customer_merge.merge(keep, absorbed)
    org.target().merge(keep, absorbed)

    bo = org.fake.records["Contact"][theirs]
    assert (bo["FirstName"], bo["LastName"], bo["Email"]) == ("Bo", "Okafor", "bo@example.com")
    assert bo["Feedback_Customer_ID__c"] is None and bo["Feedback_Count__c"] is None
    assert org.fake.tasks_of(theirs) == []
    assert len(org.fake.tasks_of(chat_contact["Id"])) == 2 and len(org.fake.records["Task"]) == 2


def test_a_merge_into_a_customer_never_synced_hands_over_the_contact(org):  # noqa: F811
    by_chat = event("w1", user="u-5", source="src_chat", channel=Channel.WEBHOOK)
    (item,) = stored(by_chat)
    org.sync([item])
    absorbed = customer_of(by_chat)
    by_email = event("f1", email="cy@example.com")
    (unsynced,) = stored(by_email)  # stored, not synced: the survivor has no contact yet
    keep = unsynced.customer_id
    (contact,) = org.fake.records["Contact"].values()

    customer_merge.merge(keep, absorbed)
    assert org.target().merge(keep, absorbed).activities_moved == 1
    assert org.fake.records["Contact"][contact["Id"]]["Feedback_Customer_ID__c"] == keep

    resync(org, item.feedback_id, by_email.feedback_id)
    assert list(org.fake.records["Contact"]) == [contact["Id"]]  # found by its key, not created again
    assert len(org.fake.tasks_of(contact["Id"])) == 2 and len(org.fake.records["Task"]) == 2
