"""The admin CLI against the moto stack (the `--local` switch is covered by the local stack test)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from chalicelib import cli
from chalicelib.forms import records as form_store
from chalicelib.models import Channel, RatingScale
from tests.test_export import save, stored
from tools.fakes.google_play import FakeGooglePlay


def test_feedback_list_prints_the_day(stack, capsys):
    save([stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC), "Loved the staff")])

    assert cli.main(["feedback", "list", "--date", "2026-11-21"]) == 0

    out = capsys.readouterr().out
    assert "Loved the staff" in out
    assert "POSITIVE" in out
    assert "1 item(s)" in out


def test_feedback_list_keeps_its_columns_aligned_for_long_channels_and_ratings(stack, capsys):
    # `make run`'s demo Google Play reviews pushed every column after `channel` out of line.
    at = datetime(2026, 11, 21, 9, tzinfo=UTC)
    save(
        [
            stored("a", at, "Short form answer"),
            stored("b", at, "A pulled review", rating=5).model_copy(
                update={"channel": Channel.GOOGLE_BUSINESS, "rating_scale": RatingScale.STARS}
            ),
        ]
    )

    assert cli.main(["feedback", "list", "--date", "2026-11-21"]) == 0

    header, *lines, total = capsys.readouterr().out.splitlines()
    assert total == "2 item(s)"
    for column in ("sentiment", "feedback_id", "text"):
        starts = {header.index(column)} | {
            line.index(value) for line, value in zip(lines, values(lines, column), strict=True)
        }
        assert len(starts) == 1, (column, header, lines)
    rating_end = header.index("rating") + len("rating")
    assert sorted(line[:rating_end].split()[-1] for line in lines) == ["5/stars", "9/nps"]


def values(lines: list[str], column: str) -> list[str]:
    """Each line's value of a column, found by what this test stored."""
    found = {
        "sentiment": ("POSITIVE",),
        "feedback_id": ("fb_",),
        "text": ("Short form answer", "A pulled review"),
    }
    return [next(word for word in found[column] if word in line) for line in lines]


def test_forms_and_sources_lists_keep_their_columns_for_long_ids_and_types(stack, capsys):
    # `make run`'s demo-google_play source (type 11 characters, the column 10) pushed its name out of line.
    key_file = json.loads(FakeGooglePlay().service_account_json()) | {
        "token_uri": "https://oauth2.example/token"
    }
    play = ["--setting", "package_name=com.x", "--secret", f"service_account_json={json.dumps(key_file)}"]
    assert (
        cli.main(["sources", "add", "--type", "google_play", "--name", "Android", "--id", "src_p", *play])
        == 0
    )
    assert (
        cli.main(["sources", "add", "--type", "slack", "--name", "Team", "--secret", "signing_secret=s"]) == 0
    )
    long_id = "checkout-survey-for-the-spring-campaign"
    assert cli.main(["forms", "create", "--name", "Spring", "--scale", "csat", "--id", long_id]) == 0
    capsys.readouterr()

    cli.main(["sources", "list"])
    listed = capsys.readouterr().out.splitlines()
    assert len({line.index(name) for line, name in zip(listed, ("Android", "Team"), strict=True)}) == 1
    cli.main(["forms", "list"])
    listed = capsys.readouterr().out.splitlines()
    assert len({line.index(scale) for line, scale in zip(listed, (" csat ", " nps "), strict=True)}) == 1


def test_feedback_list_json_and_get(stack, capsys):
    item = stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC))
    save([item])

    cli.main(["feedback", "list", "--date", "2026-11-21", "--json"])
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["feedback_id"] == item.feedback_id

    assert cli.main(["feedback", "get", item.feedback_id]) == 0
    assert json.loads(capsys.readouterr().out)["external_id"] == "a"
    assert cli.main(["feedback", "get", "fb_missing"]) == 1


def test_export_downloads_the_files(stack, tmp_path, capsys):
    save([stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC))])

    assert cli.main(["export", "--date", "2026-11-21", "--out", str(tmp_path)]) == 0

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "activities.csv",
        "contacts.csv",
        "feedback.csv",
        "feedback.jsonl.gz",
        "feedback.parquet",
        "feedback_themes.parquet",
        "manifest.json",
    ]
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"] == {
        "feedback": 1,
        "contacts": 0,
        "activities": 0,
        "feedback_themes": 0,
    }


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


