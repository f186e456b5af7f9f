"""Erasure: the customer's identifiers are found nowhere afterwards, in the table or any export file; the
export days that held them are rewritten by the export function an erasure invokes, and no export link is
handed out for such a day until its rewrite has run."""

from __future__ import annotations

import gzip
import io
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from botocore.stub import ANY, Stubber

from chalicelib import aws
from chalicelib import cli as admin_cli
from chalicelib.auth import tokens
from chalicelib.config import settings
from chalicelib.export import day as export
from chalicelib.export import rewrite
from chalicelib.export.day import export_day
from chalicelib.models import Channel, RatingScale
from chalicelib.privacy import erasure
from chalicelib.store import customers, dynamo, feedback_layout
from chalicelib.store import feedback as feedback_store
from chalicelib.store.merge import merge
from tests import test_local_stack
from tests.test_customers import customer_of, event, process
from tests.test_local_stack import cli, post

local_stack = test_local_stack.local_stack  # the same fixture: `python -m chalicelib.local` on free ports

EMAIL, USER, NAME = "erin.secret@example.com", "u-erin-77", "Erin Example"
SECRET_TEXT = "my order 5512 arrived broken"
EXPORT_FUNCTION_NAME = "feedback-collector-test-NightlyExport"


def everything_stored() -> str:
    """Every table item (a feedback item's compressed text decompressed) and every export file's content
    (decompressed / decoded) as one string."""
    items = aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
    plain = [feedback_layout.plain_fields(dynamo.deserialize(item)) for item in items]
    # Compressed texts are bytes: written out as such (their words are in `plain`, decompressed).
    return "\n".join([json.dumps(items, default=str), json.dumps(plain, default=str), everything_exported()])


def everything_exported() -> str:
    """Every export file's content (decompressed / decoded) as one string."""
    parts = []
    s3 = aws.client("s3")
    for obj in s3.list_objects_v2(Bucket=settings().bucket_name).get("Contents", []):
        body = s3.get_object(Bucket=settings().bucket_name, Key=obj["Key"])["Body"].read()
        if obj["Key"].endswith(".gz"):
            body = gzip.decompress(body)
        if obj["Key"].endswith(".parquet"):
            body = json.dumps(pq.read_table(io.BytesIO(body)).to_pylist(), default=str).encode()
        parts.append(body.decode("utf-8"))
    return "\n".join(parts)


def seed_customer_and_others():
    erin = [
        event("e1", email=EMAIL, name=NAME, rating=2, scale=RatingScale.NPS, text=SECRET_TEXT),
        event(
            "e2",
            email=EMAIL,
            user=USER,
            source="src_chat",
            channel=Channel.WEBHOOK,
            text="Still waiting",
            minutes=1,
        ),
    ]
    other = event("o1", email="olga@example.com", text="All good")
    process(*erin, other)
    day = datetime.now(UTC).date()
    export_day(day)
    return customer_of(erin[0]), customer_of(other), day


@dataclass
class ExportFunction:
    """The deployed export function as the API sees it: Lambda `Invoke` answered by botocore's Stubber, each
    invocation's event kept to be run later through the app's handler, as Lambda would run it."""

    stubber: Stubber
    events: list[dict] = field(default_factory=list)

    def accepts(self, invocations: int = 1) -> None:
        """Expect `invocations` asynchronous invocations of the export function (Lambda answers 202)."""
        for _ in range(invocations):
            self.stubber.add_response(
                "invoke",
                {"StatusCode": 202},
                {"FunctionName": EXPORT_FUNCTION_NAME, "InvocationType": "Event", "Payload": ANY},
            )

    def run_invocations(self, client) -> list[dict]:
        """Run what was invoked (Lambda starts async invocations within seconds); returns the results."""
        results = [client.lambda_.invoke("nightly_export", event).payload for event in self.events]
        self.events.clear()
        return results


