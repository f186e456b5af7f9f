"""The bench's export-at-scale projection: linear in items, CPU scaled to the function's share of a vCPU."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from tools.bench import export_scale
from tools.bench.export_scale import AFTER_STAGES, BEFORE_STAGES, ExportScale, projection


def measured(per_item_us: float) -> ExportScale:
    cpu = dict.fromkeys({*BEFORE_STAGES, *AFTER_STAGES}, per_item_us / 4 / 1e6)
    return ExportScale(
        items=1000,
        requests=Counter({"dynamodb.Query": 8, "dynamodb.BatchGetItem": 2, "s3.PutObject": 7}),
        query_pages=8,
        page_bytes=1_500_000,
        file_bytes=1_000_000,
        spool_bytes=60_000,
        cpu=cpu,
    )


def test_the_projection_scales_cpu_by_the_vcpu_share_and_adds_the_serial_pages():
    result = measured(per_item_us=300)
    at_full_vcpu = projection(result, 2_000_000, AFTER_STAGES, memory_mb=1769)
    assert at_full_vcpu["cpu_seconds"] == pytest.approx(600)
    pages = at_full_vcpu["query_pages"]
    assert pages == 2862  # 1,500 bytes per item, 1 MiB pages
    assert at_full_vcpu["seconds"] == pytest.approx(600 + pages * export_scale.QUERY_PAGE_SECONDS)
    assert projection(result, 2_000_000, AFTER_STAGES, memory_mb=1024)["cpu_seconds"] == pytest.approx(
        600 * 1769 / 1024
    )
    assert projection(result, 2_000_000, AFTER_STAGES, memory_mb=3008)["cpu_seconds"] == pytest.approx(600)


def test_the_check_fails_when_the_projected_day_outlasts_the_lambda_limit(monkeypatch):
    monkeypatch.setattr(export_scale, "export_memory_mb", lambda: 1769)
    [fits] = export_scale.export_scale_checks(measured(per_item_us=300))
    [too_slow] = export_scale.export_scale_checks(measured(per_item_us=500))
    assert (fits.ok, too_slow.ok) == (True, False)
    [failed] = export_scale.export_scale_checks(ExportScale(items=10, error="RuntimeError: boom"))
    assert not failed.ok


def test_the_section_shows_before_and_now_for_both_days(monkeypatch):
    monkeypatch.setattr(export_scale, "export_memory_mb", lambda: 1769)
    text = "\n".join(export_scale.export_scale_section(measured(per_item_us=300)))
    assert "| 1,000,000 |" in text and "| 2,000,000 |" in text
    assert "over 512 MiB" in text  # 1,060 bytes per item in /tmp before streaming


def test_queries_in_flight_at_once_divide_the_waits():
    result = measured(per_item_us=300)
    serial = projection(result, 1_000_000, AFTER_STAGES, memory_mb=1769)
    shards = projection(result, 1_000_000, AFTER_STAGES, memory_mb=1769, queries_at_once=8)
    assert shards["query_seconds"] == pytest.approx(serial["query_seconds"] / 8)
    assert shards["cpu_seconds"] == serial["cpu_seconds"]


def test_the_measurement_runs_on_stored_items_with_compressed_texts():
    # The stages decode the day's pages as stored, a compressed text (a Binary attribute) included. In a
    # process of its own: the bench's environment (its settings and moto) must not leak into other tests.
    script = (
        "import json\nfrom tools.bench.export_scale import measure\nr = measure(200)\n"
        "print(json.dumps({'items': r.items, 'pages': r.query_pages, 'cpu': r.cpu}))"
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["items"] == 200 and result["pages"] >= 1
    assert set(BEFORE_STAGES) | set(AFTER_STAGES) <= set(result["cpu"])
    assert all(seconds > 0 for seconds in result["cpu"].values())
