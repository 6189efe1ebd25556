"""The AWS-rules layer for settings parity (aws_rules_parity.py): each rule fires on the
request real AWS refuses, with AWS's error code, and lets the correct request through."""

from __future__ import annotations

from typing import Any

from . import support
from .aws_rules import AwsRules
from .aws_rules_parity import overlap
from .test_aws_rules import cluster, refused

ROLE = "arn:aws:iam::123456789012:role/r{}"


def with_instance(cluster_id: str) -> None:
    cluster(cluster_id)
    support.rds().create_db_instance(DBInstanceIdentifier=f"{cluster_id}-1",
                                     DBClusterIdentifier=cluster_id, Engine="aurora-postgresql",
                                     DBInstanceClass="db.r6g.large")


def modify(**kwargs: Any) -> Any:
    return support.rds().modify_db_cluster(ApplyImmediately=True, **kwargs)


def test_a_parameter_group_of_another_family(aws: None, aws_rules: AwsRules) -> None:
    cluster("c15")
    rds = support.rds()
    for name, family in (("pg14", "aurora-postgresql14"), ("pg15", "aurora-postgresql15")):
        rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=name,
                                              DBParameterGroupFamily=family, Description="x")
    message = refused(aws_rules, "parameter_group_family", "InvalidParameterCombination", modify,
                      DBClusterIdentifier="c15", DBClusterParameterGroupName="pg14")
    assert "DBParameterGroupFamily aurora-postgresql15" in message
    modify(DBClusterIdentifier="c15", DBClusterParameterGroupName="pg15")


def test_backup_retention_and_windows(aws: None, aws_rules: AwsRules) -> None:
    cluster("c1", PreferredMaintenanceWindow="sun:05:00-sun:05:30")
    refused(aws_rules, "backup_retention_range", "InvalidParameterValue", modify,
            DBClusterIdentifier="c1", BackupRetentionPeriod=36)
    refused(aws_rules, "windows_overlap", "InvalidParameterValue", modify,
            DBClusterIdentifier="c1", PreferredBackupWindow="05:15-05:45")
    modify(DBClusterIdentifier="c1", BackupRetentionPeriod=35, PreferredBackupWindow="03:00-03:30")
    assert overlap("23:45-00:15", "mon:00:00-mon:00:30")  # across midnight
    assert overlap("00:10-00:40", "sun:23:50-mon:00:20")  # across the end of the week
    assert not overlap("04:00-04:30", "sun:05:00-sun:05:30")


def test_serverless_capacity(aws: None, aws_rules: AwsRules) -> None:
    cluster("c1")
    refused(aws_rules, "serverless_capacity", "InvalidParameterValue", modify,
            DBClusterIdentifier="c1",
            ServerlessV2ScalingConfiguration={"MinCapacity": 8, "MaxCapacity": 4})


def test_the_role_quota(aws: None, aws_rules: AwsRules) -> None:
    cluster("c1")
    rds = support.rds()
    for n in range(5):
        rds.add_role_to_db_cluster(DBClusterIdentifier="c1", RoleArn=ROLE.format(n),
                                   FeatureName=f"feature{n}")
    refused(aws_rules, "role_quota", "DBClusterRoleQuotaExceeded", rds.add_role_to_db_cluster,
            DBClusterIdentifier="c1", RoleArn=ROLE.format(5), FeatureName="feature5")


def test_cluster_settings_on_an_aurora_instance(aws: None, aws_rules: AwsRules) -> None:
    with_instance("c1")
    rds = support.rds()
    for setting in ({"BackupRetentionPeriod": 7}, {"EnableIAMDatabaseAuthentication": True},
                    {"VpcSecurityGroupIds": ["sg-1"]}):
        refused(aws_rules, "cluster_setting_on_instance", "InvalidParameterCombination",
                rds.modify_db_instance, DBInstanceIdentifier="c1-1", ApplyImmediately=True,
                **setting)
    refused(aws_rules, "monitoring_without_role", "InvalidParameterCombination",
            rds.modify_db_instance, DBInstanceIdentifier="c1-1", ApplyImmediately=True,
            MonitoringInterval=60)
    rds.modify_db_instance(DBInstanceIdentifier="c1-1", ApplyImmediately=True,
                           MonitoringInterval=60, MonitoringRoleArn=ROLE.format("m"))
