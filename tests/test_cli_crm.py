"""`crm add|list|show|test|setup|remove` against the fake HubSpot: the token kept in SSM and never printed,
setup idempotent and saying what it created, test pausing and resuming a connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from chalicelib import aws, cli
from chalicelib.cli import common
from chalicelib.config import settings
from chalicelib.crm import connections
from chalicelib.crm.connections import Status
from tools.fakes.hubspot import FakeHubSpot, HubSpotServer

TOKEN = "pat-na1-0123456789abcdef0123"


@pytest.fixture
def server(stack) -> Iterator[HubSpotServer]:
    with HubSpotServer(FakeHubSpot(tokens={TOKEN})) as running:
        yield running


def add(server: HubSpotServer, *extra: str) -> int:
    return cli.main(
        [
            "crm",
            "add",
            "--type",
            "hubspot",
            "--name",
            "Portal",
            "--id",
            "crm_portal",
            "--token",
            TOKEN,
            "--api-url",
            server.url,
            *extra,
        ]
    )


def test_add_keeps_the_token_in_ssm_as_secure_string_and_never_prints_it(server, capsys):
    assert add(server, "--channel", "form", "--min-rating", "7", "--map", "top_themes=themes_we_heard") == 0
    parameter = aws.client("ssm").get_parameter(Name=f"{settings().parameter_prefix}/crm/crm_portal/token")
    assert parameter["Parameter"]["Type"] == "SecureString"
    connection = connections.get("crm_portal")
    assert connection.settings.channels == ["form"] and connection.settings.min_rating == 7
    assert connection.settings.field_map == {"top_themes": "themes_we_heard"}
    assert cli.main(["crm", "show", "crm_portal"]) == 0
    assert cli.main(["crm", "list"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out and "pat-…0123" in out and "crm_portal" in out


def test_bad_settings_are_refused_and_nothing_is_saved(server, capsys):
    assert add(server, "--channel", "carrier-pigeon") == 2
    assert add(server, "--map", "nope=x") == 2
    assert (
        cli.main(
            [
                "crm",
                "add",
                "--type",
                "hubspot",
                "--name",
                "P",
                "--token",
                TOKEN,
                "--api-url",
                "http://evil.example",
            ]
        )
        == 2
    )
    assert "unknown channel" in capsys.readouterr().err
    assert connections.get("crm_portal") is None


def test_setup_creates_the_properties_once_and_says_so(server, capsys):
    add(server)
    capsys.readouterr()
    assert cli.main(["crm", "setup", "crm_portal"]) == 0
    first = capsys.readouterr().out
    assert "created property group customer_feedback" in first
    assert "created contact property feedback_customer_id" in first
    assert cli.main(["crm", "setup", "crm_portal"]) == 0
    assert "nothing to create" in capsys.readouterr().out
    assert "feedback_top_themes" in server.fake.contact_properties


def test_test_pauses_on_a_refused_token_and_resumes_when_it_works(server, capsys):
    add(server)
    assert cli.main(["crm", "test", "crm_portal"]) == 0
    assert "token accepted; 100 requests per 10 s" in capsys.readouterr().out
    server.fake.tokens.clear()
    assert cli.main(["crm", "test", "crm_portal"]) == 1
    err = capsys.readouterr().err
    assert "INVALID_AUTHENTICATION" in err and "hubspot refused the private-app token" in err
    assert connections.get("crm_portal").status is Status.PAUSED
    server.fake.tokens.add(TOKEN)
    assert cli.main(["crm", "test", "crm_portal"]) == 0
    assert "connection resumed" in capsys.readouterr().out
    assert connections.get("crm_portal").status is Status.ACTIVE


def test_remove_deletes_the_connection_and_its_token(server):
    add(server)
    assert cli.main(["crm", "remove", "crm_portal"]) == 0
    assert connections.get("crm_portal") is None
    names = aws.client("ssm").get_parameters_by_path(
        Path=f"{settings().parameter_prefix}/crm/", Recursive=True
    )
    assert names["Parameters"] == []
    assert cli.main(["crm", "show", "crm_portal"]) == 1


def test_add_with_the_id_of_an_existing_connection_is_refused_and_changes_nothing(server, capsys):
    assert add(server) == 0
    capsys.readouterr()
    # The same --id with another token and the real HubSpot: it used to replace the working connection.
    replacing = ["crm", "add", "--type", "hubspot", "--name", "Other", "--id", "crm_portal", "--token", "x"]
    assert cli.main(replacing) == 2
    assert "a CRM connection 'crm_portal' exists" in capsys.readouterr().err
    kept = connections.get("crm_portal")
    assert kept.name == "Portal" and kept.settings.api_url == server.url
    assert connections.secret("crm_portal", "token", fresh=True) == TOKEN


def test_another_crm_types_options_are_refused_not_stored(server, capsys):
    assert add(server, "--account-id", "001000000000000AAA", "--client-id", "3MVG9x") == 2
    assert capsys.readouterr().err.strip() == (
        "error: --client-id, --account-id: not an option of a hubspot connection"
    )
    salesforce = ["crm", "add", "--type", "salesforce", "--name", "Org", "--id", "crm_org"]
    assert cli.main([*salesforce, "--client-id", "3MVG9x", "--client-secret", "s", "--token", "pat"]) == 2
    assert "--token: not an option of a salesforce connection" in capsys.readouterr().err
    assert connections.get("crm_portal") is None and connections.get("crm_org") is None


def test_a_map_without_a_property_is_a_usage_error(server, capsys):
    with pytest.raises(SystemExit) as refused:
        add(server, "--map", "top_themes")
    assert refused.value.code == 2  # as argparse's usage errors; 1 means the command ran and failed
    assert "error: --map must be name=value, got 'top_themes'" in capsys.readouterr().err
    assert connections.get("crm_portal") is None


def test_test_says_it_waits_while_the_crm_does_not_answer(stack, capsys, monkeypatch):
    """About two minutes of backoff used to pass without a word, as if the command hung."""
    waited: list[float] = []
    monkeypatch.setattr(common.time, "sleep", waited.append)
    with socket.socket() as probe:  # a port nothing listens on: every attempt is refused
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    added = ["crm", "add", "--type", "hubspot", "--name", "Down", "--id", "crm_down", "--token", TOKEN]
    assert cli.main([*added, "--api-url", closed]) == 0
    capsys.readouterr()
    assert cli.main(["crm", "test", "crm_down"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert waited == [1, 2, 4, 8, 16, 32, 60]
    assert err[:2] == [
        "waiting 1 s, then trying again (Ctrl-C stops)",
        "waiting 2 s, then trying again (Ctrl-C stops)",
    ]
    assert err[-1] == "error: HubSpot unreachable: NewConnectionError", err[-1]


NEW_TOKEN = "pat-na1-fedcba9876543210fedc"


def ssm_token() -> str:
    path = f"{settings().parameter_prefix}/crm/crm_portal/token"
    return aws.client("ssm").get_parameter(Name=path, WithDecryption=True)["Parameter"]["Value"]


def test_rotate_checks_the_new_token_saves_it_and_resumes_the_connection(server, capsys, monkeypatch):
    """A HubSpot admin revoked the private app's token: the connection paused, and the CLI had no way to put
    the new token in (`crm add --id` refuses an existing id; `remove` and `add` under a new id forgets every
    contact and note the sync linked)."""
    add(server)
    server.fake.tokens = {NEW_TOKEN}  # the old token revoked, a new one issued
    assert cli.main(["crm", "test", "crm_portal"]) == 1
    assert connections.get("crm_portal").status is Status.PAUSED
    capsys.readouterr()

    monkeypatch.setenv("CRM_TOKEN", NEW_TOKEN)
    assert cli.main(["crm", "rotate", "crm_portal"]) == 0

    out = capsys.readouterr().out
    assert "token accepted" in out and "connection resumed" in out and NEW_TOKEN not in out
    assert ssm_token() == NEW_TOKEN
    assert connections.get("crm_portal").status is Status.ACTIVE


def test_rotate_to_a_token_hubspot_refuses_keeps_the_working_one(server, capsys):
    add(server)
    capsys.readouterr()

    assert cli.main(["crm", "rotate", "crm_portal", "--token", "pat-na1-typo"]) == 1

    err = capsys.readouterr().err
    assert "hubspot refused the new private-app token (INVALID_AUTHENTICATION)" in err
    assert "nothing changed" in err and "pat-na1-typo" not in err
    assert ssm_token() == TOKEN
    assert connections.get("crm_portal").status is Status.ACTIVE


def test_rotate_refuses_another_types_options_and_an_unknown_connection(server, capsys):
    add(server)
    capsys.readouterr()
    assert cli.main(["crm", "rotate", "crm_portal", "--client-id", "x", "--token", NEW_TOKEN]) == 2
    assert "--client-id: not an option of a hubspot connection" in capsys.readouterr().err
    assert cli.main(["crm", "rotate", "crm_nosuch", "--token", NEW_TOKEN]) == 1
    assert "no CRM connection 'crm_nosuch'" in capsys.readouterr().err
    assert ssm_token() == TOKEN


def test_update_changes_the_mapping_and_filters_and_keeps_the_rest(server, capsys):
    """Changing a mapping (or which sources sync) meant `crm remove` and `crm add` again, the token typed
    once more; now `crm update` changes only what it is given."""
    add(server, "--channel", "form", "--min-rating", "7")
    capsys.readouterr()

    assert cli.main(["crm", "update", "crm_portal", "--map", "top_themes=themes_we_heard"]) == 0

    out = capsys.readouterr().out
    assert "field:      top_themes -> themes_we_heard" in out and "crm setup crm_portal" in out
    connection = connections.get("crm_portal")
    assert connection.settings.field_map == {"top_themes": "themes_we_heard"}
    assert connection.settings.channels == ["form"] and connection.settings.min_rating == 7
    assert connection.settings.api_url == server.url and connection.status is Status.ACTIVE
    assert cli.main(["crm", "setup", "crm_portal"]) == 0
    assert "created contact property themes_we_heard" in capsys.readouterr().out

    assert cli.main(["crm", "update", "crm_portal", "--all-channels", "--default-names", "--name", "P2"]) == 0
    connection = connections.get("crm_portal")
    assert connection.settings.channels == [] and connection.settings.field_map == {}
    assert connection.name == "P2"


def test_update_refuses_bad_settings_and_changes_nothing(server, capsys):
    add(server, "--channel", "form")
    before = connections.get("crm_portal")
    capsys.readouterr()
    assert cli.main(["crm", "update", "crm_portal", "--channel", "carrier-pigeon"]) == 2
    assert cli.main(["crm", "update", "crm_portal", "--map", "nope=x"]) == 2
    assert cli.main(["crm", "update", "crm_portal", "--channel", "form", "--all-channels"]) == 2
    assert cli.main(["crm", "update", "crm_portal"]) == 2
    err = capsys.readouterr().err
    assert "unknown channel" in err and "cannot map 'nope'" in err and "nothing to change" in err
    assert "--channel and --all-channels" in err
    assert connections.get("crm_portal") == before
    assert cli.main(["crm", "update", "crm_nosuch", "--name", "x"]) == 1


def test_pause_stops_the_sync_until_resume_checks_the_token(server, capsys):
    add(server)
    capsys.readouterr()
    assert cli.main(["crm", "pause", "crm_portal"]) == 0
    connection = connections.get("crm_portal")
    assert connection.status is Status.PAUSED and connection.paused_reason == "paused by an operator"
    assert "paused" in capsys.readouterr().out
    assert cli.main(["crm", "list"]) == 0
    assert "paused" in capsys.readouterr().out

    assert cli.main(["crm", "resume", "crm_portal"]) == 0
    assert "connection resumed" in capsys.readouterr().out
    assert connections.get("crm_portal").status is Status.ACTIVE


def test_a_source_that_does_not_exist_is_refused_not_a_sync_that_never_starts(server, capsys):
    """`--source chekout` (a typo) was saved: the connection selected no item, ever, and said nothing."""
    assert add(server, "--source", "chekout") == 2
    assert "--source: no source or form 'chekout'" in capsys.readouterr().err
    assert connections.get("crm_portal") is None
    assert add(server, "--source", "demo") == 0  # the demo form exists
    assert cli.main(["crm", "update", "crm_portal", "--source", "demo", "--source", "nope"]) == 2
    assert "no source or form 'nope'" in capsys.readouterr().err
    assert connections.get("crm_portal").settings.sources == ["demo"]
