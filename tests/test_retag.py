"""`backfill --themes` on the moto stack: stored items re-tagged with the configured tagger and the taxonomy
in force, only `themes` and `taxonomy_version` written, no sentiment call (Comprehend under a Stubber with
nothing queued), idempotent, resumable, and never undoing an erasure that happens meanwhile."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from botocore.stub import Stubber

from chalicelib import aws, cli
from chalicelib.analysis.themes import configured_tagger
from chalicelib.config import settings
from chalicelib.export import day as export
from chalicelib.models import Sentiment, ThemeTag
from chalicelib.operations import backfill as job
from chalicelib.read import stats
from chalicelib.store import dynamo, feedback_write, identities, reanalysis
from chalicelib.store import feedback as feedback_store
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tests import stats_oracle
from tests.factories import form_event, stored_positive

FIRST = date(2026, 11, 1)
LAST = date(2026, 11, 3)
RANGE = ["--from", FIRST.isoformat(), "--to", LAST.isoformat(), "--no-progress"]
TAXONOMY = Taxonomy(
    themes=[
        Theme(id="battery", name="Battery", keywords={"en": ["battery"]}),
        Theme(id="phone", name="Phone", keywords={"en": ["phone"]}),
        Theme(id="delivery", name="Delivery", keywords={"en": ["courier", "delivery"]}),
    ]
)
TEXTS = [
    "Great phone, but the battery is awful",
    "The courier was late and rude",
    "Lovely staff",
    "The battery lasts for days",
]
OLD_TAGS = [ThemeTag(id="phone", sentiment=Sentiment.MIXED, evidence="phone")]


@pytest.fixture
def retagging(stack, monkeypatch):
    """THEME_TAGGER=keywords and ANALYZER=comprehend, with Comprehend under a Stubber that has nothing queued:
    any sentiment (or language) call fails the test."""
    monkeypatch.setenv("THEME_TAGGER", "keywords")
    monkeypatch.setenv("ANALYZER", "comprehend")
    settings.cache_clear()
    comprehend = aws.client("comprehend")
    calls: list[str] = []
    comprehend.meta.events.register(
        "provide-client-params.comprehend", lambda event_name, **kw: calls.append(event_name)
    )
    with Stubber(comprehend) as stubber:
        yield calls
        stubber.assert_no_pending_responses()
    assert calls == []
    settings.cache_clear()


@pytest.fixture
def history(retagging):
    """Fourteen items over the three days and one on each day around them: stored before tagging (themes
    None), or tagged with an older taxonomy (version 1), Comprehend's sentiment on all."""
    taxonomy_records.replace(Taxonomy(themes=[Theme(id="phone", name="Phone", keywords={"en": ["phone"]})]))
    events, items = [], []
    days = [FIRST + timedelta(days=n % 3) for n in range(14)] + [
        FIRST - timedelta(days=1),
        LAST + timedelta(days=1),
    ]
    for n, day in enumerate(days):
        at = datetime(day.year, day.month, day.day, 9, n, tzinfo=UTC)
        event = form_event(f"r{n:02d}", TEXTS[n % len(TEXTS)], at=at, email=f"c{n % 3}@example.com")
        item = stored_positive(event, analyzer="comprehend")
        if n % 2:
            item = item.model_copy(update={"themes": OLD_TAGS, "taxonomy_version": 1})
        events.append(event)
        items.append(item)
    resolution = identities.resolve(events)
    items = [i.model_copy(update={"customer_id": resolution.customers.get(i.feedback_id)}) for i in items]
    assert len(feedback_write.save_feedback(items, resolution, {}).created) == len(items)
    taxonomy = taxonomy_records.replace(TAXONOMY)
    return {"items": {i.external_id: i for i in items}, "taxonomy": taxonomy}


def in_range(history) -> list:
    return [i for i in history["items"].values() if FIRST <= i.stored_at.date() <= LAST]


def expected_themes(text: str, taxonomy: Taxonomy) -> list[tuple[str, str, str]]:
    from chalicelib.analysis import Document

    [matches] = configured_tagger().tag([Document("x", text, "en")], taxonomy).values()
    return [(m.id, m.sentiment, m.evidence) for m in matches]


def themes_of(item) -> list[tuple[str, str, str]] | None:
    return None if item.themes is None else [(t.id, t.sentiment.value, t.evidence) for t in item.themes]


