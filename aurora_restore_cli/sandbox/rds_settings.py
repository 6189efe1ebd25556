"""Make the sandbox's moto RDS answer what settings parity and the preflight's quotas read,
as AWS does (moto 5.2.6 lacks or skips these; the pipeline tests install the same patches):

- `DescribeAccountAttributes` (not implemented in moto): the account's RDS quotas, with the
  sandbox's own usage (`Used`) and AWS's default maxima (`Max`), or those of
  `AURORA_RESTORE_SANDBOX_QUOTAS` (JSON, e.g. `{"DBClusters": 3}`: a sandbox with no room);
- `DescribeDBClusterEndpoints` (not implemented): a cluster's writer and reader endpoints
  (the sandbox has no custom endpoints);
- `ModifyDBCluster` with `EnableIAMDatabaseAuthentication` or `CloudwatchLogsExportConfiguration`:
  moto accepts and ignores both; AWS applies them;
- `ModifyDBInstance` with `EnablePerformanceInsights`: moto keeps it off; AWS turns it on;
- a parameter group change (`ModifyDBCluster DBClusterParameterGroupName`, `ModifyDBInstance
  DBParameterGroupName`) leaves the instances `pending-reboot` (DBClusterMembers'
  `DBClusterParameterGroupStatus`, the instance's `ParameterApplyStatus`) until
  `RebootDBInstance`, as AWS does for static parameters (moto says `in-sync` at once);
- a copy-on-write clone (`RestoreDBClusterToPointInTime RestoreType=copy-on-write`) joins its
  source's clone group: both report the same `CloneGroupId`, which the quota of clones per
  source counts (moto has no clone groups).

    from aurora_restore_cli.sandbox import rds_settings
    rds_settings.install()
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

QUOTA_ENV = "AURORA_RESTORE_SANDBOX_QUOTAS"
# AWS's default RDS quotas (Service Quotas, per account and region).
DEFAULT_QUOTAS = {
    "DBClusters": 40,
    "DBInstances": 40,
    "ManualClusterSnapshots": 100,
    "DBClusterParameterGroups": 50,
    "DBParameterGroups": 50,
    "DBClusterRoles": 5,
    "CustomEndpointsPerDBCluster": 5,
}
PENDING_CLUSTER = "_aurora_restore_cluster_group_pending"  # on an instance: its cluster's group
PENDING = "_aurora_restore_instance_group_pending"  # on an instance: its own group
PENDING_REBOOT = "pending-reboot"

_originals: dict[tuple[Any, str], Any] = {}


def quotas() -> dict[str, int]:
    """The maxima the sandbox reports: AWS's defaults, or QUOTA_ENV's."""
    found = dict(DEFAULT_QUOTAS)
    override = os.environ.get(QUOTA_ENV)
    if override:
        found.update({str(k): int(v) for k, v in json.loads(override).items()})
    return found


def usage(backend: Any) -> dict[str, int]:
    snapshots = backend.cluster_snapshots.values()
    return {
        "DBClusters": len(backend.clusters),
        "DBInstances": len(backend.databases),
        "ManualClusterSnapshots": sum(1 for s in snapshots if s.snapshot_type == "manual"),
        "DBClusterParameterGroups": len(backend.db_cluster_parameter_groups),
        "DBParameterGroups": len(backend.db_parameter_groups),
        "DBClusterRoles": max((len(c.associated_roles) for c in backend.clusters.values()),
                              default=0),
        "CustomEndpointsPerDBCluster": 0,
    }


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.rds.models import DBCluster, DBInstance, RDSBackend
    from moto.rds.responses import RDSResponse

    if _originals:
        return

    def keep(owner: Any, name: str) -> Any:
        _originals[(owner, name)] = owner.__dict__[name]
        return owner.__dict__[name]

    modify_cluster = keep(RDSBackend, "modify_db_cluster")
    modify_instance = keep(RDSBackend, "modify_db_instance")
    reboot = keep(RDSBackend, "reboot_db_instance")
    restore_to_time = keep(RDSBackend, "restore_db_cluster_to_point_in_time")
    keep(DBCluster, "db_cluster_members")
    members_of = DBCluster.__dict__["db_cluster_members"].fget
    keep(DBInstance, "db_parameter_group_status_list")
    groups_of = DBInstance.__dict__["db_parameter_group_status_list"].fget

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster = self.clusters.get(str(kwargs.get("db_cluster_identifier") or "").lower())
        iam = kwargs.pop("enable_iam_database_authentication", None)
        exports = kwargs.pop("cloudwatch_logs_export_configuration", None)
        group = kwargs.get("db_cluster_parameter_group_name")
        changed = cluster is not None and group and group != cluster.parameter_group
        result = modify_cluster(self, kwargs)
        cluster = self.clusters.get(str(kwargs.get("db_cluster_identifier") or
                                        result.db_cluster_identifier).lower(), cluster)
        if cluster is not None:
            if iam is not None:
                cluster.iam_auth = bool(iam)
                result.iam_auth = bool(iam)
            if exports:
                logs = [t for t in cluster.enabled_cloudwatch_logs_exports
                        if t not in (exports.get("DisableLogTypes") or [])]
                logs += [t for t in exports.get("EnableLogTypes") or [] if t not in logs]
                cluster.enabled_cloudwatch_logs_exports = logs
                result.enabled_cloudwatch_logs_exports = list(logs)
            if changed:
                for member in cluster.members:
                    setattr(member, PENDING_CLUSTER, True)
        return result

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: Any) -> Any:
        instance = self.databases.get(db_instance_identifier)
        insights = db_kwargs.pop("enable_performance_insights", None)
        group = db_kwargs.get("db_parameter_group_name")
        changed = instance is not None and group and group != instance.db_parameter_group_name
        result = modify_instance(self, db_instance_identifier, db_kwargs)
        if insights is not None:
            result.performance_insights_enabled = bool(insights)
            if insights and not getattr(result, "performance_insights_retention_period", None):
                result.performance_insights_retention_period = 7
        if changed:
            setattr(result, PENDING, True)
        return result

    def reboot_db_instance(self: Any, db_instance_identifier: str) -> Any:
        instance = reboot(self, db_instance_identifier)
        for flag in (PENDING, PENDING_CLUSTER):
            if getattr(instance, flag, False):
                setattr(instance, flag, False)
        return instance

    def restore_db_cluster_to_point_in_time(
        self: Any, db_cluster_identifier: str, source_db_cluster_identifier: str,
        restore_type: str = "full-copy", *args: Any, **kwargs: Any,
    ) -> Any:
        cluster = restore_to_time(self, db_cluster_identifier, source_db_cluster_identifier,
                                  restore_type, *args, **kwargs)
        if restore_type == "copy-on-write":
            (source,) = self.describe_db_clusters(
                db_cluster_identifier=source_db_cluster_identifier)
            group = getattr(source, "clone_group_id", None) or str(uuid.uuid4())
            source.clone_group_id = cluster.clone_group_id = group
        return cluster

    def db_cluster_members(self: Any) -> list[dict[str, Any]]:
        found = members_of(self)
        by_id = {m.db_instance_identifier: m for m in self.members}
        for member in found:
            if getattr(by_id.get(member["DBInstanceIdentifier"]), PENDING_CLUSTER, False):
                member["DBClusterParameterGroupStatus"] = PENDING_REBOOT
        return list(found)

    def db_parameter_group_status_list(self: Any) -> Any:
        groups = groups_of(self)
        if getattr(self, PENDING, False):
            for group in groups:
                group.ParameterApplyStatus = PENDING_REBOOT
        return groups

    def describe_account_attributes(self: Any) -> Any:
        used, maxima = usage(self.backend), quotas()
        return ActionResult({"AccountQuotas": [
            {"AccountQuotaName": name, "Used": used.get(name, 0), "Max": limit}
            for name, limit in maxima.items()
        ]})

    def describe_db_cluster_endpoints(self: Any) -> Any:
        wanted = self.params.get("DBClusterIdentifier")
        filters = {f["Name"]: f["Values"] for f in self.params.get("Filters", [])}
        clusters = self.backend.describe_db_clusters(db_cluster_identifier=wanted)
        kinds = [str(v).upper() for v in filters.get("db-cluster-endpoint-type", [])]
        endpoints = [
            {"DBClusterEndpointIdentifier": c.db_cluster_identifier,
             "DBClusterIdentifier": c.db_cluster_identifier, "Endpoint": address,
             "Status": "available", "EndpointType": kind}
            for c in clusters
            for kind, address in (("WRITER", c.endpoint), ("READER", c.reader_endpoint))
            if not kinds or kind in kinds
        ]
        return ActionResult({"DBClusterEndpoints": endpoints})

    RDSBackend.modify_db_cluster = modify_db_cluster  # type: ignore[method-assign]
    RDSBackend.modify_db_instance = modify_db_instance  # type: ignore[method-assign]
    RDSBackend.reboot_db_instance = reboot_db_instance  # type: ignore[method-assign]
    RDSBackend.restore_db_cluster_to_point_in_time = (  # type: ignore[method-assign]
        restore_db_cluster_to_point_in_time)
    DBCluster.db_cluster_members = property(db_cluster_members)  # type: ignore[method-assign,assignment]
    DBInstance.db_parameter_group_status_list = property(  # type: ignore[method-assign,assignment]
        db_parameter_group_status_list)
    RDSResponse.describe_account_attributes = describe_account_attributes  # type: ignore[attr-defined]
    RDSResponse.describe_db_cluster_endpoints = describe_db_cluster_endpoints  # type: ignore[attr-defined]


def uninstall() -> None:
    from moto.rds.responses import RDSResponse

    for (owner, name), original in _originals.items():
        setattr(owner, name, original)
    _originals.clear()
    for name in ("describe_account_attributes", "describe_db_cluster_endpoints"):
        if name in RDSResponse.__dict__:
            delattr(RDSResponse, name)
