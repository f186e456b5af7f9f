"""What each Lambda function may do: one role per function, each statement naming the calls it allows.

Chalice's policy generation is off (`autogen_policy: false` in .chalice/config.json) and the functions run
with the roles below (`manage_iam_role: false`). Every statement lists the code path that needs it; when
the code starts calling something new, the function fails with AccessDenied until a statement is added
here (tests/test_infra_security.py checks that no statement grants `*` actions, and that `*` resources are
limited to the calls AWS offers no resource-level permission for).

DynamoDB transactions have no IAM action of their own: TransactWriteItems is authorized per item as PutItem,
UpdateItem, DeleteItem or ConditionCheckItem. SendMessageBatch is authorized as sqs:SendMessage.
SecureString parameters use the AWS-managed `aws/ssm` key, whose key policy lets any principal of the
account decrypt through SSM: no kms statement is needed (a customer-managed key would need kms:Decrypt here).
Bedrock's Converse is authorized as bedrock:InvokeModel, on the model (or inference profile) it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_iam as iam

from chalicelib.store.schema import CUSTOMER_INDEX, DAY_INDEX, NEGATIVE_INDEX
from infra import regions

# Logical ids of the functions in the template `chalice package` generates for app.py.
API_HANDLER = "APIHandler"
ANALYZE = "Analyze"
NIGHTLY_EXPORT = "NightlyExport"
BEARER = "Bearer"
FAN_OUT_WEBHOOKS = "FanOutWebhooks"
DELIVER_WEBHOOKS = "DeliverWebhooks"
RECEIVE_EMAIL = "ReceiveEmail"
ON_DEPLOY = "OnDeploy"
PULL_REVIEWS = "PullReviews"
EVALUATE_ALERTS = "EvaluateAlerts"
SYNC_CRM = "SyncCrm"
FUNCTIONS = (
    API_HANDLER,
    ANALYZE,
    NIGHTLY_EXPORT,
    BEARER,
    FAN_OUT_WEBHOOKS,
    DELIVER_WEBHOOKS,
    RECEIVE_EMAIL,
    ON_DEPLOY,
    PULL_REVIEWS,
    EVALUATE_ALERTS,
    SYNC_CRM,
)

# Calls whose IAM actions have no resource type at all, so the only possible Resource is "*":
# - Comprehend's built-in detect APIs work on the text sent, not on an AWS resource;
# - X-Ray's trace upload (Lambda active tracing, `xray: true` in .chalice/config.json).
COMPREHEND_DETECT_ACTIONS = (
    "comprehend:BatchDetectDominantLanguage",  # analysis/comprehend.py: texts of no declared language
    "comprehend:BatchDetectSentiment",  # analysis/comprehend.py: ≤ 25 documents per call
    "comprehend:DetectPiiEntities",  # analysis/redaction/comprehend.py: redaction before the text is stored
)
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
ACTIONS_WITHOUT_RESOURCE_TYPES = frozenset(COMPREHEND_DETECT_ACTIONS + XRAY_ACTIONS)

# The token records the `bearer` authorizer reads live in this partition (store/config_records.py TOKENS).
TOKEN_PARTITION = "TOKEN"  # noqa: S105 - a partition key value, not a secret
EXPORTS_PREFIX = "exports/"
# Raw received mail, written by SES's receipt rule (chalicelib/channels/email/receiving.py DEFAULT_PREFIX).
INBOUND_MAIL_PREFIX = "inbound-mail/"
# Configured sources (store/config_records.py SOURCES): the mail function routes recipients by them.
SOURCE_PARTITION = "SOURCE"
# Export days an erasure marked for the export function to rewrite (chalicelib/export/rewrite.py).
EXPORT_REWRITE_PARTITION = "EXPORT_REWRITE"
# A fanned-out day's parts and its run records (chalicelib/export/fanout.py).
EXPORT_PARTS_PREFIX = "exports/_parts/"
EXPORT_FANOUT_PARTITION = "EXPORT_FANOUT"
# The counters' completeness mark (chalicelib/store/counters.py COMPLETE_KEY).
COUNTERS_MARK_PARTITION = "COUNTERS"
# The theme taxonomy (chalicelib/themes/records.py): the export names each item's themes from it.
THEMES_PARTITION = "THEMES"
# The read API's cursor MAC key, created once by the API itself (chalicelib/read/cursors.py).
SIGNING_KEY_PARTITION = "SIGNING_KEY"
# The day counters `/stats` reads and an erasure moves (chalicelib/store/counters.py).
COUNTER_PARTITIONS = "COUNTER#*"
FEEDBACK_PARTITIONS = "FEEDBACK#*"
# Outbound webhooks (chalicelib/outbound/): subscriptions (config records) and their delivery logs.
SUBSCRIPTION_PARTITION = "SUBSCRIPTION"
# Each pull source's checkpoint and pause (store/config_records.py PULL_STATES, channels/pull/state.py).
PULL_STATE_PARTITION = "PULL"
DELIVERY_LOG_PARTITIONS = "DELIVERY#*"
# Alerts (chalicelib/alerts/): the rules (config records) and each rule's cool-down state.
ALERT_RULE_PARTITION = "ALERT_RULE"
ALERT_STATE_PARTITION = "ALERT_STATE"
# The CRM sync (chalicelib/crm/): its connections (config records) and what it remembers per connection.
CRM_CONNECTION_PARTITION = "CRM"
CRM_LINK_PARTITIONS = "CRMLINK#*"
PROFILE_PARTITIONS = "CUSTOMER#*"


@dataclass(frozen=True)
class BedrockModel:
    """The model the analyze function's Bedrock backends call (settings `bedrock_model_id`), and where from.

    A model id is granted on its foundation-model ARN in the calling region. A cross-Region inference profile
    id needs, as the Bedrock user guide's cross-Region inference pages say, the profile in the calling region
    and the model in the regions it routes to: every Bedrock region of a geographic profile's geography (the
    destinations AWS lists are among them), or the calling region and the region-less ARN for a `global.`
    one; those model grants hold only for calls through that profile (bedrock:InferenceProfileArn).
    """

    model_id: str
    region: str  # where the client calls Bedrock: bedrock_region, else the deploy region
    account: str
    partition: str = "aws"

    @property
    def geography(self) -> str | None:
        return regions.profile_geography(self.model_id)

    @property
    def profile_arn(self) -> str | None:
        if self.geography is None:
            return None
        return f"arn:{self.partition}:bedrock:{self.region}:{self.account}:inference-profile/{self.model_id}"

    def _model_arn(self, region: str, model_id: str) -> str:
        return f"arn:{self.partition}:bedrock:{region}::foundation-model/{model_id}"

    @property
    def foundation_model_arns(self) -> list[str]:
        geography = self.geography
        if geography is None:
            return [self._model_arn(self.region, self.model_id)]
        model_id = self.model_id.split(".", maxsplit=1)[1]
        if geography == regions.GLOBAL_PROFILE:
            return [self._model_arn(self.region, model_id), self._model_arn("", model_id)]
        return [self._model_arn(region, model_id) for region in regions.geography_regions(geography)]


@dataclass(frozen=True)
class Targets:
    """The ARNs the statements point at."""

    table_arn: str
    queue_arn: str
    bucket_arn: str
    source_secrets_arn: str  # arn:…:parameter/feedback/<stage>/sources/* (SecureStrings the CLI writes)
    export_function_arn: str  # the NightlyExport function, which an erasure invokes to rewrite export days
    bedrock_model: BedrockModel | None = None  # only when analyzer or theme_tagger is bedrock
    webhook_queue_arn: str = ""  # the outbound webhooks' delivery queue
    table_stream_arn: str = ""  # the table's stream, read by the fan-out function
    subscription_secrets_arn: str = ""  # arn:…:parameter/feedback/<stage>/subscriptions/*
    # The default EventBridge bus: the export function's on-failure destination (infra/monitoring.py).
    default_event_bus_arn: str = ""
    alert_secrets_arn: str = ""  # arn:…:parameter/feedback/<stage>/alerts/* (rules' Slack webhook URLs)
    alerts_topic_arn: str = ""  # the SNS topic alerts are e-mailed through
    crm_queue_arn: str = ""  # the CRM sync's queue
    crm_secrets_arn: str = ""  # arn:…:parameter/feedback/<stage>/crm/*

    def index_arn(self, index: str) -> str:
        return f"{self.table_arn}/index/{index}"

    @property
    def exports_objects_arn(self) -> str:
        return f"{self.bucket_arn}/{EXPORTS_PREFIX}*"

    @property
    def export_parts_objects_arn(self) -> str:
        return f"{self.bucket_arn}/{EXPORT_PARTS_PREFIX}*"

    @property
    def inbound_mail_objects_arn(self) -> str:
        return f"{self.bucket_arn}/{INBOUND_MAIL_PREFIX}*"


def _statement(
    sid: str, actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid, effect=iam.Effect.ALLOW, actions=actions, resources=resources, conditions=conditions
    )


def _log_and_trace(log_group_arn: str) -> list[iam.PolicyStatement]:
    return [
        # The function's own log group, created by the stack with a retention (no logs:CreateLogGroup).
        _statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group_arn]),
        # X-Ray actions have no resource type: "*" is the only value IAM accepts.
        _statement("UploadTraces", list(XRAY_ACTIONS), ["*"]),
    ]


def _invoke_bedrock(model: BedrockModel | None) -> list[iam.PolicyStatement]:
    """analysis/themes/bedrock.py: one Converse request per batch (authorized as bedrock:InvokeModel)."""
    if model is None:
        return []
    if model.profile_arn is None:
        return [_statement("InvokeBedrockModel", ["bedrock:InvokeModel"], model.foundation_model_arns)]
    return [
        _statement("InvokeBedrockProfile", ["bedrock:InvokeModel"], [model.profile_arn]),
        _statement(
            "InvokeBedrockModelThroughProfile",
            ["bedrock:InvokeModel"],
            model.foundation_model_arns,
            conditions={"StringEquals": {"bedrock:InferenceProfileArn": model.profile_arn}},
        ),
    ]


def api_handler(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The API Lambda: forms, webhooks, read API, exports API and erasure (DELETE /customers/{id})."""
    return [
        # queue.enqueue: SendMessage / SendMessageBatch (the URL comes from INGEST_QUEUE_URL, no GetQueueUrl).
        _statement("EnqueueDeliveries", ["sqs:SendMessage"], [targets.queue_arn]),
        _statement(
            "ReadAndEraseItems",
            [
                # form/source config records, customer profile (store/dynamo.get_item), a pending export
                # rewrite (GET /exports/{date}: export/rewrite.is_pending)
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",  # POST /customers/search, GET /customers?email= (lookup_identities)
                # erasure: deletes, the export days it marks for rewriting, the erasure log entry (privacy.py)
                "dynamodb:BatchWriteItem",
            ],
            [targets.table_arn],
        ),
        _statement(
            "QueryIndexes",
            ["dynamodb:Query"],
            [
                targets.index_arn(DAY_INDEX),  # GET /feedback?date=…
                targets.index_arn(CUSTOMER_INDEX),  # GET /customers/{id}, ?customer_id=, erasure
                targets.index_arn(NEGATIVE_INDEX),  # GET /stats: the newest negatives (counters.py)
            ],
        ),
        # Erasure (store/feedback_delete.py): TransactWriteItems deleting each feedback item and updating its
        # day's counter item, in those partitions only.
        _statement(
            "EraseCountedFeedback",
            ["dynamodb:DeleteItem", "dynamodb:UpdateItem"],
            [targets.table_arn],
            conditions={
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [FEEDBACK_PARTITIONS, COUNTER_PARTITIONS]}
            },
        ),
        # store/signing_keys.cursor_key: the first cursor the API issues creates the MAC key (a conditional
        # PutItem), in its own partition only.
        _statement(
            "CreateCursorKey",
            ["dynamodb:PutItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SIGNING_KEY_PARTITION]}},
        ),
        # sources.secrets_cached: GetParametersByPath under {PARAMETER_PREFIX}/sources/{source_id}.
        _statement("ReadSourceSecrets", ["ssm:GetParametersByPath"], [targets.source_secrets_arn]),
        # exports_api: the manifest (GetObject) and presigned GET links (signed with this role);
        # privacy._exported: HeadObject (authorized as GetObject).
        _statement("ReadExports", ["s3:GetObject"], [targets.exports_objects_arn]),
        # GET /subscriptions/{id}/deliveries (outbound/deliveries.recent): the subscription's log partition.
        _statement(
            "ReadDeliveryLogs",
            ["dynamodb:Query"],
            [targets.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [DELIVERY_LOG_PARTITIONS]}},
        ),
        # Without ListBucket S3 answers a missing manifest 403, not 404 (exports_api.read_manifest).
        _statement("TellMissingExports", ["s3:ListBucket"], [targets.bucket_arn]),
        # Erasure: export/rewrite._dispatch invokes the export function asynchronously (InvocationType=Event)
        # to rewrite the export days that held the customer; this function writes no export file itself.
        _statement("InvokeExportRewrite", ["lambda:InvokeFunction"], [targets.export_function_arn]),
        *_log_and_trace(log_group_arn),
    ]


