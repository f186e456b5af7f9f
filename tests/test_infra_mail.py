"""Feedback by e-mail on AWS (infra/mail_receiving.py): the receipt rule set exists only when recipients are
configured, its rule stores the raw mail under the prefix the function reads and then invokes it, SES alone
may write there and invoke it, the function has its own least-privilege role, and a region where SES does
not receive mail is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra import regions
from infra.permissions import INBOUND_MAIL_PREFIX, RECEIVE_EMAIL
from infra.settings import StageSettings
from tests.infra_synth import Synth, synthesize_variants

RECIPIENTS = "feedback@acme.example,mail.acme.example"


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir: Path = tmp_path_factory.mktemp("mail")
    return synthesize_variants(outdir, {"mail": {"email_recipients": RECIPIENTS}})["mail"]


def _rule(synth: Synth) -> dict[str, Any]:
    _, rule = synth.only("AWS::SES::ReceiptRule")
    return rule["Properties"]


def test_without_recipients_no_rule_set_is_made_but_the_function_has_its_own_role(synth: Synth):
    assert synth.of_type("AWS::SES::ReceiptRuleSet") == {}
    assert synth.of_type("AWS::SES::ReceiptRule") == {}
    function = synth.resources[RECEIVE_EMAIL]["Properties"]
    assert function["Role"] == {
        "Fn::GetAtt": [synth.logical_id("AWS::IAM::Role", f"{RECEIVE_EMAIL}Role"), "Arn"]
    }
    assert function["MemorySize"] == 1024 and function["Timeout"] == 30


def test_the_rule_stores_the_mail_under_the_prefix_then_invokes_the_function_asynchronously(mail: Synth):
    rule = _rule(mail)["Rule"]
    assert rule["Recipients"] == ["feedback@acme.example", "mail.acme.example"]
    assert rule["ScanEnabled"] is True and rule["Enabled"] is True
    s3_action, lambda_action = (action for action in rule["Actions"])
    assert s3_action["S3Action"]["ObjectKeyPrefix"] == INBOUND_MAIL_PREFIX
    assert lambda_action["LambdaAction"]["InvocationType"] == "Event"
    assert RECEIVE_EMAIL in str(lambda_action["LambdaAction"]["FunctionArn"])
    # SES checks its permissions when the rule is created.
    depends = mail.resources[mail.logical_id("AWS::SES::ReceiptRule", "MailRule")].get("DependsOn", [])
    assert any("SesInvokesReceiveEmail" in name for name in depends)
    assert any("ExportBucketPolicy" in name for name in depends)


def test_only_ses_for_this_rule_may_write_mail_and_invoke_the_function(mail: Synth):
    props = mail.resources[mail.logical_id("AWS::Lambda::Permission", "SesInvokesReceiveEmail")]["Properties"]
    assert props["Principal"] == "ses.amazonaws.com" and props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "receipt-rule/feedback" in str(props["SourceArn"])
    statements = [
        statement
        for policy in mail.of_type("AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "SesWritesInboundMail"
    ]
    [statement] = statements
    assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert INBOUND_MAIL_PREFIX in str(statement["Resource"])
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}


def test_the_function_reads_only_inbound_mail_and_failed_invocations_land_in_a_queue(mail: Synth):
    role = mail.logical_id("AWS::IAM::Role", f"{RECEIVE_EMAIL}Role")
    role_policies = mail.resources[role]["Properties"]["Policies"]
    statements = {s["Sid"]: s for policy in role_policies for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {
        "ReadInboundMail",
        "ListSources",
        "EnqueueMail",
        "WriteOwnLogs",
        "UploadTraces",
    }
    assert INBOUND_MAIL_PREFIX in str(statements["ReadInboundMail"]["Resource"])
    assert statements["ListSources"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SOURCE"]}
    }
    [config] = mail.of_type("AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    assert "MailFailures" in str(config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])


def test_a_mail_in_the_failures_queue_raises_the_alarm(mail: Synth, synth: Synth):
    alarms = {
        resource["Properties"]["AlarmName"]["Fn::Join"][1][-1]
        if isinstance(resource["Properties"]["AlarmName"], dict)
        else resource["Properties"]["AlarmName"]: resource["Properties"]
        for resource in mail.of_type("AWS::CloudWatch::Alarm").values()
    }
    [failed] = [props for name, props in alarms.items() if str(name).endswith("-MailFailed")]
    assert failed["MetricName"] == "ApproximateNumberOfMessagesVisible" and failed["Threshold"] == 0
    assert "MailFailures" in str(failed["Dimensions"])
    assert "mail replay" in failed["AlarmDescription"]
    assert failed["AlarmActions"] and failed["OKActions"]
    # No recipients, no queue, no alarm.
    assert not [
        r for r in synth.of_type("AWS::CloudWatch::Alarm").values() if "MailFailed" in str(r["Properties"])
    ]


def test_the_raw_mail_expires(mail: Synth):
    _, bucket = next(
        (name, resource)
        for name, resource in mail.of_type("AWS::S3::Bucket").items()
        if name.startswith("ExportBucket")
    )
    rules = {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-inbound-mail"]["Prefix"] == INBOUND_MAIL_PREFIX
    assert rules["expire-inbound-mail"]["ExpirationInDays"] == 14


@pytest.mark.parametrize(
    ("context", "error"),
    [
        ({"region": "ap-northeast-1", "email_recipients": "a@b.example"}, "does not receive mail"),
        ({"email_recipients": "not an address"}, "no address or domain"),
    ],
)
def test_a_region_without_receiving_and_bad_recipients_are_refused(context: dict[str, str], error: str):
    with pytest.raises(ValueError, match=error):
        StageSettings.from_context(context.get)


def test_a_region_checked_by_the_deployer_and_the_listed_ones_are_accepted():
    checked = {"region": "eu-central-1", "email_recipients": "a@b.example", "email_region_checked": "true"}
    assert StageSettings.from_context(checked.get).email_recipients == ("a@b.example",)
    for region in sorted(regions.EMAIL_RECEIVING_REGIONS):
        context = {"region": region, "email_recipients": ".acme.example"}
        assert StageSettings.from_context(context.get).email_recipients == (".acme.example",)
    # Without recipients, any region deploys (mail is simply not received).
    assert StageSettings.from_context({"region": "ap-northeast-1"}.get).email_recipients == ()
