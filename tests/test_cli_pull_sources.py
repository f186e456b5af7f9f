"""`cli sources add|pull|show|resume|remove` for pull sources, against the App Store fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from chalicelib import cli
from chalicelib.channels import sources
from chalicelib.channels.pull import credentials
from chalicelib.channels.pull import state as pull_state
from tools.fakes.google_play import FakeGooglePlay
from tools.fakes.review_sources import start_fake_source


def test_a_pull_source_is_added_from_its_key_file_pulled_paused_and_resumed(
    stack: Any, tmp_path: Path, capsys, monkeypatch
):
    store = start_fake_source("app_store")
    credentials.clear_tokens()
    try:
        store.fake.add_review("Great app", 5)
        key_file = tmp_path / "AuthKey_2X9R4HXF34.p8"
        key_file.write_text(store.secrets["private_key"], encoding="utf-8")
        settings = [arg for name, value in store.settings.items() for arg in ("--setting", f"{name}={value}")]
        added = ["sources", "add", "--type", "app_store", "--name", "iOS app", "--id", "src_ios", *settings]
        assert cli.main([*added, "--secret", f"private_key=@{key_file}"]) == 0
        assert sources.read_secrets("src_ios").current("private_key") == store.secrets["private_key"].strip()
        shown = capsys.readouterr().out
        assert "every 15 minutes" in shown and "BEGIN PRIVATE KEY" not in shown
        assert "App Store Connect" in shown  # the console's steps

        assert cli.main(["sources", "pull", "src_ios"]) == 0
        assert "caught_up, 1 reviews queued, 1 requests" in capsys.readouterr().out

        store.fake.add_review("Slow", 2)
        store.fake.quota_remaining = 0
        assert cli.main(["sources", "pull", "src_ios"]) == 1
        out = capsys.readouterr().out
        assert "quota, 0 reviews queued" in out and "goes on from the page reached" in out
        assert "next run:   " in out
        store.fake.quota_remaining = None

        # The schedule's run of the same source saves first: this one's save is refused, and says so.
        def schedule_saved_first(*args: Any, **kwargs: Any) -> None:
            raise pull_state.VersionConflict("src_ios")

        monkeypatch.setattr(pull_state, "save", schedule_saved_first)
        assert cli.main(["sources", "pull", "src_ios"]) == 1
        out = capsys.readouterr().out
        assert "conflict" in out and "another run of this source" in out
        monkeypatch.undo()

        store.break_credentials()
        assert cli.main(["sources", "pull", "src_ios"]) == 1
        out = capsys.readouterr().out
        assert "paused" in out and "sources resume src_ios" in out
        assert cli.main(["sources", "resume", "src_ios"]) == 0
        assert pull_state.load("src_ios").paused_reason is None

        assert cli.main(["sources", "remove", "src_ios"]) == 0
        assert pull_state.load("src_ios").version == 0
    finally:
        store.stop()


def test_a_pull_source_needs_its_platforms_secrets_and_settings(stack: Any, capsys):
    base = ["sources", "add", "--type", "google_play", "--name", "Android", "--id", "src_play"]
    assert cli.main([*base, "--secret", "service_account_json={}"]) == 2
    assert "package_name" in capsys.readouterr().err
    assert cli.main([*base, "--setting", "package_name=com.x", "--secret", "token=1"]) == 2
    assert (
        cli.main([*base, "--setting", "package_name=com.x", "--setting", "colour=red", "--secret", "x=1"])
        == 2
    )
    assert (
        cli.main([*base, "--setting", "package_name=com.x", "--secret", "service_account_json=@/nonexistent"])
        == 2
    )
    assert sources.list_all() == [] or all(s.source_id != "src_play" for s in sources.list_all())
    assert cli.main(["sources", "resume", "nope"]) == 1


def test_the_schedule_settings_the_readme_documents_are_taken_and_checked(stack: Any, capsys):
    business = ["sources", "add", "--type", "google_business", "--name", "Store"]
    business += ["--setting", "account_id=1", "--setting", "location_id=2"]
    business += ["--secret", "client_id=a", "--secret", "client_secret=b", "--secret", "refresh_token=c"]
    documented = ["reconcile_hours=12", "reconcile_days=90", "backfill_days=7", "poll_minutes=60"]
    added = [arg for setting in documented for arg in ("--setting", setting)]
    assert cli.main([*business, "--id", "src_store", *added]) == 0
    [stored] = [s for s in sources.list_all() if s.source_id == "src_store"]
    assert stored.settings["reconcile_days"] == "90" and stored.settings["reconcile_hours"] == "12"
    capsys.readouterr()
    for refused in ("poll_minutes=2", "backfill_days=abc", "reconcile_hours=0", "reconcile_days=400"):
        assert cli.main([*business, "--id", "src_refused", "--setting", refused]) == 2, refused
        name = refused.split("=")[0]
        assert f"--setting {name}: " in capsys.readouterr().err
    # Google Play lists 7 days only: its re-listing's window is fixed, so reconcile_days is no setting of it.
    play = ["sources", "add", "--type", "google_play", "--name", "Android", "--id", "src_refused"]
    play += ["--setting", "package_name=com.x", "--secret", "service_account_json={}"]
    assert cli.main([*play, "--setting", "reconcile_days=5"]) == 2
    assert "reconcile_hours (" in capsys.readouterr().err
    assert all(s.source_id != "src_refused" for s in sources.list_all())


def test_every_kind_of_source_names_the_flag_it_refuses(stack: Any, capsys):
    """A webhook, a pull and an e-mail source all answer a refused field with its flag, and store nothing."""
    bad_language = ["--default-language", "not a language"]
    for kind, extra in {
        "slack": ["--secret", "signing_secret=s"],
        "google_play": ["--setting", "package_name=com.x", "--secret", f"service_account_json={KEY_FILE}"],
        "email": ["--setting", "recipients=feedback@example.com"],
    }.items():
        added = ["sources", "add", "--type", kind, "--name", "A source", "--id", f"src_{kind}", *extra]
        assert cli.main([*added, *bad_language]) == 2, kind
        assert "error: --default-language:" in capsys.readouterr().err, kind
        assert f"src_{kind}" not in {source.source_id for source in sources.list_all()}, kind


def test_add_with_the_id_of_an_existing_source_is_refused_and_changes_nothing(stack: Any, capsys):
    base = ["sources", "add", "--type", "google_play", "--id", "src_play", "--setting", "package_name=com.x"]
    assert cli.main([*base, "--name", "Android", "--secret", f"service_account_json={KEY_FILE}"]) == 0
    capsys.readouterr()
    assert (
        cli.main([*base, "--name", "Replaced", "--secret", f"service_account_json={_service_account()}"]) == 2
    )
    assert "a source 'src_play' exists" in capsys.readouterr().err
    [kept] = [source for source in sources.list_all() if source.source_id == "src_play"]
    assert kept.name == "Android"
    assert sources.read_secrets("src_play").current("service_account_json") == KEY_FILE


def test_resume_of_a_source_that_is_not_paused_says_so_and_leaves_its_schedule(stack: Any, capsys):
    store = start_fake_source("app_store")
    credentials.clear_tokens()
    try:
        settings = [arg for name, value in store.settings.items() for arg in ("--setting", f"{name}={value}")]
        added = ["sources", "add", "--type", "app_store", "--name", "iOS app", "--id", "src_ios", *settings]
        assert cli.main([*added, "--secret", f"private_key={store.secrets['private_key']}"]) == 0
        assert cli.main(["sources", "pull", "src_ios"]) == 0
        before = pull_state.load("src_ios")
        assert before.paused_reason is None and before.next_run_at is not None
        capsys.readouterr()

        assert cli.main(["sources", "resume", "src_ios"]) == 0

        out = capsys.readouterr().out
        assert "is not paused: nothing to resume" in out and "resumed" not in out
        assert f"{before.next_run_at:%Y-%m-%d %H:%M} UTC" in out
        after = pull_state.load("src_ios")
        assert (after.next_run_at, after.version) == (before.next_run_at, before.version)
    finally:
        store.stop()


def _service_account(**fields: Any) -> str:
    fake = FakeGooglePlay()
    fake.base_url = "https://oauth2.googleapis.example"
    key_file = json.loads(fake.service_account_json())
    return json.dumps({**key_file, **fields})


KEY_FILE = _service_account()
EC_PEM = ECKey.generate_key("P-256").as_pem(private=True).decode()
RSA_PEM = RSAKey.generate_key(2048).as_pem(private=True).decode()
APP_STORE_IDS = ["app_id=1234567890", "key_id=2X9R4HXF34", "issuer_id=57246542-96fe-1a63-e053-0824d011072a"]
UNPARSEABLE = {
    # Google Play: not JSON, not a service account's key file, fields of the wrong kind.
    "google_play": [
        (["package_name=com.x"], {"service_account_json": "not json at all"}, "is not JSON"),
        (["package_name=com.x"], {"service_account_json": "{}"}, "lacks client_email and private_key"),
        (
            ["package_name=com.x"],
            {
                "service_account_json": json.dumps(
                    {"installed": {"client_id": "1.apps.googleusercontent.com"}}
                )
            },
            "an OAuth client's file",
        ),
        (
            ["package_name=com.x"],
            {"service_account_json": _service_account(type="authorized_user")},
            "not service_account",
        ),
        (
            ["package_name=com.x"],
            {"service_account_json": _service_account(private_key=EC_PEM)},
            "not a PEM RSA private key",
        ),
        (
            ["package_name=com.x"],
            {"service_account_json": _service_account(private_key="-----BEGIN PRIVATE KEY-----\nxx")},
            "not a PEM RSA private key",
        ),
    ],
    # App Store: the .p8 must be a PEM EC P-256 key; its ids keep App Store Connect's shapes.
    "app_store": [
        (APP_STORE_IDS, {"private_key": _service_account()}, "not the .p8 key"),
        (APP_STORE_IDS, {"private_key": RSA_PEM}, "not the .p8 key"),
        (
            [*APP_STORE_IDS[:1], "key_id=my key", APP_STORE_IDS[2]],
            {"private_key": EC_PEM},
            "--setting key_id",
        ),
        ([*APP_STORE_IDS[:2], "issuer_id=team"], {"private_key": EC_PEM}, "--setting issuer_id"),
    ],
    "google_business": [
        (
            ["account_id=1", "location_id=2"],
            {"client_id": "a", "client_secret": "b", "refresh_token": "1//0g refresh token"},
            "--secret refresh_token: not one refresh token",
        ),
        (
            ["account_id=1", "location_id=2"],
            {"client_id": '{"web":{}}', "client_secret": "b", "refresh_token": "c"},
            "--secret client_id",
        ),
    ],
}


@pytest.mark.parametrize(
    ("kind", "settings", "secrets", "message"),
    [(kind, *case) for kind, cases in UNPARSEABLE.items() for case in cases],
)
def test_a_key_that_does_not_parse_is_refused_at_add_and_nothing_is_stored(
    stack: Any, tmp_path: Path, capsys, kind: str, settings: list[str], secrets: dict[str, str], message: str
):
    added = ["sources", "add", "--type", kind, "--name", "A source", "--id", "src_bad"]
    added += [arg for setting in settings for arg in ("--setting", setting)]
    for name, value in secrets.items():
        (tmp_path / name).write_text(value, encoding="utf-8")
        added += ["--secret", f"{name}=@{tmp_path / name}"]
    assert cli.main(added) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "BEGIN" not in err and "googleusercontent" not in err  # the key's content is never echoed
    assert all(source.source_id != "src_bad" for source in sources.list_all())
    assert sources.read_secrets("src_bad").names() == []


def test_a_rotation_to_a_key_that_does_not_parse_is_refused_and_the_key_kept(
    stack: Any, tmp_path: Path, capsys
):
    added = ["sources", "add", "--type", "app_store", "--name", "iOS", "--id", "src_ios"]
    added += [arg for setting in APP_STORE_IDS for arg in ("--setting", setting)]
    assert cli.main([*added, "--secret", f"private_key={EC_PEM}"]) == 0
    capsys.readouterr()
    (tmp_path / "key.json").write_text(_service_account(), encoding="utf-8")
    assert (
        cli.main(["sources", "rotate", "src_ios", "--secret", f"private_key=@{tmp_path / 'key.json'}"]) == 2
    )
    assert "--secret private_key: the value is not the .p8 key" in capsys.readouterr().err
    assert cli.main(["sources", "rotate", "src_ios", "--secret", "private_key=@/nonexistent.p8"]) == 2
    assert "cannot read /nonexistent.p8" in capsys.readouterr().err
    assert (sources.read_secrets("src_ios").current("private_key") or "").strip() == EC_PEM.strip()
