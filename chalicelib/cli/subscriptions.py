"""`subscriptions add|list|show|rotate|pause|resume|remove|test|deliveries|replay|dlq`: outbound webhooks."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from chalicelib.cli.common import bounded, non_negative_hours, print_invalid, unknown_origins
from chalicelib.cli.dead_letters import add_dead_letter_commands
from chalicelib.models import RatingScale
from chalicelib.operations.dlq import DeadLetterQueue
from chalicelib.outbound import deliveries, delivery, replay, subscriptions
from chalicelib.outbound.events import EventType


def _print(subscription: subscriptions.Subscription) -> None:
    print(f"subscription_id: {subscription.subscription_id}")
    print(f"url:             {subscription.url}")
    if subscription.description:
        print(f"description:     {subscription.description}")
    print(f"events:          {', '.join(subscription.event_types)}")
    filters = subscription.filters.model_dump(exclude_defaults=True, mode="json")
    print(f"filters:         {json.dumps(filters) if filters else '-'}")
    state = f"paused ({subscription.paused_reason})" if subscription.paused else "active"
    print(f"state:           {state}")
    if subscription.previous_until:
        until = f"{subscription.previous_until:%Y-%m-%d %H:%M} UTC"
        print(f"rotation:        the previous secret signs too until {until}")


# The functions read subscriptions cached (outbound/subscriptions.py), so a new one is not sent at once.
PICKED_UP = "It is sent events within CONFIG_CACHE_SECONDS (300 s as deployed, 60 under make run)"

# The filters' fields whose option is not their name (`--form` → forms).
FILTER_OPTIONS = {
    "forms": "--form",
    "sources": "--source",
    "channels": "--channel",
    "sentiments": "--sentiment",
    "themes": "--theme",
    "event_types": "--event",
}


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    chosen = {
        "forms": args.form,
        "sources": args.source,
        "channels": args.channel,
        "sentiments": [s.upper() for s in args.sentiment or []],
        "themes": args.theme,
        "rating_scale": args.rating_scale,
        "rating_min": args.rating_min,
        "rating_max": args.rating_max,
    }
    return {name: value for name, value in chosen.items() if value not in (None, [])}


def _rating_band_error(args: argparse.Namespace) -> str | None:
    """Why --rating-min/--rating-max cannot mean what was meant, or None: a band needs its scale (5 is a top
    star rating and an NPS detractor), and must lie on it (`--rating-scale csat --rating-min 8` matches
    nothing)."""
    given = [
        (option, value)
        for option, value in (("--rating-min", args.rating_min), ("--rating-max", args.rating_max))
        if value is not None
    ]
    if not given:
        return None
    if args.rating_scale is None:
        return f"{given[0][0]}: give --rating-scale (nps, csat or stars) with it"
    low, high = RatingScale(args.rating_scale).bounds
    for option, value in given:
        if not low <= value <= high:
            return f"{option}: {args.rating_scale} ratings are {low} to {high}, got {value}"
    return None


def subscriptions_add(args: argparse.Namespace) -> int:
    band_error = _rating_band_error(args)
    if band_error:
        print(f"error: {band_error}", file=sys.stderr)
        return 2
    # A form's items carry the form's id as their source id: --source matches a form too.
    if unknown_origins("--form", args.form, sources=False) | unknown_origins("--source", args.source):
        return 2
    try:
        subscription, secret = subscriptions.create(args.url, args.event, _filters(args), args.description)
    except ValidationError as error:
        print_invalid(error, FILTER_OPTIONS)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _print(subscription)
    print(f"secret:          {secret}   (shown once: verify deliveries with it)")
    print(f"\n{PICKED_UP}; `subscriptions test {subscription.subscription_id}` sends a sample now.")
    return 0


def subscriptions_list(args: argparse.Namespace) -> int:
    for subscription in sorted(subscriptions.list_all(), key=lambda s: s.subscription_id):
        state = "paused" if subscription.paused else "active"
        types = ",".join(subscription.event_types)
        line = f"{subscription.subscription_id:26} {state:7} {types:40} {subscription.url}"
        print(f"{line} {subscription.description}".rstrip())
    return 0


def _existing(subscription_id: str) -> subscriptions.Subscription | None:
    subscription = subscriptions.get_fresh(subscription_id)
    if subscription is None:
        print(f"error: no subscription {subscription_id!r}", file=sys.stderr)
    return subscription


def subscriptions_show(args: argparse.Namespace) -> int:
    subscription = _existing(args.subscription_id)
    if subscription is None:
        return 1
    _print(subscription)
    return 0


def subscriptions_rotate(args: argparse.Namespace) -> int:
    if _existing(args.subscription_id) is None:
        return 1
    subscription, secret = subscriptions.rotate(args.subscription_id, timedelta(hours=args.overlap_hours))
    _print(subscription)
    print(f"secret:          {secret}   (shown once)")
    return 0


def _set_paused(paused: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        current = _existing(args.subscription_id)
        if current is None:
            return 1
        if current.paused == paused:
            state = f"paused ({current.paused_reason})" if current.paused else "active"
            print(f"{current.subscription_id} is already {state}: nothing changed")
        _print(subscriptions.set_paused(args.subscription_id, paused, "paused by an operator"))
        return 0

    return run


def subscriptions_remove(args: argparse.Namespace) -> int:
    if not subscriptions.remove(args.subscription_id):
        print(f"error: no subscription {args.subscription_id!r}", file=sys.stderr)
        return 1
    print(f"removed {args.subscription_id} (events still queued for it are dropped)")
    return 0


def subscriptions_test(args: argparse.Namespace) -> int:
    if _existing(args.subscription_id) is None:
        return 1
    result = replay.send_test(args.subscription_id)
    print(result)
    return 0 if result.startswith("ok") else 1


def subscriptions_deliveries(args: argparse.Namespace) -> int:
    if _existing(args.subscription_id) is None:
        return 1
    logged = deliveries.recent(args.subscription_id, args.limit)
    if not logged:
        days = deliveries.LOG_RETENTION.days
        print(f"no deliveries logged for {args.subscription_id} in the last {days} days", end=" ")
        print("(`subscriptions test` sends are not logged)")
    for entry in logged:
        code = entry.get("last_status_code", "-")
        latency = f"{entry['latency_ms']}ms" if "latency_ms" in entry else "-"
        # When a retrying event is sent next: late in the schedule attempts are hours apart.
        upcoming = f" next={entry['next_attempt_at'][:19]}" if entry.get("next_attempt_at") else ""
        error = entry.get("last_error", "")
        line = (
            f"{entry['updated_at'][:19]} {entry['status']:9} attempts={entry['attempts']} http={code} "
            f"{latency} {entry['event_type']:18} {entry['webhook_id']}{upcoming} {error}"
        )
        print(line.rstrip())
    return 0


def subscriptions_replay(args: argparse.Namespace) -> int:
    if args.subscription_id and _existing(args.subscription_id) is None:
        return 1
    report = replay.replay_dead_letters(args.subscription_id, args.limit)
    print(f"replayed {report.replayed}, skipped {report.skipped}")
    if report.unreadable:
        unreadable = (
            f"{report.unreadable} message(s) in the DLQ are not delivery messages: left there "
            "(`subscriptions dlq list` names them, `subscriptions dlq delete` drops them)"
        )
        print(f"error: {unreadable}", file=sys.stderr)
        return 1
    return 0


def add_subscriptions_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    group = groups.add_parser("subscriptions", help="outbound webhook subscriptions")
    commands = group.add_subparsers(dest="command", required=True)

    adding = commands.add_parser("add", parents=[common], help="subscribe a URL to events")
    adding.add_argument("--url", required=True, help="the address the events are POSTed to")
    adding.add_argument(
        "--event",
        action="append",
        required=True,
        choices=[t.value for t in EventType],
        help="an event type to send (repeat)",
    )
    adding.add_argument("--description", default="", help="a note kept with the subscription")
    adding.add_argument("--form", action="append", help="only feedback from this form (repeat)")
    adding.add_argument("--source", action="append", help="only feedback from this source (repeat)")
    adding.add_argument("--channel", action="append", help="only this channel (repeat)")
    adding.add_argument("--sentiment", action="append", help="only this sentiment (repeat)")
    adding.add_argument("--theme", action="append", help="only items with this theme (repeat)")
    adding.add_argument(
        "--rating-scale", choices=["nps", "csat", "stars"], help="only items rated on this scale"
    )
    adding.add_argument("--rating-min", type=int, help="only items rated at least this")
    adding.add_argument("--rating-max", type=int, help="only items rated at most this")
    adding.set_defaults(run=subscriptions_add)

    commands.add_parser("list", parents=[common], help="every subscription").set_defaults(
        run=subscriptions_list
    )

    for name, run, text in (
        ("show", subscriptions_show, "one subscription"),
        ("pause", _set_paused(True), "send nothing new until resumed"),
        ("resume", _set_paused(False), "send again"),
        ("remove", subscriptions_remove, "delete it and its secrets"),
        ("test", subscriptions_test, "send a signed sample event now"),
    ):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("subscription_id")
        command.set_defaults(run=run)

    rotating = commands.add_parser("rotate", parents=[common], help="a new secret; the old one signs too")
    rotating.add_argument("subscription_id")
    rotating.add_argument(
        "--overlap-hours", type=non_negative_hours, default=24.0, help="how long the old one signs too"
    )
    rotating.set_defaults(run=subscriptions_rotate)

    listing = commands.add_parser("deliveries", parents=[common], help="recent deliveries, newest first")
    listing.add_argument("subscription_id")
    listing.add_argument("--limit", type=bounded(1, deliveries.MAX_LISTED), default=20, help="1 to 100")
    listing.set_defaults(run=subscriptions_deliveries)

    replaying = commands.add_parser("replay", parents=[common], help="send the delivery DLQ's events again")
    replaying.add_argument("--subscription", dest="subscription_id", help="only this subscription's")
    replaying.add_argument("--limit", type=bounded(1), default=1_000, help="at most this many events")
    replaying.set_defaults(run=subscriptions_replay)
    add_dead_letter_commands(commands, common, delivery_dead_letters, "delivery DLQ")


def delivery_dead_letters() -> DeadLetterQueue:
    """The delivery DLQ, read with the delivery queue's own check and routing facts."""
    return DeadLetterQueue(
        delivery.queue_url(dead_letters=True),
        delivery.queue_url(),
        check=delivery.problem,
        describe=delivery.describe,
    )
