"""`python -m chalicelib.local`: the whole product on this machine (what `make run` starts).

An embedded moto server on 127.0.0.1:$MOTO_PORT holds DynamoDB, SQS, S3 and SSM (moto_server.py: DynamoDB
requests serialized, moto's table-size costs removed); the Chalice app is served on 127.0.0.1:$PORT; pollers
($LOCAL_ANALYZE_WORKERS, default 4, like concurrent Lambda invocations) feed the ingest queue to the same
`analyze` handler Lambda runs; the nightly export runs at 02:15 UTC (or on demand: `python -m
chalicelib.cli export --local --date …`); an SMTP server on 127.0.0.1:$SMTP_PORT (default 2525) hands mail
to the `receive_email` handler SES's receipt rule invokes (smtp_server.py). A demo host site on
127.0.0.1:$DEMO_PORT (default $PORT + 1), another origin than the API, embeds the widget.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from chalicelib.local.alerts import start_alerts
from chalicelib.local.crm import start_crm
from chalicelib.local.environment import DEFAULT_MOTO_PORT, moto_port, use_local_stack
from chalicelib.local.http_server import LocalApiServer
from chalicelib.local.lambda_runtime import DailyScheduler, SqsPoller, lambda_context
from chalicelib.local.log_keys import keep_keys_per_thread
from chalicelib.local.moto_server import LocalMotoServer
from chalicelib.local.outbound import start_outbound
from chalicelib.local.provision import (
    create_demo_email_source,
    create_demo_form,
    create_demo_sources,
    create_local_read_token,
    load_starter_taxonomy,
    mark_counters_complete,
    provision,
)
from chalicelib.local.pull import start_demo_pull
from chalicelib.observability import logger
from chalicelib.web.demo import serve_demo

if TYPE_CHECKING:
    from chalicelib.local.smtp_server import Handler, LocalSmtpServer

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_ANALYZE_WORKERS = 4
DEFAULT_API_PORT = 8000


def analyze_workers() -> int:
    """How many analyze invocations run at once (LOCAL_ANALYZE_WORKERS, default 4): Lambda scales the SQS
    event source out to concurrent invocations, and a single local poller would fall behind a burst."""
    return max(1, int(os.environ.get("LOCAL_ANALYZE_WORKERS", str(DEFAULT_ANALYZE_WORKERS))))


def start_smtp(receive_email: Handler) -> LocalSmtpServer:
    """Mail to the demo e-mail source's address reaches receive_email, as SES's receipt rule would send it."""
    from chalicelib.local.smtp_server import LocalSmtpServer, free_port  # aiosmtpd: only when serving

    smtp = LocalSmtpServer(receive_email)
    try:
        smtp.start()
    except OSError:  # the default port is taken: any free one
        smtp = LocalSmtpServer(receive_email, port=free_port())
        smtp.start()
    return smtp


def quiet_noise() -> None:
    """Keep what a user would take for a fault out of the output: the embedded moto server logs every AWS
    call at INFO (only its problems are worth showing), and Powertools warns when a handler flushes no
    metrics, which locally are off (POWERTOOLS_METRICS_DISABLED); that warning was `make run`'s first line.
    And every function runs in a thread of this process: each keeps its own log keys (log_keys.py)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    keep_keys_per_thread(logger)


def ports_taken(ports: dict[str, int]) -> bool:
    """Whether something on 127.0.0.1 already listens on one of `ports` (another `make run`, say), said in
    a line naming its variable: found before anything starts, not as a traceback once the stack is set up."""
    taken = []
    for variable, port in ports.items():
        with socket.socket() as probe:
            # As the servers bind: a port whose old connections linger (TIME_WAIT) is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.append(f"{variable}={port}")
    if taken:
        print(
            f"error: {' and '.join(taken)} already in use (another `make run`?): stop it, or choose free"
            " ports, e.g. PORT=8100 MOTO_PORT=5100 make run",
            file=sys.stderr,
        )
    return bool(taken)


def cli_command() -> str:
    """How to run the CLI against this stack: it finds the stack by MOTO_PORT and prints the API's URLs
    (`sources show`'s webhook URL) with PORT, so on other ports than the defaults a shell without them would
    look on 5000 ("cannot reach AWS") and print 8000."""
    ports = {"PORT": (api_port(), DEFAULT_API_PORT), "MOTO_PORT": (moto_port(), DEFAULT_MOTO_PORT)}
    settings = [f"{name}={port}" for name, (port, default) in ports.items() if port != default]
    return " ".join([*settings, ".venv/bin/python -m chalicelib.cli"])


def api_port() -> int:
    """The API's port (PORT, default 8000)."""
    return int(os.environ.get("PORT", str(DEFAULT_API_PORT)))