@pytest.fixture
def export_function(stack, monkeypatch):
    """EXPORT_FUNCTION_NAME set as the stack sets it on the API function, Invoke recorded."""
    monkeypatch.setenv("EXPORT_FUNCTION_NAME", EXPORT_FUNCTION_NAME)
    settings.cache_clear()
    lambda_client = aws.client("lambda")
    function = ExportFunction(Stubber(lambda_client))

    def record(params: dict, **kwargs) -> None:
        function.events.append(json.loads(params["Payload"]))

    lambda_client.meta.events.register("provide-client-params.lambda.Invoke", record)
    with function.stubber:
        yield function
        function.stubber.assert_no_pending_responses()
    settings.cache_clear()


def erase_token() -> dict[str, str]:
    token, _ = tokens.create_token("privacy", ["erase", "export"])
    return {"Authorization": f"Bearer {token}"}


def test_erasure_leaves_no_identifier_in_the_table_or_any_export(client, export_function):
    customer_id, other_id, day = seed_customer_and_others()
    before = everything_stored()
    identifiers = [EMAIL, USER, NAME, SECRET_TEXT, customer_id]
    assert all(identifier in before for identifier in identifiers)
    export_function.accepts(1)

    report = erasure.erase_customer(customer_id)

    assert (report.exports_scheduled, report.export_rewrite) == ([day.isoformat()], "invoked")
    assert [event["detail"] for event in export_function.events] == [{"days": [day.isoformat()]}]
    assert export_function.run_invocations(client) == [{"rewritten": [day.isoformat()]}]
    after = everything_stored()
    assert [identifier for identifier in identifiers if identifier in after] == []
    # Everyone else is untouched, in the table and in the rewritten export.
    assert "olga@example.com" in after
    assert customers.get_profile(other_id)["feedback_count"] == 1
    assert (report.feedback_deleted, report.identities_deleted, report.profiles_deleted) == (2, 2, 1)
    manifest = json.loads(
        aws.client("s3")
        .get_object(Bucket=settings().bucket_name, Key=f"exports/dt={day}/manifest.json")["Body"]
        .read()
    )
    assert manifest["counts"]["feedback"] == 1
    assert rewrite.pending_days() == []


def test_the_erasure_log_records_the_request_not_the_data(stack):
    customer_id, _, _ = seed_customer_and_others()

    erasure.erase_customer(customer_id)

    [entry] = erasure.erasure_log()
    assert entry["customer_hash"] == erasure.customer_hash(customer_id)
    assert entry["feedback_deleted"] == 2
    assert customer_id not in json.dumps(entry)
    assert EMAIL not in json.dumps(entry)


