"""Admin CLI: `python -m chalicelib.cli <group> <command> [--local]`.

Without `--local` it works against AWS with the usual credentials and the stage's settings from the
environment (TABLE_NAME, EXPORT_BUCKET …); with `--local` against the stack `make run` started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import EndpointConnectionError

from chalicelib import aws, sources
from chalicelib.channels.registry import CHANNELS
from chalicelib.config import settings
from chalicelib.export.day import export_day, previous_utc_day
from chalicelib.forms.commands import add_forms_commands
from chalicelib.models import StoredFeedback, utc_now
from chalicelib.operations.commands import add_operations_commands
from chalicelib.store import feedback as feedback_store

Command = Callable[[argparse.Namespace], int]


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from error


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _print_feedback_table(items: Sequence[StoredFeedback]) -> None:
    print(f"{'stored_at':20} {'channel':9} {'sentiment':9} {'rating':>6}  {'feedback_id':35} text")
    for item in items:
        rating = "" if item.rating is None else f"{item.rating}/{item.rating_scale}"
        sentiment = item.sentiment or f"({item.skipped_reason})"
        print(
            f"{item.stored_at:%Y-%m-%d %H:%M:%S}  {item.channel:9} {sentiment:9} {rating:>6}  "
            f"{item.feedback_id:35} {_clip(item.text, 60)}"
        )
    print(f"{len(items)} item(s)")


def feedback_list(args: argparse.Namespace) -> int:
    """Print the items stored on a UTC day (today by default)."""
    items = list(feedback_store.list_day(args.date or utc_now().date()))
    if args.json:
        for item in items:
            print(item.model_dump_json(exclude_none=True))
    else:
        _print_feedback_table(items)
    return 0


def feedback_get(args: argparse.Namespace) -> int:
    """Print one stored item as JSON."""
    item = feedback_store.get(args.feedback_id)
    if item is None:
        print(f"no feedback {args.feedback_id}", file=sys.stderr)
        return 1
    print(item.model_dump_json(indent=2, exclude_none=True))
    return 0


def export(args: argparse.Namespace) -> int:
    """Run a day's export (yesterday by default) and optionally download its files."""
    day = args.date or previous_utc_day()
    manifest = export_day(day)
    print(json.dumps(manifest, indent=2))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        s3 = aws.client("s3")
        keys = [f["key"] for f in manifest["files"]] + [f"exports/dt={day.isoformat()}/manifest.json"]
        for key in keys:
            target = out / key.rsplit("/", 1)[-1]
            s3.download_file(settings().bucket_name, key, str(target))
            print(f"downloaded {target}")
    return 0


