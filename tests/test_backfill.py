"""`backfill` through the CLI on the moto stack: items re-analyzed through the per-day index, profile counts
moved with them (always equal to a recount from the items), checkpoints that resume after an interruption
with every item processed once, and a second run that changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib import aws, cli
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.config import settings
from chalicelib.models import Analysis, Sentiment, SentimentScores
from chalicelib.operations import backfill as job
from chalicelib.store import customers, dynamo, feedback_write, identities, reanalysis
from chalicelib.store import feedback as feedback_store
from tests.factories import form_event, stored_positive

FIRST = date(2026, 11, 1)
LAST = date(2026, 11, 3)
RANGE = ["--from", FIRST.isoformat(), "--to", LAST.isoformat(), "--analyzer", "lexicon", "--no-progress"]
# Stored as POSITIVE by "comprehend"; the lexicon disagrees on most of these.
TEXTS = [
    "Terrible service, awful and rude staff",
    "I love it, wonderful experience",
    "The parcel arrived on Tuesday",
    "Horrible app, it crashes constantly",
    "Good food but terrible, awful waiting time",
]


def make(external_id: str, day: date, text: str, email: str | None, analyzer: str = "comprehend", **extra):
    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC) + timedelta(minutes=len(external_id))
    event = form_event(external_id, text, extra.pop("language", "en"), at=at, email=email)
    return event, stored_positive(event, analyzer)


@pytest.fixture
def history(stack):
    """17 items over three days plus one day either side; 4 customers, anonymous items, one in Spanish,
    two already analyzed by the lexicon."""
    pairs = []
    for n in range(14):
        day = FIRST + timedelta(days=n % 3)
        email = None if n % 7 == 0 else f"customer{n % 4}@example.com"
        pairs.append(make(f"in-{n:02d}", day, TEXTS[n % len(TEXTS)], email))
    pairs.append(make("italian", FIRST, "Il servizio era pessimo", "customer1@example.com", language="it"))
    pairs += [
        make(f"done-{n}", LAST, TEXTS[0], "customer2@example.com", analyzer="lexicon") for n in range(2)
    ]
    pairs.append(make("before", FIRST - timedelta(days=1), TEXTS[0], "customer3@example.com"))
    pairs.append(make("after", LAST + timedelta(days=1), TEXTS[0], "customer3@example.com"))
    resolution = identities.resolve([event for event, _ in pairs])
    items = [
        item.model_copy(update={"customer_id": resolution.customers.get(item.feedback_id)})
        for _, item in pairs
    ]
    assert len(feedback_write.save_feedback(items, resolution, {}).created) == len(items)
    return {item.external_id: item for item in items}


def to_analyze(history) -> set[str]:
    """Feedback ids in range not yet analyzed by the lexicon."""
    return {
        item.feedback_id
        for item in history.values()
        if FIRST <= item.stored_at.date() <= LAST and item.analyzer != "lexicon"
    }


def to_update(history) -> set[str]:
    """Of those, the ones the lexicon scores (it has no lexicon for the Italian one, which keeps its own)."""
    return to_analyze(history) - {history["italian"].feedback_id}


def table_items(record_type: str) -> dict[str, dict]:
    items = aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
    return {
        item["pk"]["S"]: dynamo.deserialize(item)
        for item in items
        if item.get("record_type", {}).get("S") == record_type
    }


def assert_profiles_match_a_recount() -> None:
    """Every profile's sentiment counters equal what its customer's stored items add up to."""
    profiles = table_items("PROFILE")
    assert profiles
    for profile in profiles.values():
        items = [
            feedback_store.from_item(i)
            for i in customers.customer_items(profile["customer_id"])
            if i["record_type"] == "FEEDBACK"
        ]
        expected = Counter(f"sentiment_{i.sentiment}" for i in items if i.sentiment)
        counters = {"sentiment_scored", "sentiment_score_sum"}
        counted = {k: v for k, v in profile.items() if k.startswith("sentiment_") and k not in counters and v}
        assert counted == dict(expected), profile["customer_id"]
        scored = [i.sentiment_score for i in items if i.sentiment_score is not None]
        assert profile.get("sentiment_scored", 0) == len(scored)
        # Exactly: both the analyze path and reanalysis add the scores as Decimal.
        assert profile.get("sentiment_score_sum", 0) == float(sum(map(Decimal, map(str, scored))))
        assert profile["feedback_count"] == len(items)


class Recording(LexiconAnalyzer):
    """The lexicon, remembering every document it analyzed; optionally failing on its n-th call."""

    analyzed: list[str] = []
    fail_on_call: int | None = None
    calls = 0

    def analyze(self, documents):
        type(self).calls += 1
        if type(self).calls == type(self).fail_on_call:
            raise RuntimeError("interrupted")
        type(self).analyzed += [d.key for d in documents]
        return super().analyze(documents)


@pytest.fixture
def recording(monkeypatch):
    monkeypatch.setattr(Recording, "analyzed", [])
    monkeypatch.setattr(Recording, "calls", 0)
    monkeypatch.setattr(Recording, "fail_on_call", None)
    monkeypatch.setattr(job, "analyzer_named", lambda name: Recording())
    return Recording


def test_backfill_reanalyzes_the_range_moves_profile_counts_and_a_second_run_changes_nothing(
    history, recording, capsys
):
    assert cli.main(["backfill", *RANGE, "--batch-size", "4"]) == 0

    out = capsys.readouterr().out
    in_range = [i for i in history.values() if FIRST <= i.stored_at.date() <= LAST]
    assert f"{len(in_range)} item(s) in range" in out
    assert f"done: {len(to_update(history))} updated, 3 skipped (already lexicon), 0 failed" in out
    assert sorted(recording.analyzed) == sorted(to_analyze(history))
    for item in history.values():
        stored = feedback_store.get(item.feedback_id)
        if item.external_id == "italian":
            assert stored == item  # no lexicon for Italian: the sentiment Comprehend gave stays
        elif item.feedback_id in to_analyze(history):
            expected = LexiconAnalyzer().analyze([reanalysis_document(item)])[item.feedback_id]
            assert (stored.analyzer, stored.sentiment) == ("lexicon", expected.sentiment)
            assert stored.sentiment_scores == expected.scores
            assert stored.text == item.text and stored.rating == item.rating
        else:
            assert stored == item  # out of range, or analyzed by the lexicon already
    assert feedback_store.get(history["in-00"].feedback_id).sentiment == Sentiment.NEGATIVE
    assert_profiles_match_a_recount()

    before = (table_items("FEEDBACK"), table_items("PROFILE"))
    recording.analyzed.clear()
    assert cli.main(["backfill", *RANGE]) == 0

    assert f"done: 0 updated, {len(in_range)} skipped" in capsys.readouterr().out
    # A rerun analyzes only what the lexicon could not score (locally: no lexicon for Italian).
    assert recording.analyzed == [history["italian"].feedback_id]
    assert (table_items("FEEDBACK"), table_items("PROFILE")) == before


def reanalysis_document(item):
    from chalicelib.analysis import Document

    return Document(item.feedback_id, item.text, item.language)


def test_an_interrupted_backfill_resumes_from_its_checkpoint_and_processes_each_item_once(
    history, recording, capsys
):
    recording.fail_on_call = 3  # two pages done and checkpointed, the third interrupted
    with pytest.raises(RuntimeError, match="interrupted"):
        cli.main(["backfill", *RANGE, "--batch-size", "5"])
    first_run = list(recording.analyzed)
    assert 0 < len(first_run) < len(to_analyze(history))
    checkpoint = job.Checkpoint.load(job.job_id_for(FIRST, LAST, "lexicon"))
    assert checkpoint is not None and not checkpoint.finished and checkpoint.cursor is not None
    assert_profiles_match_a_recount()  # what was written is consistent, even mid-job

    assert cli.main(["backfill", *RANGE]) == 2
    assert "add --resume to continue or --restart" in capsys.readouterr().err

    assert cli.main(["backfill", *RANGE, "--resume", "--batch-size", "5"]) == 0

    out = capsys.readouterr().out
    assert "resuming at day 2026-11-0" in out
    assert Counter(recording.analyzed) == Counter(dict.fromkeys(to_analyze(history), 1))
    assert {feedback_store.get(i).analyzer for i in to_update(history)} == {"lexicon"}
    assert_profiles_match_a_recount()
    finished = job.Checkpoint.load(job.job_id_for(FIRST, LAST, "lexicon"))
    assert finished.finished
    assert finished.counts.updated == len(to_update(history))
    assert finished.counts.done == len(history) - 2  # the days either side are not in the job


def test_a_crash_after_a_pages_writes_but_before_its_checkpoint_moves_nothing_twice(
    history, recording, monkeypatch, capsys
):
    saves = []
    real_save = job.Checkpoint.save

    def crash_on_third(self):
        saves.append(self.cursor)
        if len(saves) == 3:  # the start, page 1, then page 2's checkpoint: page 2 is written, not recorded
            raise KeyboardInterrupt("killed")
        real_save(self)

    with monkeypatch.context() as patch:
        patch.setattr(job.Checkpoint, "save", crash_on_third)
        with pytest.raises(KeyboardInterrupt):
            cli.main(["backfill", *RANGE, "--batch-size", "6"])
    written = {i for i in to_update(history) if feedback_store.get(i).analyzer == "lexicon"}
    assert len(written) > 6  # page 2 was written before the crash

    assert cli.main(["backfill", *RANGE, "--resume", "--batch-size", "6"]) == 0

    # The repeated page finds its items at the lexicon: it skips them, and moves no count again.
    assert {feedback_store.get(i).analyzer for i in to_update(history)} == {"lexicon"}
    assert_profiles_match_a_recount()
    assert sorted(recording.analyzed) == sorted(to_analyze(history))


def test_writing_the_same_analysis_twice_moves_the_profile_once(history):
    item = history["in-01"]  # customer1, stored POSITIVE
    read_before = feedback_store.get(item.feedback_id)
    stored_score = float(read_before.sentiment_scores.positive - read_before.sentiment_scores.negative)
    # Same label, another score: only the analyzer condition can tell a retry from a first write.
    analysis = Analysis(
        sentiment=Sentiment.POSITIVE,
        scores=SentimentScores(positive=0.5, negative=0.3, neutral=0.2, mixed=0.0),
        language="en",
        analyzer="lexicon",
        analyzed_at=datetime(2026, 11, 22, tzinfo=UTC),
    )
    profile_before = customers.get_profile(item.customer_id)

    first = reanalysis.save_analyses([read_before], {item.feedback_id: analysis})
    retry = reanalysis.save_analyses([read_before], {item.feedback_id: analysis})  # the version read before

    assert (first.updated, retry.updated, retry.skipped) == ([item.feedback_id], [], [item.feedback_id])
    profile = customers.get_profile(item.customer_id)
    assert profile["sentiment_POSITIVE"] == profile_before["sentiment_POSITIVE"]
    assert profile["sentiment_scored"] == profile_before["sentiment_scored"]
    assert profile["sentiment_score_sum"] == pytest.approx(
        profile_before["sentiment_score_sum"] + 0.2 - stored_score
    )
    assert_profiles_match_a_recount()


def test_a_comprehend_backfill_sends_at_most_25_texts_a_call(stack, monkeypatch, capsys):
    from chalicelib.analysis.comprehend import ComprehendAnalyzer

    calls = []

    class FakeComprehend:
        def batch_detect_sentiment(self, TextList, LanguageCode):
            calls.append((len(TextList), LanguageCode))
            score = {"Positive": 0.02, "Negative": 0.9, "Neutral": 0.07, "Mixed": 0.01}
            return {
                "ResultList": [
                    {"Index": n, "Sentiment": "NEGATIVE", "SentimentScore": score}
                    for n in range(len(TextList))
                ],
                "ErrorList": [],
            }

    monkeypatch.setattr(ComprehendAnalyzer, "client", property(lambda self: FakeComprehend()))
    pairs = [
        make(f"bulk-{n:02d}", LAST, "Fine", f"c{n % 2}@example.com", analyzer="lexicon") for n in range(26)
    ]
    pairs.append(make("already", LAST, "Fine", "c0@example.com"))
    resolution = identities.resolve([event for event, _ in pairs])
    items = [i.model_copy(update={"customer_id": resolution.customers[i.feedback_id]}) for _, i in pairs]
    feedback_write.save_feedback(items, resolution, {})

    args = ["backfill", "--from", "2026-11-03", "--to", "2026-11-03", "--analyzer", "comprehend"]
    assert cli.main([*args, "--batch-size", "100"]) == 0

    assert "done: 26 updated, 1 skipped (already comprehend)" in capsys.readouterr().out
    # One page, one analysis of its 26 lexicon items: Comprehend calls of 25 and 1.
    assert sorted(calls) == [(1, "en"), (25, "en")]
    stored = {i.external_id: feedback_store.get(i.feedback_id) for i in items}
    assert stored.pop("already") == items[-1]
    assert {(s.analyzer, s.sentiment) for s in stored.values()} == {("comprehend", Sentiment.NEGATIVE)}
    assert_profiles_match_a_recount()


def test_backfill_usage_errors(stack, capsys):
    assert cli.main(["backfill", "--from", "2026-11-03", "--to", "2026-11-01"]) == 2
    assert "--from must not be after --to" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["backfill", "--from", "2026-11-01", "--to", "2026-11-02", "--resume", "--restart"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["backfill", "--from", "2026-11-01", "--to", "2026-11-02", "--batch-size", "0"])


@pytest.mark.parametrize("analyzer", ["comprehend", "bedrock"])
def test_a_local_backfill_with_a_service_moto_lacks_is_refused_before_it_starts(
    stack, capsys, monkeypatch, analyzer
):
    """`make run` analyzes with the lexicon: a Comprehend backfill there failed every item with a bare 500."""
    from chalicelib.local import environment

    monkeypatch.setattr(environment, "use_local_stack", lambda port=None: None)  # the test's moto stands in
    arguments = ["backfill", "--from", "2026-11-01", "--to", "2026-11-02", "--analyzer", analyzer, "--local"]
    assert cli.main(arguments) == 2
    err = capsys.readouterr().err
    assert f"error: the local stack has no {analyzer}" in err and "--analyzer lexicon" in err
    job_id = job.job_id_for(date(2026, 11, 1), date(2026, 11, 2), analyzer)
    assert job.Checkpoint.load(job_id) is None  # nothing started
