"""Chalice app: wires Blueprints, middleware and event handlers. The logic lives in chalicelib/."""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, ConvertToMiddleware, Cron
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib.auth.authorizer import auth_api
from chalicelib.channels.routes import webhooks_api
from chalicelib.export.listing_csv import listing_csv_api
from chalicelib.export.routes import exports_api
from chalicelib.forms.routes import forms_api
from chalicelib.observability import logger, metrics, trace_invocation
from chalicelib.privacy.routes import privacy_api
from chalicelib.read.routes import read_api
from chalicelib.themes.routes import themes_api
from chalicelib.web.routes import web_api

app = Chalice(app_name="feedback-collector")
app.register_blueprint(forms_api)
app.register_blueprint(webhooks_api)
app.register_blueprint(auth_api)  # the `bearer` built-in authorizer the read routes use
app.register_blueprint(exports_api)
app.register_blueprint(listing_csv_api)  # GET /feedback.csv
app.register_blueprint(read_api)  # and GET /stats
app.register_blueprint(privacy_api)  # DELETE /customers/{id}
app.register_blueprint(themes_api)  # GET /themes
app.register_blueprint(web_api)  # /widget.js, /f/{form_id}, /dashboard

# Powertools through Chalice middleware, as Chalice's documentation shows: structured JSON logs with the
# Lambda context, EMF metrics flushed per invocation, X-Ray tracing (off outside Lambda; the Tracer is built
# by the first traced invocation). Whatever the environment says, no request, response or exception message
# is logged or traced (observability.py).
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True, log_event=False)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_middleware(ConvertToMiddleware(trace_invocation))

INGEST_QUEUE_NAME = os.environ.get("INGEST_QUEUE_NAME", "feedback-ingest-dev")


@app.on_sqs_message(queue=INGEST_QUEUE_NAME, batch_size=25, maximum_batching_window_in_seconds=5)
def analyze(event: SQSEvent) -> dict[str, Any]:
    """Analyze and store a batch of queued deliveries; reports per-record failures."""
    from chalicelib.ingest import processing  # imported by the function that runs it (cold start)

    return processing.handle_sqs_batch(event.to_dict(), event.context)


@app.schedule(Cron(15, 2, "*", "*", "?", "*"), name="nightly_export")
def nightly_export(event: CloudWatchEvent) -> dict[str, Any]:
    """At 02:15 UTC, export the previous UTC day (a busy day fanned out over invocations of this function,
    one per slice, then combined), then hand the days erasures left pending to a rewrite invocation. An
    erasure invokes it too, asynchronously, to rewrite the export days that held the customer."""
    from chalicelib.export import rewrite  # imported by the function that runs it (cold start)

    return rewrite.run_export_function(event.to_dict(), rewrite.remaining_time(event.context))


@app.lambda_function(name="receive_email")
def receive_email(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SES's receipt rule invokes this after its S3 action stored a mail: route, check, parse and queue it
    (an S3 or SQS failure raises, so Lambda retries the invocation)."""
    from chalicelib.channels.email import receiving  # imported by the function that runs it (cold start)

    outcomes = receiving.handle_ses_event(event)
    return {"mails": len(outcomes), "queued": sum(len(outcome.queued) for outcome in outcomes)}
