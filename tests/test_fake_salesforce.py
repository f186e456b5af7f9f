"""The local Salesforce org behaves as Salesforce's REST API and OAuth references document it: the token
endpoint's flows and errors, `[{message, errorCode}]` error bodies, INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED
and Sforce-Limit-Info, sObject Collections results per record, composite, SOQL paging, the Tooling API."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.crm.salesforce_api import Credentials, jwt_assertion
from tools.fakes.base import FakeClock
from tools.fakes.salesforce import DATA, ConnectedApp, FakeSalesforce, SalesforceServer

CLIENT_ID = "3MVG9fake.client"
SECRET = "fake-secret"
USER = "integration@example.com"
ALL_CONTACTS = "SELECT Id FROM Contact"


def _key_pair() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


PRIVATE_KEY, PUBLIC_KEY = _key_pair()


@pytest.fixture
def fake() -> FakeSalesforce:
    org = FakeSalesforce(
        apps=[ConnectedApp(CLIENT_ID, SECRET, PUBLIC_KEY, {USER})], clock=FakeClock(), query_page=2
    )
    org.login_url = "https://login.salesforce.com"
    for sobject, name, external in (("Contact", "Cid__c", True), ("Activity", "Fid__c", True)):
        metadata = {"label": name, "type": "Text", "length": 40, "externalId": external, "unique": True}
        org.handle(
            "POST",
            f"{DATA}/tooling/sobjects/CustomField",
            auth(org),
            _json({"FullName": f"{sobject}.{name}", "Metadata": metadata}),
        )
    return org


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def token(fake: FakeSalesforce, **form: str):
    return fake.handle("POST", "/services/oauth2/token", {}, urlencode(form).encode())


def auth(fake: FakeSalesforce) -> dict[str, str]:
    if not fake.tokens:
        token(fake, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=SECRET)
    return {"Authorization": f"Bearer {next(iter(fake.tokens))}"}


def call(fake: FakeSalesforce, method: str, resource: str, body: Any = None):
    return fake.handle(method, DATA + resource, auth(fake), b"" if body is None else _json(body))


def contact(**values: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Contact"}, **values}


def upsert(fake: FakeSalesforce, *records: dict[str, Any], all_or_none: bool = False):
    body = {"allOrNone": all_or_none, "records": list(records)}
    return call(fake, "PATCH", "/composite/sobjects/Contact/Cid__c", body)


def test_the_client_credentials_flow_answers_a_token_and_refuses_bad_credentials(fake):
    counted = fake.count()
    status, _, body = token(fake, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=SECRET)
    assert status == 200 and body["token_type"] == "Bearer" and body["access_token"] in fake.tokens
    assert {"instance_url", "id", "issued_at", "signature"} <= set(body) and "refresh_token" not in body
    cases = (
        ({"client_id": CLIENT_ID, "client_secret": "wrong"}, "invalid_client"),
        ({"client_id": "nobody", "client_secret": SECRET}, "invalid_client_id"),
    )
    for form, error in cases:
        status, _, body = token(fake, grant_type="client_credentials", **form)
        assert (status, body["error"]) == (400, error) and body["error_description"]
    assert token(fake)[2]["error"] == "invalid_request"
    assert token(fake, grant_type="password")[2]["error"] == "unsupported_grant_type"
    assert fake.count() == counted  # the token endpoint does not count against the API allocation


def test_the_jwt_bearer_flow_checks_signature_audience_expiry_and_user(fake):
    now = fake.clock()
    good = Credentials(CLIENT_ID, private_key=PRIVATE_KEY, username=USER)
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    status, _, body = token(fake, grant_type=grant, assertion=jwt_assertion(good, fake.login_url, now))
    assert status == 200 and body["access_token"] in fake.tokens
    other_key, _ = _key_pair()
    refused = (
        jwt_assertion(Credentials(CLIENT_ID, private_key=other_key, username=USER), fake.login_url, now),
        jwt_assertion(good, "https://elsewhere.example", now),
        jwt_assertion(good, fake.login_url, now - 600),
        jwt_assertion(Credentials(CLIENT_ID, private_key=PRIVATE_KEY, username="x@y.z"), fake.login_url, now),
        "not.a-jwt",
    )
    for assertion in refused:
        status, _, body = token(fake, grant_type=grant, assertion=assertion)
        assert (status, body["error"]) == (400, "invalid_grant"), body


def test_an_unknown_or_expired_session_gets_401_invalid_session_id(fake):
    status, _, body = fake.handle("GET", f"{DATA}/limits", {"Authorization": "Bearer nope"}, b"")
    assert status == 401 and body == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    headers = auth(fake)
    assert fake.handle("GET", f"{DATA}/limits", headers, b"")[0] == 200
    fake.expire_tokens()
    assert fake.handle("GET", f"{DATA}/limits", headers, b"")[0] == 401


def test_every_answer_carries_the_usage_and_a_used_up_allocation_is_403_request_limit_exceeded(fake):
    status, headers, body = call(fake, "GET", "/limits")
    used = fake.count()
    assert status == 200 and headers["Sforce-Limit-Info"] == f"api-usage={used}/{fake.daily_allocation}"
    assert body["DailyApiRequests"]["Max"] == fake.daily_allocation
    fake.daily_allocation = used + 1
    assert call(fake, "GET", "/limits")[0] == 200
    status, _, body = call(fake, "GET", "/limits")
    assert status == 403 and body == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    fake.clock.now += 24 * 3600  # type: ignore[attr-defined]  # the rolling window frees up
    assert call(fake, "GET", "/limits")[0] == 200
    fake.busy_for(1)
    status, _, body = call(fake, "GET", "/limits")
    assert status == 403 and "ConcurrentRequests" in body[0]["message"]


def test_upsert_by_external_id_creates_then_updates_with_a_result_per_record(fake):
    status, _, results = upsert(fake, contact(Cid__c="c1", LastName="Ana"), contact(Cid__c="c2"))
    assert status == 200
    assert results[0]["success"] is True and results[0]["created"] is True and results[0]["errors"] == []
    assert results[1]["success"] is False
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["errors"][0]["fields"] == ["LastName"]
    _, _, again = upsert(fake, contact(Cid__c="c1", Email="ana@example.com"))
    assert again[0] == {"id": results[0]["id"], "success": True, "errors": [], "created": False}
    assert fake.records["Contact"][results[0]["id"]]["LastName"] == "Ana"


def test_a_malformed_collection_is_a_400_for_the_whole_request(fake):
    too_many = [contact(Cid__c=f"c{i}", LastName="x") for i in range(201)]
    status, _, body = upsert(fake, *too_many)
    assert status == 400 and body[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    status, _, body = upsert(fake, contact(Cid__c="c1", LastName="x", Nope__c=1))
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD" and not fake.records["Contact"]
    status, _, body = call(fake, "PATCH", "/composite/sobjects/Contact/LastName", {"records": []})
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD"


def test_unique_values_invalid_emails_and_all_or_none(fake):
    upsert(fake, contact(Cid__c="c1", LastName="A"))
    _, _, results = call(
        fake,
        "POST",
        "/composite/sobjects",
        {"records": [contact(LastName="B", Cid__c="c1"), contact(LastName="C", Email="not-an-email")]},
    )
    assert [r["errors"][0]["statusCode"] for r in results] == ["DUPLICATE_VALUE", "INVALID_EMAIL_ADDRESS"]
    _, _, results = upsert(fake, contact(Cid__c="c2", LastName="ok"), contact(Cid__c="c3"), all_or_none=True)
    assert not any(r["success"] for r in results) and len(fake.records["Contact"]) == 1
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def test_tasks_need_a_contact_and_go_with_it_when_it_is_deleted(fake):
    _, _, (created,) = upsert(fake, contact(Cid__c="c1", LastName="A"))
    task = {"attributes": {"type": "Task"}, "Fid__c": "f1", "WhoId": created["id"], "Subject": "hi"}
    _, _, results = call(
        fake,
        "PATCH",
        "/composite/sobjects/Task/Fid__c",
        {"records": [task, {**task, "Fid__c": "f2", "WhoId": "003fk0000000999AAA"}]},
    )
    assert results[0]["success"] and results[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert fake.records["Task"][results[0]["id"]]["Status"] == "Not Started"  # Salesforce's default
    status, _, deleted = call(fake, "DELETE", f"/composite/sobjects?ids={created['id']},003fk0000000999AAA")
    assert status == 200 and deleted[0] == {"id": created["id"], "success": True, "errors": []}
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert not fake.records["Task"] and not fake.records["Contact"]


def test_a_query_pages_with_next_records_url(fake):
    for i in range(5):
        upsert(fake, contact(Cid__c=f"c{i}", LastName="x", Email=f"u{i}@example.com"))
    soql = (
        "SELECT Id, Email FROM Contact WHERE Email IN ('U1@example.com', 'u2@example.com', 'u4@example.com')"
    )
    _, _, page = call(fake, "GET", f"/query?q={quote(soql)}")
    assert page["totalSize"] == 3 and page["done"] is False and len(page["records"]) == 2
    assert page["records"][0]["attributes"]["type"] == "Contact"
    _, _, rest = call(fake, "GET", page["nextRecordsUrl"].removeprefix(DATA))
    assert rest["done"] is True and "nextRecordsUrl" not in rest
    emails = sorted(r["Email"] for r in page["records"] + rest["records"])
    assert emails == ["u1@example.com", "u2@example.com", "u4@example.com"]
    unknown_column = quote("SELECT Nope FROM Contact")
    status, _, body = call(fake, "GET", f"/query?q={unknown_column}")
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD"


def test_custom_fields_are_created_through_the_tooling_api_once_and_described(fake):
    names = {f["name"]: f for f in call(fake, "GET", "/sobjects/Contact/describe")[2]["fields"]}
    assert names["Cid__c"]["externalId"] is True and names["Cid__c"]["custom"] is True
    assert "LastName" in names
    metadata = {"label": "Cid", "type": "Text", "length": 40}
    status, _, body = call(
        fake, "POST", "/tooling/sobjects/CustomField", {"FullName": "Contact.Cid__c", "Metadata": metadata}
    )
    assert status == 400 and body[0]["errorCode"] == "DUPLICATE_VALUE"
    assert "Fid__c" in {f["name"] for f in call(fake, "GET", "/sobjects/Task/describe")[2]["fields"]}


def test_composite_runs_its_subrequests_in_order_as_one_request(fake):
    before = fake.count()
    status, _, body = call(
        fake,
        "POST",
        "/composite",
        {
            "allOrNone": False,
            "compositeRequest": [
                {
                    "method": "PATCH",
                    "url": f"{DATA}/composite/sobjects/Contact/Cid__c",
                    "referenceId": "contacts",
                    "body": {"records": [contact(Cid__c="c1", LastName="A")]},
                },
                {
                    "method": "GET",
                    "url": f"{DATA}/query?q={quote(ALL_CONTACTS)}",
                    "referenceId": "q",
                },
            ],
        },
    )
    assert status == 200 and fake.count() == before + 1
    first, second = body["compositeResponse"]
    assert (first["referenceId"], first["httpStatusCode"]) == ("contacts", 200) and first["body"][0][
        "created"
    ]
    assert second["body"]["totalSize"] == 1  # the second saw what the first wrote


def test_served_over_http_with_json_and_the_limit_header():
    with SalesforceServer() as server:
        form = urlencode(
            {"grant_type": "client_credentials", "client_id": "3MVG9fake.client", "client_secret": SECRET}
        )
        with urllib.request.urlopen(
            f"{server.url}/services/oauth2/token", data=form.encode(), timeout=5
        ) as answer:
            session = json.load(answer)
        assert session["instance_url"] == server.url
        request = urllib.request.Request(
            f"{server.url}{DATA}/limits", headers={"Authorization": f"Bearer {session['access_token']}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Sforce-Limit-Info"] == "api-usage=1/110000"
            assert json.load(response)["DailyApiRequests"]["Remaining"] == 109_999


def test_field_permissions_need_a_permission_set_a_real_field_and_read_under_edit(fake):
    def create(*records: dict[str, Any]) -> list[dict[str, Any]]:
        status, _, results = call(fake, "POST", "/composite/sobjects", {"records": list(records)})
        assert status == 200
        return results

    def permission(parent: str, field: str, read: bool = True, edit: bool = True) -> dict[str, Any]:
        return {
            "attributes": {"type": "FieldPermissions"},
            "ParentId": parent,
            "SobjectType": field.partition(".")[0],
            "Field": field,
            "PermissionsRead": read,
            "PermissionsEdit": edit,
        }

    (made,) = create({"attributes": {"type": "PermissionSet"}, "Name": "Sync", "Label": "Sync"})
    parent = made["id"]
    assert parent.startswith("0PS")
    results = create(
        permission(parent, "Contact.Cid__c"),
        permission(parent, "Contact.Cid__c"),  # one per permission set and field
        permission(parent, "Contact.Nope__c"),
        permission(parent, "Task.Fid__c", read=False, edit=True),
        permission("0PSfk0000000999AAA", "Task.Fid__c"),
    )
    codes = [r["errors"][0]["statusCode"] if not r["success"] else "ok" for r in results]
    assert codes == [
        "ok",
        "DUPLICATE_VALUE",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "FIELD_INTEGRITY_EXCEPTION",
        "INVALID_CROSS_REFERENCE_KEY",
    ]
    assert fake.field_access() == {}  # granted to no one until the set is assigned
    user = "005fk0000000001AAA"
    assignment = {
        "attributes": {"type": "PermissionSetAssignment"},
        "AssigneeId": user,
        "PermissionSetId": parent,
    }
    assert [r["success"] for r in create(assignment, assignment)] == [True, False]
    assert fake.field_access(user) == {"Contact.Cid__c": "edit"}
    soql = "SELECT Id, PermissionSetId FROM PermissionSetAssignment WHERE AssigneeId = '005fk0000000001AAA'"
    body = call(fake, "GET", f"/query?q={quote(soql)}")[2]
    assert body["totalSize"] == 1 and body["records"][0]["PermissionSetId"] == parent