def _pairs(values: Sequence[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        name, separator, content = value.partition("=")
        if not separator or not name:
            raise SystemExit(f"error: {what} must be name=value, got {value!r}")
        pairs[name.strip()] = content
    return pairs


def _webhook_url(args: argparse.Namespace, source_id: str) -> str:
    local_api = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    base = args.api_url or (local_api if args.local else "https://<your-api>/api")
    return f"{base.rstrip('/')}/webhooks/{source_id}"


def _print_source(args: argparse.Namespace, source: sources.SourceConfig, reveal: bool = False) -> None:
    secret_values = sources.read_secrets(source.source_id)
    print(f"source_id:  {source.source_id}")
    print(f"type:       {source.type}")
    print(f"name:       {source.name}")
    print(f"webhook:    {_webhook_url(args, source.source_id)}")
    for key, value in sorted(source.settings.items()):
        print(f"setting:    {key}={value}")
    for name in secret_values.names():
        value = secret_values.current(name) or ""
        print(f"secret:     {name}={value if reveal else sources.mask(value)}")


def sources_add(args: argparse.Namespace) -> int:
    """Create a source: its secrets go to SSM (generated where this product chooses them)."""
    channel = CHANNELS[args.type]  # argparse already refused unknown types
    given = _pairs(args.secret, "--secret")
    generated = {
        name: channel.generate_secret(name) for name in channel.generated_secrets if name not in given
    }
    missing = [name for name in channel.secret_names if name not in given and name not in generated]
    if missing:
        print(f"error: a {args.type} source needs --secret for: {', '.join(missing)}", file=sys.stderr)
        return 2
    source = sources.SourceConfig(
        source_id=args.source_id or sources.new_source_id(args.type),
        type=args.type,
        name=args.name,
        settings=_pairs(args.setting, "--setting"),
    )
    sources.save(source, {**given, **generated})
    _print_source(args, source)
    for name, value in generated.items():
        # Shown once, in full: it has to be pasted into the platform's console.
        print(f"generated:  {name}={value}   (shown once; `sources show --reveal` shows it again)")
    if channel.console_help:
        print(f"\nIn the platform's console: {channel.console_help}")
    return 0


def sources_list(args: argparse.Namespace) -> int:
    """Print every source (secrets masked)."""
    for source in sorted(sources.list_all(), key=lambda s: s.source_id):
        names = ", ".join(sources.read_secrets(source.source_id).names())
        print(f"{source.source_id:28} {source.type:10} {source.name}  [secrets: {names}]")
    return 0


def _existing(source_id: str) -> sources.SourceConfig | None:
    found = next((s for s in sources.list_all() if s.source_id == source_id), None)
    if found is None:
        print(f"error: no source {source_id!r}", file=sys.stderr)
    return found


def sources_show(args: argparse.Namespace) -> int:
    """Print one source; secrets masked unless --reveal."""
    source = _existing(args.source_id)
    if source is None:
        return 1
    _print_source(args, source, reveal=args.reveal)
    return 0


def sources_rotate(args: argparse.Namespace) -> int:
    """Replace secrets (the previous value stays accepted until --drop-previous), or end a rotation."""
    source = _existing(args.source_id)
    if source is None:
        return 1
    channel = CHANNELS[source.type]
    new_values = _pairs(args.secret, "--secret")
    for name in args.generate or []:
        new_values[name] = channel.generate_secret(name)
    unknown = sorted(set(new_values) - set(channel.secret_names))
    if unknown:
        print(f"error: a {source.type} source has no secret named {', '.join(unknown)}", file=sys.stderr)
        return 2
    if new_values:
        sources.rotate(source.source_id, new_values, keep_previous=not args.no_keep_previous)
    if args.drop_previous:
        sources.drop_previous(source.source_id)
    _print_source(args, source)
    for name in args.generate or []:
        print(f"generated:  {name}={new_values[name]}   (shown once)")
    return 0


def sources_remove(args: argparse.Namespace) -> int:
    """Delete a source and its secrets."""
    if _existing(args.source_id) is None:
        return 1
    sources.remove(args.source_id)
    print(f"removed {args.source_id}")
    return 0


def _add_sources_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument("--api-url", help="the API's base URL, to print webhook URLs")
    group = groups.add_parser("sources", help="webhook sources")
    commands = group.add_subparsers(dest="command", required=True)

    adding = commands.add_parser("add", parents=[common, url], help="create a source")
    adding.add_argument("--type", required=True, choices=sorted(CHANNELS))
    adding.add_argument("--name", required=True)
    adding.add_argument("--secret", action="append", metavar="NAME=VALUE", help="a secret (repeat)")
    adding.add_argument("--setting", action="append", metavar="NAME=VALUE", help="a setting (repeat)")
    adding.add_argument("--id", dest="source_id", help="choose the id (default: generated)")
    adding.set_defaults(run=sources_add)

    commands.add_parser("list", parents=[common], help="list sources").set_defaults(run=sources_list)

    showing = commands.add_parser("show", parents=[common, url], help="one source, secrets masked")
    showing.add_argument("source_id")
    showing.add_argument("--reveal", action="store_true", help="print secrets in full")
    showing.set_defaults(run=sources_show)

    rotating = commands.add_parser("rotate", parents=[common, url], help="replace secrets")
    rotating.add_argument("source_id")
    rotating.add_argument("--secret", action="append", metavar="NAME=VALUE", help="new value (repeat)")
    rotating.add_argument("--generate", action="append", metavar="NAME", help="generate a new value")
    rotating.add_argument("--no-keep-previous", action="store_true", help="stop accepting the old value now")
    rotating.add_argument("--drop-previous", action="store_true", help="end a rotation: old values refused")
    rotating.set_defaults(run=sources_rotate)

    removing = commands.add_parser("remove", parents=[common], help="delete a source and its secrets")
    removing.add_argument("source_id")
    removing.set_defaults(run=sources_remove)


def tokens_create(args: argparse.Namespace) -> int:
    """Create an API token and print it once, in full."""
    from chalicelib import auth

    token, info = auth.create_token(args.name, args.scope, description=args.description)
    print(f"token_id:   {info.token_id}")
    print(f"name:       {info.name}")
    print(f"scopes:     {' '.join(info.scopes)}")
    print(f"token:      {token}")
    print("\nShown once: only its hash is stored. Send it as `Authorization: Bearer <token>`.")
    return 0


def tokens_list(args: argparse.Namespace) -> int:
    """Print every token (never the token itself: its last 4 characters)."""
    from chalicelib import auth

    print(f"{'token_id':12}  {'name':24} {'scopes':18} {'created':20} {'revoked':20} last4")
    for info in auth.list_tokens():
        revoked = info.revoked_at[:19] if info.revoked_at else "-"
        print(
            f"{info.token_id:12}  {_clip(info.name, 24):24} {','.join(info.scopes):18} "
            f"{info.created_at[:19]:20} {revoked:20} …{info.last4}"
        )
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    """Revoke a token by id (kept, marked revoked)."""
    from chalicelib import auth

    info = auth.revoke_token(args.token_id)
    if info is None:
        print(f"error: no token {args.token_id!r}", file=sys.stderr)
        return 1
    print(f"revoked {info.token_id} ({info.name}) at {info.revoked_at}")
    print("Every API process refuses it within CONFIG_CACHE_SECONDS.")
    return 0


def _add_tokens_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    from chalicelib.auth import Scope

    group = groups.add_parser("tokens", help="read API bearer tokens")
    commands = group.add_subparsers(dest="command", required=True)

    creating = commands.add_parser("create", parents=[common], help="create a token (shown once)")
    creating.add_argument(
        "--scope", action="append", required=True, choices=[s.value for s in Scope], help="repeat for several"
    )
    creating.add_argument("--name", required=True, help="who or what uses it, e.g. 'BI nightly pull'")
    creating.add_argument("--description")
    creating.set_defaults(run=tokens_create)

    commands.add_parser("list", parents=[common], help="list tokens").set_defaults(run=tokens_list)

    revoking = commands.add_parser("revoke", parents=[common], help="revoke a token by id")
    revoking.add_argument("token_id")
    revoking.set_defaults(run=tokens_revoke)


def customers_show(args: argparse.Namespace) -> int:
    """Print a customer's profile, identities and recent feedback as JSON."""
    from chalicelib.store import customers

    customer_id = args.customer_id or (customers.find_by_email(args.email) if args.email else None)
    view = customers.view(customer_id) if customer_id else None
    if view is None:
        print("error: no such customer", file=sys.stderr)
        return 1
    body = {
        **customers.summarize(view.profile),
        "identities": [{"kind": i["kind"], "value": i["value"]} for i in view.identities],
        "recent_feedback": [f.model_dump(mode="json", exclude_none=True) for f in view.recent_feedback],
    }
    print(json.dumps(body, indent=2))
    return 0


def customers_link(args: argparse.Namespace) -> int:
    """Merge customer_b into customer_a (idempotent)."""
    from chalicelib.store import customers

    for customer_id in (args.customer_a, args.customer_b):
        if customers.get_profile(customer_id) is None:
            print(f"error: no customer {customer_id!r}", file=sys.stderr)
            return 1
    report = customers.merge(args.customer_a, args.customer_b)
    print(
        f"{args.customer_b} is now part of {args.customer_a}: {report.feedback_moved} feedback and "
        f"{report.identities_moved} identities moved"
        + ("" if report.aggregates_added else " (aggregates had been added by an earlier link)")
    )
    return 0


# When `customers erase` says the export files are rewritten, per privacy.ErasureReport.export_rewrite.
ERASURE_REWRITE_NOTES = {
    "invoked": "the export function was invoked: those files are rewritten within minutes",
    "local": "rewriting them now (the local stack runs the export function in this process)",
    "nightly": "the nightly export rewrites them (set EXPORT_FUNCTION_NAME to have them rewritten now)",
}


def customers_erase(args: argparse.Namespace) -> int:
    """Erase a customer everywhere (asks for --yes)."""
    from chalicelib import privacy
    from chalicelib.export import rewrite

    if not args.yes:
        print("error: erasure cannot be undone; add --yes to confirm", file=sys.stderr)
        return 2
    report = privacy.erase_customer(args.customer_id)
    if report is None:
        print(f"error: no customer {args.customer_id!r}", file=sys.stderr)
        return 1
    days = ", ".join(report.exports_scheduled) or "none"
    print(
        f"erased: {report.feedback_deleted} feedback, {report.identities_deleted} identities, "
        f"{report.profiles_deleted} profile(s); export days to rewrite: {days}"
    )
    if report.exports_scheduled:
        print(ERASURE_REWRITE_NOTES[report.export_rewrite], flush=True)
        rewrite.wait_for_local_rewrites()
    return 0


def customers_erasures(args: argparse.Namespace) -> int:
    """Print the erasure log (hashes and counts only)."""
    from chalicelib import privacy

    for entry in privacy.erasure_log():
        print(json.dumps(entry, sort_keys=True))
    return 0


def _add_customers_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    commands = groups.add_parser("customers", help="customer 360").add_subparsers(
        dest="command", required=True
    )
    showing = commands.add_parser("show", parents=[common], help="profile, identities, recent feedback")
    showing.add_argument("customer_id", nargs="?")
    showing.add_argument("--email", help="find the customer by email instead")
    showing.set_defaults(run=customers_show)
    linking = commands.add_parser("link", parents=[common], help="merge customer_b into customer_a")
    linking.add_argument("customer_a")
    linking.add_argument("customer_b")
    linking.set_defaults(run=customers_link)
    erasing = commands.add_parser("erase", parents=[common], help="erase a customer everywhere")
    erasing.add_argument("customer_id")
    erasing.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")
    erasing.set_defaults(run=customers_erase)
    commands.add_parser("erasures", parents=[common], help="the erasure log").set_defaults(
        run=customers_erasures
    )


def _progress_bar(args: argparse.Namespace, total: int | None, unit: str, initial: int = 0) -> Any:
    """A tqdm bar on stderr, off when stderr is not a terminal or with --no-progress."""
    from tqdm import tqdm  # imported here: the Lambda package does not ship tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit=unit,
        file=sys.stderr,
        disable=args.no_progress or not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


def _time(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


def dlq_list(args: argparse.Namespace) -> int:
    """Print the DLQ's messages: ids, times, receive counts, routing and size; never text or authors."""
    from chalicelib.operations.dlq import DeadLetterQueue

    summaries = DeadLetterQueue().list()
    if args.json:
        for summary in summaries:
            print(json.dumps(summary.as_json()))
        return 0
    print(
        f"{'message_id':36}  {'sent_at':19}  {'first_received':19}  {'recv':>4}  {'bytes':>6}  "
        f"{'events':>6}  {'channel':10} {'source/form':20} external_id"
    )
    for s in summaries:
        external = s.external_ids[0] if s.external_ids else "-"
        if len(s.external_ids) > 1:
            external += f" (+{len(s.external_ids) - 1})"
        print(
            f"{s.message_id:36}  {_time(s.sent_at):19}  {_time(s.first_received_at):19}  "
            f"{s.receive_count:>4}  {s.size:>6}  {s.events:>6}  {','.join(s.channels) or '-':10} "
            f"{_clip(','.join(s.source_ids) or '-', 20):20} {_clip(external, 40)}"
            + (f"  [unreplayable: {s.problem}]" if s.problem else "")
        )
    print(f"{len(summaries)} message(s)")
    return 0


def dlq_show(args: argparse.Namespace) -> int:
    """Print one DLQ message: its attributes and its envelope (secret-looking values masked)."""
    from chalicelib.operations.dlq import DeadLetterQueue, UnknownMessage, masked

    try:
        message = DeadLetterQueue().find(args.message_id)
    except UnknownMessage:
        print(f"error: no message {args.message_id!r} in the DLQ", file=sys.stderr)
        return 2
    body: Any = message.envelope if message.envelope is not None else message.body
    shown = {
        "message_id": message.message_id,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "first_received_at": message.first_received_at.isoformat() if message.first_received_at else None,
        "receive_count": message.receive_count,
        "size": message.size,
        "problem": message.problem(),
        "envelope": masked(body),
    }
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


def dlq_replay(args: argparse.Namespace) -> int:
    """Send DLQ messages (chosen ids, or --all) to the ingest queue, then delete them from the DLQ."""
    from chalicelib.operations.dlq import DeadLetterQueue, UnknownMessage

    if bool(args.message_ids) == args.all:
        print("error: give message ids or --all (not both)", file=sys.stderr)
        return 2
    dlq = DeadLetterQueue()
    total = len(args.message_ids) if args.message_ids else dlq.depth()
    with _progress_bar(args, total, "msg") as bar:

        def progress(replayed: int, failed: int) -> None:
            bar.update(replayed + failed)

        try:
            report = dlq.replay(args.message_ids or None, progress)
        except UnknownMessage as error:
            print(f"error: not in the DLQ: {error}", file=sys.stderr)
            return 2
    print(f"replayed {len(report.replayed)} message(s) into the ingest queue; {len(report.failed)} failed")
    for message_id, reason in sorted(report.failed.items()):
        print(f"  failed {message_id}: {reason} (left in the DLQ)")
    for message_id in report.not_deleted:
        print(f"  sent but not deleted {message_id}: a later replay sends it again (stored once)")
    return 1 if report.failed or report.not_deleted else 0


def _add_dlq_commands(groups: Any, common: argparse.ArgumentParser, quiet: argparse.ArgumentParser) -> None:
    commands = groups.add_parser("dlq", help="the ingest queue's dead-letter queue").add_subparsers(
        dest="command", required=True
    )
    listing = commands.add_parser("list", parents=[common], help="messages (no text or personal data)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=dlq_list)
    showing = commands.add_parser("show", parents=[common], help="one message's envelope")
    showing.add_argument("message_id")
    showing.set_defaults(run=dlq_show)
    replaying = commands.add_parser(
        "replay", parents=[common, quiet], help="send to the ingest queue, then delete from the DLQ"
    )
    replaying.add_argument("message_ids", nargs="*", metavar="message-id")
    replaying.add_argument("--all", action="store_true", help="every message in the DLQ")
    replaying.set_defaults(run=dlq_replay)


def backfill(args: argparse.Namespace) -> int:
    """Run an analyzer again over the items stored between two UTC days, resumably."""
    from chalicelib.operations import backfill as job

    mode = job.Mode.RESUME if args.resume else job.Mode.RESTART if args.restart else job.Mode.NEW
    analyzer = args.analyzer or settings().analyzer.value
    try:
        plan = job.prepare(args.from_day, args.to_day, analyzer, mode)
    except job.UnfinishedJob as unfinished:
        checkpoint = unfinished.checkpoint
        print(
            f"error: job {checkpoint.job_id} stopped at {checkpoint.position} after {checkpoint.counts.done} "
            "item(s); add --resume to continue or --restart to begin again",
            file=sys.stderr,
        )
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    checkpoint = plan.checkpoint
    print(
        f"backfill {checkpoint.from_day}..{checkpoint.to_day} with {analyzer}: {plan.total} item(s) in range "
        f"(job {checkpoint.job_id})"
    )
    if plan.resumed:
        print(f"resuming at {checkpoint.position}, {checkpoint.counts.done} item(s) done before")
    elif mode is job.Mode.RESUME:
        print("no unfinished checkpoint: starting from the beginning")
    with _progress_bar(args, max(plan.total, checkpoint.counts.done), "item", checkpoint.counts.done) as bar:
        totals = checkpoint.counts

        def progress(counts: job.Counts) -> None:
            bar.update(counts.done)
            bar.set_postfix(updated=totals.updated, skipped=totals.skipped, failed=totals.failed)

        result = job.run(plan, job.analyzer_named(analyzer), args.batch_size, progress)
    counts = result.counts
    print(
        f"done: {counts.updated} updated, {counts.skipped} skipped (already {analyzer}), "
        f"{counts.failed} failed"
        + (f"; job total {totals.updated} updated, {totals.skipped} skipped" if plan.resumed else "")
    )
    for feedback_id, reason in sorted(result.failed_ids.items())[:20]:
        print(f"  failed {feedback_id}: {reason}")
    if counts.failed:
        print("failed items keep their previous analysis; run the same command again to retry them")
    return 1 if counts.failed else 0


def _batch_size(value: str) -> int:
    size = int(value)
    if not 1 <= size <= 1000:
        raise argparse.ArgumentTypeError("expected 1 to 1000")
    return size


def _add_backfill_command(
    groups: Any, common: argparse.ArgumentParser, quiet: argparse.ArgumentParser
) -> None:
    from chalicelib.config import AnalyzerBackend

    backfilling = groups.add_parser(
        "backfill", parents=[common, quiet], help="run the analyzer again on stored items (resumable)"
    )
    backfilling.add_argument(
        "--from", dest="from_day", type=_day, required=True, metavar="YYYY-MM-DD", help="first UTC day stored"
    )
    backfilling.add_argument(
        "--to", dest="to_day", type=_day, required=True, metavar="YYYY-MM-DD", help="last UTC day (inclusive)"
    )
    backfilling.add_argument(
        "--analyzer", choices=[a.value for a in AnalyzerBackend], help="default: the stage's ANALYZER"
    )
    resuming = backfilling.add_mutually_exclusive_group()
    resuming.add_argument("--resume", action="store_true", help="continue from the job's checkpoint")
    resuming.add_argument("--restart", action="store_true", help="ignore the checkpoint, begin again")
    backfilling.add_argument(
        "--batch-size",
        type=_batch_size,
        default=25,
        metavar="N",
        help="items read and analyzed per page (default 25)",
    )
    backfilling.set_defaults(run=backfill)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--local", action="store_true", help="use the stack started by `make run`")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "--no-progress", action="store_true", help="no progress bar (off anyway without a TTY)"
    )

    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)

    feedback = groups.add_parser("feedback", help="stored feedback").add_subparsers(
        dest="command", required=True
    )
    listing = feedback.add_parser("list", parents=[common], help="items stored on a UTC day")
    listing.add_argument("--date", type=_day, help="YYYY-MM-DD (default: today, UTC)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=feedback_list)
    getting = feedback.add_parser("get", parents=[common], help="one item as JSON")
    getting.add_argument("feedback_id")
    getting.set_defaults(run=feedback_get)

    exporting = groups.add_parser("export", parents=[common], help="run a day export")
    exporting.add_argument("--date", type=_day, help="YYYY-MM-DD (default: yesterday, UTC)")
    exporting.add_argument("--out", help="download the files to this folder")
    exporting.set_defaults(run=export)

    add_forms_commands(groups, common)

    _add_sources_commands(groups, common)
    _add_tokens_commands(groups, common)
    _add_customers_commands(groups, common)
    _add_dlq_commands(groups, common, quiet)
    _add_backfill_command(groups, common, quiet)
    add_operations_commands(groups, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI."""
    args = build_parser().parse_args(argv)
    if args.local:
        from chalicelib.local.environment import use_local_stack

        use_local_stack()
    try:
        return args.run(args)
    except EndpointConnectionError as error:
        hint = " Is `make run` running?" if args.local else ""
        print(f"error: cannot reach AWS at {error.kwargs.get('endpoint_url')}.{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
