"""contacts.csv and activities.csv: the documented layouts, who gets a row, names, formula neutralising, the
erasure re-export, and what the export reads from DynamoDB (the day's items and customers, nothing else)."""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.export import crm
from chalicelib.export import day as export
from chalicelib.ingest import processing
from chalicelib.models import Author, Channel, FeedbackEvent, RatingScale
from chalicelib.privacy import erasure
from chalicelib.store import counters, customers, dynamo
from chalicelib.store import feedback as feedback_store
from chalicelib.store.profiles import profile_key
from tests import test_privacy
from tests.test_customers import customer_of, event, process

README = Path(__file__).resolve().parent.parent / "README.md"

export_function = test_privacy.export_function  # the same fixture: Lambda Invoke recorded, run on demand

DAY = date(2026, 11, 22)
STORED_ON_DAY = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
STORED_BEFORE = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
PREFIX = "exports/dt=2026-11-22/"

# The header rows as the README documents them, exactly as a CRM import reads them (a change here is a
# change for every CRM import set up).
DOCUMENTED_CONTACTS_HEADER = (
    "Feedback Customer ID,First Name,Last Name,Email,Feedback Count,Feedback Mean Sentiment,"
    "Feedback Latest NPS,Feedback Latest NPS Date,Feedback Latest CSAT,Feedback Latest CSAT Date,"
    "Feedback First Seen,Feedback Last Seen,Feedback Channels"
)
DOCUMENTED_ACTIVITIES_HEADER = (
    "Feedback ID,Feedback Customer ID,Email,Activity Date,Subject,Note Body,Status,Feedback Type,"
    "Feedback Channel,Feedback Rating,Feedback Rating Scale,Feedback Sentiment,Feedback Sentiment Score,"
    "Occurred At,Feedback Permalink"
)


