"""What each Lambda function may do: one role per function, each statement naming the calls it allows.

Chalice's policy generation is off (`autogen_policy: false` in .chalice/config.json) and the functions run
with the roles infra/stack.py creates (`manage_iam_role: false`), each with the policy stack.POLICIES names
for it. This module holds what every policy uses (the function ids, the ARNs and partitions statements point
at, `statement`, `consume_queue`, `log_and_trace`) and the policies of the functions no room owns: the API,
analyze, the export and the deploy hook. A room's functions have theirs beside the room's infra:
infra/outbound.py (the stream fan-out and the delivery worker), alerts.py, crm.py, pull.py, mail_receiving.py
and gateway.py (the `bearer` authorizer). Every statement lists the code path that needs it; when the code
starts calling something new, the function fails with AccessDenied until a statement is added
(tests/test_infra_security.py checks that no statement grants `*` actions, and that `*` resources are
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
# Form configurations (store/config_records.py FORMS), which PUT / PATCH /forms/{form_id} write.
FORM_PARTITION = "FORM"
# The read API's cursor MAC key, created once by the API itself (chalicelib/read/cursors.py).
SIGNING_KEY_PARTITION = "SIGNING_KEY"
# The day counters `/stats` reads and an erasure moves (chalicelib/store/counters.py).
COUNTER_PARTITIONS = "COUNTER#*"
FEEDBACK_PARTITIONS = "FEEDBACK#*"
# Outbound webhooks (chalicelib/outbound/): subscriptions (config records) and their delivery logs.
SUBSCRIPTION_PARTITION = "SUBSCRIPTION"
DELIVERY_LOG_PARTITIONS = "DELIVERY#*"
# Customers (chalicelib/store/identities.py, profiles.py): each one's profile, and the tombstones and
# redirects a merge leaves, at CUSTOMER#<id>; identity items of tables written before at IDENTITY#<identity>.
CUSTOMER_PARTITIONS = "CUSTOMER#*"
LEGACY_IDENTITY_PARTITIONS = "IDENTITY#*"
# The erasure log (chalicelib/privacy/erasure.py ERASURE): one entry per erased customer, counts only.
ERASURE_LOG_PARTITION = "ERASURE"


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


def statement(
    sid: str,
    actions: list[str],
    resources: list[str],
    conditions: dict[str, Any] | None = None,
    *,
    partitions: list[str] | None = None,
) -> iam.PolicyStatement:
    """An Allow statement; `partitions` limits DynamoDB calls to items whose partition key is one of them
    (dynamodb:LeadingKeys, matched as patterns when one of them has a `*`)."""
    if partitions is not None:
        operator = (
            "ForAllValues:StringLike"
            if any("*" in key for key in partitions)
            else "ForAllValues:StringEquals"
        )
        conditions = {operator: {"dynamodb:LeadingKeys": partitions}}
    return iam.PolicyStatement(
        sid=sid, effect=iam.Effect.ALLOW, actions=actions, resources=resources, conditions=conditions
    )


def consume_queue(sid: str, queue_arn: str, *, change_visibility: bool = False) -> iam.PolicyStatement:
    """What an SQS event source mapping polls with (the function's role, Lambda's documented minimum), and
    ChangeMessageVisibility for a consumer that sets when a failed message comes back."""
    actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    if change_visibility:
        actions.append("sqs:ChangeMessageVisibility")
    return statement(sid, actions, [queue_arn])


def log_and_trace(log_group_arn: str) -> list[iam.PolicyStatement]:
    """What every function's policy ends with: its own log group, and its traces."""
    return [
        # The function's own log group, created by the stack with a retention (no logs:CreateLogGroup).
        statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group_arn]),
        # X-Ray actions have no resource type: "*" is the only value IAM accepts.
        statement("UploadTraces", list(XRAY_ACTIONS), ["*"]),
    ]


