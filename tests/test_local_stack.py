"""`make run` end to end: the real local stack process, driven over HTTP and through the CLI with --local."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from chalicelib.channels.webhook import StandardWebhooksChannel
from chalicelib.local.__main__ import cli_command
from chalicelib.local.environment import local_environment
from chalicelib.store import counters
from tools.local_process import free_port, start_reading_banner, stop

ROOT = Path(__file__).resolve().parents[1]
# An address the product sees only in this test's requests (the banner's curl example has its own).
PROBE_EMAIL = "stack.probe@example.org"


def post(url: str, body: bytes, content_type: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=body, headers={"content-type": content_type, **(headers or {})}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def local_stack():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGEST_", "TABLE_", "EXPORT_"))}
    env.update({"MOTO_PORT": str(free_port()), "PORT": str(free_port()), "PYTHONUNBUFFERED": "1"})
    # The demo pull source is pulled on demand only: its reviews would add to the counts checked here.
    env["LOCAL_PULL_SECONDS"] = "0"
    process, banner = start_reading_banner(env, timeout=60)
    assert "Serving on" in banner, banner
    yield env, banner, process
    stop(process, timeout=20)


def get(url: str) -> tuple[int, dict, Message]:
    """GET a JSON answer: (status, body, headers); header names are case-insensitive, as in HTTP."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", *args, "--local"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_run_serves_analyzes_stores_and_exports(local_stack, tmp_path):
    env, banner, process = local_stack
    base = f"http://127.0.0.1:{env['PORT']}"
    assert "Demo form:  demo" in banner
    assert "demo HubSpot (local fake)" in banner and "demo Salesforce (local fake)" in banner
    assert base in banner

    status, body = post(
        f"{base}/forms/demo/responses",
        json.dumps({"rating": 9, "comment": "Love the new app!", "email": PROBE_EMAIL}).encode(),
        "application/json",
    )
    assert status == 202
    status_form, _ = post(
        f"{base}/forms/demo/responses",
        b"rating=1&comment=Awful+and+slow",
        "application/x-www-form-urlencoded",
    )
    assert status_form == 202
    status_spanish, _ = post(
        f"{base}/forms/demo/responses",
        json.dumps({"comment": "El envío llegó tarde pero el precio es muy bueno"}).encode(),
        "application/json",
    )
    assert status_spanish == 202
    status_bad, error = post(f"{base}/forms/demo/responses", b"{", "application/json")
    assert (status_bad, error["error"]["code"]) == (400, "malformed_json")

    # A Standard Webhooks delivery to the seeded demo source, signed with its revealed secret.
    revealed = cli(env, "sources", "show", "demo-webhook", "--reveal").stdout
    secret = re.search(r"signing_secret=(whsec_\S+)", revealed).group(1)
    delivery = json.dumps({"id": "zap-1", "text": "Support solved it in minutes, thank you"}).encode()
    webhook = StandardWebhooksChannel()
    signed = webhook.sign(delivery, {"signing_secret": secret}, datetime.now(UTC), message_id="msg_1").headers
    status_hook, accepted = post(f"{base}/webhooks/demo-webhook", delivery, "application/json", signed)
    assert (status_hook, accepted) == (200, {"status": "accepted", "events": 1})
    status_forged, _ = post(
        f"{base}/webhooks/demo-webhook",
        delivery,
        "application/json",
        {**signed, "webhook-signature": "v1,Zm9yZ2Vk"},
    )
    assert status_forged == 401

    # Answered by the gateway before any route runs: the deployed API's JSON error shape, not Chalice's own.
    missing_token = get(f"{base}/feedback?date=2026-11-21")
    assert missing_token[0] == 401
    assert missing_token[1] == {
        "error": {"code": "unauthorized", "message": missing_token[1]["error"]["message"]}
    }
    assert missing_token[2]["WWW-Authenticate"] == 'Bearer realm="feedback"'
    unknown_path = get(f"{base}/no/such/route")
    assert (unknown_path[0], unknown_path[1]["error"]["code"]) == (404, "not_found")
    # Chalice's own 405 for a method the path lacks: the deployed API answers it as an unknown route.
    wrong_method = post(f"{base}/forms/demo", b"{}", "application/json")
    assert (wrong_method[0], wrong_method[1]["error"]["code"]) == (404, "not_found")

    # Meta's GET handshake on the seeded demo source answers the challenge as text.
    verify_token = re.search(
        r"verify_token=(\S+)", cli(env, "sources", "show", "demo-meta", "--reveal").stdout
    )
    query = f"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={verify_token.group(1)}"
    with urllib.request.urlopen(f"{base}/webhooks/demo-meta?{query}", timeout=10) as handshake:
        assert handshake.read() == b"1158201444"

    # The banner's CLI example, run as printed from a shell that has not exported the stack's MOTO_PORT
    # (it looked on 5000: "cannot reach AWS").
    [try_listing] = re.findall(r"^    (.*chalicelib\.cli feedback list --local)$", banner, re.M)
    shell_env = {key: value for key, value in env.items() if key != "MOTO_PORT"}
    printed = subprocess.run(
        ["/bin/sh", "-c", try_listing.replace(".venv/bin/python", sys.executable)],  # as a user pastes it
        cwd=ROOT,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    # Every "Try" line is a command a shell takes as pasted (notes after it are # comments).
    tries = banner.split("  Try:\n", 1)[1].split("  Ctrl-C", 1)[0].replace("\\\n", "")
    for line in tries.splitlines():
        checked = subprocess.run(["/bin/sh", "-n", "-c", line], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, (line, checked.stderr)

    today = time.strftime("%Y-%m-%d", time.gmtime())
    stored = []
    for _ in range(40):  # the poller picks messages up within a couple of seconds
        listing = cli(env, "feedback", "list", "--date", today, "--json")
        stored = [json.loads(line) for line in listing.stdout.splitlines()]
        if len(stored) == 4:
            break
        time.sleep(0.5)
    by_text = {item["text"]: item for item in stored}
    assert by_text["Love the new app!"]["sentiment"] == "POSITIVE"
    assert by_text["Love the new app!"]["feedback_id"] == body["feedback_id"]
    assert by_text["Awful and slow"]["sentiment"] == "NEGATIVE"
    assert by_text["Support solved it in minutes, thank you"]["channel"] == "webhook"

    # The outbound webhooks: each stored item reached the demo subscription's receiver, signed and once
    # (4 feedback.stored + 1 feedback.negative), through the table's stream and the delivery worker.
    subscription_id = re.search(r"demo subscription (sub_\w+)", banner).group(1)
    delivered: list[str] = []
    for _ in range(40):
        log = cli(env, "subscriptions", "deliveries", subscription_id, "--limit", "50").stdout
        delivered = [line for line in log.splitlines() if " delivered " in line]
        if len(delivered) >= 5:
            break
        time.sleep(0.5)
    delivered_types = sorted(re.search(r" (feedback\.\w+) ", line).group(1) for line in delivered)
    assert delivered_types == ["feedback.negative"] + ["feedback.stored"] * 4

    # Tagged by the keywords tagger against the starter taxonomy, with the sentiment about each theme, in
    # the item's own language (detected locally: the form gave none).
    assert by_text["Love the new app!"]["themes"] == [
        {"id": "app", "sentiment": "POSITIVE", "evidence": "Love the new app"}
    ]
    assert by_text["Love the new app!"]["taxonomy_version"] == 1
    spanish = by_text["El envío llegó tarde pero el precio es muy bueno"]
    assert spanish["language"] == "es"
    assert [(theme["id"], theme["sentiment"]) for theme in spanish["themes"]] == [
        ("delivery-speed", "NEGATIVE"),
        ("price", "POSITIVE"),
    ]

    # An email in a query and in a path, with the dashboard's read token: once the customer is stored; and
    # no log line of the process (request log, moto, pollers) carries the address (checked at the end).
    read_token = re.search(r"#token=(\S+)", banner).group(1)
    encoded_email = urllib.parse.quote(PROBE_EMAIL, safe="")
    for path in (f"/customers?email={encoded_email}", f"/customers/{encoded_email}"):
        lookup = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {read_token}"})
        try:
            with urllib.request.urlopen(lookup, timeout=10) as response:
                assert response.status == 200
        except urllib.error.HTTPError as error:
            assert error.code == 404, error.read()

    # The starter taxonomy was loaded: through the API and the CLI.
    themes_request = urllib.request.Request(
        f"{base}/themes", headers={"Authorization": f"Bearer {read_token}"}
    )
    with urllib.request.urlopen(themes_request, timeout=10) as response:
        taxonomy = json.loads(response.read())
    assert taxonomy["version"] == 1
    assert {"delivery", "price", "support"} <= {theme["id"] for theme in taxonomy["themes"]}
    listed = cli(env, "themes", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("version 1: ")

    # A parent's filter includes its children: delivery finds the item tagged delivery-speed.
    by_theme = urllib.request.Request(
        f"{base}/feedback?date={today}&theme=delivery&theme_sentiment=NEGATIVE",
        headers={"Authorization": f"Bearer {read_token}"},
    )
    with urllib.request.urlopen(by_theme, timeout=10) as response:
        filtered = json.loads(response.read())["items"]
    assert [item["feedback_id"] for item in filtered] == [spanish["feedback_id"]]

    # Its fresh table holds nothing the counters missed: they are trusted for every day from the start.
    local = local_environment(int(env["MOTO_PORT"]))
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=local["AWS_ENDPOINT_URL"],
        region_name=local["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    mark = dynamodb.get_item(
        TableName=local["TABLE_NAME"], Key={"pk": {"S": "COUNTERS"}, "sk": {"S": "COMPLETE"}}
    )
    assert mark["Item"]["since"] == {"S": counters.EVERY_DAY.isoformat()}

    exported = cli(env, "export", "--date", today, "--partial", "--out", str(tmp_path))
    assert exported.returncode == 0, exported.stderr
    # The dashboard's "Nightly export files" link, with the token the banner printed: it was 403.
    authorized = {"Authorization": f"Bearer {read_token}"}
    files = urllib.request.Request(f"{base}/exports/{today}", headers=authorized)
    with urllib.request.urlopen(files, timeout=10) as response:
        assert len(json.loads(response.read())["files"]) == 6
    counts = json.loads((tmp_path / "manifest.json").read_text())["counts"]
    assert (counts["feedback"], counts["feedback_themes"]) == (4, 4)
    feedback_csv = (tmp_path / "feedback.csv").read_text()
    assert feedback_csv.count("\n") == 5
    assert "delivery-speed:NEGATIVE;price:POSITIVE" in feedback_csv
    rows = pq.read_table(tmp_path / "feedback_themes.parquet").to_pylist()
    assert sorted((row["theme_id"], row["sentiment"]) for row in rows) == [
        ("app", "POSITIVE"),
        ("delivery-speed", "NEGATIVE"),
        ("price", "POSITIVE"),
        ("support", "POSITIVE"),
    ]

    # README's "try a webhook source" example, as written but for the port: signed with the standard library.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [example] = re.findall(r"^(\.venv/bin/python - <<'SEND'\n.*?\nSEND)$", readme, re.S | re.M)
    example = example.replace(".venv/bin/python", sys.executable).replace("http://127.0.0.1:8000", base)
    sent = subprocess.run(
        ["/bin/sh", "-c", example],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(sent.stdout) == {"status": "accepted", "events": 1}, sent.stderr
    for _ in range(40):
        listing = cli(env, "feedback", "list", "--date", today, "--json").stdout
        if "The refund took three weeks" in listing:
            break
        time.sleep(0.5)
    assert "The refund took three weeks" in listing

    process.send_signal(signal.SIGINT)
    # Every poller finishes its batch in hand first (up to 5 s a thread), the services side by side: still
    # slow on a loaded machine (a clean-clone CI run beside `make bench` took over 60 s).
    assert process.wait(timeout=120) == 0
    output = banner + process.stdout.read()
    assert "Stopping" in output
    assert '"GET /customers/{customer_id}"' in output  # the request log is in the output checked
    # Nothing a user would take for a fault: Powertools' "No application metrics to publish" came first.
    assert "Warning: " not in output
    for trace in (PROBE_EMAIL, encoded_email, "stack.probe"):
        assert trace not in output


def test_the_banners_cli_command_names_the_ports_only_when_they_are_not_the_defaults(monkeypatch):
    monkeypatch.delenv("MOTO_PORT", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    assert cli_command() == ".venv/bin/python -m chalicelib.cli"
    monkeypatch.setenv("MOTO_PORT", "5160")
    assert cli_command() == "MOTO_PORT=5160 .venv/bin/python -m chalicelib.cli"
    # PORT too: `sources show --local` prints the webhook URLs on it (they said 8000 for a stack on 8160).
    monkeypatch.setenv("PORT", "8160")
    assert cli_command() == "PORT=8160 MOTO_PORT=5160 .venv/bin/python -m chalicelib.cli"


def test_make_run_on_a_taken_port_says_which_and_starts_nothing():
    # A second `make run` (or anything on 8000) ended in waitress' "Address already in use" traceback, after
    # setting up a whole stack on its moto port.
    env = {**os.environ, "MOTO_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["PORT"] = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "chalicelib.local"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 2
    assert f"PORT={env['PORT']} already in use" in result.stderr
    assert "MOTO_PORT" not in result.stderr.split("(")[0]  # the free one is not blamed
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_explains_when_the_local_stack_is_not_running():
    env = {**os.environ, "MOTO_PORT": str(free_port())}
    result = cli(env, "feedback", "list")

    assert result.returncode == 2
    assert "make run" in result.stderr