def store(stored_at: datetime, *events: FeedbackEvent, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the analyze path as if it ran at `stored_at` (the export day is the day an item was stored)."""
    monkeypatch.setattr(processing, "utc_now", lambda: stored_at)
    process(*events)


def with_handle(e: FeedbackEvent, handle: str) -> FeedbackEvent:
    return e.model_copy(update={"author": Author(**{**e.author.model_dump(), "handle": handle})})


def s3_text(key: str) -> str:
    return aws.client("s3").get_object(Bucket=settings().bucket_name, Key=key)["Body"].read().decode("utf-8")


def csv_rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(s3_text(PREFIX + name), newline="")))


def count_requests() -> tuple[Counter[str], Counter[str]]:
    """(requests per DynamoDB operation, items returned per operation) for what follows."""
    requests: Counter[str] = Counter()
    returned: Counter[str] = Counter()

    def before(event_name: str, **kwargs) -> None:
        requests[event_name.rsplit(".", 1)[1]] += 1

    def after(event_name: str, parsed: dict, **kwargs) -> None:
        operation = event_name.rsplit(".", 1)[1]
        if operation == "BatchGetItem":
            # Items other than the day's counters and their completeness mark (which say which partitions of
            # the per-day index to read: store/day_layout.py).
            found = [item for items in parsed.get("Responses", {}).values() for item in items]
            returned[operation] += sum(not item["pk"]["S"].startswith("COUNTER") for item in found)
        else:
            returned[operation] += int(parsed.get("ScannedCount", 0))

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb", before)
    events.register("after-call.dynamodb", after)
    return requests, returned


@pytest.fixture
def two_customers_and_anonymous(stack, monkeypatch):
    ana_form = event(
        "f1",
        email="ana@example.com",
        name="Ana María López",
        rating=9,
        scale=RatingScale.NPS,
        text="Love it, great staff",
    )
    ana_chat = event(
        "w1", email="ana@example.com", user="u-1", source="src_chat", channel=Channel.WEBHOOK, minutes=5
    )
    bo_chat = with_handle(
        event("t1", user="u-2", source="src_tg", channel=Channel.TELEGRAM, text="Slow delivery", minutes=7),
        "@bo_the_builder",
    ).model_copy(update={"permalink": "https://t.me/c/1/2"})
    anonymous = event("anon", text="Nice place", minutes=9)
    store(STORED_ON_DAY, ana_form, ana_chat, bo_chat, anonymous, monkeypatch=monkeypatch)
    return {"ana": customer_of(ana_form), "bo": customer_of(bo_chat), "events": [ana_form, ana_chat, bo_chat]}


def test_the_layouts_are_the_documented_ones(two_customers_and_anonymous):
    assert list(crm.CONTACT_COLUMNS) == DOCUMENTED_CONTACTS_HEADER.split(",")
    assert list(crm.ACTIVITY_COLUMNS) == DOCUMENTED_ACTIVITIES_HEADER.split(",")

    export.export_day(DAY)

    contacts, activities = s3_text(PREFIX + "contacts.csv"), s3_text(PREFIX + "activities.csv")
    assert contacts.split("\r\n", 1)[0] == DOCUMENTED_CONTACTS_HEADER
    assert activities.split("\r\n", 1)[0] == DOCUMENTED_ACTIVITIES_HEADER


def test_contacts_for_the_days_customers_and_activities_for_their_feedback_only(two_customers_and_anonymous):
    ana, bo = two_customers_and_anonymous["ana"], two_customers_and_anonymous["bo"]
    ana_form, ana_chat, bo_chat = two_customers_and_anonymous["events"]

    manifest = export.export_day(DAY)

    assert manifest["counts"] == {"feedback": 4, "contacts": 2, "activities": 3, "feedback_themes": 0}
    entries = {f["key"].rsplit("/", 1)[1]: f for f in manifest["files"]}
    assert (entries["contacts.csv"]["rows"], entries["activities.csv"]["rows"]) == (2, 3)
    assert entries["contacts.csv"]["content_type"] == "text/csv; charset=utf-8"

    contacts = {row["Feedback Customer ID"]: row for row in csv_rows("contacts.csv")}
    assert list(contacts) == sorted([ana, bo])
    ana_profile = customers.summarize(customers.get_profile(ana))
    assert contacts[ana] == {
        "Feedback Customer ID": ana,
        "First Name": "Ana",
        "Last Name": "María López",
        "Email": "ana@example.com",
        "Feedback Count": "2",
        "Feedback Mean Sentiment": str(ana_profile["mean_sentiment_score"]),
        "Feedback Latest NPS": "9",
        "Feedback Latest NPS Date": "2026-11-21",
        "Feedback Latest CSAT": "",
        "Feedback Latest CSAT Date": "",
        "Feedback First Seen": "2026-11-21",
        "Feedback Last Seen": "2026-11-21",
        "Feedback Channels": "form;webhook",
    }
    # No name and no email: the handle (without "@") stands in for the required Last Name.
    assert (contacts[bo]["First Name"], contacts[bo]["Last Name"], contacts[bo]["Email"]) == (
        "",
        "bo_the_builder",
        "",
    )
    assert contacts[bo]["Feedback Channels"] == "telegram"

    activities = csv_rows("activities.csv")
    assert [a["Feedback ID"] for a in activities] == [e.feedback_id for e in (ana_form, ana_chat, bo_chat)]
    assert [(a["Feedback Customer ID"], a["Email"]) for a in activities] == [
        (ana, "ana@example.com"),
        (ana, "ana@example.com"),  # the chat message carried no email: the contact's key all the same
        (bo, ""),
    ]
    stored = feedback_store.get(ana_form.feedback_id)
    first = activities[0]
    assert first["Subject"] == f"Feedback via form: {stored.sentiment}, NPS 9/10"
    assert first["Note Body"] == "Love it, great staff"
    assert first["Activity Date"] == "2026-11-21"  # when it was said, not the day it was stored
    assert first["Occurred At"] == "2026-11-21T09:00:00.000000Z"
    assert (first["Status"], first["Feedback Type"], first["Feedback Channel"]) == (
        "Completed",
        "form_response",
        "form",
    )
    assert (first["Feedback Rating"], first["Feedback Rating Scale"]) == ("9", "nps")
    assert (first["Feedback Sentiment"], float(first["Feedback Sentiment Score"])) == (
        str(stored.sentiment),
        stored.sentiment_score,
    )
    assert activities[2]["Feedback Permalink"] == "https://t.me/c/1/2"
    assert activities[2]["Feedback Rating"] == ""


def test_files_are_rfc4180_utf8_with_formulas_neutralised(stack, monkeypatch):
    sneaky = event(
        "x1",
        email="eve@example.com",
        name='=HYPERLINK("http://evil") Smith',
        text='@SUM(1+1) terrible, awful\nsecond "line"',
    )
    store(STORED_ON_DAY, sneaky, monkeypatch=monkeypatch)

    export.export_day(DAY)

    raw = aws.client("s3").get_object(Bucket=settings().bucket_name, Key=PREFIX + "activities.csv")["Body"]
    raw = raw.read()
    assert raw.startswith(b"Feedback ID,") and raw.endswith(b"\r\n")  # UTF-8 without BOM, CRLF rows
    [contact] = csv_rows("contacts.csv")
    assert contact["First Name"] == '\'=HYPERLINK("http://evil")'
    assert contact["Last Name"] == "Smith"
    [activity] = csv_rows("activities.csv")
    assert activity["Note Body"] == '\'@SUM(1+1) terrible, awful\nsecond "line"'
    # Numbers stay numbers: a negative score is not a formula and keeps its sign.
    assert float(contact["Feedback Mean Sentiment"]) < 0
    assert float(activity["Feedback Sentiment Score"]) < 0
    assert not activity["Feedback Sentiment Score"].startswith("'")


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"display_name": "Ana María López"}, ("Ana", "María López")),
        ({"display_name": "  Cher  "}, ("", "Cher")),
        ({"display_name": "Jean   Luc\tPicard"}, ("Jean", "Luc Picard")),
        ({"display_name": "", "handles": ["@zed", "@amy"]}, ("", "amy")),
        ({"handles": ["@", "tom"]}, ("", "tom")),
        ({"emails": ["zoe.m@example.com", "a.b@example.com"]}, ("", "a.b")),
        ({}, ("", "cus_0123abcd4567ef89abcdef01")),  # never a made-up name: the key the row matches on
    ],
)
def test_name_split_and_fallbacks(profile, expected):
    assert crm.split_name({"customer_id": "cus_0123abcd4567ef89abcdef01", **profile}) == expected


def test_a_rating_only_response_gets_its_subject_as_body(stack, monkeypatch):
    rating_only = event("r1", email="rae@example.com", text="", rating=4, scale=RatingScale.CSAT)
    store(STORED_ON_DAY, rating_only, monkeypatch=monkeypatch)

    export.export_day(DAY)

    [activity] = csv_rows("activities.csv")
    assert activity["Subject"] == activity["Note Body"] == "Feedback via form: CSAT 4/5"
    [contact] = csv_rows("contacts.csv")
    assert (contact["Feedback Latest CSAT"], contact["Feedback Latest CSAT Date"]) == ("4", "2026-11-21")


@pytest.mark.parametrize("customers_on_day", [2, 150])
def test_export_reads_the_days_items_and_its_customers_only(stack, monkeypatch, customers_on_day):
    others = [event(f"o{i}", email=f"other{i}@example.com") for i in range(50)]
    store(STORED_BEFORE, *others, monkeypatch=monkeypatch)
    todays = [event(f"d{i}", email=f"today{i}@example.com") for i in range(customers_on_day)]
    store(STORED_ON_DAY, *todays, event("anon"), monkeypatch=monkeypatch)
    assert stack.table_item_count("PROFILE") == 50 + customers_on_day
    counters.mark_complete_if_unset(counters.EVERY_DAY)  # as the local stack marks a table it creates
    requests, returned = count_requests()

    manifest = export.export_day(DAY)

    # The day's counters (one BatchGetItem: its only channel, every item in the channel layout), one Query
    # per shard of that channel's partition, the customers' profiles.
    assert requests == Counter(
        {"Query": settings().channel_shards, "BatchGetItem": 1 + math.ceil(customers_on_day / 100)}
    )
    assert "Scan" not in requests
    assert returned["Query"] == manifest["counts"]["feedback"] == customers_on_day + 1  # each item read once
    assert returned["BatchGetItem"] == customers_on_day  # the day's customers' profiles, no other
    assert manifest["counts"]["contacts"] == manifest["counts"]["activities"] == customers_on_day


def test_items_of_an_absorbed_customer_are_logged_on_the_survivor(stack, monkeypatch):
    kept = event("k1", email="kim@example.com", name="Kim Lee")
    store(STORED_BEFORE, kept, monkeypatch=monkeypatch)
    absorbed = event("a1", email="kim.old@example.com")
    store(STORED_ON_DAY, absorbed, monkeypatch=monkeypatch)
    keep, absorb = customer_of(kept), customer_of(absorbed)
    # A merge between its tombstone and moving the items: today's item still names the absorbed customer.
    aws.client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=dynamo.serialize(profile_key(absorb)),
        UpdateExpression="SET merged_into = :keep",
        ExpressionAttributeValues=dynamo.serialize({":keep": keep}),
    )
    requests, returned = count_requests()

    export.export_day(DAY)

    [contact] = csv_rows("contacts.csv")
    assert (contact["Feedback Customer ID"], contact["Last Name"]) == (keep, "Lee")
    [activity] = csv_rows("activities.csv")
    assert (activity["Feedback Customer ID"], activity["Email"]) == (keep, "kim@example.com")
    # The day's counters (which partitions to read), the tombstone, then the survivor it points at.
    assert requests["BatchGetItem"] == 1 + 2
    assert returned["BatchGetItem"] == 2


def test_erasure_reexport_drops_the_customer_from_both_crm_files(client, export_function, monkeypatch):
    erin = [
        event("e1", email="erin@example.com", name="Erin Example", text="my order arrived broken"),
        event(
            "e2", email="erin@example.com", user="u-9", source="src_chat", channel=Channel.WEBHOOK, minutes=1
        ),
    ]
    olga = event("o1", email="olga@example.com", text="All good")
    store(STORED_ON_DAY, *erin, olga, monkeypatch=monkeypatch)
    erin_id, olga_id = customer_of(erin[0]), customer_of(olga)
    # The erasure finds export days by the items' stored_at: export the day it reads.
    export.export_day(DAY)
    assert {r["Feedback Customer ID"] for r in csv_rows("contacts.csv")} == {erin_id, olga_id}
    assert len(csv_rows("activities.csv")) == 3

    export_function.accepts(1)
    report = erasure.erase_customer(erin_id)
    assert export_function.run_invocations(client) == [{"rewritten": [DAY.isoformat()]}]

    assert report.exports_scheduled == [DAY.isoformat()]
    contacts, activities = s3_text(PREFIX + "contacts.csv"), s3_text(PREFIX + "activities.csv")
    for identifier in (erin_id, "erin@example.com", "Erin", "Example", "arrived broken"):
        assert identifier not in contacts
        assert identifier not in activities
    assert [r["Feedback Customer ID"] for r in csv_rows("contacts.csv")] == [olga_id]
    assert [r["Email"] for r in csv_rows("activities.csv")] == ["olga@example.com"]


def test_the_writers_alone_need_no_export_day(stack, monkeypatch, tmp_path):
    """Each writer works on its own (its own profile read) and writes headers for a day without customers."""
    store(STORED_ON_DAY, event("solo", email="sol@example.com"), monkeypatch=monkeypatch)
    item = feedback_store.get(event("solo", email="sol@example.com").feedback_id)
    contacts, activities = crm.ContactsWriter(tmp_path), crm.ActivitiesWriter(tmp_path)
    for writer in (contacts, activities):
        writer.write(item)
    assert contacts.close().path.read_bytes().count(b"\r\n") == 2
    assert activities.close().path.read_bytes().count(b"\r\n") == 2
    assert not (tmp_path / "activities.csv.spool").exists()

    (tmp_path / "empty").mkdir()
    empty = crm.ContactsWriter(tmp_path / "empty")
    assert empty.close().path.read_bytes() == (DOCUMENTED_CONTACTS_HEADER + "\r\n").encode()
    assert empty.rows == 0


def test_a_follow_up_answer_is_noted_under_its_question(stack, monkeypatch):
    asked = {"follow_up_question": "What should we improve?", "form_name": "Checkout"}
    answered = event("f1", email="fay@example.com", text="Checkout is slow", rating=3, scale=RatingScale.NPS)
    plain = event("f3", email="hal@example.com", text="Nice shop", rating=9, scale=RatingScale.NPS)
    store(
        STORED_ON_DAY,
        answered.model_copy(update={"metadata": asked}),
        plain.model_copy(update={"metadata": {"form_name": "Checkout"}}),
        monkeypatch=monkeypatch,
    )

    export.export_day(DAY)

    notes = {row["Email"]: row["Note Body"] for row in csv_rows("activities.csv")}
    assert notes["fay@example.com"] == "What should we improve?\nCheckout is slow"
    assert notes["hal@example.com"] == "Nice shop"  # no question asked: the comment alone, as before
    monkeypatch.setattr(crm, "NOTE_BODY_MAX_CHARS", 30)  # the question counts in the note's bound
    assert crm.note_body(feedback_store.get(answered.feedback_id)) == "What should we improve?\nChecko"
    feedback_csv = s3_text(PREFIX + "feedback.csv")
    assert "What should we improve?" not in feedback_csv  # its columns are unchanged; JSON Lines has it all


def readme_table_columns(header: str) -> list[str]:
    """The CRM file columns a README table of "### CRM imports" names in its first column: parentheses
    explain a column, and " / " or ", " separate the columns one row names together."""
    section = README.read_text().split("### CRM imports", 1)[1].split("\n### ", 1)[0]
    lines = section.split(header, 1)[1].splitlines()[2:]  # after the header row and its rule
    names: list[str] = []
    for line in itertools.takewhile(lambda row: row.startswith("|"), lines):
        first = re.sub(r"\s*\([^)]*\)", "", line.split("|")[1]).strip()
        names += re.split(r" / |, ", first)
    return names


@pytest.mark.parametrize(
    ("header", "columns"),
    [
        ("| column | value | Salesforce", crm.CONTACT_COLUMNS),
        ("| column | HubSpot (Import → Notes", crm.ACTIVITY_COLUMNS),
    ],
)
def test_the_readme_names_each_crm_column_as_its_header(header, columns):
    """The README says to create the CRM fields "with exactly these labels", so its tables name the headers
    exactly (its activities table once named "Channel" for the header "Feedback Channel")."""
    assert readme_table_columns(header) == list(columns)