def analyze(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The SQS-triggered analyze Lambda: Comprehend, identity resolution and the transactional write."""
    return [
        # The event source mapping polls with the function's role (Lambda's documented minimum for SQS).
        _statement(
            "ConsumeIngestQueue",
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            [targets.queue_arn],
        ),
        _statement(
            "StoreFeedback",
            [
                "dynamodb:GetItem",  # form/source configs (redaction setting), profiles when merging
                "dynamodb:BatchGetItem",  # identities.lookup_identities
                "dynamodb:PutItem",  # TransactWriteItems: conditional feedback and identity Puts
                "dynamodb:UpdateItem",  # TransactWriteItems: profile aggregates, merge tombstones
                "dynamodb:BatchWriteItem",  # merge.merge: moved identities and feedback
            ],
            [targets.table_arn],
        ),
        # merge.merge reads the absorbed customer's partition through the customer index.
        _statement("QueryCustomerIndex", ["dynamodb:Query"], [targets.index_arn(CUSTOMER_INDEX)]),
        # Comprehend's built-in detect APIs have no resource type: "*" is the only value IAM accepts.
        _statement("DetectSentimentAndPii", list(COMPREHEND_DETECT_ACTIONS), ["*"]),
        *_invoke_bedrock(targets.bedrock_model),
        *_log_and_trace(log_group_arn),
    ]


def nightly_export(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The scheduled export: one day through the per-day index, files to S3 under exports/."""
    return [
        # feedback.list_day: one paginated Query per DAY#… shard, never a Scan.
        _statement("ReadDayIndex", ["dynamodb:Query"], [targets.index_arn(DAY_INDEX)]),
        # contacts.csv joins each item's customer profile (BatchGetItem, 100 keys a call).
        _statement("ReadProfiles", ["dynamodb:BatchGetItem"], [targets.table_arn]),
        # export/rewrite.rewrite_pending: the export days erasures marked (pk = EXPORT_REWRITE), read and
        # then deleted once rewritten (a conditional DeleteItem: a day marked again meanwhile stays).
        _statement(
            "TakeScheduledRewrites",
            ["dynamodb:Query", "dynamodb:DeleteItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [EXPORT_REWRITE_PARTITION]}},
        ),
        # export/base.ThemeNames: the taxonomy record (one GetItem, cached), to name the exported themes.
        _statement(
            "ReadTaxonomy",
            ["dynamodb:GetItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [THEMES_PARTITION]}},
        ),
        _statement(
            "WriteExports", ["s3:PutObject", "s3:AbortMultipartUpload"], [targets.exports_objects_arn]
        ),
        # export/fanout: a busy day's slices write parts under exports/_parts/, which the combining step reads
        # (and S3 copies: UploadPartCopy reads its source as GetObject), then deletes.
        _statement(
            "CombineExportParts", ["s3:GetObject", "s3:DeleteObject"], [targets.export_parts_objects_arn]
        ),
        # export/fanout: each fanned-out day's run record (pk = EXPORT_FANOUT): created by the nightly run,
        # each slice added to it as it completes, read to name the slices missing.
        _statement(
            "TrackExportSlices",
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [EXPORT_FANOUT_PARTITION]}},
        ),
        # Lambda sends the record of an asynchronous invocation it gave up (a slice killed by its timeout or
        # memory) to the on-failure destination with the function's role (monitoring.export_step_failures).
        _statement("SendGivenUpInvocations", ["events:PutEvents"], [targets.default_event_bus_arn]),
        # store/counters.mark_complete_if_unset: the nightly run marks the counters complete from tomorrow
        # where no mark exists (one conditional UpdateItem; it never moves a mark).
        _statement(
            "MarkCountersComplete",
            ["dynamodb:UpdateItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [COUNTERS_MARK_PARTITION]}},
        ),
        *_log_and_trace(log_group_arn),
    ]


def nightly_export_invocations(targets: Targets) -> list[iam.PolicyStatement]:
    """The export function starting itself asynchronously: the nightly run hands erasure rewrites to an
    invocation of their own, and a rewrite invocation out of time hands on the days left
    (export/rewrite.hand_off_rewrites, run_rewrites). A policy of its own, attached to the function's role
    (the role's inline policy cannot name the function that depends on the role)."""
    return [_statement("InvokeItself", ["lambda:InvokeFunction"], [targets.export_function_arn])]


def bearer(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The `bearer` authorizer: reads token records (pk = TOKEN) and nothing else."""
    return [
        _statement(
            "ReadTokenRecords",
            ["dynamodb:GetItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [TOKEN_PARTITION]}},
        ),
        *_log_and_trace(log_group_arn),
    ]


def fan_out_webhooks(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The stream function: reads the table's stream, the subscriptions, and queues deliveries."""
    return [
        # The event source mapping reads the stream with the function's role (Lambda's documented minimum).
        _statement(
            "ReadTableStream",
            [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            [targets.table_stream_arn],
        ),
        # subscriptions.list_cached: one Query of the SUBSCRIPTION partition per cache age.
        _statement(
            "ReadSubscriptions",
            ["dynamodb:Query"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SUBSCRIPTION_PARTITION]}},
        ),
        # fanout.enqueue: SendMessageBatch (authorized as SendMessage).
        _statement("QueueDeliveries", ["sqs:SendMessage"], [targets.webhook_queue_arn]),
        # alerts/detractors: the detractor rules (one Query of their partition per cache age) …
        _statement(
            "ReadAlertRules",
            ["dynamodb:Query"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [ALERT_RULE_PARTITION]}},
        ),
        # The stream's CRM work (app.fan_out_webhooks → crm/queue.forward_stream_batch): whether a CRM
        # connection exists (one Query of the CRM partition per cache age), and SendMessageBatch.
        _statement(
            "ReadCrmConnections",
            ["dynamodb:Query"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [CRM_CONNECTION_PARTITION]}},
        ),
        _statement("QueueCrmWork", ["sqs:SendMessage"], [targets.crm_queue_arn]),
        *_notify_alerts(targets),
        *_log_and_trace(log_group_arn),
    ]