def main() -> int:
    """Start everything, print the URLs, and serve until Ctrl-C."""
    port = api_port()
    if ports_taken({"PORT": port, "MOTO_PORT": moto_port()}):
        return 2
    moto = LocalMotoServer("127.0.0.1", moto_port())
    moto.start()
    use_local_stack()
    resources = provision(os.environ["INGEST_QUEUE_NAME"], visibility_timeout_seconds=10)
    mark_counters_complete(resources)  # filtered listings skip empty days from the start
    form = create_demo_form()
    taxonomy = load_starter_taxonomy()
    demo_sources = create_demo_sources()
    mail_source = create_demo_email_source()
    read_token = create_local_read_token()

    sys.path.insert(0, str(PROJECT_DIR))
    # Imported after the environment is set: the app reads it at import time.
    from app import (
        analyze,
        app,
        evaluate_alerts,
        fan_out_webhooks,
        nightly_export,
        pull_reviews,
        receive_email,
        sync_crm,
    )

    poller = SqsPoller(resources.queue_url, analyze)
    scheduler = DailyScheduler(nightly_export, "nightly_export", hour=2, minute=15)
    poller.start(workers=analyze_workers())
    scheduler.start()
    crm = start_crm(  # before the stream reader
        sync_crm, *(int(os.environ.get(f"DEMO_{crm}_PORT", "0")) for crm in ("HUBSPOT", "SALESFORCE"))
    )
    # The stream's one reader, as deployed: app.py's fan_out_webhooks (webhook deliveries and the CRM's work).
    outbound = start_outbound(
        int(os.environ.get("DEMO_WEBHOOK_PORT", "0")),
        lambda event, _: fan_out_webhooks(event, lambda_context("fan_out_webhooks")),
    )
    # That reader judges detractors too (app.fan_out_webhooks): the alerts need no reader of their own.
    alerts = start_alerts(evaluate_alerts, f"http://127.0.0.1:{port}/dashboard", read_stream=False)
    smtp = start_smtp(receive_email)
    demo_pull = start_demo_pull(pull_reviews)
    mail_address = mail_source.settings["recipients"]
    # Answers as the deployed API does, errors included (http_server.py); its request log names routes only.
    server = LocalApiServer(app, "127.0.0.1", port)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Ctrl-C too, explicitly: a process started in the background by a non-interactive shell inherits SIGINT
    # ignored, and Python then installs no handler of its own (so `make run &` would never stop on SIGINT).
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    base = f"http://127.0.0.1:{port}"
    try:
        demo = serve_demo(base, form.form_id, int(os.environ.get("DEMO_PORT", str(port + 1))))
    except OSError:  # the default port is taken: any free one
        demo = serve_demo(base, form.form_id, 0)
    demo_url = f"http://127.0.0.1:{demo.server_address[1]}"
    source_lines = "".join(
        f"    {source.source_id:20} {base}/webhooks/{source.source_id}\n" for source in demo_sources
    )
    print(
        "\nFeedback collector running locally\n"
        f"  API:        {base}  (its routes: openapi.yaml; nothing answers at / itself)\n"
        f"  Demo form:  {form.form_id}  (POST {base}/forms/{form.form_id}/responses)\n"
        f"  Widget:     {demo_url}/  (a demo site on another origin; inline form: {demo_url}/inline)\n"
        f"  Hosted:     {base}/f/{form.form_id}\n"
        f'  CLI:        {cli_command()} <group> … --local  ("cli" below; --help lists the groups)\n'
        f"  Dashboard:  {base}/dashboard#token={read_token}\n"
        f"  Themes:     {len(taxonomy.active())} (version {taxonomy.version}; cli themes list --local)\n"
        f"  Demo webhook sources (secrets: cli sources show <id> --local --reveal):\n{source_lines}"
        f"  Webhooks:   demo subscription {outbound.demo_subscription_id} → a receiver printing each event"
        " (cli subscriptions list --local)\n"
        "  Alerts:     demo rules (a negative spike, detractors) → a Slack-style receiver printing each"
        " message (cli alerts list --local)\n"
        f"  CRM:        demo HubSpot (local fake) {crm.hubspot.url}, connection {crm.connection_id}: each"
        " note it receives is printed (cli crm list --local)\n"
        f"              demo Salesforce (local fake) {crm.salesforce.url}, connection"
        f" {crm.salesforce_connection_id}: each Task it receives is printed\n"
        f"  E-mail:     smtp://{smtp.host}:{smtp.port}  (feedback to {mail_address}; README, E-mail)\n"
        f"  Reviews:    {demo_pull.source.source_id} pulls a fake Google Play at {demo_pull.fake_url}"
        " (cli sources pull demo-google_play --local; README, Pulled reviews)\n"
        f"  AWS (moto): {os.environ['AWS_ENDPOINT_URL']}  table={resources.table_name}"
        f"  bucket={resources.bucket_name}\n"
        "  Try:\n"
        f"    curl -X POST {base}/forms/{form.form_id}/responses -H 'content-type: application/json' \\\n"
        """      -d '{"rating": 9, "comment": "Love the new app!", "email": "a@example.com"}'\n"""
        f"    swaks --server {smtp.host}:{smtp.port} --to {mail_address} --body 'The app keeps crashing'"
        "  # without swaks: Python's smtplib (README, E-mail)\n"
        f"    {cli_command()} feedback list --local\n"
        "  Ctrl-C stops everything.\n"
        f"Serving on {base}",
        flush=True,
    )
    try:
        server.serve_forever()  # returns on Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        print("\nStopping…", flush=True)
        # Side by side: each waits for its batch in hand, so one after another the waits would add up.
        services = (poller, scheduler, outbound, alerts, crm, smtp, demo_pull)
        with ThreadPoolExecutor(max_workers=len(services)) as stopping:
            list(stopping.map(lambda service: service.stop(), services))
        demo.shutdown()
        moto.stop()
    return 0


if __name__ == "__main__":
    quiet_noise()
    sys.exit(main())
