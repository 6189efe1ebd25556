"""preflight's RDS quotas and its IAM-auth warning, against moto in-process with the sandbox's
answer to DescribeAccountAttributes and its clone groups (aurora_restore_cli/sandbox/
rds_settings.py): the quota the sandbox reports, filled, refuses the run naming it; a source
whose clone group is full refuses a clone (ClonesPerSource) and sends `auto` to a snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.contract.pipeline_settings import pipeline_settings
from aurora_restore_cli.operations import preflight, preflight_source
from aurora_restore_cli.operations.preflight_quotas import iam_auth, quotas
from aurora_restore_cli.sandbox import rds_settings

from ..conftest import MOTO_ACCOUNT
from .test_preflight import _context
from .test_preflight_target import _target

REGION = "us-east-1"
CLONES_LABEL = "copy-on-write clones of the source"


@pytest.fixture
def sandbox_rds(aws: None) -> Iterator[None]:
    rds_settings.install()
    try:
        yield
    finally:
        rds_settings.uninstall()


def test_the_cluster_quota_without_room_fails_the_preflight(
    sandbox_rds: None, config_dir: Path
) -> None:
    ctx = _context(config_dir)
    cluster = _target(ctx, ["dev-orders-1"])
    settings = pipeline_settings(ctx.settings, ctx.names)
    rows = {r.name: r for r in quotas(ctx, settings, cluster, copy=True)}
    assert rows["DB clusters in this region"].status == "pass"
    assert rows["manual cluster snapshots in this region"].status == "pass"

    rds = boto3.client("rds", REGION)
    (limit,) = [q for q in rds.describe_account_attributes()["AccountQuotas"]
                if q["AccountQuotaName"] == "DBClusters"]
    for n in range(limit["Max"] - limit["Used"]):
        rds.create_db_cluster(DBClusterIdentifier=f"busy-{n}", Engine="aurora-postgresql",
                              MasterUsername="postgres", MasterUserPassword="password-1234")
    row = {r.name: r for r in quotas(ctx, settings, cluster, copy=True)}[
        "DB clusters in this region"]
    assert row.status == "fail"
    assert row.detail == (f"DB clusters in this region (DBClusters): {limit['Max']} of "
                          f"{limit['Max']} used, the run needs 1 more: the run would be refused")
    assert "Service Quotas" in row.fix


def test_iam_auth_warns_and_names_the_policies_with_the_resource_id(
    sandbox_rds: None, config_dir: Path
) -> None:
    ctx = _context(config_dir)
    cluster = _target(ctx, ["dev-orders-1"])
    assert iam_auth(ctx, cluster) == []  # off: nothing to say
    rds = boto3.client("rds", REGION)
    rds.modify_db_cluster(DBClusterIdentifier="dev-orders", ApplyImmediately=True,
                          EnableIAMDatabaseAuthentication=True)
    cluster = preflight.read_target(ctx)
    resource = cluster["DbClusterResourceId"]  # type: ignore[index]
    iam = boto3.client("iam")
    policy = iam.create_policy(PolicyName="orders-app-connect", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "rds-db:connect",
            "Resource": f"arn:aws:rds-db:{REGION}:123456789012:dbuser:{resource}/orders_app"}]}))
    iam.create_role(RoleName="orders-app", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="orders-app", PolicyArn=policy["Policy"]["Arn"])

    (row,) = iam_auth(ctx, cluster)
    assert (row.area, row.name, row.status) == ("target", "IAM database authentication", "warn")
    assert f"today {resource}" in row.detail
    assert "policies naming it: orders-app-connect" in row.detail


def _clone_source_with(clones: int) -> None:
    """prod-orders in the target's region (one instance) with `clones` copy-on-write clones:
    the sandbox puts each in the source's clone group (CloneGroupId), as AWS does."""
    rds = boto3.client("rds", REGION)
    rds.create_db_cluster(DBClusterIdentifier="prod-orders", Engine="aurora-postgresql",
                          EngineVersion="15.4", MasterUsername="postgres",
                          MasterUserPassword="password-1234")
    rds.create_db_instance(DBInstanceIdentifier="prod-orders-1", DBClusterIdentifier="prod-orders",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    for n in range(clones):
        rds.restore_db_cluster_to_point_in_time(
            DBClusterIdentifier=f"prod-orders-clone-{n}", SourceDBClusterIdentifier="prod-orders",
            RestoreType="copy-on-write", UseLatestRestorableTime=True)


def _same_region(restore_from: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["source"].update(region=REGION, account_id=MOTO_ACCOUNT, kms_key_id=None,
                              restore_from=restore_from)
    return edit


def test_a_full_clone_group_refuses_a_clone_naming_the_quota(
    sandbox_rds: None, config_dir: Path
) -> None:
    """15 copy-on-write clones of the source already: a clone run is refused before anything is
    created — the restore path row and the quota row name ClonesPerSource and its usage."""
    ctx = _context(config_dir, _same_region("clone"))
    cluster = _target(ctx, ["dev-orders-1"])
    _clone_source_with(14)
    document = preflight.state_document(ctx, None)
    rows, chosen = preflight_source.restore_path(ctx, document)
    assert chosen is not None and chosen["path"] == "clone" and chosen["clones"] == 14
    settings = document["settings"]
    source = preflight_source.clone_source(ctx, document, chosen)
    row = {r.name: r for r in quotas(ctx, settings, cluster, False, source)}[CLONES_LABEL]
    assert (row.status, row.detail) == ("pass", f"{CLONES_LABEL} (ClonesPerSource): 14 of 15 "
                                                "used, the run needs 1 more")

    boto3.client("rds", REGION).restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="prod-orders-clone-14", SourceDBClusterIdentifier="prod-orders-clone-0",
        RestoreType="copy-on-write", UseLatestRestorableTime=True)  # a clone of a clone counts
    rows, chosen = preflight_source.restore_path(ctx, document)
    assert chosen is None
    (path_row,) = rows
    assert path_row.status == "fail" and path_row.detail.startswith("QuotaExceeded: ")
    assert f"{CLONES_LABEL} (ClonesPerSource): 15 of 15 used, the run needs 1 more" in \
        path_row.detail
    assert "restore a snapshot" in path_row.fix
    source = preflight_source.clone_source(ctx, document, chosen)
    assert source is not None and source["DBClusterIdentifier"] == "prod-orders"
    rows_by_name = {r.name: r for r in quotas(ctx, settings, cluster, False, source)}
    row = rows_by_name[CLONES_LABEL]
    assert row.status == "fail" and "15 of 15 used" in row.detail
    assert "clone group" in row.fix and "Service Quotas" not in row.fix
    # No snapshot is copied on this path: the snapshot quota needs only the final snapshot.
    assert "the run needs 1 more" in rows_by_name["manual cluster snapshots in this region"].detail


def test_auto_restores_a_snapshot_when_the_clone_group_is_full(
    sandbox_rds: None, config_dir: Path
) -> None:
    ctx = _context(config_dir, _same_region("auto"))
    _target(ctx, ["dev-orders-1"])
    _clone_source_with(15)
    document = preflight.state_document(ctx, None)
    rows, chosen = preflight_source.restore_path(ctx, document)
    assert chosen is not None and chosen["path"] == "snapshot"
    assert rows[0].status == "pass"
    assert rows[0].detail == (
        f"snapshot: auto: no clone ({CLONES_LABEL} (ClonesPerSource): 15 of 15 used, the run "
        "needs 1 more): snapshot")
    assert preflight_source.clone_source(ctx, document, chosen) is None  # no clone row
