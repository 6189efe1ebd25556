"""preflight's RDS quotas and its IAM-auth warning, against moto in-process with the sandbox's
answer to DescribeAccountAttributes (aurora_restore_cli/sandbox/rds_settings.py): the quota
the sandbox reports, filled, refuses the run naming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from aurora_restore_cli.contract.pipeline_settings import pipeline_settings
from aurora_restore_cli.operations import preflight
from aurora_restore_cli.operations.preflight_quotas import iam_auth, quotas
from aurora_restore_cli.sandbox import rds_settings

from .test_preflight import _context
from .test_preflight_target import _target

REGION = "us-east-1"


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
