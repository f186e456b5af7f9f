"""Chalice app: wires Blueprints, middleware and event handlers. The logic lives in chalicelib/."""

from __future__ import annotations

import gc
import os
from typing import Any

# Lambda imports this file once per cold start (INIT). The cyclic garbage collector is paused meanwhile (its
# passes would walk every object chalice, boto3 and pydantic build, many times over) and what the imports
# built is frozen out of later passes at the end of this file (gc.freeze): it lives as long as the function.
_COLLECTOR_WAS_ON = gc.isenabled()
gc.disable()

from chalice import Chalice, ConvertToMiddleware, Cron, Rate  # noqa: E402 - imported with the collector paused
from chalice.app import CloudWatchEvent, DynamoDBEvent, SQSEvent  # noqa: E402

from chalicelib.ingest import ANALYZE_BATCH_SIZE  # noqa: E402 - a constant (the package's __init__ only)
from chalicelib.observability import cold_start_imports, logger, metrics, trace_invocation  # noqa: E402

app = Chalice(app_name="feedback-collector")
# The functions of event handlers: Lambda names the handler a function runs in _HANDLER (a reserved variable).
# They serve no route, so they import none of the route modules at INIT; every other function (the API, the
# authorizer) and `chalice package`, which reads the routes, register them all.
EVENT_HANDLERS = frozenset(
    {
        "app.analyze",
        "app.nightly_export",
        "app.fan_out_webhooks",
        "app.deliver_webhooks",
        "app.receive_email",
        "app.on_deploy",
        "app.pull_reviews",
        "app.evaluate_alerts",
        "app.sync_crm",
    }
)


def register_routes(chalice_app: Chalice) -> None:
    from chalicelib.auth.authorizer import auth_api
    from chalicelib.channels.routes import webhooks_api
    from chalicelib.export.listing_csv import listing_csv_api
    from chalicelib.export.routes import exports_api
    from chalicelib.forms.routes import forms_api
    from chalicelib.outbound.routes import subscriptions_api
    from chalicelib.privacy.routes import privacy_api
    from chalicelib.read.routes import read_api
    from chalicelib.themes.routes import themes_api
    from chalicelib.web.routes import web_api

    chalice_app.register_blueprint(forms_api)
    chalice_app.register_blueprint(webhooks_api)
    chalice_app.register_blueprint(auth_api)  # the `bearer` built-in authorizer the read routes use
    chalice_app.register_blueprint(exports_api)
    chalice_app.register_blueprint(listing_csv_api)  # GET /feedback.csv
    chalice_app.register_blueprint(read_api)  # and GET /stats
    chalice_app.register_blueprint(privacy_api)  # DELETE /customers/{id}
    chalice_app.register_blueprint(themes_api)  # GET /themes
    chalice_app.register_blueprint(web_api)  # /widget.js, /f/{form_id}, /dashboard
    chalice_app.register_blueprint(subscriptions_api)  # GET /subscriptions/{id}/deliveries


if os.environ.get("_HANDLER") not in EVENT_HANDLERS:
    register_routes(app)

# Powertools through Chalice middleware, as Chalice's documentation shows: structured JSON logs with the
# Lambda context, EMF metrics flushed per invocation, X-Ray tracing (off outside Lambda; the Tracer is built
# by the first traced invocation). Whatever the environment says, no request, response or exception message
# is logged or traced (observability.py).
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True, log_event=False)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_middleware(ConvertToMiddleware(trace_invocation))

INGEST_QUEUE_NAME = os.environ.get("INGEST_QUEUE_NAME", "feedback-ingest-dev")
# The outbound webhooks' event sources; the deployed stack points them at its own stream and queue by ARN
# (infra/outbound.py), whatever these say when `chalice package` imports this file.
TABLE_STREAM_ARN = os.environ.get(
    "TABLE_STREAM_ARN",
    "arn:aws:dynamodb:us-east-1:123456789012:table/feedback-dev/stream/1970-01-01T00:00:00.000",
)
WEBHOOK_QUEUE_NAME = os.environ.get("WEBHOOK_QUEUE_NAME", "feedback-webhooks-dev")
CRM_QUEUE_NAME = os.environ.get("CRM_QUEUE_NAME", "feedback-crm-dev")  # infra/crm.py points it by ARN


@app.on_sqs_message(
    queue=INGEST_QUEUE_NAME, batch_size=ANALYZE_BATCH_SIZE, maximum_batching_window_in_seconds=5
)
def analyze(event: SQSEvent) -> dict[str, Any]:
    """Analyze and store a batch of queued deliveries; reports per-record failures."""
    with cold_start_imports():
        from chalicelib.ingest import processing  # imported by the function that runs it (cold start)

    return processing.handle_sqs_batch(event.to_dict(), event.context)


