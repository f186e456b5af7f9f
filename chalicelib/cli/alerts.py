"""`alerts add spike|detractor|silence`, `alerts list|remove|test`: alert rules and where they notify."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from chalicelib.alerts import dispatch, evaluator
from chalicelib.alerts import rules as rule_store
from chalicelib.alerts.notify.base import Alert, Sample
from chalicelib.alerts.rules import Dimension, Metric, SilenceRule, SpikeRule
from chalicelib.cli.common import print_invalid
from chalicelib.models import Channel, utc_now
from chalicelib.store import counters

SETTINGS = {
    "spike": ("dimension", "value", "metric", "window_hours", "factor", "share_increase", "min_count"),
    "detractor": (
        "nps_max",
        "csat_max",
        "stars_max",
        "negative_from_named_customer",
        "sources",
        "channels",
        "max_individual",
        "digest_minutes",
    ),
    "silence": ("source_id", "hours", "min_baseline"),
}

# The rules' fields whose option is not their name.
RULE_OPTIONS = {
    "source_id": "--source",
    "sources": "--source",
    "channels": "--channel",
    "negative_from_named_customer": "--no-named-negative",
}


# What a channel `alerts test` found "not set up" is missing (alerts/dispatch.default_notifier).
NOT_SET_UP_HINTS = {
    "email": ": ALERTS_TOPIC_ARN is not set here (the stage's alerts SNS topic; `make run` has none)",
    "slack": ": the rule's Slack webhook URL is not in SSM (`alerts add … --slack-webhook URL` again)",
}


def _describe(rule: Any) -> str:
    fields = rule.model_dump(mode="json", include=set(SETTINGS[rule.kind]), exclude_none=True)
    channels = [name for name in dispatch.CHANNELS if getattr(rule.notify, name)]
    return (
        f"{json.dumps(fields)} → {', '.join(channels) or 'nowhere'} (cool-down {rule.cooldown_minutes} min)"
    )


def _spike_option_error(args: argparse.Namespace) -> str | None:
    """An option the spike rule would store and never use, or None (a threshold of the other metric, a
    value for all feedback)."""
    if args.dimension == Dimension.OVERALL and args.value is not None:
        return "--value: the overall dimension has none; give --dimension form, channel, source or theme"
    if args.metric == Metric.COUNT and args.share_increase is not None:
        return "--share-increase: only with --metric negative_share (a count rule uses --factor)"
    if args.metric == Metric.NEGATIVE_SHARE and args.factor is not None:
        return "--factor: only with --metric count (a negative-share rule uses --share-increase)"
    return None


def alerts_add(args: argparse.Namespace) -> int:
    unused = _spike_option_error(args) if args.kind == "spike" else None
    if unused:
        print(f"error: {unused}", file=sys.stderr)
        return 2
    given = {
        name: getattr(args, name) for name in SETTINGS[args.kind] if getattr(args, name, None) is not None
    }
    fields = {
        "kind": args.kind,
        "rule_id": rule_store.new_rule_id(),
        "description": args.description,
        "cooldown_minutes": args.cooldown_minutes,
        "notify": {"webhook": not args.no_webhook, "slack": bool(args.slack_webhook), "email": args.email},
        **given,
    }
    try:
        rule = rule_store.parse(fields)
        if args.slack_webhook:
            rule_store.set_slack_url(rule.rule_id, args.slack_webhook)
    except ValidationError as error:
        print_invalid(error, RULE_OPTIONS)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rule_store.save(rule)
    print(f"rule_id: {rule.rule_id}")
    print(f"{rule.kind}: {_describe(rule)}")
    # The evaluator and the stream function read rules cached (alerts/rules.py): not judged at once.
    print(
        "\nIt is judged within CONFIG_CACHE_SECONDS (300 s as deployed, 60 under make run);"
        f" `alerts test {rule.rule_id}` sends a sample through its channels now."
    )
    return 0


def alerts_list(args: argparse.Namespace) -> int:
    for rule in rule_store.list_all():
        print(f"{rule.rule_id:22} {rule.kind:9} {_describe(rule)} {rule.description}")
    return 0


def alerts_remove(args: argparse.Namespace) -> int:
    if not rule_store.remove(args.rule_id):
        print(f"error: no alert rule {args.rule_id!r}", file=sys.stderr)
        return 1
    print(f"removed {args.rule_id}")
    return 0


def sample_alert(rule: Any) -> Alert:
    now = utc_now()
    return Alert(
        alert_id="alt_test",
        rule_id=rule.rule_id,
        rule_kind=rule.kind,
        description=rule.description,
        summary=f"Test of alert rule {rule.rule_id} ({rule.kind}): no action needed",
        fired_at=now,
        dimension="overall",
        window_start=now - timedelta(hours=1),
        window_end=now,
        count=12,
        negatives=9,
        baseline=2.5,
        top_themes=[("example-theme", 7)],
        samples=[Sample(feedback_id="fb_test", text="An example comment", sentiment="NEGATIVE")],
    )


def alerts_test(args: argparse.Namespace) -> int:
    """Send a sample alert through the rule's channels, and say whether the rule's condition holds now."""
    rule = rule_store.get_fresh(args.rule_id)
    if rule is None:
        print(f"error: no alert rule {args.rule_id!r}", file=sys.stderr)
        return 1
    outcomes = dispatch.send(sample_alert(rule), rule.notify)
    for channel, outcome in outcomes.items():
        print(f"{channel:8} {outcome}{NOT_SET_UP_HINTS.get(channel, '') if outcome == 'not set up' else ''}")
    if isinstance(rule, SpikeRule | SilenceRule):
        now = utc_now()
        per_hour = counters.read_hours(evaluator.hours_needed([rule], now))
        firings = evaluator.evaluate([rule], per_hour, now)
        print(
            "now:     "
            + ("; ".join(f.summary for f in firings) if firings else "the condition does not hold")
        )
    return 0 if all(outcome == "sent" for outcome in outcomes.values()) else 1


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--description", default="", help="a note kept with the rule")
    parser.add_argument(
        "--cooldown-minutes", type=int, default=240, help="quiet this long after firing (default 240)"
    )
    parser.add_argument("--slack-webhook", help="a Slack incoming-webhook URL (kept in SSM as a secret)")
    parser.add_argument("--email", action="store_true", help="e-mail through the stage's alerts SNS topic")
    parser.add_argument("--no-webhook", action="store_true", help="no alert.triggered outbound event")


def add_alerts_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    group = groups.add_parser("alerts", help="alert rules: spikes, detractors, silences")
    commands = group.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="a new rule").add_subparsers(dest="kind", required=True)

    spike = adding.add_parser("spike", parents=[common], help="a slice far above its usual for the hour")
    spike.add_argument(
        "--dimension",
        choices=[d.value for d in Dimension],
        default="overall",
        help="the slice watched: everything, or per form, channel, source or theme (default: overall)",
    )
    spike.add_argument("--value", help="one form, channel, source or theme (default: each one)")
    spike.add_argument(
        "--metric",
        choices=[m.value for m in Metric],
        default="count",
        help="the number of items, or the share of them that is negative (default: count)",
    )
    spike.add_argument("--window-hours", type=int, help="the last N hours, 1-24 (default 1)")
    spike.add_argument("--factor", type=float, help="count: times the usual (default 3)")
    spike.add_argument("--share-increase", type=float, help="negative share: above the usual (default 0.25)")
    spike.add_argument("--min-count", type=int, help="items (negatives for a share) needed (default 10)")

    detractor = adding.add_parser("detractor", parents=[common], help="each low score or named complaint")
    detractor.add_argument("--nps-max", type=int, help="an NPS rating at most this (default 6)")
    detractor.add_argument("--csat-max", type=int, help="a CSAT rating at most this (default 2)")
    detractor.add_argument("--stars-max", type=int, help="a star rating at most this (default 2)")
    detractor.add_argument(
        "--no-named-negative",
        dest="negative_from_named_customer",
        action="store_const",
        const=False,
        help="not NEGATIVE feedback from known customers",
    )
    detractor.add_argument("--source", dest="sources", action="append", help="only this source or form")
    detractor.add_argument(
        "--channel",
        dest="channels",
        action="append",
        choices=[c.value for c in Channel],
        help="only this channel (repeat)",
    )
    detractor.add_argument(
        "--max-individual", type=int, help="Slack messages and e-mails one by one per window (default 3)"
    )
    detractor.add_argument(
        "--digest-minutes", type=int, help="the window; the rest of its detractors in one digest (default 10)"
    )

    silence = adding.add_parser("silence", parents=[common], help="a source that stopped delivering")
    silence.add_argument("--source", dest="source_id", help="one source or form (default: each one)")
    silence.add_argument("--hours", type=int, help="hours without an item, 1-72 (default 6)")
    silence.add_argument("--min-baseline", type=float, help="items usually in these hours (default 3)")
    for parser in (spike, detractor, silence):
        _common_options(parser)
        parser.set_defaults(run=alerts_add)

    commands.add_parser("list", parents=[common], help="every rule").set_defaults(run=alerts_list)
    for name, run, text in (
        ("remove", alerts_remove, "delete a rule and its Slack URL"),
        ("test", alerts_test, "send a sample alert through its channels now"),
    ):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("rule_id", help="the rule's id (alerts list)")
        command.set_defaults(run=run)
