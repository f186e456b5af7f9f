"""`cli sources add|pull|show|resume|remove` for pull sources, against the App Store fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib import cli
from chalicelib.channels import sources
from chalicelib.channels.pull import credentials
from chalicelib.channels.pull import state as pull_state
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
        "google_play": ["--setting", "package_name=com.x", "--secret", "service_account_json={}"],
        "email": ["--setting", "recipients=feedback@example.com"],
    }.items():
        added = ["sources", "add", "--type", kind, "--name", "A source", "--id", f"src_{kind}", *extra]
        assert cli.main([*added, *bad_language]) == 2, kind
        assert "error: --default-language:" in capsys.readouterr().err, kind
        assert f"src_{kind}" not in {source.source_id for source in sources.list_all()}, kind


def test_add_with_the_id_of_an_existing_source_is_refused_and_changes_nothing(stack: Any, capsys):
    base = ["sources", "add", "--type", "google_play", "--id", "src_play", "--setting", "package_name=com.x"]
    assert cli.main([*base, "--name", "Android", "--secret", "service_account_json={}"]) == 0
    capsys.readouterr()
    assert cli.main([*base, "--name", "Replaced", "--secret", 'service_account_json={"other": 1}']) == 2
    assert "a source 'src_play' exists" in capsys.readouterr().err
    [kept] = [source for source in sources.list_all() if source.source_id == "src_play"]
    assert kept.name == "Android"
    assert sources.read_secrets("src_play").current("service_account_json") == "{}"


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