def test_the_erasure_log_says_which_token_or_the_cli_asked(client, stack):
    # An auditor asks who erased a customer: the log named no one (the token's id is ours, no person's).
    erin, olga = event("e", email=EMAIL), event("o", email="olga@example.com")
    process(erin, olga)
    token, info = tokens.create_token("privacy desk", ["erase"])

    response = client.http.delete(
        f"/customers/{customer_of(erin)}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert admin_cli.main(["customers", "erase", customer_of(olga), "--yes"]) == 0

    assert [entry["requested_by"] for entry in erasure.erasure_log()] == [f"token:{info.token_id}", "cli"]
    assert token not in json.dumps(erasure.erasure_log())


def test_erasing_a_merged_customer_removes_the_absorbed_tombstone(stack):
    a, b = event("a", email="ma@example.com"), event("b", email="mb@example.com")
    process(a, b)
    keep, absorb = customer_of(a), customer_of(b)
    merge(keep, absorb)

    erasure.erase_customer(keep)

    assert customers.get_profile(absorb) is None
    assert customers.get_profile(keep) is None
    assert "mb@example.com" not in everything_stored()


def test_erasing_a_merged_customers_old_id_erases_the_person_it_was_merged_into(client, stack):
    a, b = event("a", email="ma@example.com"), event("b", email="mb@example.com", text=SECRET_TEXT)
    process(a, b)
    keep, absorb = customer_of(a), customer_of(b)
    merge(keep, absorb)

    # The old id, as an earlier contacts.csv or a CRM holds it. Before: 200 "erased" with only the tombstone
    # gone, while the person's email, feedback and profile stayed under the id they were merged into.
    response = client.http.delete(f"/customers/{absorb}", headers=erase_token())

    body = json.loads(response.body)
    assert (response.status_code, body["merged_into"], body["feedback_deleted"]) == (200, keep, 2)
    assert customers.get_profile(keep) is None
    assert customers.get_profile(absorb) is None
    after = everything_stored()
    assert [value for value in ("ma@example.com", "mb@example.com", SECRET_TEXT) if value in after] == []
    log = json.dumps(erasure.erasure_log())
    assert [value for value in (keep, absorb) if value in log] == []


def test_erasing_an_id_merged_twice_over_erases_the_person_it_ended_in(client, stack):
    a, b, c = (event(name, email=f"m{name}@example.com", text=SECRET_TEXT) for name in "abc")
    process(a, b, c)
    first, second, last = customer_of(a), customer_of(b), customer_of(c)
    merge(second, first)  # a's tombstone names b …
    merge(last, second)  # … and b's names c: a is c now

    response = client.http.delete(f"/customers/{first}", headers=erase_token())

    body = json.loads(response.body)
    assert (response.status_code, body["merged_into"], body["feedback_deleted"]) == (200, last, 3)
    assert [customers.get_profile(customer) for customer in (first, second, last)] == [None, None, None]
    after = everything_stored()
    secrets = ("ma@example.com", "mb@example.com", "mc@example.com", SECRET_TEXT)
    assert [value for value in secrets if value in after] == []


def test_the_cli_says_which_customer_an_old_id_erased(stack, capsys):
    a, b = event("a", email="ma@example.com"), event("b", email="mb@example.com")
    process(a, b)
    keep, absorb = customer_of(a), customer_of(b)
    merge(keep, absorb)

    assert admin_cli.main(["customers", "erase", absorb, "--yes"]) == 0

    assert f"{absorb} was merged into {keep}" in capsys.readouterr().out
    assert customers.get_profile(keep) is None


def test_erasing_an_unknown_customer_changes_nothing(stack):
    assert erasure.erase_customer("cus_nobody") is None
    assert erasure.erasure_log() == []


# --- the prompt rewrite of the export files ---------------------------------------------------------------


def test_an_api_erasure_refuses_export_links_until_the_invoked_rewrite_has_run(client, export_function):
    customer_id, _, day = seed_customer_and_others()
    headers = erase_token()
    export_function.accepts(1)

    response = client.http.delete(f"/customers/{customer_id}", headers=headers)

    assert response.status_code == 200, response.body
    assert response.json_body["exports_scheduled_for_rewrite"] == [day.isoformat()]
    # One asynchronous invocation of the export function (the Stubber checked name and InvocationType).
    [invoked] = export_function.events
    assert (invoked["source"], invoked["detail"]) == (rewrite.REWRITE_SOURCE, {"days": [day.isoformat()]})
    # The table is clean at once; the files still hold the customer, so no link to them is handed out.
    assert EMAIL in everything_exported()
    pending = client.http.get(f"/exports/{day.isoformat()}", headers=headers)
    assert pending.status_code == 409, pending.body
    assert pending.json_body["error"]["code"] == "export_rewrite_pending"
    assert pending.headers["Retry-After"] == str(rewrite.RETRY_AFTER_SECONDS)
    assert "url" not in pending.body.decode()

    export_function.run_invocations(client)

    exported = everything_exported()
    assert [i for i in (EMAIL, USER, NAME, SECRET_TEXT, customer_id) if i in exported] == []
    assert "olga@example.com" in exported  # the day was rewritten, not emptied
    links = client.http.get(f"/exports/{day.isoformat()}", headers=headers)
    assert links.status_code == 200
    assert links.json_body["counts"]["feedback"] == 1
    assert rewrite.pending_days() == []


def test_a_failed_invocation_leaves_the_rewrite_to_the_nightly_run(client, export_function, monkeypatch):
    customer_id, _, day = seed_customer_and_others()
    headers = erase_token()
    export_function.stubber.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)

    response = client.http.delete(f"/customers/{customer_id}", headers=headers)

    assert response.status_code == 200  # the erasure happened; the rewrite waits for the nightly run
    assert client.http.get(f"/exports/{day.isoformat()}", headers=headers).status_code == 409
    monkeypatch.setattr(
        export, "utc_now", lambda: datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    )
    client.lambda_.invoke(
        "nightly_export", client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    )
    assert EMAIL not in everything_exported()
    assert client.http.get(f"/exports/{day.isoformat()}", headers=headers).status_code == 200