def _invoke_bedrock(model: BedrockModel | None) -> list[iam.PolicyStatement]:
    """analysis/themes/bedrock.py: one Converse request per batch (authorized as bedrock:InvokeModel)."""
    if model is None:
        return []
    if model.profile_arn is None:
        return [statement("InvokeBedrockModel", ["bedrock:InvokeModel"], model.foundation_model_arns)]
    return [
        statement("InvokeBedrockProfile", ["bedrock:InvokeModel"], [model.profile_arn]),
        statement(
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
        statement("EnqueueDeliveries", ["sqs:SendMessage"], [targets.queue_arn]),
        # GetItem: form, source, taxonomy and subscription records (store/config_records.py), the cursor key
        # (signing_keys.py), a customer's profile, a feedback item by id, a pending export rewrite (GET
        # /exports/{date}: export/rewrite.is_pending). BatchGetItem: the day counters and their completeness
        # mark (/stats: counters.py), a customer's items by key (customers.py), identities (POST
        # /customers/search: identities.lookup_identities), a listing's items (feedback_pages.py).
        statement(
            "ReadItems",
            ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
            [targets.table_arn],
            partitions=[
                FORM_PARTITION,
                SOURCE_PARTITION,
                THEMES_PARTITION,
                SUBSCRIPTION_PARTITION,
                SIGNING_KEY_PARTITION,
                EXPORT_REWRITE_PARTITION,
                COUNTERS_MARK_PARTITION,
                COUNTER_PARTITIONS,
                CUSTOMER_PARTITIONS,
                LEGACY_IDENTITY_PARTITIONS,
                FEEDBACK_PARTITIONS,
            ],
        ),
        # Erasure (privacy/erasure.py): BatchWriteItem deleting the customer's profiles, redirects and
        # identity items, marking the export days to rewrite (export/rewrite.request_rewrite), logging it.
        statement(
            "EraseCustomers",
            ["dynamodb:BatchWriteItem"],
            [targets.table_arn],
            partitions=[
                CUSTOMER_PARTITIONS,
                LEGACY_IDENTITY_PARTITIONS,
                EXPORT_REWRITE_PARTITION,
                ERASURE_LOG_PARTITION,
            ],
        ),
        statement(
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
        statement(
            "EraseCountedFeedback",
            ["dynamodb:DeleteItem", "dynamodb:UpdateItem"],
            [targets.table_arn],
            partitions=[FEEDBACK_PARTITIONS, COUNTER_PARTITIONS],
        ),
        # store/signing_keys.cursor_key: the first cursor the API issues creates the MAC key (a conditional
        # PutItem), in its own partition only.
        statement(
            "CreateCursorKey",
            ["dynamodb:PutItem"],
            [targets.table_arn],
            partitions=[SIGNING_KEY_PARTITION],
        ),
        # PUT / PATCH /forms/{form_id} (forms/records.save_versioned): a conditional PutItem of the form's
        # config record, in the forms' partition only.
        statement(
            "SaveFormConfigs",
            ["dynamodb:PutItem"],
            [targets.table_arn],
            partitions=[FORM_PARTITION],
        ),
        # sources.secrets_cached: GetParametersByPath under {PARAMETER_PREFIX}/sources/{source_id}.
        statement("ReadSourceSecrets", ["ssm:GetParametersByPath"], [targets.source_secrets_arn]),
        # exports_api: the manifest (GetObject) and presigned GET links (signed with this role);
        # privacy._exported: HeadObject (authorized as GetObject).
        statement("ReadExports", ["s3:GetObject"], [targets.exports_objects_arn]),
        # GET /subscriptions/{id}/deliveries (outbound/deliveries.recent): the subscription's log partition.
        statement(
            "ReadDeliveryLogs",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[DELIVERY_LOG_PARTITIONS],
        ),
        # GET /stats (read/stats.name_sources): the forms' and sources' names, one Query of each kind's
        # config records per cache window, in those partitions only.
        statement(
            "ListFormAndSourceNames",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[FORM_PARTITION, SOURCE_PARTITION],
        ),
        # Without ListBucket S3 answers a missing manifest 403, not 404 (exports_api.read_manifest).
        statement("TellMissingExports", ["s3:ListBucket"], [targets.bucket_arn]),
        # Erasure: export/rewrite._dispatch invokes the export function asynchronously (InvocationType=Event)
        # to rewrite the export days that held the customer; this function writes no export file itself.
        statement("InvokeExportRewrite", ["lambda:InvokeFunction"], [targets.export_function_arn]),
        # Erasure (privacy/erasure._delete_raw_mails): the raw mails the customer sent, every version of each
        # (the bucket is versioned: a plain delete would leave the mail as a noncurrent version).
        statement("ListRawMailVersions", ["s3:ListBucketVersions"], [targets.bucket_arn]),
        statement(
            "EraseRawMail",
            ["s3:DeleteObject", "s3:DeleteObjectVersion"],
            [targets.inbound_mail_objects_arn],
        ),
        *log_and_trace(log_group_arn),
    ]


def analyze(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The SQS-triggered analyze Lambda: Comprehend, identity resolution and the transactional write."""
    return [
        consume_queue("ConsumeIngestQueue", targets.queue_arn),
        # GetItem: form and source records (redaction and language settings), the taxonomy (tagging), profiles
        # when merging. BatchGetItem: the batch's stored items and identities (feedback_write.prefetch,
        # identities.lookup_identities), a merged customer's items (customers.customer_items).
        statement(
            "ReadForStoring",
            ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
            [targets.table_arn],
            partitions=[
                FORM_PARTITION,
                SOURCE_PARTITION,
                THEMES_PARTITION,
                CUSTOMER_PARTITIONS,
                LEGACY_IDENTITY_PARTITIONS,
                FEEDBACK_PARTITIONS,
            ],
        ),
        # TransactWriteItems (feedback_write.py): the conditional feedback Put, its day and hour counters,
        # the profile's aggregates and the identities' redirects (Updates); platform_deletions.mark_deleted
        # (UpdateItem); merge.merge: tombstone and aggregates (Updates), moved feedback, redirects and
        # identity items (BatchWriteItem).
        statement(
            "StoreFeedback",
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
            [targets.table_arn],
            partitions=[
                FEEDBACK_PARTITIONS,
                COUNTER_PARTITIONS,
                CUSTOMER_PARTITIONS,
                LEGACY_IDENTITY_PARTITIONS,
            ],
        ),
        # merge.merge reads the absorbed customer's partition through the customer index.
        statement("QueryCustomerIndex", ["dynamodb:Query"], [targets.index_arn(CUSTOMER_INDEX)]),
        # Comprehend's built-in detect APIs have no resource type: "*" is the only value IAM accepts.
        statement("DetectSentimentAndPii", list(COMPREHEND_DETECT_ACTIONS), ["*"]),
        *_invoke_bedrock(targets.bedrock_model),
        *log_and_trace(log_group_arn),
    ]


def nightly_export(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The scheduled export: one day through the per-day index, files to S3 under exports/."""
    return [
        # feedback.list_day: one paginated Query per DAY#… shard, never a Scan.
        statement("ReadDayIndex", ["dynamodb:Query"], [targets.index_arn(DAY_INDEX)]),
        # contacts.csv joins each item's customer profile (BatchGetItem, 100 keys a call); export/fanout reads
        # the day's counters (and their completeness mark) to size the day.
        statement(
            "ReadProfilesAndCounts",
            ["dynamodb:BatchGetItem"],
            [targets.table_arn],
            partitions=[CUSTOMER_PARTITIONS, COUNTER_PARTITIONS, COUNTERS_MARK_PARTITION],
        ),
        # export/rewrite.rewrite_pending: the export days erasures marked (pk = EXPORT_REWRITE), read and
        # then deleted once rewritten (a conditional DeleteItem: a day marked again meanwhile stays).
        statement(
            "TakeScheduledRewrites",
            ["dynamodb:Query", "dynamodb:DeleteItem"],
            [targets.table_arn],
            partitions=[EXPORT_REWRITE_PARTITION],
        ),
        # export/base.ThemeNames: the taxonomy record (one GetItem, cached), to name the exported themes.
        statement(
            "ReadTaxonomy",
            ["dynamodb:GetItem"],
            [targets.table_arn],
            partitions=[THEMES_PARTITION],
        ),
        statement("WriteExports", ["s3:PutObject", "s3:AbortMultipartUpload"], [targets.exports_objects_arn]),
        # export/fanout: a busy day's slices write parts under exports/_parts/, which the combining step reads
        # (and S3 copies: UploadPartCopy reads its source as GetObject), then deletes.
        statement(
            "CombineExportParts", ["s3:GetObject", "s3:DeleteObject"], [targets.export_parts_objects_arn]
        ),
        # export/fanout: each fanned-out day's run record (pk = EXPORT_FANOUT): created by the nightly run,
        # each slice added to it as it completes, read to name the slices missing.
        statement(
            "TrackExportSlices",
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"],
            [targets.table_arn],
            partitions=[EXPORT_FANOUT_PARTITION],
        ),
        # Lambda sends the record of an asynchronous invocation it gave up (a slice killed by its timeout or
        # memory) to the on-failure destination with the function's role (monitoring.export_step_failures).
        statement("SendGivenUpInvocations", ["events:PutEvents"], [targets.default_event_bus_arn]),
        # store/counters.mark_complete_if_unset: the nightly run marks the counters complete from tomorrow
        # where no mark exists (one conditional UpdateItem; it never moves a mark).
        statement(
            "MarkCountersComplete",
            ["dynamodb:UpdateItem"],
            [targets.table_arn],
            partitions=[COUNTERS_MARK_PARTITION],
        ),
        *log_and_trace(log_group_arn),
    ]


def nightly_export_invocations(targets: Targets) -> list[iam.PolicyStatement]:
    """The export function starting itself asynchronously: the nightly run hands erasure rewrites to an
    invocation of their own, and a rewrite invocation out of time hands on the days left
    (export/rewrite.hand_off_rewrites, run_rewrites). A policy of its own, attached to the function's role
    (the role's inline policy cannot name the function that depends on the role)."""
    return [statement("InvokeItself", ["lambda:InvokeFunction"], [targets.export_function_arn])]


def on_deploy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The custom resource CloudFormation creates at deploy time (operations/deploy_hooks.py)."""
    return [
        # counters.mark_complete_if_unset: one conditional UpdateItem of the completeness mark.
        statement(
            "MarkCountersComplete",
            ["dynamodb:UpdateItem"],
            [targets.table_arn],
            partitions=[COUNTERS_MARK_PARTITION],
        ),
        *log_and_trace(log_group_arn),
    ]
