"""Settings parity end to end on moto (with the sandbox's RDS fidelity and AWS's rules on): the
refreshed target keeps the old target's settings; what cannot be applied blocks the swap,
naming the field, with the target untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.rds.models import RDSBackend

from handlers.lib import naming, parity

from . import support
from .aws_rules import AwsRules
from .support import TARGET, World

pytestmark = pytest.mark.usefixtures("router")

ROLE = f"arn:aws:iam::{support.ACCOUNT}:role/dev-orders-s3-import"
MONITORING = f"arn:aws:iam::{support.ACCOUNT}:role/rds-monitoring"


def own_the_target(world: World, family: str = "aurora-postgresql15") -> dict[str, Any]:
    """The target as a team runs it: its own cluster and instance parameter groups, an extra
    security group, a custom tag, backups kept 7 days, IAM auth, an S3 role, Performance
    Insights and enhanced monitoring on its instance."""
    rds, ec2 = support.rds(), support.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    extra = ec2.create_security_group(GroupName="dev-orders-bastion", Description="bastion",
                                      VpcId=vpc)["GroupId"]
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="dev-orders-pg", DBParameterGroupFamily=family,
        Description="pg_stat_statements and friends")
    rds.create_db_parameter_group(
        DBParameterGroupName="dev-orders-instance-pg", DBParameterGroupFamily=family,
        Description="instance parameters")
    rds.modify_db_cluster(
        DBClusterIdentifier=TARGET, ApplyImmediately=True,
        DBClusterParameterGroupName="dev-orders-pg",
        VpcSecurityGroupIds=["sg-0a1b2c3d4e5f60718", extra], BackupRetentionPeriod=7,
        EnableIAMDatabaseAuthentication=True, PreferredBackupWindow="03:00-03:30",
        PreferredMaintenanceWindow="sun:05:00-sun:05:30",
        CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql"]})
    rds.add_role_to_db_cluster(DBClusterIdentifier=TARGET, RoleArn=ROLE, FeatureName="s3Import")
    arn = support.cluster(TARGET)["DBClusterArn"]  # type: ignore[index]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "owner", "Value": "payments"}])
    rds.modify_db_instance(
        DBInstanceIdentifier=f"{TARGET}-1", ApplyImmediately=True,
        DBParameterGroupName="dev-orders-instance-pg", EnablePerformanceInsights=True,
        PerformanceInsightsRetentionPeriod=7, MonitoringInterval=60, MonitoringRoleArn=MONITORING)
    rds.reboot_db_instance(DBInstanceIdentifier=f"{TARGET}-1")
    return {"security_group": extra, "resource_id": support.cluster(TARGET)["DbClusterResourceId"]}  # type: ignore[index]


def instance_of(cluster_id: str) -> dict[str, Any]:
    cluster = support.cluster(cluster_id)
    assert cluster is not None
    writer = parity.writer_first(cluster)[0]
    return dict(support.rds().describe_db_instances(DBInstanceIdentifier=writer)["DBInstances"][0])


def test_the_refreshed_target_has_the_old_targets_settings(world: World) -> None:
    before = own_the_target(world)
    machine = support.deploy(world)
    execution = support.run(machine, "parity-1")
    assert execution["status"] == "SUCCEEDED", execution

    new = support.cluster(TARGET)
    assert new is not None and new["DbClusterResourceId"] != before["resource_id"]  # refreshed
    # the five of the issue …
    assert new["DBClusterParameterGroup"] == "dev-orders-pg"
    assert {g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]} == {
        "sg-0a1b2c3d4e5f60718", before["security_group"]}
    tags = {t["Key"]: t["Value"] for t in new["TagList"]}
    assert tags["owner"] == "payments" and tags["team"] == "dev"
    assert new["BackupRetentionPeriod"] == 7
    assert new["IAMDatabaseAuthenticationEnabled"] is True
    # … and the rest
    assert [(r["RoleArn"], r["FeatureName"]) for r in new["AssociatedRoles"]] == [(ROLE, "s3Import")]
    assert new["PreferredBackupWindow"] == "03:00-03:30"
    assert new["PreferredMaintenanceWindow"] == "sun:05:00-sun:05:30"
    assert new["EnabledCloudwatchLogsExports"] == ["postgresql"]
    instance = instance_of(TARGET)
    assert instance["DBParameterGroups"][0]["DBParameterGroupName"] == "dev-orders-instance-pg"
    assert instance["PerformanceInsightsEnabled"] is True
    assert (instance["MonitoringInterval"], instance["MonitoringRoleArn"]) == (60, MONITORING)
    # the parameter group change was pending a reboot: the check rebooted, then compared
    assert all(m["DBClusterParameterGroupStatus"] == "in-sync" for m in new["DBClusterMembers"])
    trail = {i["step"]: i for i in support.audit_items("parity-1")}
    checked = trail["check-settings"]["details"]
    assert checked["ready"] and checked["rebooted"] == [naming.instance_id(TARGET, "parity-1", 1)]
    assert "iam_auth" in checked["matched"] and checked["pinned"] == []
    started = trail["match-settings"]["details"]
    assert any(d.startswith("parameter_group: the old target has dev-orders-pg")
               for d in started["differences"])
    # the new resource id (rds-db:connect policies name it): in the audit and the notification
    final = trail["finalize"]["details"]
    assert final["db_cluster_resource_id"] == new["DbClusterResourceId"]
    (message,) = [json.loads(n["message"].split("\n\n", 1)[1])
                  for n in support.notifications(world.topic_arn)
                  if "SUCCEEDED" in n["subject"]]
    assert message["db_cluster_resource_id"] == new["DbClusterResourceId"]
    assert before["resource_id"] in message["iam_auth"]


def test_a_pinned_field_keeps_the_configs_value(world: World) -> None:
    support.rds().modify_db_instance(DBInstanceIdentifier=f"{TARGET}-1", ApplyImmediately=True,
                                     DBInstanceClass="db.r6g.2xlarge")
    settings = support.make_settings(world.target_kms, world.source_kms)
    settings["parity"] = {"pin": ["target.instance_class"]}
    machine = support.deploy(world, settings=settings)
    assert support.run(machine, "parity-pin")["status"] == "SUCCEEDED"
    assert instance_of(TARGET)["DBInstanceClass"] == "db.r6g.large"  # the config's, not 2xlarge


def test_a_difference_aws_refuses_blocks_the_swap_naming_the_field(
    world: World, aws_rules: AwsRules
) -> None:
    from moto.rds.models import rds_backends

    # the old target still runs 14 (production moved to 15): its groups are of family 14
    rds_backends[support.ACCOUNT][support.REGION].clusters[TARGET].engine_version = "14.9"
    before = own_the_target(world, family="aurora-postgresql14")
    machine = support.deploy(world)
    execution = support.run(machine, "parity-refused")

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])
    assert cause["errorType"] == "SettingsMismatch"
    assert cause["errorMessage"].startswith("parameter_group: AWS refused to apply the old "
                                            "target's value to the refreshed cluster")
    assert "parity.pin: [target.<key>]" in cause["errorMessage"]
    assert aws_rules.fired["parameter_group_family"] == 1
    # no rename: the old target still serves, unchanged
    assert support.cluster(TARGET)["DbClusterResourceId"] == before["resource_id"]  # type: ignore[index]
    states = support.entered_states(execution["executionArn"])
    assert "SwapOutTarget" not in states and "Verify" not in states


def test_a_field_that_does_not_take_blocks_the_swap_naming_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_the_target(world)
    original = RDSBackend.modify_db_cluster

    def ignores_retention(self: Any, kwargs: dict[str, Any]) -> Any:
        if "-stg-" in str(kwargs.get("db_cluster_identifier")):
            kwargs.pop("backup_retention_period", None)  # accepted, never applied
        return original(self, kwargs)

    monkeypatch.setattr(RDSBackend, "modify_db_cluster", ignores_retention)
    machine = support.deploy(world)
    execution = support.run(machine, "parity-stuck")
    assert execution["status"] == "FAILED", execution
    cause = json.loads(execution["cause"])
    assert cause["errorType"] == "SettingsMismatch"
    assert "backup_retention: the old target has 7, the refreshed cluster 1" in \
        cause["errorMessage"]
    assert "SwapOutTarget" not in support.entered_states(execution["executionArn"])


def test_what_the_old_target_owns_that_goes_away_with_it_refuses_the_run() -> None:
    class Endpoints:
        def describe_db_cluster_endpoints(self, **_: Any) -> dict[str, Any]:
            return {"DBClusterEndpoints": [{"DBClusterEndpointIdentifier": "reporting",
                                            "Endpoint": "reporting.cluster-custom-x.rds",
                                            "EndpointType": "CUSTOM"}]}

    found = parity.what_goes_away(Endpoints(), {"DBClusterIdentifier": TARGET,
                                                "ReadReplicaIdentifiers": ["arn:replica"]})
    assert found[0].startswith("read replica arn:replica replicates from it")
    assert found[1].startswith("custom endpoint reporting (reporting.cluster-custom-x.rds) is "
                               "deleted with it")


def test_desired_takes_the_pinned_fields_from_the_config() -> None:
    instance = {"instance_class": "db.r6g.2xlarge", "instance_parameter_group": "default",
                "performance_insights": {"enabled": False, "retention": None, "kms_key": None},
                "enhanced_monitoring": {"interval": 0, "role": None}}
    old = {"parameter_group": "pg", "security_groups": ["sg-1"], "iam_roles": [], "tags": {},
           "iam_auth": True, "backup_retention": 7, "log_exports": [], "backup_window": "",
           "maintenance_window": "", "serverless_capacity": None, "instances": [instance] * 2,
           "instance_count": 2}
    wanted = parity.desired(old, {"instance_class": "db.t4g.medium", "instance_count": 1,
                                  "iam_auth": False}, ["instance_class", "instance_count"])
    assert wanted["instance_count"] == 1 and wanted["iam_auth"] is True  # iam_auth not pinned
    assert [i["instance_class"] for i in wanted["instances"]] == ["db.t4g.medium"]


def test_an_old_target_without_instances_leaves_them_to_the_config() -> None:
    old = {"parameter_group": "default", "security_groups": [], "iam_roles": [], "tags": {},
           "iam_auth": False, "backup_retention": 1, "log_exports": [], "backup_window": "",
           "maintenance_window": "", "serverless_capacity": None, "instances": [],
           "instance_count": 0}
    wanted = parity.desired(old, {"instance_class": "db.r6g.large", "instance_count": 2}, [])
    assert wanted["instance_count"] == 2
    assert [i["instance_class"] for i in wanted["instances"]] == ["db.r6g.large"] * 2


def test_nothing_to_match_is_checked_at_once(world: World) -> None:
    """The first refresh (no target yet): settings parity has nothing to apply, so CheckSettings
    comes at once, not after the loop's first_seconds (1 s here, as every other loop's)."""
    rds = support.rds()
    for member in support.cluster(TARGET)["DBClusterMembers"]:  # type: ignore[index]
        rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"])
    rds.delete_db_cluster(DBClusterIdentifier=TARGET, SkipFinalSnapshot=True)
    machine = support.deploy(world, poll_interval=1, max_attempts=60)
    execution = support.run(machine, "first-refresh")
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    waits = [json.loads(e["stateEnteredEventDetails"]["input"])["poll"]
             for e in support.history(execution["executionArn"])
             if e.get("stateEnteredEventDetails", {}).get("name") == "WaitForSettings"]
    assert [(w["what"], w["wait_seconds"]) for w in waits] == [("settings", 0)]
    restore = [json.loads(e["stateEnteredEventDetails"]["input"])["poll"]["wait_seconds"]
               for e in support.history(execution["executionArn"])
               if e.get("stateEnteredEventDetails", {}).get("name") == "WaitForCluster"]
    assert restore[0] == 1  # what the loops wait first, where something was started
    matched = next(i for i in support.audit_items("first-refresh") if i["step"] == "match-settings")
    assert matched["status"] == "SKIPPED"