def test_an_erasure_during_the_nightly_export_is_rewritten_by_the_same_run(client, stack, monkeypatch):
    """The nightly run reads yesterday's items; a customer is erased before it has written the manifest
    (so the erasure cannot see the day as exported): the run rewrites the day before it ends."""
    customer_id, _, day = seed_customer_and_others()
    aws.client("s3").delete_object(Bucket=settings().bucket_name, Key=f"exports/dt={day}/manifest.json")
    monkeypatch.setattr(
        export, "utc_now", lambda: datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    )
    read_day = feedback_store.list_day
    reports = []

    def read_then_erase(day_to_read: date):
        items = list(read_day(day_to_read))
        if not reports:
            reports.append(erasure.erase_customer(customer_id))
        return iter(items)

    monkeypatch.setattr(feedback_store, "list_day", read_then_erase)

    client.lambda_.invoke(
        "nightly_export", client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    )

    assert reports[0].exports_scheduled == [day.isoformat()]
    assert EMAIL not in everything_exported()
    assert "olga@example.com" in everything_exported()
    assert rewrite.pending_days() == []


def test_an_erasure_during_a_rewrite_keeps_the_day_pending_for_its_own(stack, monkeypatch):
    _, _, day = seed_customer_and_others()
    rewrite.mark_pending([day])
    real_export_day = rewrite.export_day
    rewrites = []

    def export_while_another_erasure_marks(day_to_export: date, **options):
        manifest = real_export_day(day_to_export, **options)
        if not rewrites:  # a second erasure marks the day after the first rewrite has read its items
            rewrite.mark_pending([day])
        rewrites.append(day_to_export)
        return manifest

    monkeypatch.setattr(rewrite, "export_day", export_while_another_erasure_marks)

    assert rewrite.rewrite_pending() == [day.isoformat()]
    assert rewrite.is_pending(day)  # the second erasure's mark outlived the first rewrite
    assert rewrite.rewrite_pending() == [day.isoformat()]
    assert not rewrite.is_pending(day)
    assert rewrites == [day, day]


def test_an_erasure_with_nothing_exported_yet_invokes_nothing(client, export_function):
    """Items of today, not exported: the nightly run writes the day without the customer (and rewrites it
    once more if the erasure raced with it); no invocation, no 409 for a day that has no export."""
    erin = event("e1", email=EMAIL, text=SECRET_TEXT)
    process(erin)

    today = datetime.now(UTC).date().isoformat()

    report = erasure.erase_customer(customer_of(erin))

    assert (report.exports_scheduled, report.export_rewrite) == ([today], "upcoming")
    assert export_function.events == []
    assert client.http.get(f"/exports/{today}", headers=erase_token()).status_code == 404


def test_the_cli_says_a_day_not_exported_yet_needs_no_rewrite(stack, capsys):
    # It used to say "set EXPORT_FUNCTION_NAME to have them rewritten now", with no file to rewrite.
    erin = event("e1", email=EMAIL, text=SECRET_TEXT)
    process(erin)

    assert admin_cli.main(["customers", "erase", customer_of(erin), "--yes"]) == 0

    out = capsys.readouterr().out
    assert "not exported yet: the nightly export writes them without this customer" in out
    assert "EXPORT_FUNCTION_NAME" not in out


# --- make run: the local stack runs the same rewrite, in the background ------------------------------------


def _request(url: str, headers: dict[str, str], method: str = "GET") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return response.status, dict(response.headers), body
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _exported_text(base: str, headers: dict[str, str], day: str) -> str:
    """Every file of the day's export as text, fetched through the links GET /exports/{date} hands out."""
    status, _, body = _request(f"{base}/exports/{day}", headers)
    assert status == 200, body
    parts = []
    for entry in json.loads(body)["files"]:
        with urllib.request.urlopen(entry["url"], timeout=10) as response:
            content = response.read()
        if entry["key"].endswith(".gz"):
            content = gzip.decompress(content)
        if entry["key"].endswith(".parquet"):
            content = json.dumps(pq.read_table(io.BytesIO(content)).to_pylist(), default=str).encode()
        parts.append(content.decode())
    return "\n".join(parts)


