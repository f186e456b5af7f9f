"""Where the product keeps its data: the DynamoDB table, the ingest queue with its dead-letter queue, the
export bucket (with the bucket its access logs go to), and the Glue/Athena catalogue over the exports.

Each builder adds its constructs to the stack it is given, under the construct ids the stack has always
used: the ids are the logical ids of the deployed resources, and a changed id would replace the resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.local.provision import MAX_RECEIVE_COUNT
from chalicelib.store import schema
from infra import athena as athena_ddl
from infra import permissions
from infra.queues import queue_with_dead_letters
from infra.settings import StageSettings

# As long as the DLQ: an analysis outage (or a pause, `cli analysis pause`) of up to two weeks loses nothing.
QUEUE_RETENTION = cdk.Duration.days(14)
EXPORTS_PREFIX = permissions.EXPORTS_PREFIX
# Days the parts of a fanned-out export that never completed are kept (export/fanout.py).
# Days a received mail's raw message stays in the bucket (the failure queue keeps its event 14 days).
INBOUND_MAIL_DAYS = 14
EXPORT_PARTS_DAYS = 2
ATHENA_RESULTS_PREFIX = "athena-results/"
ATHENA_BYTES_SCANNED_CUTOFF = 10 * 1024**3  # per query: a cost guard (10 GiB ≈ $0.05 at $5/TB)
NONCURRENT_EXPORT_DAYS = 7  # overwritten export files (re-runs, erasure rewrites) are kept this long
# Export files move to Infrequent Access after this many days, unless they expire before that class's 30-day
# minimum would be paid for.
EXPORTS_INFREQUENT_ACCESS_DAYS = 90
INFREQUENT_ACCESS_MINIMUM_DAYS = 30


def feedback_table(scope: Construct, *, stage: str, removal: cdk.RemovalPolicy) -> dynamodb.Table:
    """The single table, keys and indexes from chalicelib/store/schema.py."""
    dynamo_types = {
        "S": dynamodb.AttributeType.STRING,
        "N": dynamodb.AttributeType.NUMBER,
        "B": dynamodb.AttributeType.BINARY,
    }
    types = {a["AttributeName"]: dynamo_types[a["AttributeType"]] for a in schema.ATTRIBUTE_DEFINITIONS}

    def key(element: dict[str, str]) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=element["AttributeName"], type=types[element["AttributeName"]])

    def keys(key_schema: list[dict[str, str]]) -> dict[str, dynamodb.Attribute]:
        return {
            "partition_key" if element["KeyType"] == "HASH" else "sort_key": key(element)
            for element in key_schema
        }

    table = dynamodb.Table(
        scope,
        "Table",
        table_name=f"feedback-{stage}",
        **keys(schema.KEY_SCHEMA),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        # The AWS-managed key (aws/dynamodb): encrypted at rest with use visible in CloudTrail, no key
        # to pay for or administer, and no kms statement in the function roles.
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        # Always on, whatever retention_days says: only items written with `expires_at` expire, and a TTL
        # switched with the setting could fail a deploy (DynamoDB refuses a second change within an hour).
        time_to_live_attribute=schema.TTL_ATTRIBUTE,
        # What was stored, for the outbound webhooks' fan-out function (chalicelib/outbound/fanout.py).
        stream=dynamodb.StreamViewType.NEW_IMAGE,
        # No DeletionProtectionEnabled: it would also stop a failed first create from removing the table
        # (the rollback's DeleteTable is refused). The retention policy and the stack's termination
        # protection keep it instead.
        removal_policy=removal,
    )
    for index in schema.GLOBAL_SECONDARY_INDEXES:
        table.add_global_secondary_index(
            index_name=index["IndexName"],
            **keys(index["KeySchema"]),
            projection_type=dynamodb.ProjectionType(index["Projection"]["ProjectionType"]),
            non_key_attributes=index["Projection"].get("NonKeyAttributes"),
        )
    return table


def ingest_queues(scope: Construct, settings: StageSettings) -> tuple[sqs.Queue, sqs.Queue]:
    """The dead-letter queue and the ingest queue that redrives to it, in that order."""
    return queue_with_dead_letters(
        scope,
        settings,
        queue_id="IngestQueue",
        dead_letters_id="DeadLetterQueue",
        name=settings.queue_name,
        consumer="analyze",
        max_receives=MAX_RECEIVE_COUNT,
        retention=QUEUE_RETENTION,
    )


def export_rules(export_retention_days: int) -> list[s3.LifecycleRule]:
    """The export files' own rules: to Infrequent Access after 90 days, and with `export_retention_days`
    (infra/settings.py; 0 keeps them) expired that many days after they were written (a re-run or an
    erasure's rewrite writes them anew). An expired file becomes a noncurrent version, which the bucket's
    versions rule deletes NONCURRENT_EXPORT_DAYS later."""
    rules = []
    keep_past_infrequent_access = EXPORTS_INFREQUENT_ACCESS_DAYS + INFREQUENT_ACCESS_MINIMUM_DAYS
    if not export_retention_days or export_retention_days > keep_past_infrequent_access:
        rules.append(
            s3.LifecycleRule(
                id="exports-to-infrequent-access",
                prefix=EXPORTS_PREFIX,
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                        transition_after=cdk.Duration.days(EXPORTS_INFREQUENT_ACCESS_DAYS),
                    )
                ],
            )
        )
    if export_retention_days:
        rules.append(
            s3.LifecycleRule(
                id="expire-exports",
                prefix=EXPORTS_PREFIX,
                expiration=cdk.Duration.days(export_retention_days),
            )
        )
    return rules


def export_buckets(
    scope: Construct, *, stage: str, removal: cdk.RemovalPolicy, export_retention_days: int = 0
) -> tuple[s3.Bucket, s3.Bucket]:
    """The access-logs bucket and the export bucket that logs to it, in that order."""
    common: dict[str, Any] = {
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "minimum_tls_version": 1.2,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    }
    access_logs_bucket = s3.Bucket(
        scope,
        "AccessLogsBucket",
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-access-logs",
                expiration=cdk.Duration.days(90),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
        ],
        removal_policy=removal,
        **common,
    )
    export_bucket = s3.Bucket(
        scope,
        "ExportBucket",
        # Globally unique without a random suffix: the stage, the account and the region.
        bucket_name=cdk.Fn.sub(f"feedback-exports-{stage}-${{AWS::AccountId}}-${{AWS::Region}}"),
        versioned=True,
        server_access_logs_bucket=access_logs_bucket,
        server_access_logs_prefix="export-bucket/",
        lifecycle_rules=[
            *export_rules(export_retention_days),
            # Re-running a day or erasing a customer overwrites export files; the old versions (which
            # may still hold an erased customer) are gone NONCURRENT_EXPORT_DAYS later.
            s3.LifecycleRule(
                id="expire-overwritten-versions",
                noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_EXPORT_DAYS),
                expired_object_delete_marker=True,
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            ),
            # A fanned-out export's parts are deleted by its combining step; a run that never completed
            # leaves its parts (which hold the day's items) for this rule.
            s3.LifecycleRule(
                id="expire-export-parts",
                prefix=permissions.EXPORT_PARTS_PREFIX,
                expiration=cdk.Duration.days(EXPORT_PARTS_DAYS),
            ),
            # Raw received mail (SES's receipt rule, infra/mail_receiving.py): read once when it arrives,
            # kept a little for a replay, then gone (it holds personal data and attachments).
            s3.LifecycleRule(
                id="expire-inbound-mail",
                prefix=permissions.INBOUND_MAIL_PREFIX,
                expiration=cdk.Duration.days(INBOUND_MAIL_DAYS),
            ),
            s3.LifecycleRule(
                id="expire-athena-results",
                prefix=ATHENA_RESULTS_PREFIX,
                expiration=cdk.Duration.days(30),
            ),
        ],
        removal_policy=removal,
        **common,
    )
    return access_logs_bucket, export_bucket


def query_catalog(
    scope: Construct, *, stage: str, bucket: s3.Bucket
) -> tuple[glue.CfnDatabase, glue.CfnTable, athena.CfnWorkGroup]:
    """The Glue database, its tables over the Parquet exports (infra/athena/feedback.sql and
    feedback_themes.sql; the feedback table is returned) and the Athena workgroup that queries them, writing
    its results to the export bucket, with the saved queries of infra/athena/queries/."""
    account = cdk.Stack.of(scope).account
    database_name = f"feedback_{stage}"
    database = glue.CfnDatabase(
        scope,
        "GlueDatabase",
        catalog_id=account,
        database_input=glue.CfnDatabase.DatabaseInputProperty(
            name=database_name, description=f"Customer feedback exports ({stage})"
        ),
    )
    where = {"account": account, "database_name": database_name, "bucket": bucket}
    table = _glue_table(scope, "GlueTable", ddl=athena_ddl.DDL_PATH, **where)
    table.node.add_dependency(database)
    # Construct id apart from the feedback table's, whose logical id must not change (it would be replaced).
    themes_table = _glue_table(scope, "GlueThemesTable", ddl=athena_ddl.THEMES_DDL_PATH, **where)
    themes_table.node.add_dependency(database)
    workgroup = athena.CfnWorkGroup(
        scope,
        "AthenaWorkGroup",
        name=f"feedback-{stage}",
        description="Queries over the nightly Parquet exports",
        state="ENABLED",
        recursive_delete_option=True,
        work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
            enforce_work_group_configuration=True,
            publish_cloud_watch_metrics_enabled=True,
            bytes_scanned_cutoff_per_query=ATHENA_BYTES_SCANNED_CUTOFF,
            result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                output_location=f"s3://{bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                    encryption_option="SSE_S3"
                ),
            ),
        ),
    )
    for name, statement in athena_ddl.saved_queries().items():
        query = athena.CfnNamedQuery(
            scope,
            f"AthenaQuery{name.title().replace('_', '')}",
            name=name.replace("_", " "),
            description="Saved by the stack (infra/athena/queries/); set the dt range to the weeks wanted",
            database=database_name,
            work_group=workgroup.ref,
            query_string=statement,
        )
        query.node.add_dependency(themes_table)
    return database, table, workgroup


def _glue_table(
    scope: Construct, construct_id: str, *, account: str, database_name: str, ddl: Path, bucket: s3.Bucket
) -> glue.CfnTable:
    """A Glue table as a DDL file of infra/athena/ declares it, over the stage's export bucket."""
    definition = athena_ddl.load(ddl).render(bucket=bucket.bucket_name)

    def columns(pairs: tuple[tuple[str, str], ...]) -> list[glue.CfnTable.ColumnProperty]:
        return [glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in pairs]

    storage = definition.storage
    return glue.CfnTable(
        scope,
        construct_id,
        catalog_id=account,
        database_name=database_name,
        table_input=glue.CfnTable.TableInputProperty(
            name=definition.name,
            description=definition.comment,
            table_type="EXTERNAL_TABLE",
            parameters={"EXTERNAL": "TRUE", **definition.properties},
            partition_keys=columns(definition.partition_keys),
            storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                columns=columns(definition.columns),
                location=definition.location,
                input_format=storage["input_format"],
                output_format=storage["output_format"],
                serde_info=glue.CfnTable.SerdeInfoProperty(
                    serialization_library=storage["serde"], parameters={"serialization.format": "1"}
                ),
            ),
        ),
    )
