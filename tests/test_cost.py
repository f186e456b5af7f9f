"""The cost model (tools/cost/): DynamoDB sizes and units, the price file, the arithmetic on a hand-made
example, re-pricing after an edit, and the contract with the bench: every priced line is derived from
counts a real (small) bench run produces."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from datetime import date

import pytest

from tools.bench.capacity import CapacityTally, StoredItem, global_index_keys
from tools.bench.cost_inputs import measured_counts
from tools.bench.counting import RequestCounter
from tools.bench.import_time import ImportResult
from tools.bench.pipeline import run_pipeline
from tools.bench.run import BenchResult
from tools.bench.stack import reset_process_caches
from tools.cost import markdown, model, units
from tools.cost.prices import (
    ANALYZE_FUNCTION,
    API_FUNCTION,
    EXPORT_FUNCTION,
    FUNCTIONS,
    PRICES_PATH,
    PriceTable,
    lambda_memory_mb,
    load_prices,
)

# Lines priced from assumptions alone (no measured count): adding one must be a deliberate edit here.
ASSUMPTION_ONLY = {"event source: empty receives while idle (upper bound)"}
MEMORY = {API_FUNCTION: 256, ANALYZE_FUNCTION: 512, EXPORT_FUNCTION: 1024}


def zero_counts() -> dict[str, float]:
    """Every measured key at 0, except one analyze batch (so the batch fill is defined)."""
    counts = dict.fromkeys(model.MEASURED_KEYS, 0.0)
    counts |= {"analyze.invocations": 1.0, "analyze.records": 1.0}
    return counts


def priced_only(table: PriceTable, keep: dict[str, float]) -> PriceTable:
    """`table` with every price at 0 except `keep` (id → usd)."""
    prices = {
        price_id: dataclasses.replace(price, usd=keep.get(price_id, 0.0))
        for price_id, price in table.prices.items()
    }
    return dataclasses.replace(table, prices=prices)


@pytest.fixture
def table() -> PriceTable:
    return load_prices()


# --- DynamoDB sizes and units ----------------------------------------------------------------------


def test_item_size_follows_the_developer_guides_rules():
    item = {
        "pk": {"S": "FB#1"},  # 2 + 4
        "text": {"S": "né"},  # 4 + 3 (UTF-8 bytes)
        "n": {"N": "123.40"},  # 1 + (4 significant digits → 2) + 1
        "ok": {"BOOL": True},  # 2 + 1
        "tags": {"SS": ["a", "bc"]},  # 4 + 3
        "m": {"M": {"k": {"S": "v"}}},  # 1 + 3 + (1 + 1 + 1)
        "l": {"L": [{"N": "1"}, {"NULL": True}]},  # 1 + 3 + (1 + 2) + (1 + 1)
    }
    assert units.item_size(item) == 6 + 7 + 4 + 3 + 7 + 7 + 9


@pytest.mark.parametrize(("size", "writes", "reads"), [(0, 1, 1), (1024, 1, 1), (1025, 2, 1), (4097, 5, 2)])
def test_write_and_read_units_round_up_with_a_minimum_of_one(size, writes, reads):
    assert units.write_units(size) == writes
    assert units.read_units(size) == reads


def test_comprehend_units_are_100_characters_with_a_3_unit_minimum():
    assert [units.comprehend_units(n) for n in (1, 300, 301, 1000)] == [3, 3, 4, 10]


# --- the price file --------------------------------------------------------------------------------


def test_the_price_file_parses_has_a_date_and_prices_every_line(table):
    assert isinstance(table.as_of, date)
    assert table.as_of <= date.today()
    assert table.region == "us-east-1"
    assert table.assumptions.items_per_month == 1_000_000
    for price in table.prices.values():
        assert price.usd > 0 and price.per > 0, price.id
        assert price.source and price.unit, price.id
    used = {
        line.price_id
        for setup in model.SETUPS
        for line in model.usage_lines(zero_counts(), table.assumptions, MEMORY, setup)
    }
    # Every price is used by a line of some setup, and every line has a price: the table and the model agree.
    assert used == set(table.prices)


def test_memory_sizes_come_from_the_chalice_config():
    assert lambda_memory_mb("prod") == {"api_handler": 512, "analyze": 512, "nightly_export": 1769}


def test_a_price_file_without_a_date_is_refused(tmp_path):
    text = PRICES_PATH.read_text(encoding="utf-8").replace("prices_as_of = 2026-11-22", "")
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KeyError):
        load_prices(path)


# --- arithmetic ----------------------------------------------------------------------------------


def test_a_hand_computed_month_of_sqs_and_comprehend(table):
    sqs_price, units_price = 0.40, 0.0001  # per 1M requests, per unit
    table = priced_only(table, {"sqs.requests": sqs_price, "comprehend.sentiment": units_price})
    table = dataclasses.replace(table, assumptions=dataclasses.replace(table.assumptions, esm_pollers=0))
    counts = zero_counts() | {
        "analyze.invocations": 40.0,
        "analyze.records": 1000.0,
        "ack.sqs.requests": 1000.0,
        "analyze.sqs.requests": 120.0,
        "analyze.comprehend.sentiment.units": 3156.0,
    }
    report = model.monthly_cost(counts, table, MEMORY)

    months = table.assumptions.items_per_month / 1000
    expected_sqs = (1000 + 120) * months / 1_000_000 * sqs_price
    expected_units = 3156 * months * units_price
    assert report.total == pytest.approx(expected_sqs + expected_units)
    assert report.per_thousand_items == pytest.approx((expected_sqs + expected_units) / months)
    by_price = {line.usage.price_id: 0.0 for line in report.lines}
    for line in report.lines:
        by_price[line.usage.price_id] += line.usd
    assert by_price["sqs.requests"] == pytest.approx(expected_sqs)
    assert by_price["comprehend.sentiment"] == pytest.approx(expected_units)


def test_a_hand_computed_month_of_bedrock_tokens_in_each_setup(table):
    prices = {"bedrock.input": 0.035, "bedrock.output": 0.14, "bedrock.cache_read": 0.00875}
    prices |= {"comprehend.sentiment": 0.0001, "comprehend.pii": 0.0001}
    table = priced_only(table, prices)
    table = dataclasses.replace(table, assumptions=dataclasses.replace(table.assumptions, esm_pollers=0))
    counts = zero_counts() | {
        "analyze.invocations": 40.0,
        "analyze.records": 1000.0,
        "analyze.comprehend.sentiment.units": 3000.0,
        "analyze.comprehend.pii.units": 400.0,
        "analyze.bedrock.themes.requests": 40.0,
        "analyze.bedrock.themes.input_tokens": 50_000.0,
        "analyze.bedrock.themes.cache_read_tokens": 48_000.0,  # 1,200 per request
        "analyze.bedrock.themes.output_tokens": 60_000.0,
        "analyze.bedrock.analysis.requests": 40.0,
        "analyze.bedrock.analysis.input_tokens": 52_000.0,
        "analyze.bedrock.analysis.cache_read_tokens": 48_000.0,
        "analyze.bedrock.analysis.output_tokens": 70_000.0,
    }
    reports = model.compare_setups(counts, table, MEMORY)

    months = table.assumptions.items_per_month / 1000  # 1,000 lots of 1,000 items
    comprehend = (3000 + 400) * months * 0.0001
    themes = (50_000 * 0.035 + 48_000 * 0.00875 + 60_000 * 0.14) * months / 1_000_000
    analysis = (52_000 * 0.035 + 48_000 * 0.00875 + 70_000 * 0.14) * months / 1_000_000
    assert reports[model.COMPREHEND_ONLY].total == pytest.approx(comprehend)
    assert reports[model.COMPREHEND_AND_BEDROCK].total == pytest.approx(comprehend + themes)
    # Bedrock only: no language or sentiment units; PII redaction stays.
    assert reports[model.BEDROCK_ONLY].total == pytest.approx(400 * months * 0.0001 + analysis)
    assert markdown.bedrock_usd(reports[model.BEDROCK_ONLY]) == pytest.approx(analysis)
    # The cached prefix comes with every request: half-full batches read it twice as often.
    half = dataclasses.replace(
        table, assumptions=dataclasses.replace(table.assumptions, analyze_batch_fill=12.5)
    )
    lines = model.monthly_cost(counts, half, MEMORY, model.BEDROCK_ONLY).lines
    cached = next(line for line in lines if line.usage.price_id == "bedrock.cache_read")
    assert cached.usd == pytest.approx(2 * 48_000 * months / 1_000_000 * 0.00875)
    text = "\n".join(markdown.render_setups(reports))
    assert "| Comprehend: BatchDetectSentiment | $300.00 | $300.00 | - |" in text
    assert f"**{markdown._usd(analysis)} per 1M items** (target ≤ $20: met)" in text


def test_transactional_writes_cost_twice_and_reads_half(table):
    table = priced_only(table, {"dynamodb.wru": 1.0, "dynamodb.rru": 1.0})  # $1 per million units
    counts = zero_counts() | {
        "analyze.dynamodb.write_1kb_transactional": 10.0,
        "analyze.dynamodb.write_1kb_standard": 3.0,
        "export.dynamodb.read_4kb_eventual": 8.0,
        "ack.dynamodb.read_4kb_strong": 1.0,
    }
    report = model.monthly_cost(counts, table, MEMORY)
    months = table.assumptions.items_per_month / 1000
    assert report.total == pytest.approx(((2 * 10 + 3) + (0.5 * 8 + 1)) * months / 1_000_000)


def test_lambda_duration_is_own_time_on_the_cpu_share_plus_calls(table):
    table = priced_only(table, {"lambda.gb_second": 1.0})
    assumptions = dataclasses.replace(
        table.assumptions,
        cold_start_share={name: 0.0 for name in FUNCTIONS},
        call_latency_ms={"sqs": 10.0, "dynamodb": 0.0, "comprehend": 0.0, "s3": 0.0},
    )
    table = dataclasses.replace(table, assumptions=assumptions)
    counts = zero_counts() | {"ack.requests": 1000.0, "ack.own_seconds": 2.0, "ack.sqs.requests": 1000.0}
    report = model.monthly_cost(counts, table, MEMORY)

    invocations = assumptions.items_per_month
    own_ms = 2.0 * 1000 / 1000 * (assumptions.lambda_full_vcpu_mb / 256)  # per invocation, on 256 MB
    billed_ms = math.ceil(own_ms + 10.0)
    api = next(line for line in report.lines if "api_handler" in line.usage.label)
    assert api.usage.quantity == pytest.approx(invocations * billed_ms / 1000 * 256 / 1024)
    assert report.total == pytest.approx(api.usd)


def test_an_assumed_text_length_reprices_comprehend_per_document(table):
    table = priced_only(table, {"comprehend.language": 1.0})
    counts = zero_counts() | {"analyze.comprehend.language.documents": 400.0}
    long_texts = dataclasses.replace(table.assumptions, average_text_chars=1050)
    report = model.monthly_cost(counts, dataclasses.replace(table, assumptions=long_texts), MEMORY)
    assert report.total == pytest.approx(400 * 11 * table.assumptions.items_per_month / 1000)


def test_a_smaller_assumed_batch_fill_means_more_invocations_and_receives(table):
    table = priced_only(table, {"lambda.requests": 1.0, "sqs.requests": 1.0})
    table = dataclasses.replace(table, assumptions=dataclasses.replace(table.assumptions, esm_pollers=0))
    counts = zero_counts() | {
        "analyze.invocations": 40.0,
        "analyze.records": 1000.0,
        "analyze.sqs.requests": 120.0,
    }
    measured = model.monthly_cost(counts, table, MEMORY)
    smaller = dataclasses.replace(table.assumptions, analyze_batch_fill=5)
    trickle = model.monthly_cost(counts, dataclasses.replace(table, assumptions=smaller), MEMORY)

    months = table.assumptions.items_per_month / 1000
    runs = table.assumptions.days_per_month
    assert measured.total == pytest.approx(((40 + 120) * months + runs) / 1_000_000)
    assert trickle.total == pytest.approx(((200 + 600) * months + runs) / 1_000_000)


def test_editing_the_price_file_changes_the_result(tmp_path, table):
    counts = zero_counts() | {"analyze.comprehend.sentiment.units": 3000.0, "ack.requests": 1000.0}
    before = model.monthly_cost(counts, table, MEMORY)

    text = PRICES_PATH.read_text(encoding="utf-8")
    block = re.compile(r'(id = "comprehend\.sentiment".*?usd = )0\.0001', re.DOTALL)
    edited = block.sub(r"\g<1>0.0003", text, count=1)
    edited = edited.replace("items_per_month = 1_000_000", "items_per_month = 2_000_000")
    assert edited != text
    path = tmp_path / "prices.toml"
    path.write_text(edited, encoding="utf-8")
    after = model.monthly_cost(counts, load_prices(path), MEMORY)

    sentiment = {r.usage.price_id: r.usd for r in after.lines}["comprehend.sentiment"]
    assert sentiment == pytest.approx(3000 * 2000 * 0.0003)
    assert after.total > before.total
    assert after.items_per_month == 2_000_000


def test_a_price_missing_from_the_file_is_an_error(table):
    prices = {k: v for k, v in table.prices.items() if k != "xray.traces"}
    with pytest.raises(KeyError, match=re.escape("xray.traces")):
        model.monthly_cost(zero_counts(), dataclasses.replace(table, prices=prices), MEMORY)


def test_a_count_the_bench_does_not_produce_is_an_error(table):
    counts = zero_counts()
    del counts["analyze.comprehend.pii.units"]
    with pytest.raises(KeyError, match=re.escape("analyze.comprehend.pii.units")):
        model.monthly_cost(counts, table, MEMORY)


# --- the contract with the bench -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench_counts() -> dict[str, float]:
    """measured_counts of a real 25-item bench pipeline (one analyze batch, one export)."""
    import app  # noqa: F401 - imported under the test environment, before the bench sets its own

    saved = dict(os.environ)
    try:
        pipeline = run_pipeline(25, 0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_process_caches()
    result = BenchResult(
        items=25,
        counter=pipeline.counter,
        ack=pipeline.ack,
        analyze=pipeline.analyze,
        export=pipeline.export,
        webhook=pipeline.webhook,
        imports=ImportResult(app_ms=600.0, bare_ms=170.0, runs=0, heaviest=[]),
        seconds=0.0,
        capacity=pipeline.capacity,
        inventory=pipeline.inventory,
    )
    return measured_counts(result)


def test_the_bench_produces_every_documented_count(bench_counts):
    assert set(bench_counts) == set(model.MEASURED_KEYS)
    assert bench_counts["ack.requests"] == 1000
    assert bench_counts["ack.sqs.requests"] == 1000
    assert bench_counts["analyze.records"] == 1000
    assert bench_counts["analyze.dynamodb.write_1kb_transactional"] >= 1000  # a feedback put per item
    assert bench_counts["export.dynamodb.read_4kb_eventual"] > 0
    assert bench_counts["export.s3.put_requests_per_run"] >= 1
    assert bench_counts["storage.dynamodb_table_bytes"] > bench_counts["analyze.records"] * 100


def test_every_priced_line_is_derived_from_counts_the_bench_produces(bench_counts, table):
    report = model.monthly_cost(bench_counts, table, MEMORY)
    for line in report.lines:
        usage = line.usage
        if usage.label in ASSUMPTION_ONLY:
            assert not usage.measured
            continue
        assert usage.measured, f"{usage.label} is not derived from any measured count"
        assert set(usage.measured) <= set(bench_counts), usage.label
    assert {line.usage.label for line in report.lines} >= ASSUMPTION_ONLY
    assert report.total > 0
    # The bench's Bedrock counts: a request per batch, and the setups priced from them.
    assert bench_counts["analyze.bedrock.analysis.requests"] == bench_counts["analyze.invocations"]
    assert bench_counts["analyze.bedrock.themes.output_tokens"] > 0
    bedrock_only = model.monthly_cost(bench_counts, table, MEMORY, model.BEDROCK_ONLY)
    assert markdown.bedrock_usd(bedrock_only) <= markdown.TARGET_BEDROCK_ONLY_USD_PER_MILLION
    # The markdown names the date of the prices and the total.
    text = "\n".join(markdown.render(report, "in a test"))
    assert table.as_of.isoformat() in text
    assert f"${report.total:,.2f}" in text


def test_the_bench_does_not_leak_its_environment(bench_counts):
    assert os.environ.get("TABLE_NAME") == "feedback-test"
    assert os.environ.get("STAGE") == "test"


def test_capacity_tally_sizes_writes_reads_and_updates_per_phase():
    import boto3
    from moto import mock_aws

    from chalicelib.store.schema import create_table_arguments

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        counter = RequestCounter()
        counter.attach(session.events)
        tally = CapacityTally(counter, global_index_keys())
        tally.attach(session.events)
        dynamodb = session.client("dynamodb")
        dynamodb.create_table(**create_table_arguments("t"))
        item = {
            "pk": {"S": "FB#1"},
            "sk": {"S": "FB#1"},
            "gsi1pk": {"S": "DAY#2026-11-22#0"},
            "gsi1sk": {"S": "x"},
            "text": {"S": "a" * 1500},
        }
        size = units.item_size(item)
        with counter.phase_of("analyze"):
            dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": item}}])
            dynamodb.batch_get_item(
                RequestItems={
                    "t": {
                        "Keys": [{"pk": item["pk"], "sk": item["sk"]}, {"pk": {"S": "no"}, "sk": {"S": "no"}}]
                    }
                }
            )
            dynamodb.update_item(
                TableName="t",
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET n = :n",
                ExpressionAttributeValues={":n": {"N": "1"}},
            )
        dynamodb.put_item(TableName="t", Item=item | {"pk": {"S": "uncounted"}})  # no phase: not counted

    writes = units.write_units(size)
    assert writes == 2
    assert tally.write_1kb["analyze"] == {"transactional": writes, "standard": writes}  # + one index entry
    assert tally.read_4kb["analyze"] == {"eventual": units.read_units(size) + 1}  # found + the missing key
    assert [(phase, action) for phase, action, _ in tally.pending] == [("analyze", "Update")]
    updated = size + units.item_size({"n": {"N": "1"}})
    tally.resolve({("FB#1", "FB#1"): StoredItem(updated, {"by_day": updated})})
    # The update: a plain write of the item as it ended, and its entry in the ALL index.
    assert tally.write_1kb["analyze"]["standard"] == writes + 2 * units.write_units(updated)
    assert not tally.pending


def test_an_update_rewrites_a_narrow_index_entry_only_when_it_creates_the_item():
    from tools.bench.storage import index_shapes

    counter = RequestCounter()
    tally = CapacityTally(counter, index_shapes())
    profile = StoredItem(700, {"by_customer": 150})
    tally.pending = [("analyze", "transactional Update", ("CUSTOMER#c", "PROFILE"))] * 3
    tally.resolve({("CUSTOMER#c", "PROFILE"): profile})

    # Three transactional updates of a 700-byte profile; its customer-index entry written by the first only.
    assert tally.write_1kb["analyze"] == {"transactional": 3, "standard": 1}


def test_index_entries_are_sized_by_projection():
    from tools.bench.storage import index_shapes

    item = {
        "pk": {"S": "FEEDBACK#fb"},
        "sk": {"S": "FEEDBACK"},
        "gsi1pk": {"S": "DAY#2026-11-22#0"},
        "gsi1sk": {"S": "x"},
        "gsi2pk": {"S": "CUSTOMER#c"},
        "gsi2sk": {"S": "FB#x"},
        "record_type": {"S": "FEEDBACK"},
        "channel": {"S": "form"},
        "text": {"S": "a" * 1500},
    }
    shapes = {shape.name: shape for shape in index_shapes()}
    assert shapes["by_day"].entry_size(item) == units.item_size(item)  # ALL
    # The table's keys, its own keys and the included attributes: not the text, nor the other index's keys.
    narrow = {name: value for name, value in item.items() if name not in {"text", "gsi1pk", "gsi1sk"}}
    assert shapes["by_customer"].entry_size(item) == units.item_size(narrow)


def test_the_bench_cli_writes_the_report_it_printed(bench_counts, monkeypatch, tmp_path):
    """The written file is the rendered report, whatever the cost lines printed after it are named."""
    from tools.bench import cli

    monkeypatch.setattr(cli, "run", lambda *args: object())
    monkeypatch.setattr(cli, "render", lambda result, command, prices: f"# report of `{command}`\n")
    monkeypatch.setattr(cli, "measured_counts", lambda result: bench_counts)
    monkeypatch.setattr(cli, "checks", lambda result: [])
    printed: list[str] = []
    written = tmp_path / "BENCH.md"

    assert cli.main(["--quick", "--write", str(written)], out=printed.append) == 0

    report = written.read_text(encoding="utf-8")
    assert report == f"# report of `python -m tools.bench --quick --write {written}`\n"
    assert printed[0] == report
    assert sum(line.startswith("COST ") for line in printed) == len(model.SETUPS)


def test_the_tally_attributes_each_write_unit_to_what_was_written():
    from tools.bench.storage import index_shapes, wru_breakdown

    counter = RequestCounter()
    tally = CapacityTally(counter, index_shapes())
    feedback = {
        "pk": {"S": "FEEDBACK#fb"},
        "sk": {"S": "FEEDBACK"},
        "gsi1pk": {"S": "DAY#2026-11-22#0"},
        "gsi1sk": {"S": "x"},
        "text": {"S": "a" * 1500},
    }
    tally._write("analyze", feedback, transactional=True)
    tally._write("analyze", {"pk": {"S": "NEGATIVE"}, "sk": {"S": "x"}}, transactional=True)
    tally.pending = [("analyze", "transactional Update", ("CUSTOMER#c", "PROFILE"))] * 2
    tally.resolve({("CUSTOMER#c", "PROFILE"): StoredItem(700, {"by_customer": 150})})

    # A 2 KB feedback Put in a transaction bills 4, its ALL-index entry 2; each profile update 2, its
    # customer-index entry written once; the pointer 2.
    assert tally.wru_by_kind["analyze"] == {
        "feedback": 4,
        "feedback in by_day": 2,
        "profile": 4,
        "profile in by_customer": 1,
        "negative pointer": 2,
    }
    billed = 2 * tally.write_1kb["analyze"]["transactional"] + tally.write_1kb["analyze"]["standard"]
    assert sum(tally.wru_by_kind["analyze"].values()) == billed
    assert wru_breakdown(tally.wru_by_kind["analyze"], 2) == (
        "feedback 2.00, profile 2.00, feedback in by_day 1.00, negative pointer 1.00, "
        "profile in by_customer 0.50"
    )
