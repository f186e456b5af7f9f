"""The admin CLI against the moto stack (the `--local` switch is covered by the local stack test)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib import cli
from chalicelib.store import feedback as feedback_store
from chalicelib.store import forms as form_store
from tests.test_export import stored


def test_feedback_list_prints_the_day(stack, capsys):
    feedback_store.save_new([stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC), "Loved the staff")])

    assert cli.main(["feedback", "list", "--date", "2026-11-21"]) == 0

    out = capsys.readouterr().out
    assert "Loved the staff" in out
    assert "POSITIVE" in out
    assert "1 item(s)" in out


def test_feedback_list_json_and_get(stack, capsys):
    item = stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC))
    feedback_store.save_new([item])

    cli.main(["feedback", "list", "--date", "2026-11-21", "--json"])
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["feedback_id"] == item.feedback_id

    assert cli.main(["feedback", "get", item.feedback_id]) == 0
    assert json.loads(capsys.readouterr().out)["external_id"] == "a"
    assert cli.main(["feedback", "get", "fb_missing"]) == 1


def test_export_downloads_the_files(stack, tmp_path, capsys):
    feedback_store.save_new([stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC))])

    assert cli.main(["export", "--date", "2026-11-21", "--out", str(tmp_path)]) == 0

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "feedback.csv",
        "feedback.jsonl.gz",
        "manifest.json",
    ]
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"] == {"feedback": 1}


def test_forms_create_and_list(stack, capsys):
    assert (
        cli.main(
            [
                "forms",
                "create",
                "--name",
                "Checkout CSAT",
                "--scale",
                "csat",
                "--origin",
                "https://Shop.Example.com",
                "--id",
                "checkout",
            ]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)

    assert created["allowed_origins"] == ["https://shop.example.com"]
    assert form_store.get_cached("checkout").rating_scale == "csat"
    cli.main(["forms", "list"])
    out = capsys.readouterr().out
    assert "checkout" in out and "demo" in out


def test_bad_date_is_a_usage_error(stack, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["feedback", "list", "--date", "yesterday"])
    assert exit_info.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