def _notify_alerts(targets: Targets) -> list[iam.PolicyStatement]:
    """What sending a fired alert takes: its cool-down claimed, the rule's Slack URL, the e-mail topic."""
    return [
        # alerts/cooldown.claim: one conditional PutItem in the cool-down partition.
        _statement(
            "ClaimAlertCooldowns",
            ["dynamodb:PutItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [ALERT_STATE_PARTITION]}},
        ),
        # alerts/rules.slack_url: GetParameter of {PARAMETER_PREFIX}/alerts/{rule_id}/slack-webhook-url.
        _statement("ReadSlackWebhookUrls", ["ssm:GetParameter"], [targets.alert_secrets_arn]),
        # alerts/notify/sns: one Publish per alert that e-mails.
        _statement("PublishAlerts", ["sns:Publish"], [targets.alerts_topic_arn]),
    ]


def evaluate_alerts(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The scheduled evaluator: the rules, the hour counters, a fired slice's items, and its notifications."""
    return [
        # rules.list_all (ALERT_RULE) and, for alert.triggered, subscriptions.list_cached (SUBSCRIPTION).
        _statement(
            "ReadRulesAndSubscriptions",
            ["dynamodb:Query"],
            [targets.table_arn],
            conditions={
                "ForAllValues:StringEquals": {
                    "dynamodb:LeadingKeys": [ALERT_RULE_PARTITION, SUBSCRIPTION_PARTITION]
                }
            },
        ),
        # counters.read_hours: BatchGetItem of the hour counter items, in the counter partitions only.
        _statement(
            "ReadHourCounters",
            ["dynamodb:BatchGetItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [COUNTER_PARTITIONS]}},
        ),
        # alerts/samples: a fired slice's items of the window, through the per-day index.
        _statement("ReadWindowItems", ["dynamodb:Query"], [targets.index_arn(DAY_INDEX)]),
        # alerts/notify/webhook: alert.triggered queued for the subscriptions (SendMessageBatch).
        _statement("QueueAlertEvents", ["sqs:SendMessage"], [targets.webhook_queue_arn]),
        *_notify_alerts(targets),
        *_log_and_trace(log_group_arn),
    ]


def deliver_webhooks(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The delivery worker: its queue, the subscriptions and their secrets, the delivery log."""
    return [
        # The event source mapping polls with the function's role; ChangeMessageVisibility schedules retries.
        _statement(
            "ConsumeWebhookQueue",
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility",
            ],
            [targets.webhook_queue_arn],
        ),
        # subscriptions.get_cached/get_fresh (GetItem), save when pausing a dead endpoint (BatchWriteItem).
        _statement(
            "ReadAndPauseSubscriptions",
            ["dynamodb:GetItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SUBSCRIPTION_PARTITION]}},
        ),
        # deliveries.record (PutItem) and delivered_since (Query), in the delivery log partitions only.
        _statement(
            "WriteDeliveryLogs",
            ["dynamodb:PutItem", "dynamodb:Query"],
            [targets.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [DELIVERY_LOG_PARTITIONS]}},
        ),
        # subscriptions.signing_secrets: GetParametersByPath under {PARAMETER_PREFIX}/subscriptions/{id}.
        _statement("ReadSigningSecrets", ["ssm:GetParametersByPath"], [targets.subscription_secrets_arn]),
        *_log_and_trace(log_group_arn),
    ]


def receive_email(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The mail function SES's receipt rule invokes: the raw mail from S3, the sources, one SQS send."""
    return [
        # receiving.read_from_s3: the object SES's S3 action wrote under inbound-mail/.
        _statement("ReadInboundMail", ["s3:GetObject"], [targets.inbound_mail_objects_arn]),
        # sources.list_cached: one Query of the SOURCE partition when the cache is cold or stale.
        _statement(
            "ListSources",
            ["dynamodb:Query"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SOURCE_PARTITION]}},
        ),
        # queue.enqueue: one SendMessage (or SendMessageBatch) per mail.
        _statement("EnqueueMail", ["sqs:SendMessage"], [targets.queue_arn]),
        *_log_and_trace(log_group_arn),
    ]


def on_deploy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The custom resource CloudFormation creates at deploy time (operations/deploy_hooks.py)."""
    return [
        # counters.mark_complete_if_unset: one conditional UpdateItem of the completeness mark.
        _statement(
            "MarkCountersComplete",
            ["dynamodb:UpdateItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [COUNTERS_MARK_PARTITION]}},
        ),
        *_log_and_trace(log_group_arn),
    ]


def pull_reviews(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The scheduled pull: the sources and their checkpoints, the sources' secrets, one SQS send a page."""
    return [
        # sources.list_all and state.load_all: one Query of each partition per run.
        _statement(
            "ListSourcesAndCheckpoints",
            ["dynamodb:Query"],
            [targets.table_arn],
            conditions={
                "ForAllValues:StringEquals": {
                    "dynamodb:LeadingKeys": [SOURCE_PARTITION, PULL_STATE_PARTITION]
                }
            },
        ),
        # state.save: one conditional PutItem per source and run, in the PULL partition only.
        _statement(
            "SaveCheckpoints",
            ["dynamodb:PutItem"],
            [targets.table_arn],
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [PULL_STATE_PARTITION]}},
        ),
        # sources.secrets_cached: GetParametersByPath under {PARAMETER_PREFIX}/sources/{source_id}.
        _statement("ReadSourceSecrets", ["ssm:GetParametersByPath"], [targets.source_secrets_arn]),
        # scheduler.queue_events: SendMessage / SendMessageBatch, one request per page of reviews.
        _statement("EnqueueReviews", ["sqs:SendMessage"], [targets.queue_arn]),
        *_log_and_trace(log_group_arn),
    ]


