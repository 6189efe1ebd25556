"""The topic's own KMS key (`notifications.kms_key_id: alias/aurora-restore-<env>-notifications`):
created tagged, with a policy that lets CloudWatch alarms use it and passes KMS's lockout
check; a no-op re-run writes nothing; drift is put back; cleanup deletes the alias and
schedules the key's deletion (7 days, KMS's minimum) and says so; a foreign key behind the
alias is left alone. And, with the AWS-rules layer's alarm delivery on: with the shipped
configs every alarm reaches the topic, while under alias/aws/sns none would."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.documents.policies.key_policy import notification_key_policy
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources.base.changes import Action

from ..conftest import MOTO_ACCOUNT, edit_config, make_context
from ..pipeline.aws_rules import AwsRules
from ..pipeline.aws_rules_kms import kms_rules

REGION = "us-east-1"
ALIAS = "alias/aurora-restore-dev-notifications"


def _quiet(_: str) -> None:
    pass


@pytest.fixture
def rules(aws: None) -> Iterator[AwsRules]:
    """The KMS rules of the AWS-rules layer (lockout check, AWS managed keys, alarm delivery)."""
    with kms_rules(AwsRules()) as on:
        yield on


def kms(region: str = REGION) -> Any:
    return boto3.client("kms", region)


def key_of(ctx: Any) -> dict[str, Any]:
    return dict(kms().describe_key(KeyId=ALIAS)["KeyMetadata"])


def changes(report: engine.Report, kind: str = "KMS key") -> list[Any]:
    return [c for c in report.changes if c.kind == kind]


def test_setup_creates_the_key_tagged_with_its_policy_then_writes_nothing(
    rules: AwsRules,
) -> None:
    ctx = make_context()
    report = engine.setup(ctx, ["topic"], False, _quiet)
    assert report.ok, report.failures
    [change] = changes(report)
    assert (change.name, change.action) == (ALIAS, Action.CREATED)
    assert change.arn == f"arn:aws:kms:{REGION}:{MOTO_ACCOUNT}:{ALIAS}"
    key = key_of(ctx)
    assert (key["KeyManager"], key["KeyState"], key["KeyUsage"]) == (
        "CUSTOMER",
        "Enabled",
        "ENCRYPT_DECRYPT",
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms().list_resource_tags(KeyId=key["KeyId"])["Tags"]}
    assert tags["aurora-restore:managed-by"] == "aurora-restore"
    assert tags["aurora-restore:env"] == "dev" and tags["team"] == "platform"
    policy = json.loads(kms().get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy == notification_key_policy(ctx.names)
    users = next(s for s in policy["Statement"] if "Service" in s["Principal"])
    assert set(users["Principal"]["Service"]) == {
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    }
    assert set(users["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert users["Condition"] == {"StringEquals": {"aws:SourceAccount": MOTO_ACCOUNT}}
    topic = boto3.client("sns", REGION).get_topic_attributes(TopicArn=ctx.names.topic_arn)
    assert topic["Attributes"]["KmsMasterKeyId"] == ALIAS
    assert not rules.fired

    again = make_context()
    report = engine.setup(again, ["topic"], False, _quiet)
    assert {c.action for c in report.changes} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()


def test_drift_is_put_back(rules: AwsRules) -> None:
    ctx = make_context()
    engine.setup(ctx, ["topic"], False, _quiet)
    key = key_of(ctx)["KeyId"]
    root_only = {"Version": "2012-10-17", "Statement": [notification_key_policy(ctx.names)[
        "Statement"][0]]}
    kms().put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(root_only))
    kms().disable_key(KeyId=key)
    kms().untag_resource(KeyId=key, TagKeys=["team"])

    report = engine.setup(make_context(), ["topic"], False, _quiet)
    [change] = changes(report)
    assert change.action is Action.UPDATED
    assert change.detail == "key state Disabled, key policy, tags"
    assert key_of(ctx)["KeyState"] == "Enabled"
    policy = kms().get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    assert json.loads(policy) == notification_key_policy(ctx.names)


def test_cleanup_schedules_the_deletion_and_says_so(rules: AwsRules) -> None:
    engine.setup(make_context(), ["topic"], False, _quiet)
    key = key_of(make_context())["KeyId"]
    plan = engine.cleanup(make_context(), ["topic"], True, _quiet)
    [would] = changes(plan)
    assert would.action is Action.WOULD_DELETE and "scheduled in 7 days" in would.detail

    report = engine.cleanup(make_context(), ["topic"], False, _quiet)
    assert report.ok
    [change] = changes(report)
    assert change.action is Action.DELETED
    assert "key deletion scheduled in 7 days" in change.detail
    assert "cancel-key-deletion" in change.detail
    meta = kms().describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    due = meta["DeletionDate"] - datetime.now(timezone.utc)
    assert timedelta(days=6, hours=23) < due <= timedelta(days=7, minutes=1)
    assert ALIAS not in {a["AliasName"] for a in kms().list_aliases()["Aliases"]}
    # cleanup twice: nothing left to do; setup again makes a new key under the alias
    again = engine.cleanup(make_context(), ["topic"], False, _quiet)
    assert {c.action for c in again.changes} == {Action.ABSENT}
    engine.setup(make_context(), ["topic"], False, _quiet)
    assert key_of(make_context())["KeyId"] != key


def test_a_key_left_pending_deletion_is_taken_back(rules: AwsRules) -> None:
    """An interrupted cleanup: the alias is still there, the key pending deletion."""
    engine.setup(make_context(), ["topic"], False, _quiet)
    key = key_of(make_context())["KeyId"]
    kms().schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    report = engine.setup(make_context(), ["topic"], False, _quiet)
    [change] = changes(report)
    assert change.action is Action.UPDATED and "PendingDeletion" in change.detail
    assert key_of(make_context())["KeyState"] == "Enabled"


def test_a_foreign_key_behind_the_alias_is_left_alone(rules: AwsRules) -> None:
    theirs = kms().create_key(Description="theirs")["KeyMetadata"]["KeyId"]
    kms().create_alias(AliasName=ALIAS, TargetKeyId=theirs)
    ctx = make_context()
    report = engine.setup(ctx, ["topic"], False, _quiet)
    [change] = changes(report)
    assert change.action is Action.FOREIGN and not report.ok
    assert not [c for c in ctx.clients.counter.write_calls() if c.startswith("kms.")]
    report = engine.cleanup(make_context(), ["topic"], False, _quiet)
    assert changes(report)[0].action is Action.FOREIGN
    assert kms().describe_key(KeyId=ALIAS)["KeyMetadata"]["KeyState"] == "Enabled"


def test_another_key_in_the_config_retires_ours(rules: AwsRules, config_dir: Path) -> None:
    engine.setup(make_context(config_dir), ["topic"], False, _quiet)
    ours = key_of(make_context(config_dir))["KeyId"]
    mine = kms().create_key(Policy=json.dumps(notification_key_policy(make_context().names)))
    arn = mine["KeyMetadata"]["Arn"]
    edit_config(config_dir, "dev", lambda d: d["notifications"].update(kms_key_id=arn))
    ctx = make_context(config_dir)
    report = engine.setup(ctx, ["topic"], False, _quiet)
    [change] = changes(report)
    assert change.action is Action.UPDATED and "deletion scheduled in 7 days" in change.detail
    assert kms().describe_key(KeyId=ours)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    topic = boto3.client("sns", REGION).get_topic_attributes(TopicArn=ctx.names.topic_arn)
    assert topic["Attributes"]["KmsMasterKeyId"] == arn
    again = make_context(config_dir)
    assert {c.action for c in engine.setup(again, ["topic"], False, _quiet).changes} == {
        Action.UNCHANGED
    }
    assert again.clients.counter.writes == 0


# --- every alarm reaches someone -------------------------------------------------------------


def _fire_every_alarm(region: str) -> int:
    cloudwatch = boto3.client("cloudwatch", region)
    names = [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]]
    for name in names:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    return len(names)


def _notified(region: str, topic_arn: str) -> int:
    from moto.sns.models import sns_backends

    return len(sns_backends[MOTO_ACCOUNT][region].topics[topic_arn].sent_notifications)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_with_the_shipped_configs_every_alarm_notifies(
    rules: AwsRules, config_dir: Path, env: str
) -> None:
    ctx = make_context(config_dir, env)
    report = engine.setup(ctx, ["topic", "alarms", "drill"], False, _quiet)
    assert report.ok, report.failures
    fired = _fire_every_alarm(ctx.settings.region)
    assert fired >= 4
    assert rules.fired["alarm_topic_key_unusable"] == 0
    assert _notified(ctx.settings.region, ctx.names.topic_arn) == fired


def test_under_the_aws_managed_key_no_alarm_would_notify(rules: AwsRules) -> None:
    """What validation refuses (alias/aws/sns), forced past it: every alarm action fails."""
    ctx = make_context()
    notifications = dataclasses.replace(ctx.settings.notifications, kms_key_id="alias/aws/sns")
    ctx.settings = dataclasses.replace(ctx.settings, notifications=notifications)
    assert engine.setup(ctx, ["topic", "alarms"], False, _quiet).ok
    fired = _fire_every_alarm(REGION)
    assert rules.fired["alarm_topic_key_unusable"] == fired
    assert _notified(REGION, ctx.names.topic_arn) == 0
