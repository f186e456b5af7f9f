"""Pulled reviews on the local stack: a fake Google Play (tools/fakes/google_play.py) on loopback with a few
reviews, a `demo-google_play` source pointing at it, the `pull_reviews` schedule run every
$LOCAL_PULL_SECONDS (default 30; deployed: every 5 minutes; 0 runs it only on `cli sources pull`), and a
customer writing a new review every $LOCAL_DEMO_REVIEW_SECONDS (default 120), so the reviews are seen
arriving in `cli feedback list --local`."""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass
from typing import Any

from chalicelib.channels import sources
from chalicelib.channels.sources import SourceConfig
from chalicelib.local.lambda_runtime import Handler, lambda_context, scheduled_event
from chalicelib.observability import logger

DEMO_PULL_SOURCE_ID = "demo-google_play"
DEMO_REVIEWS = (
    ("Crashes every time I open the camera screen since the update.", 1, "Priya"),
    ("Does what it says, but the sync takes ages on mobile data.", 3, "Tomás"),
    ("Best budgeting app I've used, the widgets are great!", 5, "Lena"),
)
LATER_REVIEWS = (
    ("Login keeps failing with my Google account.", 2),
    ("Love the dark mode, please add a tablet layout.", 4),
    ("Support answered in an hour and fixed my issue, thanks!", 5),
    ("Too many notifications, I had to turn them all off.", 2),
)


@dataclass
class DemoPull:
    source: SourceConfig
    fake_url: str
    stop: Any


def start_demo_pull(pull_reviews: Handler) -> DemoPull:
    """Start the fake, (re)configure the demo source for it, and run the schedule in the background."""
    from tools.fakes.review_sources import start_fake_source  # the fakes are local tools, not the product

    fake_source = start_fake_source("google_play")
    for minutes_ago, (text, rating, author) in zip((90, 45, 10), DEMO_REVIEWS, strict=True):
        fake_source.fake.add_review(text, rating, author=author, age_seconds=minutes_ago * 60)
    source = SourceConfig(
        source_id=DEMO_PULL_SOURCE_ID,
        type="google_play",
        name="Demo Google Play app (local fake)",
        settings={**fake_source.settings, "poll_minutes": "5"},
    )
    sources.save(source, fake_source.secrets)
    stopped = threading.Event()
    tick = float(os.environ.get("LOCAL_PULL_SECONDS", "30"))
    new_review_every = float(os.environ.get("LOCAL_DEMO_REVIEW_SECONDS", "120"))

    def run_schedule() -> None:
        while not stopped.is_set():
            try:
                pull_reviews(scheduled_event(), lambda_context("pull_reviews", 256, 240_000))
            except Exception:
                logger.exception("scheduled pull failed")
            stopped.wait(tick)

    def write_reviews() -> None:
        pick = random.Random(7)  # noqa: S311 - demo content, not security
        while not stopped.wait(new_review_every):
            text, rating = pick.choice(LATER_REVIEWS)
            fake_source.fake.add_review(text, rating, author=f"Customer {pick.randint(100, 999)}")

    threads = [threading.Thread(target=write_reviews, name="demo-reviews", daemon=True)]
    if tick > 0:
        threads.append(threading.Thread(target=run_schedule, name="schedule-pull_reviews", daemon=True))
    for thread in threads:
        thread.start()

    def stop() -> None:
        stopped.set()
        for thread in threads:
            thread.join(timeout=10)
        fake_source.stop()

    return DemoPull(source, fake_source.server.url, stop)
