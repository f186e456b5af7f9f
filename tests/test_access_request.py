"""`customers export`: a data subject's access request answered with everything held on them, and nothing on
anyone else."""

from __future__ import annotations

import json
import os
import stat

from chalicelib import cli as admin_cli
from chalicelib.crm import connections
from chalicelib.crm.connections import CrmConnection
from chalicelib.store import crm_links
from chalicelib.store.merge import merge
from tests.test_customers import customer_of, event, process
from tests.test_privacy import EMAIL, SECRET_TEXT, USER, seed_customer_and_others


def test_an_access_request_by_email_writes_everything_held_on_the_customer_and_no_one_else(
    stack, tmp_path, capsys
):
    erin, olga, day = seed_customer_and_others()
    out = tmp_path / "erin.json"

    assert admin_cli.main(["customers", "export", "--email", EMAIL.upper(), "--out", str(out)]) == 0

    document = json.loads(out.read_text())
    assert document["customer_id"] == erin
    assert document["requested_as"] is None
    assert sorted(f["text"] for f in document["feedback"]) == sorted([SECRET_TEXT, "Still waiting"])
    identities = {(i["kind"], i["value"]) for i in document["identities"]}
    assert ("email", EMAIL) in identities and any(USER in value for _, value in identities)
    assert document["profile"]["feedback_count"] == 2
    assert document["export_days"] == [day.isoformat()]
    assert "olga@example.com" not in out.read_text() and olga not in out.read_text()
    # Only its owner may read it; the terminal gets counts, not the data.
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    printed = capsys.readouterr().out
    assert "2 feedback" in printed and "1 export day(s)" in printed
    assert EMAIL not in printed and SECRET_TEXT not in printed


def test_an_access_request_for_an_old_id_answers_for_the_person_it_was_merged_into(stack, capsys):
    a, b = event("a", email="ma@example.com"), event("b", email="mb@example.com", text=SECRET_TEXT)
    process(a, b)
    keep, absorb = customer_of(a), customer_of(b)
    merge(keep, absorb)

    assert admin_cli.main(["customers", "export", absorb]) == 0

    document = json.loads(capsys.readouterr().out)
    assert (document["customer_id"], document["requested_as"]) == (keep, absorb)
    assert {f["feedback_id"] for f in document["feedback"]} == {a.feedback_id, b.feedback_id}
    assert document["export_days"] == []  # nothing exported yet


def test_an_access_request_names_the_crm_contacts_the_sync_linked(stack, capsys):
    erin, _, _ = seed_customer_and_others()
    connections.save(CrmConnection(connection_id="crm_hubspot_eu", type="hubspot", name="EU portal"))
    connections.save(CrmConnection(connection_id="crm_salesforce_x", type="salesforce", name="Unlinked org"))
    crm_links.save("crm_hubspot_eu", [{"customer_id": erin, "contact_id": "901", "feedback_ids": ["f1"]}], [])

    assert admin_cli.main(["customers", "export", erin]) == 0

    document = json.loads(capsys.readouterr().out)
    assert document["crm_contacts"] == [
        {"connection_id": "crm_hubspot_eu", "crm": "hubspot", "contact_id": "901", "activities": 1}
    ]


def test_an_access_request_for_no_one_says_so_and_writes_nothing(stack, tmp_path, capsys):
    out = tmp_path / "nobody.json"

    assert admin_cli.main(["customers", "export", "--email", "nobody@example.com", "--out", str(out)]) == 1
    assert admin_cli.main(["customers", "export", "nobody@example.com"]) == 2
    assert admin_cli.main(["customers", "export"]) == 2

    assert not out.exists()
    errors = capsys.readouterr().err
    assert "no customer with that email" in errors and "export by `--email <address>`" in errors
    assert "nobody@example.com" not in errors
