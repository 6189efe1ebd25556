"""Test support: AWS's rules for the calls of settings parity that moto does not enforce (a
part of aws_rules, switched on with it; see the RDS API reference for each action):

| request | AWS's answer | rule |
|---|---|---|
| ModifyDBCluster DBClusterParameterGroupName of a group of another family than the cluster's engine version | InvalidParameterCombination | `parameter_group_family` |
| ModifyDBCluster BackupRetentionPeriod outside 1–35 days | InvalidParameterValue | `backup_retention_range` |
| ModifyDBCluster whose backup window overlaps its maintenance window | InvalidParameterValue | `windows_overlap` |
| ModifyDBCluster ServerlessV2ScalingConfiguration with MinCapacity above MaxCapacity | InvalidParameterValue | `serverless_capacity` |
| AddRoleToDBCluster beyond the DBClusterRoles quota (5) | DBClusterRoleQuotaExceeded | `role_quota` |
| ModifyDBInstance of an Aurora instance with a cluster-level setting (backup retention or window, security groups, IAM auth, deletion protection) | InvalidParameterCombination | `cluster_setting_on_instance` |
| ModifyDBInstance MonitoringInterval > 0 without a MonitoringRoleArn (given or already set) | InvalidParameterCombination | `monitoring_without_role` |

(moto itself refuses a role associated twice, DBClusterRoleAlreadyExists.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.rds.models import RDSBackend

ROLE_QUOTA = 5
CLUSTER_LEVEL = {
    "backup_retention_period": "BackupRetentionPeriod",
    "preferred_backup_window": "PreferredBackupWindow",
    "vpc_security_group_ids": "VpcSecurityGroupIds",
    "enable_iam_database_authentication": "EnableIAMDatabaseAuthentication",
    "deletion_protection": "DeletionProtection",
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def family(engine: str, version: str) -> str:
    """The parameter group family of an engine version (what DescribeDBEngineVersions says)."""
    if engine == "aurora-mysql":
        return f"aurora-mysql{'.'.join(version.split('.')[:2])}"
    return f"{engine}{version.split('.')[0]}"


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def overlap(backup: str, maintenance: str) -> bool:
    """A daily backup window `hh:mm-hh:mm` and a weekly `ddd:hh:mm-ddd:hh:mm` overlap (both
    may wrap around: midnight, the end of the week)."""
    week = 7 * 1440

    def span(start: int, end: int) -> set[int]:
        length = (end - start) % week or week
        return {(start + m) % week for m in range(length)}

    first, last = (_minutes(p) for p in backup.split("-"))
    daily = set().union(*(span(d * 1440 + first, d * 1440 + first + (last - first) % 1440)
                          for d in range(7)))
    begin, finish = (DAYS.index(p[:3]) * 1440 + _minutes(p[4:]) for p in maintenance.split("-"))
    return bool(daily & span(begin, finish))


@contextmanager
def parity_rules(rules: Any) -> Iterator[None]:
    names = ("modify_db_cluster", "modify_db_instance", "add_role_to_db_cluster")
    originals = {name: getattr(RDSBackend, name) for name in names}

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster = self.clusters.get(str(kwargs.get("db_cluster_identifier") or "").lower())
        if cluster is not None:
            _check_cluster(self, cluster, kwargs)
        return originals["modify_db_cluster"](self, kwargs)

    def _check_cluster(backend: Any, cluster: Any, kwargs: dict[str, Any]) -> None:
        group = kwargs.get("db_cluster_parameter_group_name")
        if group:
            found = backend.db_cluster_parameter_groups.get(group)
            group_family = found.db_parameter_group_family if found is not None else (
                group.split(".", 1)[1] if group.startswith("default.") else None)
            wanted = family(cluster.engine, cluster.engine_version)
            if group_family and group_family != wanted and group_family != "aurora8.0":
                raise rules.refuse(
                    "parameter_group_family", "InvalidParameterCombination",
                    f"The parameter group {group} with DBParameterGroupFamily {group_family} "
                    f"cannot be used for this instance. Please use a Parameter Group with "
                    f"DBParameterGroupFamily {wanted}",
                )
        retention = kwargs.get("backup_retention_period")
        if retention is not None and not 1 <= int(retention) <= 35:
            raise rules.refuse("backup_retention_range", "InvalidParameterValue",
                               "Invalid backup retention period: it must be between 1 and 35")
        backup = kwargs.get("preferred_backup_window") or cluster.preferred_backup_window
        maintenance = (kwargs.get("preferred_maintenance_window")
                       or cluster.preferred_maintenance_window)
        if (kwargs.get("preferred_backup_window") or kwargs.get("preferred_maintenance_window")) \
                and backup and maintenance and re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", backup) \
                and overlap(backup, maintenance.lower()):
            raise rules.refuse("windows_overlap", "InvalidParameterValue",
                               "The backup window and maintenance window must not overlap.")
        capacity = kwargs.get("serverless_v2_scaling_configuration") or {}
        low, high = capacity.get("MinCapacity"), capacity.get("MaxCapacity")
        if low is not None and high is not None and float(low) > float(high):
            raise rules.refuse("serverless_capacity", "InvalidParameterValue",
                               "MinCapacity must be less than or equal to MaxCapacity")

    def add_role_to_db_cluster(self: Any, db_cluster_identifier: str, role_arn: str,
                               feature_name: str) -> Any:
        cluster = self.clusters.get(str(db_cluster_identifier).lower())
        if cluster is not None and len(cluster.associated_roles) >= ROLE_QUOTA:
            raise rules.refuse("role_quota", "DBClusterRoleQuotaExceeded",
                               f"You cannot associate more than {ROLE_QUOTA} IAM roles with a "
                               "DB cluster")
        return originals["add_role_to_db_cluster"](self, db_cluster_identifier, role_arn,
                                                   feature_name)

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: Any) -> Any:
        instance = self.databases.get(db_instance_identifier)
        if instance is not None and getattr(instance, "db_cluster_identifier", None):
            given = [name for key, name in CLUSTER_LEVEL.items() if db_kwargs.get(key)
                     not in (None, [], "")]
            if given:
                raise rules.refuse(
                    "cluster_setting_on_instance", "InvalidParameterCombination",
                    f"The requested DB instance is a member of a DB cluster: set "
                    f"{', '.join(given)} on the DB cluster",
                )
        interval = int(db_kwargs.get("monitoring_interval") or 0)
        role = db_kwargs.get("monitoring_role_arn") or getattr(instance, "monitoring_role_arn",
                                                              None)
        if interval and not role:
            raise rules.refuse("monitoring_without_role", "InvalidParameterCombination",
                               "A MonitoringRoleARN value is required if you specify a "
                               "MonitoringInterval value other than 0.")
        return originals["modify_db_instance"](self, db_instance_identifier, db_kwargs)

    for name in names:
        setattr(RDSBackend, name, locals()[name])
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(RDSBackend, name, original)
