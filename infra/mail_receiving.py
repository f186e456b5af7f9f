"""Feedback by e-mail: SES's receipt rule set, its rule (S3 action, then Lambda action) and what they need.

Created only when `email_recipients` is set (infra/settings.py), in a region where SES receives mail
(infra/regions.py). The rule stores each raw mail under `inbound-mail/` in the export bucket (kept
INBOUND_MAIL_DAYS by a lifecycle rule in infra/storage.py), then invokes the ReceiveEmail function
asynchronously with SES's verdicts; a failed invocation is retried twice by Lambda and then lands in the
MailFailures queue (the raw mail is still in S3, so it can be received again). SES checks its permissions
when the rule is created, so the rule depends on the bucket policy and the Lambda permission. What the
function may do is `receive_email_policy` (its role exists whether mail is received or not).

CloudFormation cannot make a rule set the active one (an account has one active set per region): the
README's E-mail section gives the one command that does (`aws ses set-active-receipt-rule-set`).
"""

from __future__ import annotations

from typing import NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from chalicelib.channels.email.failures import QUEUE_NAME as FAILURES_QUEUE_NAME
from infra.alarms import messages_waiting, notifying_alarm
from infra.permissions import INBOUND_MAIL_PREFIX, SOURCE_PARTITION, Targets, log_and_trace, statement
from infra.settings import StageSettings

RULE_NAME = "feedback"
# Days a failed mail invocation's event waits in MailFailures (SQS's maximum).
FAILURE_RETENTION_DAYS = 14


def rule_set_name(settings: StageSettings) -> str:
    return f"{settings.stack_name}-mail"


class MailReceiving(NamedTuple):
    rule_set: ses.CfnReceiptRuleSet
    failures: sqs.Queue  # the failed invocations' events, replayed with `cli mail replay`


def mail_receiving(
    scope: cdk.Stack,
    settings: StageSettings,
    *,
    bucket: s3.Bucket,
    function: cdk.CfnResource,
    role: iam.Role,
) -> MailReceiving:
    """The rule set (inactive until activated), its one rule, and the permissions and failure queue."""
    account, region, partition = scope.account, scope.region, scope.partition
    rule_set = rule_set_name(settings)
    rule_arn = f"receipt-rule-set/{rule_set}:receipt-rule/{RULE_NAME}"
    source_arn = f"arn:{partition}:ses:{region}:{account}:{rule_arn}"
    # Only SES, for this account's rule, may write, and only under the prefix.
    bucket_grant = bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="SesWritesInboundMail",
            principals=[iam.ServicePrincipal("ses.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{INBOUND_MAIL_PREFIX}*")],
            conditions={
                "StringEquals": {"AWS:SourceAccount": account},
                "ArnLike": {"AWS:SourceArn": source_arn},
            },
        )
    )
    function_arn = cdk.Fn.get_att(function.logical_id, "Arn").to_string()
    invoke = lambda_.CfnPermission(
        scope,
        "SesInvokesReceiveEmail",
        action="lambda:InvokeFunction",
        function_name=function_arn,
        principal="ses.amazonaws.com",
        source_account=account,
        source_arn=source_arn,
    )
    failures = sqs.Queue(
        scope,
        "MailFailures",
        queue_name=FAILURES_QUEUE_NAME.format(stage=settings.stage),
        retention_period=cdk.Duration.days(FAILURE_RETENTION_DAYS),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    # It is itself the end of the line for a mail's failed invocation events, as a DLQ is.
    cdk.Validations.of(failures).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions::AwsSolutions-SQS3",
            reason="The on-failure destination of the ReceiveEmail function's asynchronous invocations: it "
            "plays the dead-letter queue's part itself (an operator reads it; the raw mail is still in S3).",
        )
    )
    # Lambda sends the failed event to the destination with the function's own role.
    failures.grant_send_messages(role)
    lambda_.CfnEventInvokeConfig(
        scope,
        "ReceiveEmailRetries",
        function_name=function.ref,
        qualifier="$LATEST",
        maximum_retry_attempts=2,
        destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
            on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=failures.queue_arn)
        ),
    )
    receipt_rule_set = ses.CfnReceiptRuleSet(scope, "MailRuleSet", rule_set_name=rule_set)
    rule = ses.CfnReceiptRule(
        scope,
        "MailRule",
        rule_set_name=rule_set,
        rule=ses.CfnReceiptRule.RuleProperty(
            name=RULE_NAME,
            enabled=True,
            recipients=list(settings.email_recipients),
            # SES's spam and virus scan: its verdicts reach the function, whose sources decide.
            scan_enabled=True,
            tls_policy="Optional",
            actions=[
                ses.CfnReceiptRule.ActionProperty(
                    s3_action=ses.CfnReceiptRule.S3ActionProperty(
                        bucket_name=bucket.bucket_name, object_key_prefix=INBOUND_MAIL_PREFIX
                    )
                ),
                ses.CfnReceiptRule.ActionProperty(
                    lambda_action=ses.CfnReceiptRule.LambdaActionProperty(
                        function_arn=function_arn, invocation_type="Event"
                    )
                ),
            ],
        ),
    )
    rule.add_dependency(receipt_rule_set)
    rule.add_dependency(invoke)
    if bucket_grant.policy_dependable is not None and bucket.policy is not None:
        rule.node.add_dependency(bucket.policy)
    return MailReceiving(receipt_rule_set, failures)


def alarms(scope: cdk.Stack, settings: StageSettings, topic: sns.Topic, failures: sqs.Queue) -> None:
    """A mail whose invocation failed every retry notifies the alarm topic (and its recovery does too)."""
    notifying_alarm(
        scope,
        settings,
        topic,
        "MailFailed",
        description=(
            "Received mail failed every attempt of the ReceiveEmail function and waits in the MailFailures "
            "queue: `cli mail failures` lists it, `cli mail replay` receives it again once the cause is "
            "fixed (the raw mail is still in S3)."
        ),
        metric=messages_waiting(failures),
    )


def receive_email_policy(targets: Targets, log_group_arn: str) -> list[iam.PolicyStatement]:
    """The mail function SES's receipt rule invokes: the raw mail from S3, the sources, one SQS send."""
    return [
        # receiving.read_from_s3: the object SES's S3 action wrote under inbound-mail/.
        statement("ReadInboundMail", ["s3:GetObject"], [targets.inbound_mail_objects_arn]),
        # sources.list_cached: one Query of the SOURCE partition when the cache is cold or stale.
        statement(
            "ListSources",
            ["dynamodb:Query"],
            [targets.table_arn],
            partitions=[SOURCE_PARTITION],
        ),
        # queue.enqueue: one SendMessage (or SendMessageBatch) per mail.
        statement("EnqueueMail", ["sqs:SendMessage"], [targets.queue_arn]),
        *log_and_trace(log_group_arn),
    ]
