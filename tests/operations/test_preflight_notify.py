"""preflight's "alarms may use the topic's key": the key the topic really uses, its policy read
(kms:GetKeyPolicy) and evaluated for CloudWatch's request (moto in-process, the KMS rules of
the AWS-rules layer on so that aws/sns is the AWS managed key it is on AWS)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.documents.policies.key_policy import (
    ALLOWED,
    DENIED,
    UNKNOWN,
    notification_key_policy,
    service_use,
)
from aurora_restore_cli.operations.preflight_notify import topic_key
from aurora_restore_cli.provisioning import engine

from ..conftest import MOTO_ACCOUNT
from ..pipeline.aws_rules import AwsRules
from ..pipeline.aws_rules_kms import kms_rules
from .test_preflight import _context

REGION = "us-east-1"
CLOUDWATCH = "cloudwatch.amazonaws.com"


@pytest.fixture
def rules(aws: None) -> Iterator[AwsRules]:
    with kms_rules(AwsRules()) as on:
        yield on


def _with_key(ctx: Any, key: str | None) -> Any:
    notifications = dataclasses.replace(ctx.settings.notifications, kms_key_id=key)
    ctx.settings = dataclasses.replace(ctx.settings, notifications=notifications)
    assert engine.setup(ctx, ["topic"], False, lambda _: None).ok
    return ctx


def test_the_key_setup_owns_passes(rules: AwsRules, config_dir: Path) -> None:
    ctx = _context(config_dir)
    assert engine.setup(ctx, ["topic"], False, lambda _: None).ok
    row = topic_key(ctx)
    assert row.status == "pass", row
    assert "AlarmsAndEventsPublish lets cloudwatch.amazonaws.com use it" in row.detail


def test_the_aws_managed_key_fails_with_the_fix(rules: AwsRules, config_dir: Path) -> None:
    ctx = _with_key(_context(config_dir), "alias/aws/sns")
    row = topic_key(ctx)
    assert row.status == "fail" and "AWS managed key" in row.detail
    assert "notifications.kms_key_id: alias/aurora-restore-dev-notifications" in row.fix


def test_a_customer_key_without_cloudwatch_fails(rules: AwsRules, config_dir: Path) -> None:
    root = notification_key_policy(_context(config_dir).names)["Statement"][0]
    policy = {"Version": "2012-10-17", "Statement": [root]}
    key = boto3.client("kms", REGION).create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    ctx = _with_key(_context(config_dir), key)
    row = topic_key(ctx)
    assert row.status == "fail"
    assert "no statement lets cloudwatch.amazonaws.com use" in row.detail
    assert "Service cloudwatch.amazonaws.com" in row.fix and key in row.fix


def test_an_unencrypted_topic_passes(rules: AwsRules, config_dir: Path) -> None:
    assert topic_key(_with_key(_context(config_dir), None)).status == "pass"


def test_an_unreadable_policy_is_not_checkable(
    rules: AwsRules, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    ctx = _context(config_dir)
    assert engine.setup(ctx, ["topic"], False, lambda _: None).ok
    client = ctx.clients.get("kms")

    def denied(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                          "GetKeyPolicy")

    monkeypatch.setattr(client, "get_key_policy", denied)
    row = topic_key(ctx)
    assert row.status == "not checkable" and "kms:GetKeyPolicy" in row.fix


def test_the_reading_of_key_policies() -> None:
    context = {"aws:SourceAccount": MOTO_ACCOUNT, "kms:ViaService": "sns.us-east-1.amazonaws.com"}

    def statement(**extra: Any) -> dict[str, Any]:
        return {"Sid": "S", "Effect": "Allow", "Principal": {"Service": CLOUDWATCH},
                "Action": "kms:*", "Resource": "*", **extra}

    def verdict(*statements: dict[str, Any]) -> str:
        return service_use({"Statement": list(statements)}, CLOUDWATCH, context)[0]

    assert verdict(statement()) == ALLOWED
    assert verdict(statement(Condition={"StringEquals": {"aws:SourceAccount": "999"}})) == DENIED
    assert verdict(statement(), statement(Effect="Deny")) == DENIED
    assert verdict(statement(Action="kms:Decrypt")) == DENIED
    # the aws/sns shape: any principal, but only the account's callers through SNS
    assert verdict(statement(Principal={"AWS": "*"}, Condition={"StringEquals": {
        "kms:CallerAccount": MOTO_ACCOUNT, "kms:ViaService": "sns.us-east-1.amazonaws.com"}})
    ) == DENIED
    assert verdict(statement(Condition={"StringEquals": {"aws:SourceOrgID": "o-1"}})) == UNKNOWN
    assert verdict(statement(Condition={"NumericLessThan": {"x": "1"}})) == UNKNOWN