def test_retag_writes_themes_and_version_only_and_a_second_run_changes_nothing(history, capsys):
    taxonomy = history["taxonomy"]

    assert cli.main(["backfill", "--themes", *RANGE, "--batch-size", "4"]) == 0

    out = capsys.readouterr().out
    assert f"re-tagging themes with keywords, taxonomy v{taxonomy.version}: 14 item(s) in range" in out
    assert "done: 14 updated, 0 skipped" in out
    for item in history["items"].values():
        stored = feedback_store.get(item.feedback_id)
        if not FIRST <= item.stored_at.date() <= LAST:
            assert stored == item  # outside the range: untouched
            continue
        assert themes_of(stored) == expected_themes(item.text, taxonomy)
        assert stored.taxonomy_version == taxonomy.version
        # Nothing else moved: the sentiment Comprehend gave, the text, the customer.
        assert (
            stored.model_copy(update={"themes": item.themes, "taxonomy_version": item.taxonomy_version})
            == item
        )
    great_phone = feedback_store.get(history["items"]["r00"].feedback_id)
    assert themes_of(great_phone) == [
        ("phone", "POSITIVE", "Great phone"),
        ("battery", "NEGATIVE", "the battery is awful"),
    ]
    assert great_phone.sentiment == Sentiment.POSITIVE and great_phone.analyzer == "comprehend"

    before = {i.feedback_id: feedback_store.get(i.feedback_id) for i in in_range(history)}
    assert cli.main(["backfill", "--themes", *RANGE]) == 0
    assert f"done: 0 updated, 14 skipped (already tagged with taxonomy v{taxonomy.version}" in (
        capsys.readouterr().out
    )
    assert {i: feedback_store.get(i) for i in before} == before


def test_a_taxonomy_change_starts_a_new_job_and_the_export_shows_the_new_themes(history, capsys):
    assert cli.main(["backfill", "--themes", *RANGE]) == 0
    changed = taxonomy_records.add(Theme(id="staff", name="Staff", keywords={"en": ["staff"]}))

    assert cli.main(["backfill", "--themes", *RANGE]) == 0

    out = capsys.readouterr().out
    assert f"job {FIRST}_{LAST}_themes-v{changed.version}" in out
    lovely = history["items"]["r02"]
    stored = feedback_store.get(lovely.feedback_id)
    assert (themes_of(stored), stored.taxonomy_version) == (
        [("staff", "POSITIVE", "Lovely staff")],
        changed.version,
    )
    manifest = export.export_day(lovely.stored_at.date())
    assert manifest["counts"]["feedback_themes"] > 0
    assert job.Checkpoint.load(job.job_id_for(FIRST, LAST, f"themes-v{changed.version}")).finished


class FailingTagger:
    """The keywords tagger, counting the documents it tagged; raising on its n-th call."""

    def __init__(self, fail_on_call: int | None) -> None:
        self.inner = configured_tagger()
        self.name = self.inner.name
        self.fail_on_call = fail_on_call
        self.calls = 0
        self.tagged: Counter[str] = Counter()

    def tag(self, documents, taxonomy):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("interrupted")
        self.tagged.update(d.key for d in documents)
        return self.inner.tag(documents, taxonomy)


def test_an_interrupted_retag_resumes_and_tags_each_item_once(history, monkeypatch, capsys):
    from chalicelib.analysis import themes as theme_analysis

    tagger = FailingTagger(fail_on_call=3)
    monkeypatch.setattr(theme_analysis, "configured_tagger", lambda: tagger)
    with pytest.raises(RuntimeError, match="interrupted"):
        cli.main(["backfill", "--themes", *RANGE, "--batch-size", "4"])
    first_run = sum(tagger.tagged.values())
    assert 0 < first_run < 14

    assert cli.main(["backfill", "--themes", *RANGE]) == 2
    assert "add --resume to continue or --restart" in capsys.readouterr().err

    tagger.fail_on_call = None
    assert cli.main(["backfill", "--themes", *RANGE, "--resume", "--batch-size", "4"]) == 0

    assert "resuming at day 2026-11-0" in capsys.readouterr().out
    # Texts without a theme keyword are still tagged (with an empty list), once each.
    assert tagger.tagged == Counter({i.feedback_id: 1 for i in in_range(history)})
    version = history["taxonomy"].version
    assert {feedback_store.get(i.feedback_id).taxonomy_version for i in in_range(history)} == {version}
    checkpoint = job.Checkpoint.load(job.job_id_for(FIRST, LAST, f"themes-v{version}"))
    assert checkpoint.finished and checkpoint.counts.updated == 14


def test_an_item_erased_between_read_and_write_is_not_written_back(history):
    item = feedback_store.get(history["items"]["r00"].feedback_id)
    retagged = item.model_copy(update={"themes": OLD_TAGS, "taxonomy_version": 9})
    key = dynamo.serialize(feedback_store.feedback_key(item.feedback_id))
    aws.client("dynamodb").delete_item(TableName=settings().table_name, Key=key)  # an erasure, meanwhile

    outcome = reanalysis.save_themes([(item, retagged)], {})

    assert (outcome.updated, outcome.skipped, outcome.changed) == ([], [item.feedback_id], [])
    assert feedback_store.get(item.feedback_id) is None


def test_an_item_retagged_meanwhile_is_read_again_and_counted_once(history):
    taxonomy = history["taxonomy"]
    read = [feedback_store.get(history["items"][n].feedback_id) for n in ("r00", "r01")]
    # Another job (or a retry of this page) tags r00 first.
    counts, failed = job.retag_batch(read[:1], configured_tagger(), taxonomy)
    assert (counts.updated, failed) == (1, {})

    counts, failed = job.retag_batch(read, configured_tagger(), taxonomy)  # r00 as read before: stale

    assert (counts.updated, counts.skipped, counts.failed, failed) == (1, 1, 0, {})
    assert {feedback_store.get(i.feedback_id).taxonomy_version for i in read} == {taxonomy.version}


