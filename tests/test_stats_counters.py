"""`GET /stats` read from the counters answers exactly what the old computation (every item of the range read
through the day index: tests/stats_oracle.py) answers on the same data, and costs a bounded number of
DynamoDB requests whatever the range holds."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import aws, cli
from chalicelib.cli import common as cli_common
from chalicelib.config import settings
from chalicelib.local.moto_patches import fit_for_threads
from chalicelib.models import Analysis, Channel, RatingScale, Sentiment, StoredFeedback, ThemeTag
from chalicelib.read import stats
from chalicelib.store import counters, feedback_write, reanalysis
from chalicelib.store import feedback as feedback_store
from chalicelib.store.identities import Resolution
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tests import stats_oracle
from tests.test_export import stored

TAXONOMY = Taxonomy(
    themes=[
        Theme(id="delivery", name="Delivery"),
        Theme(id="delivery-speed", name="Delivery time", parent="delivery"),
        Theme(id="delivery-damage", name="Damaged item", parent="delivery"),
        Theme(id="price", name="Price"),
    ]
)
THEME_IDS = ("delivery", "delivery-speed", "delivery-damage", "price", "removed-theme")
CHANNELS = (Channel.FORM, Channel.SLACK, Channel.WEBHOOK, Channel.X)
SOURCES = ("demo", "checkout-csat", "src_typeform|odd")
START = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def _days_have_begun(monkeypatch):
    # START lies after the real clock's today, and the CLI refuses a day that has not begun (cli/common.py).
    monkeypatch.setattr(cli_common, "utc_today", lambda: START + timedelta(days=365))


def random_item(rng: random.Random, index: int, day: date, seed_value: int) -> StoredFeedback:
    at = datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60), tzinfo=UTC)
    scale = rng.choice([None, RatingScale.NPS, RatingScale.NPS, RatingScale.CSAT, RatingScale.STARS])
    low, high = scale.bounds if scale else (0, 0)
    tags = rng.sample(THEME_IDS, rng.randrange(4))
    item = stored(
        f"r{seed_value}-{index}", at, text=rng.choice(["Broken again", "Fine", "x" * 600]), rating=0
    )
    return item.model_copy(
        update={
            "channel": rng.choice(CHANNELS),
            "source_id": rng.choice(SOURCES),
            "sentiment": rng.choice([None, *Sentiment]),
            "rating": rng.randint(low, high) if scale else None,
            "rating_scale": scale,
            "customer_id": rng.choice([None, "cust_a", "cust_b"]),
            "themes": None
            if rng.random() < 0.2
            else [ThemeTag(id=t, sentiment=rng.choice(list(Sentiment)), evidence=t) for t in tags],
        }
    )


def seed(count: int, days: int, seed_value: int) -> None:
    rng = random.Random(seed_value)
    items = [
        random_item(rng, n, START + timedelta(days=rng.randrange(days)), seed_value) for n in range(count)
    ]
    taxonomy_records.replace(TAXONOMY)
    # moto's own transactions copy the whole table per action: its patched transactions are far faster.
    with fit_for_threads():
        outcome = feedback_write.save_feedback(items, Resolution(), taxonomy_records.current().parents())
    assert len(outcome.created) == count


# Each test seeds once and checks every range or slice on it: moto's parse of the counters' updates makes
# the seed most of a test's time.
RANGES = {"one day": (0, 0), "two weeks": (3, 16), "runs past the data": (12, 30)}
SLICES = (
    stats.Slice("channel", Channel.SLACK.value),
    stats.Slice("source", "checkout-csat"),
    stats.Slice("source", "src_typeform|odd"),
    stats.Slice("sentiment", Sentiment.NEGATIVE.value),
    stats.Slice("sentiment", "NONE"),
    stats.Slice("theme", "delivery"),
    stats.Slice("theme", "delivery-speed"),
    stats.Slice("theme", "price"),
)


def test_stats_from_counters_equal_the_recount_of_every_item(stack):
    seed(150, 20, 15)
    for name, (first, last) in RANGES.items():
        days = [START + timedelta(days=n) for n in range(first, last + 1)]

        answer = stats.compute(days)

        assert answer == stats_oracle.compute(days), name
        if first < 20:
            assert answer["total"] > 0 and answer["themes"]["by_theme"], name


def test_a_slice_of_the_stats_equals_the_recount_of_its_items(stack):
    seed(150, 20, 16)
    days = [START + timedelta(days=n) for n in range(4, 14)]
    whole = stats.compute(days)["total"]
    for only in SLICES:
        answer = stats.compute(days, only=only)

        assert answer == stats_oracle.compute(days, only=only), only
        assert 0 < answer["total"] < whole, only


def test_scores_and_their_change_equal_the_ratings_of_the_items(stack):
    seed(150, 20, 17)
    days = [START + timedelta(days=n) for n in range(10, 20)]
    items = [item for day in days for item in feedback_store.list_day(day)]
    earlier = [item for day in stats.previous_period(days) for item in feedback_store.list_day(day)]

    block = stats.compute(days)["scores"]

    csat = [i.rating for i in items if i.rating_scale == RatingScale.CSAT]
    stars = [i.rating for i in items if i.rating_scale == RatingScale.STARS]
    nps = [i.rating for i in items if i.rating_scale == RatingScale.NPS]
    nps_before = [i.rating for i in earlier if i.rating_scale == RatingScale.NPS]
    assert csat and stars and nps and nps_before
    assert block["csat"]["responses"] == len(csat)
    assert block["csat"]["satisfied_percent"] == round(100 * sum(r >= 4 for r in csat) / len(csat), 1)
    assert block["csat"]["mean"] == round(sum(csat) / len(csat), 2)
    assert block["stars"]["distribution"] == {str(v): stars.count(v) for v in range(1, 6)}
    assert block["stars"]["mean"] == round(sum(stars) / len(stars), 2)

    def nps_score(ratings: list[int]) -> float:
        return round(100 * (sum(r >= 9 for r in ratings) - sum(r <= 6 for r in ratings)) / len(ratings), 1)

    assert (block["nps"]["promoters"], block["nps"]["passives"], block["nps"]["detractors"]) == (
        sum(r >= 9 for r in nps),
        sum(7 <= r <= 8 for r in nps),
        sum(r <= 6 for r in nps),
    )
    assert block["nps"]["score"] == nps_score(nps)
    assert block["nps"]["previous"]["score"] == nps_score(nps_before)
    assert block["nps"]["change"] == round(nps_score(nps) - nps_score(nps_before), 2)


def count_requests(days: list[date]) -> Counter[str]:
    operations: Counter[str] = Counter()

    def count(event_name: str, **kwargs: object) -> None:
        operations[event_name.rsplit(".", 1)[1]] += 1

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb", count)
    try:
        stats.compute(days)
    finally:
        events.unregister("before-call.dynamodb", count)
    return operations


def test_93_days_cost_a_few_requests_whatever_they_hold(stack):
    days = [START + timedelta(days=n) for n in range(93)]
    seed(60, 93, 1)
    taxonomy_records.current()  # cached, as in a warm function
    few = count_requests(days)
    seed(300, 93, 2)
    many = count_requests(days)

    # 186 days of counter items (the range and the period before) at 2 shards: 4 BatchGetItem; the newest
    # negatives: one Query on their sparse index, one BatchGetItem for the items.
    assert few == many == {"BatchGetItem": 5, "Query": 1}
    assert sum(many.values()) <= 10


def test_rebuild_recounts_a_range_after_a_taxonomy_change_idempotently(stack, capsys):
    seed(120, 10, 7)
    days = [START + timedelta(days=n) for n in range(10)]
    # The speed theme moves under price: the counters still count it under delivery, until rebuilt.
    moved = [
        t.model_copy(update={"parent": "price"}) if t.id == "delivery-speed" else t for t in TAXONOMY.themes
    ]
    taxonomy_records.replace(Taxonomy(themes=moved))
    taxonomy_records.clear_cache()
    assert stats.compute(days) != stats_oracle.compute(days)
    # And a pointer item of an older table and a stray counter shard (a lost race could leave one).
    stray = {"pk": "NEGATIVE", "sk": f"{START.isoformat()}T00:00:00+00:00#fb_gone", "record_type": "NEGATIVE"}
    feedback_write.dynamo.batch_write(
        settings().table_name,
        [
            feedback_write.dynamo.put_request(stray),
            feedback_write.dynamo.put_request({**counters.counter_key(START, 1), "s|form|NONE": 5}),
        ],
    )

    for _ in range(2):
        arguments = ["counters", "rebuild", "--from", days[0].isoformat(), "--to", days[-1].isoformat()]
        assert cli.main(arguments) == 0
        stats_oracle.assert_cuts_match(days)
    assert not [p for p in counters.newest_negative_ids(START, START, 100) if p[1] == "fb_gone"]
    assert (
        counters.read_days([START])[START]
        == counters.day_deltas(
            list(feedback_store.list_day(START)), [], taxonomy_records.current().parents()
        )[START]
    )
    # The hour counters alerts read are recounted with the day's.
    start_items = list(feedback_store.list_day(START))
    hours = [datetime(START.year, START.month, START.day, h, tzinfo=UTC) for h in range(24)]
    parents = taxonomy_records.current().parents()
    assert counters.read_hours(hours) == counters.hour_deltas(start_items, [], parents)
    assert "done: 120 items counted" in capsys.readouterr().out


def test_rebuild_walks_days_in_parallel_in_day_order_and_a_failed_day_is_said_and_not_marked(
    stack, capsys, monkeypatch
):
    """An upgrade's rebuild spans years of days: several at once (`--workers`), reported in calendar order;
    a day that fails is named with the way on, the others still counted, and the completeness mark is not
    moved over a gap."""
    seed(60, 6, 5)
    days = [START + timedelta(days=n) for n in range(6)]
    rebuild_day = counters.rebuild_day

    def failing_on_the_third_day(day, items, parents):
        if day == days[2]:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return rebuild_day(day, items, parents)

    monkeypatch.setattr(counters, "rebuild_day", failing_on_the_third_day)
    _, mark_before = counters.read_days_and_completeness(days)
    arguments = ["counters", "rebuild", "--from", days[0].isoformat(), "--to", days[-1].isoformat()]
    with fit_for_threads():
        assert cli.main([*arguments, "--workers", "3"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(":")[0] for line in lines] == [day.isoformat() for day in days]
    assert lines[2] == f"{days[2].isoformat()}: failed: ProvisionedThroughputExceededException"
    assert "1 day(s) failed" in captured.err and f"or from {days[2].isoformat()}" in captured.err
    assert "done:" not in captured.out
    assert counters.read_days_and_completeness(days)[1] == mark_before

    monkeypatch.setattr(counters, "rebuild_day", rebuild_day)
    with fit_for_threads():
        assert cli.main([*arguments, "--workers", "3"]) == 0
    assert "done: 60 items counted" in capsys.readouterr().out
    stats_oracle.assert_cuts_match(days)


@pytest.mark.parametrize("workers", ["0", "17", "many"])
def test_rebuild_refuses_a_number_of_workers_out_of_bounds(stack, capsys, workers):
    arguments = ["counters", "rebuild", "--from", START.isoformat(), "--to", START.isoformat()]
    with pytest.raises(SystemExit) as usage:
        cli.main([*arguments, "--workers", workers])
    assert usage.value.code == 2
    assert "--workers: expected a whole number from 1 to 16" in capsys.readouterr().err


def test_a_reanalysis_moves_the_counts_and_the_negatives_once(stack):
    seed(60, 5, 9)
    days = [START + timedelta(days=n) for n in range(5)]
    items = [item for day in days for item in feedback_store.list_day(day)]
    rng = random.Random(3)
    analyses = {
        item.feedback_id: Analysis(
            sentiment=rng.choice([None, Sentiment.NEGATIVE, Sentiment.POSITIVE]),
            language="en",
            analyzer="comprehend",
            analyzed_at=item.stored_at,
        )
        for item in items
    }

    with fit_for_threads():
        first = reanalysis.save_analyses(items, analyses)
        again = reanalysis.save_analyses(items, analyses)  # a rerun with the items as read before

    assert (len(first.updated), len(again.updated)) == (60, 0)
    answer = stats.compute(days)
    stats_oracle.assert_cuts_match(days)
    assert answer["sentiment"]["NEGATIVE"] == sum(
        a.sentiment == Sentiment.NEGATIVE for a in analyses.values()
    )


def test_a_forms_themes_and_a_themes_figures_are_their_own(stack):
    seed(150, 20, 18)
    days = [START + timedelta(days=n) for n in range(20)]
    whole = stats.compute(days)
    items = [item for day in days for item in feedback_store.list_day(day)]

    form = stats.compute(days, only=stats.Slice("source", "checkout-csat"))
    delivery = stats.compute(days, only=stats.Slice("theme", "delivery"))

    # A form's themes are those of its form responses.
    of_form = [i for i in items if i.source_id == "checkout-csat" and i.channel == Channel.FORM and i.themes]
    assert "themes" not in form["unfiltered"]
    assert form["themes"]["tagged"] == len(of_form) < whole["themes"]["tagged"]
    about = [i for i in items if any(t.id.startswith("delivery") for t in i.themes or ())]
    assert delivery["total"] == len(about) == sum(day["total"] for day in delivery["days"])
    family = {"delivery", "delivery-speed", "delivery-damage"}
    assert {t["id"] for t in delivery["themes"]["by_theme"]} == family
    assert delivery["channels"] == whole["channels"] and delivery["scores"] == whole["scores"]
    # Per form: the forms' responses about the theme.
    assert sum(row["total"] for row in delivery["sources"]) == sum(i.channel == Channel.FORM for i in about)


def test_each_day_holds_its_scores_per_scale(stack):
    seed(150, 20, 19)
    days = [START + timedelta(days=n) for n in range(20)]

    answer = stats.compute(days)

    for day, entry in zip(days, answer["days"], strict=True):
        csat = [i.rating for i in feedback_store.list_day(day) if i.rating_scale == RatingScale.CSAT]
        stars = [i.rating for i in feedback_store.list_day(day) if i.rating_scale == RatingScale.STARS]
        expected = round(100 * sum(r >= 4 for r in csat) / len(csat), 1) if csat else None
        assert entry["scores"]["csat"] == {"responses": len(csat), "satisfied_percent": expected}
        mean = round(sum(stars) / len(stars), 2) if stars else None
        assert entry["scores"]["stars"] == {"responses": len(stars), "mean": mean}
        assert entry["scores"]["nps"]["score"] == entry["nps"]["score"]
    assert any(entry["scores"]["csat"]["responses"] for entry in answer["days"])
