"""The KMS and alarm-delivery rules of the AWS-rules layer (aws_rules_kms.py): each fires on
what real AWS refuses (or, for an alarm, fails to deliver), and lets the right thing through.
Plain moto calls, with the layer on (conftest's autouse `aws_rules`)."""

from __future__ import annotations

import json
from typing import Any

from moto.sns.models import sns_backends

from . import support
from .aws_rules import AwsRules
from .aws_rules_kms import service_may_use
from .support import ACCOUNT, REGION
from .test_aws_rules import refused

ROOT = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*", "Resource": "*"}
CLOUDWATCH = {
    "Sid": "Alarms",
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_aws_managed_keys_are_aws_managed(aws: None, aws_rules: AwsRules) -> None:
    kms = support.client("kms")
    for alias in ("alias/aws/sns", "alias/aws/rds"):
        key = kms.describe_key(KeyId=alias)["KeyMetadata"]
        assert key["KeyManager"] == "AWS", alias
        text = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        assert "kms:CallerAccount" in text and "kms:ViaService" in text
    refused(aws_rules, "aws_managed_key_policy", "AccessDeniedException", kms.put_key_policy,
            KeyId=kms.describe_key(KeyId="alias/aws/sns")["KeyMetadata"]["KeyId"],
            PolicyName="default", Policy=policy(ROOT, CLOUDWATCH))


def test_the_reserved_alias_prefix(aws: None, aws_rules: AwsRules) -> None:
    kms = support.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    refused(aws_rules, "reserved_alias", "NotAuthorizedException", kms.create_alias,
            AliasName="alias/aws/mine", TargetKeyId=key)
    kms.create_alias(AliasName="alias/mine", TargetKeyId=key)


def test_a_policy_that_locks_the_account_out(aws: None, aws_rules: AwsRules) -> None:
    kms = support.client("kms")
    refused(aws_rules, "key_policy_lockout", "MalformedPolicyDocumentException", kms.create_key,
            Policy=policy(CLOUDWATCH))
    key = kms.create_key(Policy=policy(ROOT))["KeyMetadata"]["KeyId"]
    refused(aws_rules, "key_policy_lockout", "MalformedPolicyDocumentException",
            kms.put_key_policy, KeyId=key, PolicyName="default", Policy=policy(CLOUDWATCH))
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy(ROOT, CLOUDWATCH))


def test_the_key_deletion_window(aws: None, aws_rules: AwsRules) -> None:
    kms = support.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for days in (1, 31):
        refused(aws_rules, "key_deletion_window", "ValidationException",
                kms.schedule_key_deletion, KeyId=key, PendingWindowInDays=days)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


def _alarm_on(topic_key: str | None) -> tuple[str, str]:
    sns, cloudwatch = support.client("sns"), support.client("cloudwatch")
    attributes = {"KmsMasterKeyId": topic_key} if topic_key else {}
    topic = sns.create_topic(Name="alarms", Attributes=attributes)["TopicArn"]
    cloudwatch.put_metric_alarm(
        AlarmName="failures", MetricName="ExecutionsFailed", Namespace="AWS/States",
        Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic],
    )
    cloudwatch.set_alarm_state(AlarmName="failures", StateValue="ALARM", StateReason="test")
    return topic, "failures"


def _sent(topic: str) -> list[Any]:
    return list(sns_backends[ACCOUNT][REGION].topics[topic].sent_notifications)


def test_an_alarm_on_a_topic_under_the_aws_managed_key_notifies_nobody(
    aws: None, aws_rules: AwsRules
) -> None:
    topic, _ = _alarm_on("alias/aws/sns")
    assert aws_rules.fired["alarm_topic_key_unusable"] == 1
    assert _sent(topic) == []


def test_an_alarm_on_a_topic_whose_key_lets_cloudwatch_in_notifies(
    aws: None, aws_rules: AwsRules
) -> None:
    key = support.client("kms").create_key(Policy=policy(ROOT, CLOUDWATCH))["KeyMetadata"]["Arn"]
    topic, _ = _alarm_on(key)
    assert not aws_rules.fired["alarm_topic_key_unusable"]
    [(_, message, subject)] = [(n[0], n[1], n[2]) for n in _sent(topic)]
    assert json.loads(message)["AlarmName"] == "failures" and "ALARM" in subject


def test_an_unencrypted_topic_and_a_root_only_key(aws: None, aws_rules: AwsRules) -> None:
    topic, _ = _alarm_on(None)
    assert len(_sent(topic)) == 1
    root_only = support.client("kms").create_key(Policy=policy(ROOT))["KeyMetadata"]["Arn"]
    support.client("sns").set_topic_attributes(
        TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=root_only
    )
    support.client("cloudwatch").set_alarm_state(
        AlarmName="failures", StateValue="ALARM", StateReason="again"
    )
    assert aws_rules.fired["alarm_topic_key_unusable"] == 1 and len(_sent(topic)) == 1


def test_service_may_use_reads_conditions_and_denies() -> None:
    context = {"aws:SourceAccount": ACCOUNT}
    assert service_may_use(policy(ROOT, CLOUDWATCH), "cloudwatch.amazonaws.com", context)
    assert not service_may_use(
        policy(ROOT, CLOUDWATCH), "cloudwatch.amazonaws.com", {"aws:SourceAccount": "999"}
    )
    deny = {**CLOUDWATCH, "Sid": "No", "Effect": "Deny", "Condition": {}}
    assert not service_may_use(policy(ROOT, CLOUDWATCH, deny), "cloudwatch.amazonaws.com", context)
    decrypt_only = {**CLOUDWATCH, "Action": "kms:Decrypt"}
    assert not service_may_use(policy(ROOT, decrypt_only), "cloudwatch.amazonaws.com", context)