@app.on_dynamodb_record(stream_arn=TABLE_STREAM_ARN, batch_size=100, starting_position="LATEST")
def fan_out_webhooks(event: DynamoDBEvent) -> dict[str, Any]:
    """From the table's stream: queue one delivery per stored event and subscription that wants it, and
    alert on each stored detractor (the alert rules' detractor kind), and queue the CRM sync's work (stored
    items, merges, erasures) when a CRM connection exists. One reader of the stream for all three: AWS advises
    at most two per shard."""
    with cold_start_imports():
        from chalicelib.alerts import detractors  # imported by the function that runs it (cold start)
        from chalicelib.crm import queue as crm_queue
        from chalicelib.outbound import fanout

    records = event.to_dict()
    outcome = fanout.handle_stream_batch(records, event.context)
    return {
        **outcome,
        "detractor_alerts": detractors.handle_stream_batch(records),
        "crm_queued": crm_queue.forward_stream_batch(records),
    }


@app.on_sqs_message(queue=CRM_QUEUE_NAME, batch_size=100, maximum_batching_window_in_seconds=10)
def sync_crm(event: SQSEvent) -> dict[str, Any]:
    """Sync, merge and erase in the CRMs what the stream queued; reports per-message failures."""
    from chalicelib.crm import consumer  # imported by the function that runs it (cold start)
    from chalicelib.ingest.batch import partial_batch_response

    return partial_batch_response(event.to_dict(), consumer.decide_batch, event.context)


@app.on_sqs_message(queue=WEBHOOK_QUEUE_NAME, batch_size=5)
def deliver_webhooks(event: SQSEvent) -> dict[str, Any]:
    """POST each queued delivery, signed; a failed one comes back on the retry schedule."""
    with cold_start_imports():
        from chalicelib.outbound import delivery  # imported by the function that runs it (cold start)

    return delivery.handle_sqs_batch(event.to_dict(), event.context)


@app.schedule(Cron(15, 2, "*", "*", "?", "*"), name="nightly_export")
def nightly_export(event: CloudWatchEvent) -> dict[str, Any]:
    """At 02:15 UTC, export the previous UTC day (a busy day fanned out over invocations of this function,
    one per slice, then combined), then hand the days erasures left pending to a rewrite invocation. An
    erasure invokes it too, asynchronously, to rewrite the export days that held the customer."""
    with cold_start_imports():
        from chalicelib.export import rewrite  # imported by the function that runs it (cold start)

    return rewrite.run_export_function(event.to_dict(), rewrite.remaining_time(event.context))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="evaluate_alerts")
def evaluate_alerts(event: CloudWatchEvent) -> dict[str, Any]:
    """Every 5 minutes: the spike and silence alert rules against the per-hour counters."""
    from chalicelib.alerts import evaluator  # imported by the function that runs it (cold start)

    return evaluator.handle_schedule(event.to_dict(), event.context)


@app.lambda_function(name="receive_email")
def receive_email(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SES's receipt rule invokes this after its S3 action stored a mail: route, check, parse and queue it
    (an S3 or SQS failure raises, so Lambda retries the invocation)."""
    with cold_start_imports():
        from chalicelib.channels.email import receiving  # imported by the function that runs it (cold start)

    outcomes = receiving.handle_ses_event(event)
    return {"mails": len(outcomes), "queued": sum(len(outcome.queued) for outcome in outcomes)}


@app.lambda_function(name="on_deploy")
def on_deploy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """CloudFormation's custom resource request at deploy time: mark the counters complete from tomorrow."""
    from chalicelib.operations import deploy_hooks  # imported by the function that runs it (cold start)

    return deploy_hooks.handle_custom_resource(event)


@app.schedule(Rate(5, unit=Rate.MINUTES), name="pull_reviews")
def pull_reviews(event: CloudWatchEvent) -> dict[str, Any]:
    """Every 5 minutes: pull the pull sources (Google Play, App Store, Google Business Profile) that are due
    (each every 15 minutes unless its `poll_minutes` says otherwise) and queue their new reviews."""
    from chalicelib.channels.pull import scheduler  # imported by the function that runs it (cold start)

    return scheduler.handle_schedule(event.to_dict(), event.context)


gc.freeze()
if _COLLECTOR_WAS_ON:
    gc.enable()
