"""`customers show|link|erase|erasures`: the customer 360 and erasure."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


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
    from chalicelib.store.merge import merge

    for customer_id in (args.customer_a, args.customer_b):
        if customers.get_profile(customer_id) is None:
            print(f"error: no customer {customer_id!r}", file=sys.stderr)
            return 1
    report = merge(args.customer_a, args.customer_b)
    print(
        f"{args.customer_b} is now part of {args.customer_a}: {report.feedback_moved} feedback and "
        f"{report.identities_moved} identities moved"
        + ("" if report.aggregates_added else " (aggregates had been added by an earlier link)")
    )
    return 0


# When `customers erase` says the export files are rewritten, per erasure.ErasureReport.export_rewrite.
ERASURE_REWRITE_NOTES = {
    "invoked": "the export function was invoked: those files are rewritten within minutes",
    "local": "rewriting them now (the local stack runs the export function in this process)",
    "nightly": "the nightly export rewrites them (set EXPORT_FUNCTION_NAME to have them rewritten now)",
    "upcoming": "not exported yet: the nightly export writes them without this customer",
}


def _refused_naming(args: argparse.Namespace, verb: str) -> int:
    """2 (said on stderr) unless the customer is named by exactly one of its id and --email; else 0."""
    if (args.customer_id is None) == (args.email is None):
        print("error: name the customer by its id or by --email (one of them)", file=sys.stderr)
        return 2
    if args.customer_id is not None and "@" in args.customer_id:
        # "no customer" for an address that has one would tell a data subject we hold nothing on them.
        print(f"error: that is an email address; {verb} by `--email <address>`", file=sys.stderr)
        return 2
    return 0


def _no_such_customer(args: argparse.Namespace) -> int:
    # The address is not repeated: the terminal's scrollback and CI logs keep what is printed.
    named = f"customer {args.customer_id!r}" if args.customer_id else "customer with that email"
    print(f"error: no {named} (an erased customer is no longer known)", file=sys.stderr)
    return 1


def customers_erase(args: argparse.Namespace) -> int:
    """Erase a customer everywhere (asks for --yes)."""
    from chalicelib.export import rewrite
    from chalicelib.privacy import erasure
    from chalicelib.store import customers

    refused = _refused_naming(args, "erase")
    if refused:
        return refused
    if not args.yes:
        print("error: erasure cannot be undone; add --yes to confirm", file=sys.stderr)
        return 2
    customer_id = args.customer_id or customers.find_by_email(args.email)
    report = erasure.erase_customer(customer_id, requested_by="cli") if customer_id else None
    if report is None:
        return _no_such_customer(args)
    if args.email:
        print(f"the email belongs to {customer_id}")
    days = ", ".join(report.exports_scheduled) or "none"
    if report.merged_into:
        print(f"{customer_id} was merged into {report.merged_into}: that customer is erased")
    print(
        f"erased: {report.feedback_deleted} feedback, {report.identities_deleted} identities, "
        f"{report.profiles_deleted} profile(s), {report.raw_mails_deleted} raw mail(s); "
        f"export days to rewrite: {days}"
    )
    if report.exports_scheduled:
        print(ERASURE_REWRITE_NOTES[report.export_rewrite], flush=True)
        rewrite.wait_for_local_rewrites()
    return 0


def customers_export(args: argparse.Namespace) -> int:
    """A data subject's access request: everything held on the customer as one JSON document (stdout or
    --out, a file only its owner may read)."""
    from chalicelib.privacy import access
    from chalicelib.store import customers

    refused = _refused_naming(args, "export")
    if refused:
        return refused
    customer_id = args.customer_id or customers.find_by_email(args.email)
    document = access.subject_access(customer_id) if customer_id else None
    if document is None:
        return _no_such_customer(args)
    document["crm_contacts"] = _crm_contacts(document["customer_id"])
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if args.out is None:
        print(text)
        return 0
    descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    print(
        f"{args.out}: {document['customer_id']}, {len(document['identities'])} identities, "
        f"{len(document['feedback'])} feedback, {len(document['crm_contacts'])} CRM contact(s), "
        f"{len(document['export_days'])} export day(s)"
    )
    return 0


def _crm_contacts(customer_id: str) -> list[dict[str, Any]]:
    """The CRM contacts the sync linked to the customer: where else their profile was written."""
    from chalicelib.crm import connections
    from chalicelib.store import crm_links

    found = []
    for connection in connections.list_all():
        link = crm_links.contact_links(connection.connection_id, [customer_id]).get(customer_id)
        if link:
            found.append(
                {
                    "connection_id": connection.connection_id,
                    "crm": connection.type,
                    "contact_id": link.get("contact_id"),
                    "activities": len(link.get("feedback_ids", [])),
                }
            )
    return found


def customers_erasures(args: argparse.Namespace) -> int:
    """Print the erasure log (hashes and counts only)."""
    from chalicelib.privacy import erasure

    for entry in erasure.erasure_log():
        print(json.dumps(entry, sort_keys=True))
    return 0


def add_customers_commands(groups: Any, common: argparse.ArgumentParser) -> None:
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
    erasing.add_argument("customer_id", nargs="?")
    erasing.add_argument("--email", help="find the customer by email instead (as `customers show --email`)")
    erasing.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")
    erasing.set_defaults(run=customers_erase)
    exporting = commands.add_parser(
        "export", parents=[common], help="an access request: everything held on a customer, as JSON"
    )
    exporting.add_argument("customer_id", nargs="?")
    exporting.add_argument("--email", help="find the customer by email instead (as `customers show --email`)")
    exporting.add_argument("--out", help="write the document to this file (mode 0600) instead of stdout")
    exporting.set_defaults(run=customers_export)
    commands.add_parser("erasures", parents=[common], help="the erasure log").set_defaults(
        run=customers_erasures
    )