def test_forms_create_uses_the_scales_wording_unless_given_its_own(stack, capsys):
    assert cli.main(["forms", "create", "--name", "Stars", "--scale", "stars", "--id", "stars"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["question"], printed["low_label"], printed["high_label"]) == (
        "How would you rate your experience?",
        "Poor",
        "Excellent",
    )

    assert (
        cli.main(
            [
                "forms",
                "create",
                "--name",
                "Support CSAT",
                "--scale",
                "csat",
                "--id",
                "support",
                "--question",
                "How satisfied are you with our support?",
                "--low-label",
                "Not at all",
                "--high-label",
                "Completely",
            ]
        )
        == 0
    )
    form_store.clear_cache()
    assert form_store.get_cached("support").texts == (
        "How satisfied are you with our support?",
        "Not at all",
        "Completely",
    )


def test_forms_create_never_replaces_an_existing_form_unless_told(stack, capsys):
    # `forms create --id checkout …` replaced the stored form whole: its follow-ups, strings and origins gone.
    create = ["forms", "create", "--name", "Checkout", "--scale", "csat", "--id", "checkout"]
    assert (
        cli.main([*create, "--follow-up", "negative=What went wrong?", "--origin", "https://a.example"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["version"] == 1

    assert cli.main([*create, "--scale", "stars"]) == 1
    assert "form 'checkout' exists: change it with `forms update checkout`" in capsys.readouterr().err
    stored = form_store.get_fresh("checkout")
    assert (stored.version, stored.form.rating_scale, stored.form.follow_up) == (
        1,
        "csat",
        {"negative": "What went wrong?"},
    )

    assert cli.main([*create, "--scale", "stars", "--replace"]) == 0
    replaced = form_store.get_fresh("checkout")
    assert (replaced.version, replaced.form.rating_scale, replaced.form.follow_up) == (2, "stars", {})
    assert replaced.form.allowed_origins == []


def test_forms_update_changes_only_what_it_is_told(stack, capsys):
    cli.main(["forms", "create", "--name", "Shop", "--id", "shop", "--origin", "https://shop.example.com"])

    assert cli.main(["forms", "update", "shop", "--question", "Would you recommend our shop?"]) == 0
    form_store.clear_cache()
    form = form_store.get_cached("shop")
    assert form.texts.question == "Would you recommend our shop?"
    assert (form.name, form.allowed_origins) == ("Shop", ["https://shop.example.com"])

    assert cli.main(["forms", "update", "shop", "--scale", "csat", "--high-label", "Delighted"]) == 0
    form_store.clear_cache()
    assert form_store.get_cached("shop").texts == (
        "Would you recommend our shop?",
        "Very dissatisfied",  # the new scale's wording where the form sets none
        "Delighted",
    )

    assert cli.main(["forms", "update", "shop", "--question", "", "--require-email", "--origin", ""]) == 0
    form_store.clear_cache()
    form = form_store.get_cached("shop")
    assert form.texts.question == "How satisfied are you with your experience?"
    assert (form.require_email, form.allowed_origins) == (True, [])


def test_forms_commands_refuse_bad_values_plainly(stack, capsys):
    too_long = "q" * 301

    assert cli.main(["forms", "create", "--name", "X", "--id", "x-form", "--question", too_long]) == 2
    assert "--question" in capsys.readouterr().err
    assert form_store.get_cached("x-form") is None
    assert cli.main(["forms", "create", "--name", "X", "--origin", "javascript:alert(1)"]) == 2
    assert "--origin" in capsys.readouterr().err
    assert cli.main(["forms", "update", "demo", "--low-label", "l" * 41]) == 2
    assert "--low-label" in capsys.readouterr().err
    assert cli.main(["forms", "update", "no-such-form", "--name", "Y"]) == 1
    assert "no form" in capsys.readouterr().err


def test_bad_date_is_a_usage_error(stack, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["feedback", "list", "--date", "yesterday"])
    assert exit_info.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_sources_add_generates_secrets_and_masks_them_afterwards(stack, capsys):
    from chalicelib.channels import sources

    assert cli.main(["sources", "add", "--type", "webhook", "--name", "Zapier", "--id", "src_zap"]) == 0
    added = capsys.readouterr().out
    [generated] = [line for line in added.splitlines() if line.startswith("generated:")]
    secret = generated.split("signing_secret=", 1)[1].split()[0]
    assert secret.startswith("whsec_")
    assert sources.read_secrets("src_zap").current("signing_secret") == secret
    assert "/webhooks/src_zap" in added

    cli.main(["sources", "list"])
    cli.main(["sources", "show", "src_zap"])
    shown = capsys.readouterr().out
    assert "src_zap" in shown
    assert secret not in shown

    cli.main(["sources", "show", "src_zap", "--reveal"])
    assert secret in capsys.readouterr().out


def test_sources_add_requires_platform_secrets(stack, capsys):
    import pytest

    from chalicelib.channels.registry import CHANNELS

    needs_platform_secret = next(
        t for t, c in sorted(CHANNELS.items()) if set(c.secret_names) - set(c.generated_secrets)
    )
    assert cli.main(["sources", "add", "--type", needs_platform_secret, "--name", "x"]) == 2
    assert "needs --secret" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        cli.main(["sources", "add", "--type", "webhook", "--name", "x", "--secret", "nope"])
    assert refused.value.code == 2 and "name=value" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("given", "said"),
    [
        # Session 30: each was stored without a word, and the source then behaved as if it were not set.
        (["--setting", "text_field=q1"], "--setting text_field: a typeform source has no such setting"),
        (["--setting", "opinion_scale=NPS"], "--setting opinion_scale: must be nps or csat"),
        (["--secret", "signing_secret=abc"], "--secret signing_secret: a typeform source has no such secret"),
    ],
)
def test_sources_add_refuses_settings_and_secrets_the_channel_does_not_know(stack, capsys, given, said):
    from chalicelib.channels import sources

    added = ["sources", "add", "--type", "typeform", "--name", "Survey", "--id", "src_tf", *given]
    assert cli.main(added) == 2
    error = capsys.readouterr().err
    assert said in error
    assert sources.get_cached("src_tf") is None


@pytest.mark.parametrize(
    ("source_type", "secret", "said"),
    [
        # Session 30: accepted, then every delivery of the source answered 500 (the key is no base64).
        ("webhook", "signing_secret=my secret!", "whsec_ followed by base64"),
        ("telegram", "secret_token=has spaces", "1-256 characters of A-Z a-z 0-9 _ -"),
    ],
)
def test_sources_add_and_rotate_refuse_a_secret_the_platform_could_not_have_issued(
    stack, capsys, source_type, secret, said
):
    from chalicelib.channels import sources

    added = ["sources", "add", "--type", source_type, "--name", "Hand", "--id", "src_hand"]
    assert cli.main([*added, "--secret", secret]) == 2
    assert said in capsys.readouterr().err
    assert sources.get_cached("src_hand") is None

    assert cli.main(added) == 0
    name = secret.split("=", 1)[0]
    generated = sources.read_secrets("src_hand").current(name)
    capsys.readouterr()
    assert cli.main(["sources", "rotate", "src_hand", "--secret", secret]) == 2
    assert said in capsys.readouterr().err
    assert sources.read_secrets("src_hand").accepted(name) == [generated]


def test_sources_rotate_keeps_the_previous_secret_until_dropped(stack, capsys):
    from chalicelib.channels import sources

    cli.main(
        [
            "sources",
            "add",
            "--type",
            "webhook",
            "--name",
            "Zap",
            "--id",
            "src_rot",
            "--secret",
            "signing_secret=whsec_b2xk",
        ]
    )
    assert cli.main(["sources", "rotate", "src_rot", "--secret", "signing_secret=whsec_bmV3"]) == 0
    assert sources.read_secrets("src_rot").accepted("signing_secret") == ["whsec_bmV3", "whsec_b2xk"]

    assert cli.main(["sources", "rotate", "src_rot", "--drop-previous"]) == 0
    assert sources.read_secrets("src_rot").accepted("signing_secret") == ["whsec_bmV3"]

    assert cli.main(["sources", "rotate", "src_rot", "--secret", "unknown=1"]) == 2
    assert cli.main(["sources", "remove", "src_rot"]) == 0
    assert sources.read_secrets("src_rot").names() == []
    assert cli.main(["sources", "show", "src_rot"]) == 1
    assert "no source 'src_rot'" in capsys.readouterr().err


def test_forms_update_if_version_refuses_a_form_changed_since(stack, capsys):
    cli.main(["forms", "create", "--name", "Shop", "--id", "shop"])
    capsys.readouterr()
    assert cli.main(["forms", "show", "shop"]) == 0
    version = json.loads(capsys.readouterr().out)["version"]

    assert cli.main(["forms", "update", "shop", "--name", "Mine", "--if-version", str(version)]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == version + 1
    # A second writer that read the same version is refused and changes nothing.
    assert cli.main(["forms", "update", "shop", "--name", "Theirs", "--if-version", str(version)]) == 1
    assert "changed since version" in capsys.readouterr().err
    form_store.clear_cache()
    assert form_store.get_cached("shop").name == "Mine"
    assert cli.main(["forms", "show", "no-such-form"]) == 1


# A listing in a process of its own, against moto, whose stdout is a pipe the reader already closed.
LISTING_INTO_A_CLOSED_PIPE = """
import os, sys
from moto import mock_aws
from chalicelib import cli
from chalicelib.local.provision import provision
with mock_aws():
    provision(os.environ["INGEST_QUEUE_NAME"])
    sys.exit(cli.main(["dlq", "list"]))
"""


def test_a_listing_piped_into_head_stops_quietly():
    """`cli dlq list | head`: the reader closes the pipe; the CLI stops with SIGPIPE's shell status (as a
    Unix tool would), not a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        finished = subprocess.run(
            [sys.executable, "-c", LISTING_INTO_A_CLOSED_PIPE],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in finished.stderr and "BrokenPipeError" not in finished.stderr, finished.stderr
    assert finished.returncode == cli.BROKEN_PIPE_EXIT


# Groups whose help other areas own (themes, privacy, operations) are left to them.
HELP_CHECKED_GROUPS = ("feedback", "export", "forms", "sources", "tokens", "subscriptions", "alerts", "crm")


def commands_of(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (command path, parser) under a parser, the parser itself first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands_of(sub, (*path, name))


def test_every_option_says_what_it_does_in_its_help():
    # `forms create --help` listed --name, --scale (its default unsaid), --require-email, --csat-style bare.
    silent = [
        f"{' '.join(path)} {'/'.join(action.option_strings)}"
        for path, parser in commands_of(cli.build_parser())
        if path and path[0] in HELP_CHECKED_GROUPS
        for action in parser._actions
        if action.option_strings and not action.help
    ]
    assert not silent, silent


def test_local_says_how_it_finds_the_stack(capsys):
    # A stack started with MOTO_PORT=5100 make run is not found from a shell without it: --help says so.
    with pytest.raises(SystemExit):
        cli.main(["feedback", "list", "--help"])
    assert "MOTO_PORT" in capsys.readouterr().out


def test_a_commands_output_is_only_what_it_says_product_logs_go_to_stderr_at_warning(
    stack, capfd, monkeypatch
):
    from chalicelib.observability import logger

    save([stored("a", datetime(2026, 11, 21, 9, tzinfo=UTC))])
    # As a shell runs the CLI: Powertools' default level (INFO) and handler (stdout).
    level, stream = logger.log_level, logger.registered_handler.stream
    logger.setLevel("INFO")
    logger.registered_handler.setStream(sys.stdout)

    def noisy_export(day):
        logger.info("an INFO line of product code")
        logger.warning("a WARNING line of product code")
        return real_export_day(day)

    from chalicelib.cli import feedback as feedback_cli

    real_export_day = feedback_cli.export_day
    monkeypatch.setattr(feedback_cli, "export_day", noisy_export)
    try:
        assert cli.main(["export", "--date", "2026-11-21"]) == 0
    finally:
        after = logger.log_level, logger.registered_handler.stream
        logger.setLevel(level)
        logger.registered_handler.setStream(stream)

    out, err = capfd.readouterr()
    assert json.loads(out)["date"] == "2026-11-21"  # the manifest, nothing else: "day exported" was INFO
    assert "INFO" not in out + err
    assert "a WARNING line of product code" in err
    # The process's logger is as it was (the local stack and tests share it).
    assert after == (logging.INFO, sys.stdout)
