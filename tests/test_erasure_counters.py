"""An erasure takes the customer's feedback off the day counters and the negative pointers in the same
transactions that delete it: `/stats` then answers what a recount of the remaining items answers
(tests/stats_oracle.py), and nothing moves twice."""

from __future__ import annotations

import random
from datetime import timedelta

from chalicelib.local.moto_patches import fit_for_threads
from chalicelib.models import Analysis, Sentiment, ThemeTag
from chalicelib.privacy import erasure
from chalicelib.read import stats
from chalicelib.store import counters, feedback_delete, feedback_write, reanalysis
from chalicelib.store.identities import Resolution
from chalicelib.themes import records as taxonomy_records
from tests import stats_oracle
from tests.test_stats_counters import START, TAXONOMY, random_item

ERIN, OLGA = "cus_" + "e" * 24, "cus_" + "0" * 24
DAYS = [START + timedelta(days=n) for n in range(6)]


def seed_two_customers(count: int = 80):
    rng = random.Random(21)
    items = [random_item(rng, n, rng.choice(DAYS), 21) for n in range(count)]
    items = [
        item.model_copy(update={"customer_id": ERIN if n % 3 == 0 else (OLGA if n % 3 == 1 else None)})
        for n, item in enumerate(items)
    ]
    # At least one of Erin's items is negative and tagged under a parent theme.
    tag = ThemeTag(id="delivery-speed", sentiment=Sentiment.NEGATIVE, evidence="late")
    items[0] = items[0].model_copy(update={"sentiment": Sentiment.NEGATIVE, "themes": [tag]})
    taxonomy_records.replace(TAXONOMY)
    with fit_for_threads():
        outcome = feedback_write.save_feedback(items, Resolution(), taxonomy_records.current().parents())
    assert len(outcome.created) == count
    return items


def negative_pointer_ids() -> set[str]:
    return {feedback_id for _, feedback_id in counters.newest_negative_ids(DAYS[0], DAYS[-1], 1000)}


def test_an_erasure_takes_the_customers_items_off_the_counters_once(stack):
    items = seed_two_customers()
    erins = [item for item in items if item.customer_id == ERIN]
    erin_negatives = {item.feedback_id for item in erins if item.sentiment == Sentiment.NEGATIVE}
    assert erin_negatives <= negative_pointer_ids()
    before = stats.compute(DAYS)
    assert before["total"] == len(items) and before["themes"]["by_theme"]

    with fit_for_threads():
        report = erasure.erase_customer(ERIN)

    assert report is not None and report.feedback_deleted == len(erins)
    answer = stats.compute(DAYS)
    stats_oracle.assert_cuts_match(DAYS)  # the forms' themes too
    assert answer["total"] == len(items) - len(erins)
    remaining_negatives = {
        item.feedback_id
        for item in items
        if item.customer_id != ERIN and item.sentiment == Sentiment.NEGATIVE
    }
    assert negative_pointer_ids() == remaining_negatives
    # Erasing again finds nothing; deleting the same items again skips them and moves no count.
    assert erasure.erase_customer(ERIN) is None
    parents = taxonomy_records.current().parents()
    again = feedback_delete.delete_feedback([item.feedback_id for item in erins], parents)
    assert (again.deleted, sorted(again.skipped)) == ([], sorted(item.feedback_id for item in erins))
    assert stats.compute(DAYS) == answer


def test_an_item_reanalysed_after_it_was_read_is_removed_as_it_is_now(stack, monkeypatch):
    items = seed_two_customers(30)
    erins = [item for item in items if item.customer_id == ERIN]
    read = feedback_delete._read
    calls = []

    def read_then_reanalyse(feedback_ids):
        """The items as read, then changed by a concurrent backfill before the delete runs."""
        found = read(feedback_ids)
        if not calls:
            flipped = {
                f: Analysis(
                    sentiment=Sentiment.POSITIVE
                    if item.sentiment == Sentiment.NEGATIVE
                    else Sentiment.NEGATIVE,
                    language="en",
                    analyzer="comprehend",
                    analyzed_at=item.stored_at,
                )
                for f, item in found.items()
            }
            assert len(reanalysis.save_analyses(list(found.values()), flipped).updated) == len(found)
        calls.append(feedback_ids)
        return found

    monkeypatch.setattr(feedback_delete, "_read", read_then_reanalyse)
    with fit_for_threads():
        outcome = feedback_delete.delete_feedback(
            [item.feedback_id for item in erins], taxonomy_records.current().parents()
        )

    assert sorted(outcome.deleted) == sorted(item.feedback_id for item in erins)
    assert len(calls) == 2  # the stale items were read again once, then deleted as they are now
    stats_oracle.assert_cuts_match(DAYS)
    assert not {item.feedback_id for item in erins} & negative_pointer_ids()
