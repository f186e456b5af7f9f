"""The CLI's day-taking commands refuse a day that has not begun (and `export` one that has not ended) with a
clear message, before anything is written: an empty export of tomorrow, or counters and checkpoints for days
no item can have been stored on yet, would stand as if they were true."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import aws, cli
from chalicelib.config import settings
from tests.test_export import save, stored


def table_items() -> list[dict]:
    return aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]


def export_keys() -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=settings().bucket_name)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def tomorrow() -> str:
    return (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


def test_export_of_a_day_not_begun_is_refused_and_writes_nothing(stack, capsys):
    assert cli.main(["export", "--date", tomorrow()]) == 2

    err = capsys.readouterr().err
    assert f"{tomorrow()} has not begun yet" in err
    assert export_keys() == []


def test_export_of_today_needs_partial_as_the_day_has_not_ended(stack, capsys):
    save([stored("a", datetime.now(UTC))])

    assert cli.main(["export", "--date", today()]) == 2
    err = capsys.readouterr().err
    assert f"{today()} has not ended yet" in err and "--partial" in err
    assert export_keys() == []

    assert cli.main(["export", "--date", today(), "--partial"]) == 0
    assert f"exports/dt={today()}/manifest.json" in export_keys()


def test_export_of_a_past_day_needs_no_partial(stack, capsys):
    save([stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC))])

    assert cli.main(["export", "--date", "2026-11-21"]) == 0
    assert "exports/dt=2026-11-21/manifest.json" in export_keys()


@pytest.mark.parametrize(
    "command",
    [
        ["counters", "rebuild"],
        ["feedback", "rekey"],
        ["backfill", "--analyzer", "lexicon"],
        ["backfill", "--themes"],
        ["crm", "sync"],
    ],
)
def test_range_commands_refuse_a_day_not_begun_and_write_nothing(stack, capsys, command):
    before = table_items()

    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--from", today(), "--to", tomorrow()])

    assert exit_info.value.code == 2
    assert f"--to: {tomorrow()} has not begun yet (UTC today is {today()})" in capsys.readouterr().err
    assert table_items() == before


def test_range_commands_take_today(stack, capsys):
    assert cli.main(["counters", "rebuild", "--from", today(), "--to", today(), "--no-progress"]) == 0
    assert "done" in capsys.readouterr().out
