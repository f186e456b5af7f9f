"""`crm add --type salesforce …` and the commands on a Salesforce connection, against the fake org: the
connected app's secret or private key kept in SSM and never printed, `crm test` and `crm setup`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from chalicelib import aws, cli
from chalicelib.config import settings
from chalicelib.crm import connections
from chalicelib.crm.connections import Status
from chalicelib.crm.salesforce_api import forget_sessions
from tests.test_fake_salesforce import PRIVATE_KEY, PUBLIC_KEY
from tools.fakes.salesforce import ConnectedApp, FakeSalesforce, SalesforceServer

CLIENT_ID = "3MVG9cli.consumer.key.0123456789"
SECRET = "cli-consumer-secret-0123456789"
USER = "integration@example.com"


@pytest.fixture
def server(stack) -> Iterator[SalesforceServer]:
    forget_sessions()
    app = ConnectedApp(CLIENT_ID, SECRET, PUBLIC_KEY, {USER})
    with SalesforceServer(FakeSalesforce(apps=[app])) as running:
        yield running
    forget_sessions()


def add(server: SalesforceServer, *extra: str) -> int:
    return cli.main(
        [
            "crm",
            "add",
            "--type",
            "salesforce",
            "--name",
            "Org",
            "--id",
            "crm_org",
            "--api-url",
            server.url,
            *extra,
        ]
    )


def parameter(name: str) -> dict:
    path = f"{settings().parameter_prefix}/crm/crm_org/{name}"
    return aws.client("ssm").get_parameter(Name=path, WithDecryption=True)["Parameter"]


def test_add_keeps_the_client_credentials_in_ssm_and_never_prints_the_secret(server, capsys):
    assert add(server, "--client-id", CLIENT_ID, "--client-secret", SECRET) == 0
    assert parameter("client_secret")["Type"] == "SecureString"
    assert parameter("client_id")["Value"] == CLIENT_ID
    assert cli.main(["crm", "show", "crm_org"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and CLIENT_ID not in out and "client credentials" in out


def test_test_and_setup_reach_the_org_and_setup_says_what_it_created_once(server, capsys):
    add(server, "--client-id", CLIENT_ID, "--client-secret", SECRET)
    capsys.readouterr()
    assert cli.main(["crm", "test", "crm_org"]) == 0
    assert "connected app accepted" in capsys.readouterr().out
    assert cli.main(["crm", "setup", "crm_org"]) == 0
    first = capsys.readouterr().out
    assert "created Contact field Feedback_Customer_ID__c" in first
    assert "created Task field Feedback_ID__c" in first
    assert cli.main(["crm", "setup", "crm_org"]) == 0
    assert "nothing to create: every custom field exists" in capsys.readouterr().out


def test_the_jwt_bearer_flow_takes_a_key_file_and_a_username(server, tmp_path: Path, capsys):
    key_file = tmp_path / "server.key"
    key_file.write_text(PRIVATE_KEY)
    assert add(server, "--client-id", CLIENT_ID, "--private-key-file", str(key_file), "--username", USER) == 0
    assert parameter("private_key")["Type"] == "SecureString"
    assert cli.main(["crm", "test", "crm_org"]) == 0
    out = capsys.readouterr().out
    assert "BEGIN PRIVATE KEY" not in out and f"JWT bearer as {USER}" in out


def test_incomplete_or_unreadable_credentials_are_refused_and_nothing_is_saved(server, tmp_path, capsys):
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("hello")
    assert add(server, "--client-secret", SECRET) == 2
    assert add(server, "--client-id", CLIENT_ID, "--private-key-file", str(not_a_key)) == 2
    assert (
        add(server, "--client-id", CLIENT_ID, "--private-key-file", str(not_a_key), "--username", USER) == 2
    )
    assert (
        add(server, "--client-id", CLIENT_ID, "--private-key-file", "/nonexistent", "--username", USER) == 2
    )
    assert (
        add(server, "--client-id", CLIENT_ID, "--client-secret", SECRET, "--account-id", "003notanaccount")
        == 2
    )
    err = capsys.readouterr().err
    assert "--client-id" in err and "needs --username" in err and "not a PEM private key" in err
    assert "error: --account-id: String should match pattern" in err  # the option, not the model's field
    assert connections.get("crm_org") is None


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (ECKey.generate_key("P-256").as_pem(private=True).decode(), "not an RSA key of 2048 bits or more"),
        ("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----", "not base64"),
        ("-----BEGIN RSA PRIVATE KEY-----", "not a PEM block"),
    ],
)
def test_a_key_file_that_cannot_sign_the_jwt_bearer_grant_is_refused(server, tmp_path, capsys, pem, reason):
    key_file = tmp_path / "server.key"
    key_file.write_text(pem)
    assert add(server, "--client-id", CLIENT_ID, "--private-key-file", str(key_file), "--username", USER) == 2
    err = capsys.readouterr().err
    assert f"is not a PEM private key Salesforce's JWT bearer flow takes: {reason}" in err
    assert "BEGIN" not in err
    assert connections.get("crm_org") is None


def test_test_pauses_on_a_refused_secret_and_resumes_when_it_works(server, capsys):
    add(server, "--client-id", CLIENT_ID, "--client-secret", SECRET)
    server.fake.apps[CLIENT_ID].client_secret = "rotated"
    assert cli.main(["crm", "test", "crm_org"]) == 1
    err = capsys.readouterr().err
    assert "invalid_client" in err
    assert "salesforce refused the connected app's credentials" in err and "token" not in err
    assert connections.get("crm_org").status is Status.PAUSED
    server.fake.apps[CLIENT_ID].client_secret = SECRET
    assert cli.main(["crm", "test", "crm_org"]) == 0
    assert connections.get("crm_org").status is Status.ACTIVE


def test_rotate_from_a_client_secret_to_the_jwt_bearer_flow_drops_the_old_secret(
    server, tmp_path: Path, capsys
):
    add(server, "--client-id", CLIENT_ID, "--client-secret", SECRET)
    key_file = tmp_path / "server.key"
    key_file.write_text(PRIVATE_KEY)
    capsys.readouterr()

    assert (
        cli.main(["crm", "rotate", "crm_org", "--private-key-file", str(key_file), "--username", USER]) == 0
    )

    out = capsys.readouterr().out
    assert "connected app accepted" in out and SECRET not in out
    assert parameter("client_id")["Value"] == CLIENT_ID and parameter("username")["Value"] == USER
    assert connections.secret_names("crm_org") == ["client_id", "private_key", "username"]
    assert cli.main(["crm", "show", "crm_org"]) == 0
    assert f"JWT bearer as {USER}" in capsys.readouterr().out
