"""The audit table and the topic: create, no-op re-run with zero writes, update on change,
cleanup (twice), and a foreign same-named resource left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources.base.changes import Action

from ..conftest import edit_config, make_context

STEPS = ["table", "topic"]


def _quiet(_: str) -> None:
    pass


def actions(report: engine.Report) -> dict[str, Action]:
    """Table and topic by step (the topic's own KMS key: test_notification_key.py)."""
    return {c.step: c.action for c in report.changes if c.kind != "KMS key"}


def test_create_then_noop_with_zero_writes(aws: None) -> None:
    ctx = make_context()
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == {"table": Action.CREATED, "topic": Action.CREATED}

    ddb = boto3.client("dynamodb", "us-east-1")
    table = ddb.describe_table(TableName="aurora-restore-audit-dev")["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        ("operation_id", "HASH"),
        ("timestamp", "RANGE"),
    }
    assert {a["AttributeType"] for a in table["AttributeDefinitions"]} == {"S"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    backups = ddb.describe_continuous_backups(TableName="aurora-restore-audit-dev")
    assert (
        backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "ENABLED"
    )
    ttl = ddb.describe_time_to_live(TableName="aurora-restore-audit-dev")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    tags = {
        t["Key"]: t["Value"]
        for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    }
    assert tags["aurora-restore:managed-by"] == "aurora-restore"
    assert tags["aurora-restore:env"] == "dev"
    assert tags["team"] == "platform"

    sns = boto3.client("sns", "us-east-1")
    arn = ctx.names.topic_arn
    key = sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"]
    assert key == "alias/aurora-restore-dev-notifications"
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "dba-team@example.com")]

    again = make_context()
    report = engine.setup(again, STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == {"table": Action.UNCHANGED, "topic": Action.UNCHANGED}
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()
    assert again.clients.counter.reads > 0


def test_dry_run_writes_nothing(aws: None) -> None:
    ctx = make_context()
    report = engine.setup(ctx, STEPS, dry_run=True, progress=_quiet)
    assert actions(report) == {"table": Action.WOULD_CREATE, "topic": Action.WOULD_CREATE}
    assert ctx.clients.counter.writes == 0
    assert boto3.client("dynamodb", "us-east-1").list_tables()["TableNames"] == []


def test_update_on_config_change(aws: None, config_dir: Path) -> None:
    engine.setup(make_context(config_dir), STEPS, dry_run=False, progress=_quiet)

    def change(data: dict[str, Any]) -> None:
        data["audit"]["point_in_time_recovery"] = False
        data["tags"] = {"team": "data"}
        data["notifications"]["emails"] = ["oncall@example.com"]
        data["notifications"]["kms_key_id"] = None

    edit_config(config_dir, "dev", change)
    ctx = make_context(config_dir)
    plan = engine.setup(ctx, STEPS, dry_run=True, progress=_quiet)
    assert actions(plan) == {"table": Action.WOULD_UPDATE, "topic": Action.WOULD_UPDATE}
    assert "point-in-time recovery" in plan.changes[0].detail

    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == {"table": Action.UPDATED, "topic": Action.UPDATED}
    ddb = boto3.client("dynamodb", "us-east-1")
    backups = ddb.describe_continuous_backups(TableName="aurora-restore-audit-dev")
    assert (
        backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "DISABLED"
    )
    table_arn = ctx.names.table_arn
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=table_arn)["Tags"]}
    assert tags == {
        "team": "data",
        "aurora-restore:managed-by": "aurora-restore",
        "aurora-restore:env": "dev",
    }
    sns = boto3.client("sns", "us-east-1")
    subs = sns.list_subscriptions_by_topic(TopicArn=ctx.names.topic_arn)["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == ["oncall@example.com"]
    assert (
        "KmsMasterKeyId" not in sns.get_topic_attributes(TopicArn=ctx.names.topic_arn)["Attributes"]
        or not sns.get_topic_attributes(TopicArn=ctx.names.topic_arn)["Attributes"][
            "KmsMasterKeyId"
        ]
    )

    final = make_context(config_dir)
    assert actions(engine.setup(final, STEPS, dry_run=False, progress=_quiet)) == {
        "table": Action.UNCHANGED,
        "topic": Action.UNCHANGED,
    }
    assert final.clients.counter.writes == 0


def test_drift_behind_our_back_is_repaired(aws: None) -> None:
    engine.setup(make_context(), STEPS, dry_run=False, progress=_quiet)
    ddb = boto3.client("dynamodb", "us-east-1")
    ddb.update_time_to_live(
        TableName="aurora-restore-audit-dev",
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"},
    )
    ctx = make_context()
    status = engine.status(ctx, STEPS, _quiet)
    assert actions(status)["table"] is Action.DRIFTED
    assert actions(engine.setup(ctx, STEPS, False, _quiet))["table"] is Action.UPDATED
    assert actions(engine.status(make_context(), STEPS, _quiet)) == {
        "table": Action.PRESENT,
        "topic": Action.PRESENT,
    }


def test_cleanup_and_cleanup_twice(aws: None) -> None:
    engine.setup(make_context(), STEPS, dry_run=False, progress=_quiet)
    report = engine.cleanup(make_context(), list(reversed(STEPS)), dry_run=False, progress=_quiet)
    assert actions(report) == {"table": Action.DELETED, "topic": Action.DELETED}
    assert report.ok
    assert boto3.client("dynamodb", "us-east-1").list_tables()["TableNames"] == []
    assert boto3.client("sns", "us-east-1").list_topics()["Topics"] == []

    ctx = make_context()
    again = engine.cleanup(ctx, list(reversed(STEPS)), dry_run=False, progress=_quiet)
    assert actions(again) == {"table": Action.ABSENT, "topic": Action.ABSENT}
    assert again.ok
    assert ctx.clients.counter.writes == 0


def test_foreign_resources_are_left_alone(aws: None) -> None:
    ddb = boto3.client("dynamodb", "us-east-1")
    ddb.create_table(
        TableName="aurora-restore-audit-dev",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    sns = boto3.client("sns", "us-east-1")
    sns.create_topic(
        Name="aurora-restore-notifications-dev",
        Tags=[
            {"Key": "aurora-restore:managed-by", "Value": "aurora-restore"},
            {"Key": "aurora-restore:env", "Value": "staging"},
        ],
    )

    ctx = make_context()
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == {"table": Action.FOREIGN, "topic": Action.FOREIGN}
    assert not report.ok
    # Only our own key was made (nothing ties it to the topic being ours).
    assert {c.split(".")[0] for c in ctx.clients.counter.write_calls()} == {"kms"}

    ctx = make_context()
    report = engine.cleanup(ctx, list(reversed(STEPS)), dry_run=False, progress=_quiet)
    assert actions(report) == {"table": Action.FOREIGN, "topic": Action.FOREIGN}
    assert {c.split(".")[0] for c in ctx.clients.counter.write_calls()} == {"kms"}
    assert ddb.list_tables()["TableNames"] == ["aurora-restore-audit-dev"]
    assert len(sns.list_topics()["Topics"]) == 1


def test_interrupted_create_is_finished_by_rerun(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aurora_restore_cli.resources import table

    def boom(self: Any, current: Any, differences: list[str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(table.AuditTable, "update", boom)
    with pytest.raises(KeyboardInterrupt):
        engine.setup(make_context(), ["table"], dry_run=False, progress=_quiet)
    monkeypatch.undo()

    assert actions(engine.status(make_context(), ["table"], _quiet))["table"] is Action.DRIFTED
    report = engine.setup(make_context(), ["table"], dry_run=False, progress=_quiet)
    assert actions(report)["table"] is Action.UPDATED
    assert actions(engine.status(make_context(), ["table"], _quiet))["table"] is Action.PRESENT


def test_provisioned_billing(aws: None, config_dir: Path) -> None:
    def provisioned(data: dict[str, Any]) -> None:
        data["audit"].update(billing_mode="PROVISIONED", read_capacity=5, write_capacity=5)

    edit_config(config_dir, "dev", provisioned)
    engine.setup(make_context(config_dir), ["table"], dry_run=False, progress=_quiet)
    table = boto3.client("dynamodb", "us-east-1").describe_table(
        TableName="aurora-restore-audit-dev"
    )["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    ctx = make_context(config_dir)
    assert actions(engine.setup(ctx, ["table"], False, _quiet))["table"] is Action.UNCHANGED
    assert ctx.clients.counter.writes == 0