def test_make_run_rewrites_the_export_promptly_after_an_erasure(local_stack):
    env, _, _ = local_stack
    base = f"http://127.0.0.1:{env['PORT']}"
    created = cli(env, "tokens", "create", "--scope", "erase", "--scope", "export", "--name", "privacy")
    token = re.search(r"token:\s+(fbk_\S+)", created.stdout).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    for email in ("api.erased@example.com", "cli.erased@example.com", "kept@example.com"):
        status, _ = post(
            f"{base}/forms/demo/responses",
            json.dumps({"rating": 9, "comment": "Fine", "email": email}).encode(),
            "application/json",
        )
        assert status == 202
    today = time.strftime("%Y-%m-%d", time.gmtime())
    stored = []
    for _ in range(60):
        listing = cli(env, "feedback", "list", "--date", today, "--json")
        stored = [json.loads(line) for line in listing.stdout.splitlines() if line.startswith("{")]
        if len(stored) == 3:
            break
        time.sleep(0.5)
    customer = {item["author"]["email"]: item["customer_id"] for item in stored}
    assert cli(env, "export", "--date", today, "--partial").returncode == 0
    assert "api.erased@example.com" in _exported_text(base, headers, today)

    status, _, _ = _request(f"{base}/customers/{customer['api.erased@example.com']}", headers, "DELETE")
    assert status == 200
    for _ in range(60):  # the local stack rewrites in a background thread: seconds
        status, _, _ = _request(f"{base}/exports/{today}", headers)
        if status == 200:
            break
        assert status == 409
        time.sleep(0.5)
    exported = _exported_text(base, headers, today)
    assert "api.erased@example.com" not in exported
    assert "cli.erased@example.com" in exported

    # The CLI erases through the same path; its process finishes the rewrite before it exits.
    erased = cli(env, "customers", "erase", customer["cli.erased@example.com"], "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "rewriting them now" in erased.stdout
    exported = _exported_text(base, headers, today)
    assert "cli.erased@example.com" not in exported
    assert "kept@example.com" in exported


# --- erasure by email, as a privacy request names its sender ----------------------------------------------


def test_the_cli_erases_by_email(stack, capsys):
    erin, other = event("e", email=EMAIL, text=SECRET_TEXT), event("o", email="olga@example.com")
    process(erin, other)
    erin_id = customer_of(erin)

    assert admin_cli.main(["customers", "erase", "--email", EMAIL.upper(), "--yes"]) == 0

    out = capsys.readouterr().out
    assert f"the email belongs to {erin_id}" in out and "erased: 1 feedback" in out
    assert customers.get_profile(erin_id) is None and customers.find_by_email(EMAIL) is None
    assert customers.get_profile(customer_of(other)) is not None


def test_the_cli_never_answers_no_customer_for_an_email_given_as_an_id(stack, capsys):
    erin = event("e", email=EMAIL, text=SECRET_TEXT)
    process(erin)

    assert admin_cli.main(["customers", "erase", EMAIL, "--yes"]) == 2

    err = capsys.readouterr().err
    assert "erase by `--email <address>`" in err and "no customer" not in err
    assert customers.get_profile(customer_of(erin)) is not None  # nothing erased


def test_the_cli_does_not_repeat_an_unknown_email(stack, capsys):
    assert admin_cli.main(["customers", "erase", "--email", "nobody.here@example.com", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "no customer with that email" in err and "nobody.here" not in err
    assert erasure.erasure_log() == []


def test_an_api_erasure_by_email_says_where_an_email_is_looked_up(client, stack):
    erin = event("e", email=EMAIL, text=SECRET_TEXT)
    process(erin)

    response = client.http.delete(f"/customers/{EMAIL}", headers=erase_token())

    assert response.status_code == 404
    error = json.loads(response.body)["error"]
    assert error["code"] == "unknown_customer" and "POST /customers/search" in error["message"]
    assert EMAIL not in error["message"]
    assert customers.get_profile(customer_of(erin)) is not None
