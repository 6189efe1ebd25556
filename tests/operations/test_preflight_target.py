"""preflight against moto in-process, as a real account: the target's real instance ids (the
role may delete only `<target>-*`), a snapshot restored in place with a customer managed key,
and a run already in flight (the lock item, a RUNNING execution)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.documents import policies
from aurora_restore_cli.operations import (
    preflight,
    preflight_access,
    preflight_network,
    preflight_notify,
)
from aurora_restore_cli.operations.preflight_access import planned_requests, simulate
from aurora_restore_cli.operations.preflight_runs import in_flight

from ..conftest import MOTO_ACCOUNT
from ..pipeline.aws_rules import AwsRules
from ..pipeline.aws_rules_kms import kms_rules
from .test_preflight import SNAPSHOT, PolicySimulator, _context

REGION = "us-east-1"


def _target(ctx: Any, instances: list[str]) -> dict[str, Any]:
    rds = boto3.client("rds", REGION)
    tags = [{"Key": k, "Value": v} for k, v in ctx.tags().items()]
    target = ctx.settings.target.cluster_id
    rds.create_db_cluster(
        DBClusterIdentifier=target,
        Engine="aurora-postgresql",
        MasterUsername="postgres",
        MasterUserPassword="password-1234",
        Tags=tags,
    )
    for instance in instances:
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            DBClusterIdentifier=target,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    cluster = preflight.read_target(ctx)
    assert cluster is not None
    return cluster


# --- item 5: the target's real instance ids ------------------------------------------------


def test_the_real_member_ids_are_simulated_and_a_foreign_name_is_refused(
    aws: None, config_dir: Path
) -> None:
    ctx = _context(config_dir)
    cluster = _target(ctx, ["dev-orders-writer", "orders-dev-reader"])
    members = preflight.member_ids(cluster)
    assert sorted(members) == ["dev-orders-writer", "orders-dev-reader"]

    row = preflight.instances_deletable(ctx, cluster)
    assert row.status == "fail"
    assert "orders-dev-reader" in row.detail and "dev-orders-writer" not in row.detail
    assert "--db-instance-identifier orders-dev-reader" in row.fix
    assert "--new-db-instance-identifier dev-orders-orders-dev-reader" in row.fix

    requests = planned_requests(ctx, SNAPSHOT, {}, members)
    (delete,) = [r for r in requests if r.action == "rds:DeleteDBInstance"]
    rds = f"arn:aws:rds:{REGION}:{MOTO_ACCOUNT}:db"
    assert sorted(delete.resources) == [f"{rds}:dev-orders-writer", f"{rds}:orders-dev-reader"]
    simulator = PolicySimulator(
        list(policies.inline_policies("lambda", ctx.settings, ctx.names).values())
    )
    rows = simulate(simulator, ctx.names.role_arn("lambda"), [delete])
    assert rows[0].status == "fail"
    assert f"{rds}:orders-dev-reader (implicitDeny)" in rows[0].detail
    assert "modify-db-instance" in rows[0].fix


def test_members_named_under_the_target_pass(aws: None, config_dir: Path) -> None:
    ctx = _context(config_dir)
    cluster = _target(ctx, ["dev-orders-instance-1"])
    assert preflight.instances_deletable(ctx, cluster).status == "pass"
    rows = preflight.target(ctx, preflight.state_document(ctx, None), cluster)
    names = [r.name for r in rows]
    assert "instances deletable by the Lambda role" in names


# --- item 6: a snapshot restored in place, encrypted with a customer managed key ------------


def _same_account(config_dir: Path, source_key: str | None = None) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["source"].update(region=REGION, account_id=MOTO_ACCOUNT, kms_key_id=source_key)
        data["target"]["kms_key_id"] = None  # no re-encryption: restored in place

    return _context(config_dir, edit)


def _in_place_snapshot(key_arn: str) -> dict[str, Any]:
    return {
        **SNAPSHOT,
        "arn": f"arn:aws:rds:{REGION}:{MOTO_ACCOUNT}:cluster-snapshot:prod-orders-manual-7",
        "region": REGION,
        "account_id": MOTO_ACCOUNT,
        "kms_key_id": key_arn,
    }


def test_a_customer_key_restored_in_place_needs_source_kms_key_id(
    aws: None, config_dir: Path
) -> None:
    key = boto3.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
    ctx = _same_account(config_dir)
    snapshot = _in_place_snapshot(key)
    [row] = preflight_access.snapshot_key(ctx, snapshot)
    assert row.status == "fail" and "KMSKeyNotAccessibleFault" in row.detail
    assert f"source.kms_key_id: {key}" in row.fix and "setup roles" in row.fix
    # What the simulator is asked: nothing on this key (the role has no grant to ask about).
    assert not [r for r in planned_requests(ctx, snapshot, {}) if key in r.resources]


def test_with_source_kms_key_id_the_role_is_granted_and_asked(
    aws: None, config_dir: Path
) -> None:
    key = boto3.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
    ctx = _same_account(config_dir, source_key=key)
    snapshot = _in_place_snapshot(key)
    [row] = preflight_access.snapshot_key(ctx, snapshot)
    assert row.status == "pass"
    asked = [r for r in planned_requests(ctx, snapshot, {key: key}) if key in r.resources]
    assert {r.action for r in asked} == set(policies.SOURCE_KEY_ACTIONS)
    assert {r.context["kms:ViaService"] for r in asked} == {
        ("string", f"rds.{REGION}.amazonaws.com")
    }
    simulator = PolicySimulator(
        list(policies.inline_policies("lambda", ctx.settings, ctx.names).values())
    )
    assert {r.status for r in simulate(simulator, ctx.names.role_arn("lambda"), asked)} == {
        "pass"
    }


def test_the_aws_managed_rds_key_needs_no_grant(aws: None, config_dir: Path) -> None:
    with kms_rules(AwsRules()):  # moto makes aws/rds a customer key; AWS does not
        key = boto3.client("kms", REGION).describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
        ctx = _same_account(config_dir)
        [row] = preflight_access.snapshot_key(ctx, _in_place_snapshot(key["Arn"]))
    assert row.status == "pass" and "AWS managed" in row.detail


def test_a_copied_or_unencrypted_snapshot_has_no_in_place_key_row(
    aws: None, config_dir: Path
) -> None:
    ctx = _context(config_dir)  # dev: another region and account, copied
    assert preflight_access.snapshot_key(ctx, SNAPSHOT) == []
    ctx = _same_account(config_dir)
    plain = {**_in_place_snapshot(""), "encrypted": False}
    assert preflight_access.snapshot_key(ctx, plain) == []


# --- a run in flight ------------------------------------------------------------------------


def _table(ctx: Any) -> Any:
    dynamodb = boto3.client("dynamodb", REGION)
    dynamodb.create_table(
        TableName=ctx.names.table,
        KeySchema=[
            {"AttributeName": "operation_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "operation_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def _lock(dynamodb: Any, ctx: Any, holder: str, seconds_left: int) -> None:
    now = int(datetime.now(timezone.utc).timestamp())
    dynamodb.put_item(
        TableName=ctx.names.table,
        Item={
            "operation_id": {"S": f"lock#{ctx.settings.target.cluster_id}"},
            "timestamp": {"S": "LOCK"},
            "holder": {"S": holder},
            "lock_expires_at": {"N": str(now + seconds_left)},
        },
    )


def _state_machine(ctx: Any) -> Any:
    sfn = boto3.client("stepfunctions", REGION)
    iam = boto3.client("iam", REGION)
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn.create_state_machine(
        name=ctx.names.state_machine,
        definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Pass", "End": True}}}),
        roleArn=role,
    )
    return sfn


def test_no_run_in_flight_passes(aws: None, config_dir: Path) -> None:
    ctx = _context(config_dir)
    _table(ctx)
    _state_machine(ctx)
    row = in_flight(ctx, preflight.state_document(ctx, None))
    assert (row.name, row.status) == ("no run in flight", "pass")


def test_a_held_lock_is_refused_with_the_way_out(aws: None, config_dir: Path) -> None:
    ctx = _context(config_dir)
    dynamodb = _table(ctx)
    _state_machine(ctx)
    _lock(dynamodb, ctx, "dev-20250101-000000-aaaa", 3600)
    row = in_flight(ctx, preflight.state_document(ctx, None))
    assert row.status == "fail"
    assert "locked by operation dev-20250101-000000-aaaa" in row.detail
    assert "no longer running" in row.detail  # no RUNNING execution holds it: recover
    assert "aurora-restore recover dev-20250101-000000-aaaa --env dev" in row.fix


def test_a_stale_lock_is_no_obstacle(aws: None, config_dir: Path) -> None:
    ctx = _context(config_dir)
    dynamodb = _table(ctx)
    _state_machine(ctx)
    _lock(dynamodb, ctx, "dev-old", -60)
    row = in_flight(ctx, preflight.state_document(ctx, None))
    assert row.status == "pass" and "stale lock of dev-old" in row.detail


def test_a_running_execution_is_refused(aws: None, config_dir: Path) -> None:
    ctx = _context(config_dir)
    _table(ctx)
    sfn = _state_machine(ctx)
    sfn.start_execution(stateMachineArn=ctx.names.state_machine_arn, name="dev-now")
    row = in_flight(ctx, preflight.state_document(ctx, None))
    assert row.status == "fail" and "dev-now" in row.detail and "RUNNING" in row.detail


def test_not_set_up_is_left_to_the_setup_rows(aws: None, config_dir: Path) -> None:
    ctx = _context(config_dir)
    assert in_flight(ctx, preflight.state_document(ctx, None)).status == "pass"


@pytest.mark.parametrize("drill", [False, True])
def test_preflight_runs_the_in_flight_check_for_refreshes_only(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, drill: bool
) -> None:
    from aurora_restore_cli.operations import preflight_runs

    seen: list[str] = []
    monkeypatch.setattr(preflight_runs, "in_flight", lambda ctx, doc: seen.append("asked"))
    monkeypatch.setattr(preflight, "setup_resources", lambda ctx: [])
    monkeypatch.setattr(preflight, "source_snapshot", lambda ctx, doc: (None, None))
    monkeypatch.setattr(preflight, "read_target", lambda ctx: None)
    monkeypatch.setattr(preflight_access, "snapshot_key", lambda ctx, s: [])
    monkeypatch.setattr(preflight_access, "permissions", lambda *a: [])
    monkeypatch.setattr(preflight_network, "network", lambda ctx: [])
    monkeypatch.setattr(preflight_notify, "topic_key", lambda ctx: None)
    monkeypatch.setattr(preflight, "target", lambda *a: [])
    monkeypatch.setattr(preflight, "database_steps", lambda ctx: [])
    monkeypatch.setattr(preflight, "ca_bundle", lambda ctx: None)
    ctx = _context(config_dir)
    preflight.preflight(ctx, drill=drill)
    assert seen == ([] if drill else ["asked"])