def test_retag_usage_errors(history, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["backfill", "--themes", "--analyzer", "lexicon", *RANGE])
    assert exit_info.value.code == 2

    monkeypatch.setenv("THEME_TAGGER", "none")
    settings.cache_clear()
    assert cli.main(["backfill", "--themes", *RANGE]) == 2
    assert "THEME_TAGGER is none" in capsys.readouterr().err

    monkeypatch.setenv("THEME_TAGGER", "keywords")
    settings.cache_clear()
    taxonomy_records.replace(Taxonomy(themes=[Theme(id="fax", name="Fax", retired=True)]))
    assert cli.main(["backfill", "--themes", *RANGE]) == 2
    assert "no taxonomy to tag with" in capsys.readouterr().err
    assert [feedback_store.get(i.feedback_id) for i in in_range(history)] == in_range(history)


def test_the_fixture_refuses_every_comprehend_call(retagging):
    """What makes "no Comprehend call during re-tag" checkable: a call under the fixture fails at once."""
    from botocore.exceptions import UnStubbedResponseError

    with pytest.raises(UnStubbedResponseError):
        aws.client("comprehend").batch_detect_sentiment(TextList=["Great"], LanguageCode="en")
    assert retagging == ["provide-client-params.comprehend.BatchDetectSentiment"]
    retagging.clear()


def test_a_page_is_never_retagged_against_a_taxonomy_without_themes(history):
    item = feedback_store.get(history["items"]["r00"].feedback_id)
    with pytest.raises(ValueError, match="no taxonomy"):
        job.retag_batch([item], configured_tagger(), Taxonomy(themes=[], version=7))
    assert feedback_store.get(item.feedback_id) == item


def test_a_retag_moves_the_theme_counters_with_the_themes_once(history):
    # The new taxonomy files the battery under the phone: the counters count it under both from now on.
    taxonomy = taxonomy_records.replace(
        Taxonomy(
            themes=[
                t.model_copy(update={"parent": "phone"}) if t.id == "battery" else t for t in TAXONOMY.themes
            ]
        )
    )
    taxonomy_records.clear_cache()
    days = [FIRST + timedelta(days=n) for n in range(3)]
    read_before = [feedback_store.get(i.feedback_id) for i in in_range(history)]
    assert stats.compute(days) == stats_oracle.compute(days)
    phone_before = stats.compute(days)["themes"]["by_theme"]

    assert cli.main(["backfill", "--themes", *RANGE, "--batch-size", "4"]) == 0

    answer = stats.compute(days)
    assert answer == stats_oracle.compute(days)
    # The per-form theme counters moved too: a source's themes and the theme's own figures.
    source = stats.Slice("source", history["items"]["r00"].source_id)
    stats_oracle.assert_cuts_match(days, [source, stats.Slice("theme", "phone")])
    assert answer["themes"]["by_theme"] != phone_before
    assert {t["id"] for t in answer["themes"]["by_theme"]} >= {"battery", "phone", "delivery"}
    # A repeated run, and a retry of pages as they were read before, move nothing.
    assert cli.main(["backfill", "--themes", *RANGE]) == 0
    counts, failed = job.retag_batch(read_before, configured_tagger(), taxonomy)
    assert (counts.updated, failed) == (0, {})
    assert stats.compute(days) == answer


def test_a_retag_after_an_import_that_renames_a_child_theme_keeps_the_counters_a_recount(history, tmp_path):
    # The team files the battery under the phone, the items are tagged so, then an import renames the child:
    # the re-tag must take the old child's counts off its parent too, which it can only if the old theme
    # (left out of the document) is still known, retired, with its parent.
    nested = [t.model_copy(update={"parent": "phone"}) if t.id == "battery" else t for t in TAXONOMY.themes]
    taxonomy_records.replace(Taxonomy(themes=nested))
    taxonomy_records.clear_cache()
    assert cli.main(["backfill", "--themes", *RANGE]) == 0
    days = [FIRST + timedelta(days=n) for n in range(3)]
    renamed = [t.model_copy(update={"id": "power"}) if t.id == "battery" else t for t in nested]
    document = tmp_path / "themes.json"
    document.write_text(json.dumps({"themes": [t.model_dump(mode="json") for t in renamed]}))
    assert cli.main(["themes", "import", str(document)]) == 0
    taxonomy_records.clear_cache()

    assert cli.main(["backfill", "--themes", *RANGE]) == 0

    answer = stats.compute(days)
    assert answer == stats_oracle.compute(days)
    by_theme = {t["id"]: t["total"] for t in answer["themes"]["by_theme"]}
    assert "battery" not in by_theme and by_theme["power"] > 0
    assert by_theme["phone"] == sum(
        1
        for item in in_range(history)
        if {t.id for t in feedback_store.get(item.feedback_id).themes or []} & {"phone", "power"}
    )