def sync_crm(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The CRM consumer: its queue, the connections and their secrets, the items and profiles it syncs,
    and its links (no Scan, no other partition)."""
    return [
        # The event source mapping polls with the function's role.
        _statement(
            "ConsumeCrmQueue",
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility",
            ],
            [targets.crm_queue_arn],
        ),
        # connections.list_all (Query), set_status when credentials are refused (BatchWriteItem); the links
        # (crm_links: BatchGetItem, BatchWriteItem).
        _statement(
            "ConnectionsAndLinks",
            ["dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
            [targets.table_arn],
            conditions={
                "ForAllValues:StringLike": {
                    "dynamodb:LeadingKeys": [CRM_CONNECTION_PARTITION, CRM_LINK_PARTITIONS]
                }
            },
        ),
        # consumer.read_items (the items as stored now) and the profiles the contacts are written from.
        _statement(
            "ReadItemsAndProfiles",
            ["dynamodb:BatchGetItem"],
            [targets.table_arn],
            conditions={
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [FEEDBACK_PARTITIONS, PROFILE_PARTITIONS]}
            },
        ),
        # connections.secret: GetParametersByPath under {PARAMETER_PREFIX}/crm/{connection_id}.
        _statement("ReadCrmCredentials", ["ssm:GetParametersByPath"], [targets.crm_secrets_arn]),
        *_log_and_trace(log_group_arn),
    ]


POLICIES = {
    API_HANDLER: api_handler,
    ANALYZE: analyze,
    NIGHTLY_EXPORT: nightly_export,
    BEARER: bearer,
    FAN_OUT_WEBHOOKS: fan_out_webhooks,
    DELIVER_WEBHOOKS: deliver_webhooks,
    RECEIVE_EMAIL: receive_email,
    ON_DEPLOY: on_deploy,
    PULL_REVIEWS: pull_reviews,
    EVALUATE_ALERTS: evaluate_alerts,
    SYNC_CRM: sync_crm,
}
