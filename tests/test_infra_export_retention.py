"""The export archive's retention (`export_retention_days`): unset, the nightly export files are kept as
before; set, a lifecycle rule of the export bucket expires them, so a retention bounds the archive too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from infra import settings
from tests.infra_synth import Synth, synthesize_variants


def _export_rules(synth: Synth) -> dict[str, dict[str, Any]]:
    bucket = synth.logical_id("AWS::S3::Bucket", "ExportBucket")
    rules = synth.resources[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    return {rule["Id"]: rule for rule in rules}


def _expiring_exports(rules: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Rule id → days, of the rules expiring the current export files (under exports/, not only its parts)."""
    return {
        rule_id: rule["ExpirationInDays"]
        for rule_id, rule in rules.items()
        if rule.get("Prefix") == "exports/" and "ExpirationInDays" in rule
    }


@pytest.fixture(scope="module")
def retained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synth]:
    outdir: Path = tmp_path_factory.mktemp("export-retention")
    return synthesize_variants(
        outdir,
        {
            "year": {"retention_days": "365", "export_retention_days": "400"},
            "month": {"export_retention_days": "30"},
        },
    )


def test_by_default_the_export_files_are_kept(synth: Synth):
    rules = _export_rules(synth)
    assert _expiring_exports(rules) == {}
    assert rules["exports-to-infrequent-access"]["Prefix"] == "exports/"


def test_an_export_retention_expires_the_export_files(retained: dict[str, Synth]):
    year = _export_rules(retained["year"])
    assert _expiring_exports(year) == {"expire-exports": 400}
    assert year["exports-to-infrequent-access"]["Transitions"][0]["TransitionInDays"] == 90
    # Expired files become noncurrent versions, which the versions' rule deletes a week later.
    assert year["expire-overwritten-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    month = _export_rules(retained["month"])
    assert _expiring_exports(month) == {"expire-exports": 30}
    # Files gone before Infrequent Access' 30-day minimum would pay for it: not moved there.
    assert "exports-to-infrequent-access" not in month


@pytest.mark.parametrize(("value", "expected"), [(None, 0), ("", 0), ("0", 0), (" 400 ", 400), (7, 7)])
def test_export_retention_days_is_read_as_whole_days(value: object, expected: int):
    context = {"stage": "prod", "region": "us-east-1", "export_retention_days": value}
    assert settings.StageSettings.from_context(context.get).export_retention_days == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-30", "export_retention_days must be a whole number of days (0 keeps the exports), got '-30'"),
        ("1y", "got '1y'"),
        ("3", f"0 (keep the exports) or at least {settings.MIN_RETENTION_DAYS}"),
    ],
)
def test_a_bad_export_retention_is_refused_at_synth(value: object, message: str):
    context = {"stage": "prod", "region": "us-east-1", "export_retention_days": value}
    with pytest.raises(ValueError, match=re.escape(message)):
        settings.StageSettings.from_context(context.get)
