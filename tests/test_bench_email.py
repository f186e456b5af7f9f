"""The bench's e-mail figures (tools/bench/email.py): AWS requests per received mail, as floors."""

from __future__ import annotations

from typing import Any

import boto3

from tools.bench.email import TARGET_REQUESTS_PER_FEEDBACK_MAIL, email_checks, email_section, measure_in_stack


def test_a_received_mail_costs_one_read_and_one_send_and_a_refused_one_nothing(stack: Any):
    cost = measure_in_stack(boto3.DEFAULT_SESSION.events)
    cold_mails, cold = cost.rows["cold function, first mail"]
    assert cold_mails == 1
    assert cold == {("dynamodb", "Query"): 1, ("s3", "GetObject"): 1, ("sqs", "SendMessage"): 1}
    mails, warm = cost.rows["warm function, every fixture mail"]
    assert warm[("s3", "GetObject")] == mails  # every mail read once
    assert warm[("sqs", "SendMessage")] == cost.queued  # one request per mail that became an item
    assert ("dynamodb", "Query") not in warm
    assert 0 < cost.per_mail("warm function, every fixture mail") <= TARGET_REQUESTS_PER_FEEDBACK_MAIL
    for name in ("refused: spam verdict", "refused: neither SPF nor DKIM passes", "to no source's recipient"):
        assert cost.rows[name][1] == {}, name
    assert set(cost.skipped) == {
        "auto_reply",
        "auto_submitted",
        "bounce",
        "bulk_precedence",
        "calendar_reply",
        "not_a_mail",
        "read_receipt",
    }
    assert all(met for *_, met in email_checks(cost))
    assert any("warm function" in line for line in email_section(cost))
