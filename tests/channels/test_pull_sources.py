"""Pull sources against the fakes of their platforms (tools/fakes/): one table of cases run for every pull
type — pagination, resuming from the checkpoint, edits as new versions, deletions, refused credentials,
quota, and a review pulled twice stored once — plus each platform's own rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.channels import sources
from chalicelib.channels.pull import credentials, google_play, scheduler
from chalicelib.channels.pull import reconcile as window
from chalicelib.channels.pull import state as pull_state
from chalicelib.channels.pull.http import JsonHttp
from chalicelib.channels.pull.registry import PULL_TYPES, platform_for
from chalicelib.channels.sources import SourceConfig
from chalicelib.config import settings
from chalicelib.ingest.queue import decode_events, encode_events, send_bodies
from chalicelib.local.lambda_runtime import SqsPoller
from chalicelib.models import FeedbackEvent, PlatformDeletion, StoredFeedback, utc_now
from chalicelib.store import dynamo, feedback
from tools.fakes.review_sources import FakeSource, start_fake_source

MINUTE = 60


@dataclass
class Puller:
    """One configured pull source and the fake platform it pulls from."""

    stack: Any
    fake_source: FakeSource
    source: SourceConfig

    @property
    def fake(self) -> Any:
        return self.fake_source.fake

    @property
    def page_size(self) -> int:
        return platform_for(self.source.type).page_size

    def pull(
        self, max_pages: int = scheduler.MAX_PAGES_PER_RUN, now: datetime | None = None
    ) -> scheduler.RunOutcome:
        current = pull_state.load(self.source.source_id)
        return scheduler.pull_source(self.source, current, JsonHttp(), now=now, max_pages=max_pages)

    def state(self) -> pull_state.PullState:
        return pull_state.load(self.source.source_id)

    def queued(self) -> list[FeedbackEvent]:
        """What was queued since the last call (the messages stay in flight, out of the next call's sight)."""
        return [event for body in self.stack.queued_bodies() for event in decode_events(body)]

    def store(self) -> list[StoredFeedback]:
        """Run the queued deliveries through the analyze function; every stored feedback item."""
        from app import analyze

        SqsPoller(self.stack.queue_url, analyze).drain()
        items = aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
        return [
            feedback.from_item(dynamo.deserialize(item))
            for item in items
            if item.get("record_type", {}).get("S") == "FEEDBACK"
        ]

    def add_reviews(self, count: int, oldest_minutes: int = 600) -> list[Any]:
        # A minute apart, oldest first: the platforms' times have one-second resolution.
        return [
            self.fake.add_review(
                f"Review number {n}",
                1 + n % 5,
                author=f"Customer {n}",
                age_seconds=(oldest_minutes - n) * MINUTE,
            )
            for n in range(count)
        ]


@pytest.fixture(params=sorted(PULL_TYPES))
def puller(request: pytest.FixtureRequest, stack: Any) -> Iterator[Puller]:
    fake_source = start_fake_source(request.param)
    source = SourceConfig(
        source_id=f"pull-{request.param.replace('_', '-')}",
        type=request.param,
        name=f"Demo {request.param}",
        settings=fake_source.settings,
    )
    sources.save(source, fake_source.secrets)
    credentials.clear_tokens()
    try:
        yield Puller(stack, fake_source, source)
    finally:
        fake_source.stop()
        credentials.clear_tokens()


def review_ids(events: list[FeedbackEvent]) -> set[str]:
    return {str(event.metadata["review_id"]) for event in events}


def test_a_run_pages_through_every_new_review(puller: Puller):
    reviews = puller.add_reviews(2 * puller.page_size + 3, oldest_minutes=3 * puller.page_size)
    outcome = puller.pull()
    assert (outcome.status, outcome.pages, outcome.reviews) == ("caught_up", 3, len(reviews))
    events = puller.queued()
    assert review_ids(events) == {review.review_id for review in reviews}
    assert len(puller.fake.api_requests()) == 3
    assert all(event.kind == "review" and event.rating_scale == "stars" for event in events)
    assert {event.rating for event in events} == {1, 2, 3, 4, 5}
    state = puller.state()
    assert state.page_token is None and state.since is not None
    assert state.next_run_at == state.last_run_at + timedelta(minutes=15)


def test_a_run_cut_short_resumes_at_its_page_then_starts_again_from_the_top(puller: Puller):
    older = puller.add_reviews(2 * puller.page_size + 3, oldest_minutes=3 * puller.page_size + 10)
    first = puller.pull(max_pages=1)
    assert (first.status, first.reviews) == ("unfinished", puller.page_size)
    assert puller.state().page_token is not None
    assert puller.state().next_run_at == puller.state().last_run_at  # due again at the next tick
    newer = puller.fake.add_review("Written while the backlog was pulled", 2)
    second = puller.pull()
    assert second.status == "caught_up"
    pulled = puller.queued()
    assert review_ids(pulled) == {review.review_id for review in older}
    third = puller.pull()
    fresh = review_ids(puller.queued())
    assert newer.review_id in fresh and third.status == "caught_up"
    assert fresh == {newer.review_id}


def test_a_caught_up_source_asks_for_one_page(puller: Puller):
    puller.add_reviews(2 * puller.page_size)
    puller.pull()
    puller.queued()
    before = len(puller.fake.api_requests())
    outcome = puller.pull()
    assert len(puller.fake.api_requests()) - before == 1
    assert outcome.reviews == 0  # the newest, listed again at the checkpoint's own time, is not queued again


def test_an_edited_review_becomes_a_new_version_in_the_same_thread(puller: Puller):
    [kept, edited] = puller.add_reviews(2)
    first_text, first_rating = edited.text, edited.rating
    puller.pull()
    puller.fake.edit_review(edited.review_id, text="Edited: the update fixed it", rating=5)
    assert puller.pull().status == "caught_up"
    puller.pull()  # listed again unchanged: no third version
    stored = puller.store()
    versions = sorted(
        (item for item in stored if item.thread_id == edited.review_id), key=lambda item: item.occurred_at
    )
    assert [(item.text, item.rating) for item in versions] == [
        (first_text, first_rating),
        ("Edited: the update fixed it", 5),
    ]
    assert len({item.feedback_id for item in versions}) == 2
    assert {item.metadata["review_id"] for item in versions} == {edited.review_id}
    assert len(stored) == 3 and any(item.thread_id == kept.review_id for item in stored)


def test_a_developers_reply_is_never_taken_for_the_customers_review(puller: Puller):
    # Play lists it as a second comment (developerComment), Business Profile as reviewReply; the App Store
    # keeps responses in a resource of their own, which is never read.
    [answered, later] = puller.add_reviews(2)
    puller.fake.reply_to_review(answered.review_id, "Thanks, this is fixed in 2.5!")
    puller.pull()
    puller.fake.reply_to_review(later.review_id, "Sorry to hear that, please write to support.")
    puller.pull()
    stored = puller.store()
    assert sorted((item.thread_id, item.text, item.rating) for item in stored) == sorted(
        (review.review_id, review.text, review.rating) for review in (answered, later)
    )


def test_a_deleted_review_is_not_concluded_deleted_by_a_run_between_reconciles(puller: Puller):
    [gone, stays, newest] = puller.add_reviews(3)
    puller.pull()
    since = puller.state().since
    puller.fake.delete_review(gone.review_id)
    puller.fake.delete_review(newest.review_id)  # the review the checkpoint stands at
    outcome = puller.pull()
    assert (outcome.status, outcome.reviews) == ("caught_up", 0)
    assert puller.state().since == since  # the checkpoint does not move back
    stored = puller.store()
    assert {item.thread_id for item in stored} == {gone.review_id, stays.review_id, newest.review_id}
    assert all(item.platform_deleted_at is None for item in stored)


def test_a_review_written_in_the_checkpoints_own_second_is_still_pulled(puller: Puller):
    [first] = puller.add_reviews(1)
    puller.pull()
    second = puller.fake.add_review("Same second as the first", 2)
    second.modified = second.created = first.modified
    outcome = puller.pull()
    assert outcome.reviews == 1
    assert review_ids(puller.queued()) == {first.review_id, second.review_id}  # the first from the 1st run
    assert puller.pull().reviews == 0


def test_refused_credentials_pause_the_source_until_it_is_resumed(puller: Puller):
    puller.add_reviews(3)
    puller.fake_source.break_credentials()
    credentials.clear_tokens()  # a cold function: it asks for a token
    outcome = puller.pull()
    assert outcome.status == "paused" and outcome.reviews == 0
    state = puller.state()
    assert state.paused_reason and state.paused_at and state.newest is None and state.page_token is None
    asked = len(puller.fake.requests)
    later = utc_now() + timedelta(days=1)
    assert scheduler.run_due(now=later) == []  # a paused source is not retried, not even a day later
    assert len(puller.fake.requests) == asked
    assert "BEGIN" not in state.paused_reason and "secret" not in state.paused_reason.lower()
    scheduler.resume(puller.source.source_id)
    assert puller.state().paused_reason is None
    assert [o.status for o in scheduler.run_due(now=later)] == ["paused"]  # still refused: paused again


def test_a_key_rotated_and_its_old_one_deleted_is_not_a_pause_of_a_warm_function(puller: Puller):
    # A warm function keeps Google's access token for its hour; deleting the key it came from (after the new
    # key was rotated in) makes the API refuse that token, though the new key works.
    puller.add_reviews(1)
    assert puller.pull().status == "caught_up"
    if puller.source.type == "app_store":
        return  # every run signs a token of its own: nothing is cached
    puller.fake_source.break_credentials()  # a new key (refresh token) issued, the old one deleted
    if puller.source.type == "google_play":
        new_secrets = {"service_account_json": puller.fake.service_account_json()}
    else:
        new_secrets = {"refresh_token": puller.fake.refresh_token}
    sources.rotate(puller.source.source_id, new_secrets, keep_previous=False)
    written = puller.fake.add_review("Written after the rotation", 4)
    outcome = puller.pull()
    assert (outcome.status, outcome.reviews) == ("caught_up", 1), puller.state().paused_reason
    assert review_ids(puller.queued()) >= {written.review_id}


def test_a_spent_quota_keeps_the_progress_and_waits_for_the_next_run(puller: Puller):
    reviews = puller.add_reviews(2 * puller.page_size + 1, oldest_minutes=3 * puller.page_size)
    puller.fake.quota_remaining = 1
    outcome = puller.pull()
    assert (outcome.status, outcome.reviews) == ("quota", puller.page_size)
    state = puller.state()
    assert state.page_token is not None and state.last_error.startswith("quota")
    assert state.next_run_at == state.last_run_at + timedelta(minutes=15)
    asked = len(puller.fake.requests)
    assert scheduler.run_due(now=state.last_run_at + timedelta(minutes=5)) == []  # backs off until then
    assert len(puller.fake.requests) == asked
    puller.fake.quota_remaining = None
    [resumed] = scheduler.run_due(now=state.next_run_at)
    assert resumed.status == "caught_up"
    assert review_ids(puller.queued()) == {review.review_id for review in reviews}


def test_a_review_pulled_twice_is_stored_once(puller: Puller):
    reviews = puller.add_reviews(5)
    first = puller.pull()
    pull_state.remove(puller.source.source_id)  # the checkpoint lost: everything is pulled again
    second = puller.pull()
    assert first.reviews == second.reviews == len(reviews)
    assert puller.stack.queue_depth() == 2  # one SQS message per page and run
    stored = puller.store()
    assert sorted(item.thread_id for item in stored) == sorted(review.review_id for review in reviews)


def test_the_scheduler_runs_due_pull_sources_only(stack: Any):
    play = start_fake_source("google_play")
    try:
        for source_id, minutes in (("pull-every-15", None), ("pull-every-60", "60")):
            settings = {**play.settings, **({"poll_minutes": minutes} if minutes else {})}
            sources.save(
                SourceConfig(source_id=source_id, type="google_play", name=source_id, settings=settings),
                play.secrets,
            )
        sources.save(
            SourceConfig(source_id="webhook-src", type="webhook", name="w"), {"signing_secret": "whsec_x"}
        )
        now = utc_now()
        assert {o.source_id for o in scheduler.run_due(now=now)} == {"pull-every-15", "pull-every-60"}
        assert [o.source_id for o in scheduler.run_due(now=now + timedelta(minutes=16))] == ["pull-every-15"]
        assert len(scheduler.run_due(now=now + timedelta(minutes=61))) == 2
    finally:
        play.stop()


def test_google_play_lists_only_the_last_seven_days_and_keeps_device_and_version(stack: Any):
    play = start_fake_source("google_play")
    try:
        old = play.fake.add_review("Eight days ago", 3, age_seconds=8 * 24 * 3600)
        recent = play.fake.add_review(
            "Crashes on start", 1, app_version="3.0.0", device="walleye", language="pt_BR"
        )
        source = SourceConfig(source_id="pull-play", type="google_play", name="play", settings=play.settings)
        sources.save(source, play.secrets)
        scheduler.pull_source(source, pull_state.PullState(), JsonHttp())
        [event] = [e for body in stack.queued_bodies() for e in decode_events(body)]
        assert event.metadata["review_id"] == recent.review_id != old.review_id
        # reviewerLanguage is the device's language, "not guaranteed to match the language the review is
        # written in" (UserComment in reviews.list): a hint, never the item's language.
        assert (event.metadata["app_version"], event.metadata["device"], event.language_hint) == (
            "3.0.0",
            "walleye",
            "pt",
        )
        assert event.language is None and event.metadata["reviewer_language"] == "pt_BR"
        assert (event.text, event.rating, event.channel) == ("Crashes on start", 1, "google_play")
        assert event.permalink.startswith("https://play.google.com/store/apps/details?id=com.example.app")
    finally:
        play.stop()


def test_a_google_play_review_is_stored_in_the_language_it_is_written_in_not_its_devices(stack: Any):
    from app import analyze

    credentials.clear_tokens()  # another test's fake issued the token cached for this source id
    play = start_fake_source("google_play")
    try:
        play.fake.add_review(
            "The app crashes every time I open my account page. I reinstalled it twice and it still "
            "freezes on the login screen, please fix it soon.",
            1,
            language="de_DE",
        )
        source = SourceConfig(source_id="pull-play", type="google_play", name="play", settings=play.settings)
        sources.save(source, play.secrets)
        assert scheduler.pull_source(source, pull_state.PullState(), JsonHttp()).reviews == 1
        SqsPoller(stack.queue_url, analyze).drain()
        [stored] = [
            feedback.from_item(dynamo.deserialize(item))
            for item in aws.client("dynamodb").scan(TableName=settings().table_name)["Items"]
            if item.get("record_type", {}).get("S") == "FEEDBACK"
        ]
        assert (stored.language, stored.metadata["reviewer_language"]) == ("en", "de_DE")
    finally:
        play.stop()


@pytest.mark.parametrize(
    ("reviewer_language", "hint"),
    [("en_GB", "en"), ("pt-BR", "pt"), ("zh_TW", "zh-TW"), ("fil", None), ("", None), (None, None)],
)
def test_google_plays_reviewer_language_is_a_hint_named_as_items_name_languages(
    reviewer_language: str | None, hint: str | None
):
    assert google_play._language_hint(reviewer_language) == hint


def test_app_store_reviews_keep_title_territory_and_nickname(stack: Any):
    store = start_fake_source("app_store")
    try:
        store.fake.add_review("Love the widgets", 5, author="Anne J", title="Awesome", territory="FRA")
        source = SourceConfig(source_id="pull-ios", type="app_store", name="ios", settings=store.settings)
        sources.save(source, store.secrets)
        scheduler.pull_source(source, pull_state.PullState(), JsonHttp())
        [event] = [e for body in stack.queued_bodies() for e in decode_events(body)]
        assert (event.text, event.rating, event.author.name) == ("Awesome\n\nLove the widgets", 5, "Anne J")
        assert (event.metadata["territory"], event.channel) == ("FRA", "app_store")
    finally:
        store.stop()


def test_google_business_maps_the_star_enum_and_marks_edits(stack: Any):
    business = start_fake_source("google_business")
    try:
        review = business.fake.add_review("Friendly staff", 4, age_seconds=3600)
        business.fake.edit_review(review.review_id, text="Friendly staff, slow checkout", rating=3)
        source = SourceConfig(
            source_id="pull-gbp", type="google_business", name="gbp", settings=business.settings
        )
        sources.save(source, business.secrets)
        scheduler.pull_source(source, pull_state.PullState(), JsonHttp())
        [event] = [e for body in stack.queued_bodies() for e in decode_events(body)]
        assert (event.rating, event.metadata["edited"], event.channel) == (3, True, "google_business")
    finally:
        business.stop()


def test_a_source_missing_a_setting_is_paused_without_a_request(stack: Any):
    play = start_fake_source("google_play")
    try:
        settings = {k: v for k, v in play.settings.items() if k != "package_name"}
        source = SourceConfig(source_id="pull-broken", type="google_play", name="b", settings=settings)
        sources.save(source, play.secrets)
        assert scheduler.pull_source(source, pull_state.PullState(), JsonHttp()).status == "paused"
        assert play.fake.api_requests() == []
    finally:
        play.stop()


# The reconcile (chalicelib/channels/pull/reconcile.py): deletions and the App Store's undated edits.
RECONCILE_DUE = timedelta(hours=25)  # past the default reconcile_hours (24)


def by_thread(stored: list[StoredFeedback]) -> dict[str, list[StoredFeedback]]:
    threads: dict[str, list[StoredFeedback]] = {}
    for item in sorted(stored, key=lambda item: item.occurred_at):
        threads.setdefault(str(item.thread_id), []).append(item)
    return threads


def test_a_review_deleted_on_the_platform_is_recorded_as_deleted_exactly_once(puller: Puller):
    [gone, stays, newest] = puller.add_reviews(3)
    puller.pull()
    puller.store()
    since = puller.state().since
    puller.fake.delete_review(gone.review_id)
    puller.fake.delete_review(newest.review_id)  # the review the checkpoint stands at
    later = utc_now() + RECONCILE_DUE
    outcome = puller.pull(now=later)
    assert (outcome.status, outcome.reviews, outcome.deleted) == ("caught_up", 0, 2)
    assert outcome.reconcile_pages == 1 and puller.state().since == since
    threads = by_thread(puller.store())
    assert [item.platform_deleted_at for item in threads[gone.review_id]] == [later]
    assert [item.platform_deleted_at for item in threads[newest.review_id]] == [later]
    assert threads[stays.review_id][0].platform_deleted_at is None
    assert threads[gone.review_id][0].text == gone.text  # our copy is kept, only marked
    # A reconcile again records nothing new, and a deletion queued twice leaves the first mark.
    again = puller.pull(now=later + RECONCILE_DUE)
    assert (again.deleted, again.reconcile_pages) == (0, 1)
    assert puller.stack.queue_depth() == 0
    deletion = PlatformDeletion(
        feedback_id=threads[gone.review_id][0].feedback_id,
        source_id=puller.source.source_id,
        deleted_at=later + 2 * RECONCILE_DUE,
    )
    send_bodies(encode_events([], [deletion]))
    stored = puller.store()
    assert len(stored) == 3
    assert by_thread(stored)[gone.review_id][0].platform_deleted_at == later
    assert feedback.get(deletion.feedback_id).platform_deleted_at == later  # the read path shows it


def test_a_reconcile_cut_short_by_the_quota_concludes_nothing(puller: Puller):
    [gone, _] = puller.add_reviews(2)
    puller.pull()
    puller.fake.delete_review(gone.review_id)
    puller.fake.quota_remaining = 1  # the run's page, not the reconcile's
    later = utc_now() + RECONCILE_DUE
    outcome = puller.pull(now=later)
    assert (outcome.status, outcome.deleted) == ("quota", 0)
    assert gone.review_id in puller.state().seen  # kept for the next reconcile
    puller.fake.quota_remaining = None
    assert puller.pull(now=later + timedelta(minutes=15)).deleted == 1


def test_a_review_older_than_the_window_is_never_marked_deleted(puller: Puller):
    platform = platform_for(puller.source.type)
    window_days = 6 if puller.source.type == "google_play" else 30
    assert window.window_start(platform, {"reconcile_days": "30"}, utc_now()) <= utc_now() - timedelta(
        days=window_days - 0.001
    )
    old = puller.fake.add_review("Near the window's edge", 2, age_seconds=(window_days - 0.5) * 86400)
    [young] = puller.add_reviews(1)
    puller.pull()
    assert set(puller.state().seen) == {old.review_id, young.review_id}
    puller.fake.delete_review(old.review_id)
    puller.fake.delete_review(young.review_id)
    outcome = puller.pull(now=utc_now() + RECONCILE_DUE)  # `old` is now older than the window
    assert outcome.deleted == 1
    threads = by_thread(puller.store())
    assert threads[old.review_id][0].platform_deleted_at is None
    assert threads[young.review_id][0].platform_deleted_at is not None
    assert set(puller.state().seen) == set()


def test_google_play_reconciles_within_its_seven_day_listing_only(stack: Any):
    play = platform_for("google_play")
    now = utc_now()
    assert window.window_start(play, {"reconcile_days": "30"}, now) == now - timedelta(days=6)
    assert window.window_start(play, {"reconcile_days": "2"}, now) == now - timedelta(days=2)
    store = platform_for("app_store")
    assert window.window_start(store, {}, now) == now - timedelta(days=30)


def test_an_app_store_edit_that_keeps_its_date_becomes_a_new_version(stack: Any):
    fake_source = start_fake_source("app_store")
    try:
        source = SourceConfig(
            source_id="pull-ios-edits", type="app_store", name="ios", settings=fake_source.settings
        )
        sources.save(source, fake_source.secrets)
        puller = Puller(stack, fake_source, source)
        [edited, kept] = puller.add_reviews(2)  # the older one edited: the checkpoint stands at the newer
        puller.pull()
        puller.fake.edit_review(edited.review_id, text="Edited: now it syncs", rating=4, redate=False)
        assert puller.pull().reviews == 0  # listed at its old createdDate: the checkpoint is past it
        later = utc_now() + RECONCILE_DUE
        outcome = puller.pull(now=later)
        assert (outcome.reviews, outcome.deleted) == (1, 0)
        assert puller.pull(now=later + RECONCILE_DUE).reviews == 0  # no third version
        threads = by_thread(puller.store())
        assert [(item.text, item.rating) for item in threads[edited.review_id]] == [
            ("Review number 0", 1),
            ("Edited: now it syncs", 4),
        ]
        assert len(threads[kept.review_id]) == 1
    finally:
        fake_source.stop()


def test_the_seen_record_is_capped_newest_first():
    start = utc_now() - timedelta(days=30)
    epoch = int(utc_now().timestamp())
    record = {f"review-{n:06d}-" + "x" * 80: f"abcdefabcdef:{epoch - n}" for n in range(5000)}
    kept = window.pruned(record, start)
    size = sum(len(key) + len(value) + window.ENTRY_OVERHEAD_BYTES for key, value in kept.items())
    assert 0 < len(kept) < len(record) and size <= window.MAX_RECORD_BYTES
    assert max(int(v.split(":")[1]) for v in record.values() if v not in kept.values()) < min(
        int(v.split(":")[1]) for v in kept.values()
    )


@pytest.mark.parametrize(("hint", "expected"), [(2 * 3600, timedelta(hours=2)), (10**7, timedelta(days=1))])
def test_a_quota_answer_that_says_how_long_postpones_the_next_run(
    puller: Puller, hint: int, expected: timedelta
):
    """Google's RetryInfo (AIP-193) postpones the source when longer than its poll interval, a day at most;
    App Store Connect documents no hint, so its source keeps its poll interval."""
    puller.add_reviews(2 * puller.page_size + 1, oldest_minutes=3 * puller.page_size)
    puller.fake.quota_remaining = 1
    puller.fake.quota_retry_seconds = hint
    assert puller.pull().status == "quota"
    state = puller.state()
    wait = timedelta(minutes=15) if puller.source.type == "app_store" else expected
    assert state.next_run_at == state.last_run_at + wait
    asked = len(puller.fake.requests)
    assert scheduler.run_due(now=state.next_run_at - timedelta(seconds=1)) == []
    assert len(puller.fake.requests) == asked
    puller.fake.quota_remaining = None
    assert [o.status for o in scheduler.run_due(now=state.next_run_at)] == ["caught_up"]
