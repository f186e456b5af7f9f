"""What the CLI's command modules share: argument types and output helpers."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError

Command = Callable[[argparse.Namespace], int]
T = TypeVar("T")

# AWS error codes of credentials it does not accept (expired, of another account, badly signed).
CREDENTIAL_ERRORS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}


def is_permission_error(code: str) -> bool:
    return "AccessDenied" in code or code in {"UnauthorizedOperation", "AuthorizationError"}


def stops_every_day(error: Exception) -> bool:
    """An error no day of a range escapes (AWS unreachable, no region or credentials, credentials refused,
    a permission missing): the walk stops and the CLI says it once, rather than once a day."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(error, EndpointConnectionError | NoCredentialsError | NoRegionError):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        return code in CREDENTIAL_ERRORS or is_permission_error(code)
    return False


# Days a range command (counters rebuild, feedback rekey) works on at once: each day already reads its
# partitions concurrently, so a few days in flight keep the table busy without a thundering herd, and an
# upgrade's range of years takes minutes rather than hours.
DEFAULT_DAY_WORKERS = 4
MAX_DAY_WORKERS = 16


def day_argument(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from error


def utc_today() -> date:
    from chalicelib.models import utc_now

    return utc_now().date()


def begun_day_argument(value: str) -> date:
    """An argparse type: a UTC day that has begun (today or before). A day-taking command that writes
    (counters, checkpoints, re-keys, CRM syncs) must not write state for a day no item is stored on yet."""
    day = day_argument(value)
    today = utc_today()
    if day > today:
        raise argparse.ArgumentTypeError(
            f"{day.isoformat()} has not begun yet (UTC today is {today.isoformat()})"
        )
    return day


def bounded(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` (to `high`), refused with the range, never clamped
    silently (a `--limit 0` that lists nothing reads like an empty log)."""
    wanted = f"a whole number from {low} to {high}" if high is not None else f"a whole number, at least {low}"

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {value!r}") from None
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {value!r}")
        return number

    return parse


def non_negative_hours(value: str) -> float:
    """An argparse type: hours, zero or more."""
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected hours (0 or more), got {value!r}") from None
    if not hours >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected hours (0 or more), got {value!r}")
    return hours


def clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def pairs(values: Sequence[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        name, separator, content = value.partition("=")
        if not separator or not name:
            print(f"error: {what} must be name=value, got {value!r}", file=sys.stderr)
            raise SystemExit(2)  # a usage error, as argparse's own
        pairs[name.strip()] = content
    return pairs


def progress_bar(args: argparse.Namespace, total: int | None, unit: str, initial: int = 0) -> Any:
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


def time_text(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


def print_invalid(error: ValidationError, options: Mapping[str, str] | None = None) -> None:
    """One `error: --option: what is wrong` line per problem, in the command's own terms: the option a field
    came from (`options` maps the fields not named like their option), without pydantic's model names,
    input echo and documentation links."""
    for issue in error.errors(include_url=False, include_input=False):
        named = [part for part in issue["loc"] if isinstance(part, str)]
        # A tagged union's location starts with the tag (`spike.factor`): the last name is the field.
        field = named[-1] if named else ""
        option = (options or {}).get(field) or (f"--{field.replace('_', '-')}" if field else "")
        message = issue["msg"].removeprefix("Value error, ")
        print(f"error: {option}: {message}" if option else f"error: {message}", file=sys.stderr)


def waiting_aloud(seconds: float) -> None:
    """The CRM clients' sleep for a person at the terminal: their backoff (1, 2, 4 … s, about two minutes in
    all for a CRM that does not answer) and Retry-After waits are said, not silent."""
    print(f"waiting {seconds:g} s, then trying again (Ctrl-C stops)", file=sys.stderr, flush=True)
    time.sleep(seconds)


def add_day_workers_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=bounded(1, MAX_DAY_WORKERS),
        default=DEFAULT_DAY_WORKERS,
        help=f"days worked on at once (default {DEFAULT_DAY_WORKERS}, at most {MAX_DAY_WORKERS})",
    )


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def walk_days(
    args: argparse.Namespace, days: Sequence[date], work: Callable[[date], T]
) -> Iterator[tuple[date, T | Exception]]:
    """`work` on each day, `args.workers` days at once, yielded in day order (the lines read as a calendar
    whatever order the days finish in) under a progress bar with the time left on stderr. A day's exception
    is yielded, not raised: the other days go on and the command says which to run again; except one no day
    escapes (`stops_every_day`), raised for the CLI to say once."""
    from chalicelib import aws

    aws.client("dynamodb")  # built once here: boto3 does not build clients safely from several threads

    def guarded(day: date) -> T | Exception:
        try:
            return work(day)
        except Exception as error:  # reported with its day by the caller
            return error

    print(f"{len(days)} day(s), {args.workers} at a time", file=sys.stderr, flush=True)
    with progress_bar(args, len(days), "day") as bar, ThreadPoolExecutor(args.workers) as pool:
        for day, outcome in zip(days, pool.map(guarded, days), strict=True):
            if isinstance(outcome, Exception) and stops_every_day(outcome):
                pool.shutdown(wait=False, cancel_futures=True)  # the days not started would fail alike
                raise outcome
            yield day, outcome
            bar.update(1)


def say(line: str) -> None:
    """A line on stdout that leaves a progress bar on stderr intact."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)


def unknown_origins(option: str, ids: Sequence[str] | None, forms: bool = True, sources: bool = True) -> bool:
    """Say which of the ids a filter option names no configured form or source (a filter on a typo matches
    no item, ever, without a word) and return whether any did."""
    if not ids:
        return False
    from chalicelib.channels import sources as source_store
    from chalicelib.forms import records as form_store

    known = {f.form_id for f in form_store.list_all()} if forms else set()
    known |= {s.source_id for s in source_store.list_all()} if sources else set()
    missing = [value for value in ids if value not in known]
    kind = "source or form" if forms and sources else "form" if forms else "source"
    listing = " or ".join(f"`cli {name}s list`" for name in ("source", "form") if name in kind)
    for value in missing:
        print(f"error: {option}: no {kind} {value!r} ({listing} names them)", file=sys.stderr)
    return bool(missing)
