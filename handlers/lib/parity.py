"""Settings parity: the old target's environment, on the refreshed cluster, before the swap.

A restore makes a cluster with the config's settings (or AWS's defaults): the default parameter
group, the configured security groups, no IAM roles, none of the target's own tags. The apps
then break after the swap. So before the swap (strategy `swap`: the old target still serves),
`match_settings` reads the old target's settings, applies them to the staging cluster and its
instances, and `check_settings` waits, reboots where a parameter group change is pending,
reads them back and compares: any field that still differs blocks the swap, named.

| field | of | read from | applied with |
|---|---|---|---|
| parameter_group | cluster | DBClusterParameterGroup (a default group matches any default group: the new cluster's own family) | ModifyDBCluster DBClusterParameterGroupName, then a reboot of each member where it is pending |
| security_groups | cluster | VpcSecurityGroups | ModifyDBCluster VpcSecurityGroupIds |
| iam_roles | cluster | AssociatedRoles (role + feature) | AddRoleToDBCluster |
| tags | cluster | ListTagsForResource, but aurora-restore:* and aws:* | AddTagsToResource |
| iam_auth | cluster | IAMDatabaseAuthenticationEnabled | ModifyDBCluster EnableIAMDatabaseAuthentication |
| backup_retention | cluster | BackupRetentionPeriod | ModifyDBCluster BackupRetentionPeriod |
| log_exports | cluster | EnabledCloudwatchLogsExports | ModifyDBCluster CloudwatchLogsExportConfiguration |
| backup_window, maintenance_window | cluster | PreferredBackupWindow, PreferredMaintenanceWindow | ModifyDBCluster |
| serverless_capacity | cluster | ServerlessV2ScalingConfiguration | ModifyDBCluster |
| instance_count | instances | DBClusterMembers | CreateDBInstance / DeleteDBInstance |
| instance_class, instance_parameter_group, performance_insights, enhanced_monitoring | each instance (the writer's first) | DescribeDBInstances | ModifyDBInstance (+ reboot) |
| deletion_protection | cluster | the config (`target.deletion_protection`): finalize sets it once the cluster serves, and only aurora-restore's own protection can be lifted by a later run | — |

`settings.parity.pin` lists the fields the config decides instead (`target.instance_class` …):
their desired value is the config's. Everything here is pure but `read`: the steps do the
writes, through the guarded `clusters.Writes`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.lib import rds
from handlers.lib.parity_fields import CLUSTER_FIELDS, FIELDS, INSTANCE_FIELDS, PINNABLE

DEFAULT_GROUP = "default"  # any default parameter group: the cluster's own family
PENDING_REBOOT = "pending-reboot"
UNSAID = ("security_groups", "backup_window", "maintenance_window", "serverless_capacity")
OURS = ("aurora-restore:", "aws:")

Settings = dict[str, Any]


@dataclass(frozen=True)
class Difference:
    field: str
    current: Any
    desired: Any

    def describe(self) -> str:
        return f"{self.field}: the old target has {_show(self.desired)}, the refreshed cluster " \
               f"{_show(self.current)}"


__all__ = ["CLUSTER_FIELDS", "FIELDS", "INSTANCE_FIELDS", "PINNABLE", "Difference", "read"]


def read(client: Any, cluster: Mapping[str, Any]) -> Settings:
    """The settings of a cluster and its instances (writer first), as comparable values."""
    found: Settings = {
        "parameter_group": _group(str(cluster.get("DBClusterParameterGroup") or "")),
        "security_groups": sorted(g["VpcSecurityGroupId"]
                                  for g in cluster.get("VpcSecurityGroups") or []),
        "iam_roles": sorted(_role(r) for r in cluster.get("AssociatedRoles") or []
                            if r.get("Status", "ACTIVE") == "ACTIVE"),
        "tags": {k: v for k, v in rds.cluster_tags(client, dict(cluster)).items()
                 if not k.startswith(OURS)},
        "iam_auth": bool(cluster.get("IAMDatabaseAuthenticationEnabled")),
        "backup_retention": int(cluster.get("BackupRetentionPeriod") or 1),
        "log_exports": sorted(cluster.get("EnabledCloudwatchLogsExports") or []),
        "backup_window": str(cluster.get("PreferredBackupWindow") or "").lower(),
        "maintenance_window": str(cluster.get("PreferredMaintenanceWindow") or "").lower(),
        "serverless_capacity": _capacity(cluster.get("ServerlessV2ScalingConfiguration")),
    }
    instances = [_instance(rds.describe_instance(client, i) or {}) for i in writer_first(cluster)]
    found["instances"] = instances
    found["instance_count"] = len(instances)
    return found


def writer_first(cluster: Mapping[str, Any]) -> list[str]:
    members = cluster.get("DBClusterMembers") or []
    ordered = sorted(members, key=lambda m: (not m.get("IsClusterWriter"),
                                             str(m.get("DBInstanceIdentifier"))))
    return [str(m["DBInstanceIdentifier"]) for m in ordered]


def pending_reboots(client: Any, cluster: Mapping[str, Any]) -> list[str]:
    """Instances whose cluster or instance parameter group waits for a reboot."""
    waiting = {str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers") or []
               if m.get("DBClusterParameterGroupStatus") == PENDING_REBOOT}
    for instance_id in writer_first(cluster):
        instance = rds.describe_instance(client, instance_id) or {}
        if any(g.get("ParameterApplyStatus") == PENDING_REBOOT
               for g in instance.get("DBParameterGroups") or []):
            waiting.add(instance_id)
    return sorted(waiting)


def desired(old: Settings, target: Mapping[str, Any], pinned: Sequence[str]) -> Settings:
    """The old target's settings, with the pinned fields taken from the config (`target`)."""
    wanted = json.loads(json.dumps(old))
    config = {
        "instance_class": target.get("instance_class"),
        "instance_count": target.get("instance_count"),
        "parameter_group": _group(str(target.get("parameter_group") or "default.")),
        "security_groups": sorted(target.get("security_group_ids") or []),
        "iam_auth": bool(target.get("iam_auth")),
        "log_exports": sorted(target.get("log_exports") or []),
        "serverless_capacity": _capacity(_serverless(target.get("serverless"))),
    }
    for name in pinned:
        wanted[name] = config[name]
    if not old["instances"]:  # an old target without instances says nothing about them
        wanted["instance_count"] = int(target.get("instance_count") or 1)
        blank = _instance({"DBInstanceClass": config["instance_class"]})
        wanted["instances"] = [blank]
    instances = wanted["instances"]
    count = int(wanted["instance_count"])
    instances = (instances + [instances[0]] * count)[:count]
    if "instance_class" in pinned:
        instances = [{**i, "instance_class": config["instance_class"]} for i in instances]
    wanted["instances"] = instances
    return wanted


def differences(current: Settings, wanted: Settings) -> list[Difference]:
    found = [Difference(f, current.get(f), wanted.get(f)) for f in CLUSTER_FIELDS
             if not _same(f, current.get(f), wanted.get(f))]
    if current["instance_count"] != wanted["instance_count"]:
        found.append(Difference("instance_count", current["instance_count"],
                                wanted["instance_count"]))
    for name in INSTANCE_FIELDS:
        have = sorted(_key(i.get(name)) for i in current["instances"])
        want = sorted(_key(i.get(name)) for i in wanted["instances"])
        if have != want and current["instance_count"] == wanted["instance_count"]:
            found.append(Difference(name, [json.loads(h) for h in have],
                                    [json.loads(w) for w in want]))
    return found


def cluster_changes(current: Settings, wanted: Settings) -> dict[str, Any]:
    """ModifyDBCluster parameters for the cluster fields that differ (ApplyImmediately)."""
    params: dict[str, Any] = {}
    if not _same("parameter_group", current["parameter_group"], wanted["parameter_group"]):
        params["DBClusterParameterGroupName"] = wanted["parameter_group"]
    if current["security_groups"] != wanted["security_groups"] and wanted["security_groups"]:
        params["VpcSecurityGroupIds"] = list(wanted["security_groups"])
    if current["iam_auth"] != wanted["iam_auth"]:
        params["EnableIAMDatabaseAuthentication"] = wanted["iam_auth"]
    if current["backup_retention"] != wanted["backup_retention"]:
        params["BackupRetentionPeriod"] = wanted["backup_retention"]
    if current["log_exports"] != wanted["log_exports"]:
        params["CloudwatchLogsExportConfiguration"] = {
            "EnableLogTypes": sorted(set(wanted["log_exports"]) - set(current["log_exports"])),
            "DisableLogTypes": sorted(set(current["log_exports"]) - set(wanted["log_exports"])),
        }
    for name, key in (("backup_window", "PreferredBackupWindow"),
                      ("maintenance_window", "PreferredMaintenanceWindow")):
        if current[name] != wanted[name] and wanted[name]:
            params[key] = wanted[name]
    if current["serverless_capacity"] != wanted["serverless_capacity"] and \
            wanted["serverless_capacity"]:
        capacity = wanted["serverless_capacity"]
        params["ServerlessV2ScalingConfiguration"] = {"MinCapacity": capacity["min"],
                                                      "MaxCapacity": capacity["max"]}
    return params


def roles_to_add(current: Settings, wanted: Settings) -> list[tuple[str, str]]:
    return [_split_role(r) for r in wanted["iam_roles"] if r not in current["iam_roles"]]


def tags_to_add(current: Settings, wanted: Settings) -> dict[str, str]:
    return {k: v for k, v in wanted["tags"].items() if current["tags"].get(k) != v}


def instance_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """ModifyDBInstance parameters taking one instance from `current` to `wanted`."""
    params: dict[str, Any] = {}
    if current["instance_class"] != wanted["instance_class"] and wanted["instance_class"]:
        params["DBInstanceClass"] = wanted["instance_class"]
    group = wanted["instance_parameter_group"]
    if not _same("instance_parameter_group", current["instance_parameter_group"], group):
        params["DBParameterGroupName"] = group
    insights = wanted["performance_insights"]
    if current["performance_insights"] != insights:
        params["EnablePerformanceInsights"] = bool(insights["enabled"])
        if insights["enabled"]:
            params.update({k: v for k, v in (("PerformanceInsightsRetentionPeriod",
                                              insights["retention"]),
                                             ("PerformanceInsightsKMSKeyId",
                                              insights["kms_key"])) if v})
    monitoring = wanted["enhanced_monitoring"]
    if current["enhanced_monitoring"] != monitoring:
        params["MonitoringInterval"] = int(monitoring["interval"])
        if monitoring["role"]:
            params["MonitoringRoleArn"] = monitoring["role"]
    return params


def create_parameters(wanted: Mapping[str, Any]) -> dict[str, Any]:
    """CreateDBInstance parameters of an instance added to match the old target's count."""
    params: dict[str, Any] = {"DBInstanceClass": wanted["instance_class"]}
    if wanted["instance_parameter_group"] != DEFAULT_GROUP:
        params["DBParameterGroupName"] = wanted["instance_parameter_group"]
    insights = wanted["performance_insights"]
    if insights["enabled"]:
        params["EnablePerformanceInsights"] = True
        params.update({k: v for k, v in (("PerformanceInsightsRetentionPeriod",
                                          insights["retention"]),
                                         ("PerformanceInsightsKMSKeyId", insights["kms_key"]))
                       if v})
    monitoring = wanted["enhanced_monitoring"]
    if monitoring["interval"]:
        params.update(MonitoringInterval=int(monitoring["interval"]),
                      MonitoringRoleArn=monitoring["role"])
    return params


def what_goes_away(client: Any, cluster: Mapping[str, Any]) -> list[str]:
    """What the old target owns that the applications may use and that goes away with it when
    it is deleted after the swap (an empty list: nothing)."""
    cluster_id = str(cluster.get("DBClusterIdentifier"))
    found = []
    if cluster.get("MasterUserSecret"):
        found.append(f"its RDS-managed master secret "
                     f"{cluster['MasterUserSecret'].get('SecretArn', '')} (RDS deletes it with "
                     "the cluster): turn it off first (--no-manage-master-user-password)")
    for replica in cluster.get("ReadReplicaIdentifiers") or []:
        found.append(f"read replica {replica} replicates from it: promote or delete it first")
    try:
        endpoints = client.describe_db_cluster_endpoints(
            DBClusterIdentifier=cluster_id,
            Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}],
        ).get("DBClusterEndpoints") or []
    except Exception as exc:
        if _code(exc) not in ("DBClusterNotFoundFault", "InvalidAction"):
            raise
        endpoints = []
    for endpoint in endpoints:
        if str(endpoint.get("EndpointType", "")).upper() == "CUSTOM":
            found.append(f"custom endpoint {endpoint.get('DBClusterEndpointIdentifier')} "
                         f"({endpoint.get('Endpoint')}) is deleted with it: delete it before "
                         "the refresh and create it again afterwards (its DNS name follows its "
                         "identifier, not the cluster)")
    return found


# --- helpers -------------------------------------------------------------------------------


def _instance(instance: Mapping[str, Any]) -> dict[str, Any]:
    groups = instance.get("DBParameterGroups") or []
    insights = bool(instance.get("PerformanceInsightsEnabled"))
    return {
        "instance_class": instance.get("DBInstanceClass"),
        "instance_parameter_group": _group(str(groups[0].get("DBParameterGroupName")) if groups
                                           else "default."),
        "performance_insights": {
            "enabled": insights,
            "retention": instance.get("PerformanceInsightsRetentionPeriod") if insights else None,
            "kms_key": instance.get("PerformanceInsightsKMSKeyId") if insights else None,
        },
        "enhanced_monitoring": {
            "interval": int(instance.get("MonitoringInterval") or 0),
            "role": instance.get("MonitoringRoleArn") if instance.get("MonitoringInterval")
            else None,
        },
    }


def _group(name: str) -> str:
    return DEFAULT_GROUP if not name or name.startswith("default.") else name


def _role(role: Mapping[str, Any]) -> str:
    return f"{role.get('RoleArn')}|{role.get('FeatureName') or ''}"


def _split_role(role: str) -> tuple[str, str]:
    arn, _, feature = role.partition("|")
    return arn, feature


def _capacity(config: Any) -> dict[str, float] | None:
    if not config:
        return None
    return {"min": float(config.get("MinCapacity")), "max": float(config.get("MaxCapacity"))}


def _serverless(config: Any) -> dict[str, float] | None:
    if not config:
        return None
    return {"MinCapacity": config["min_capacity"], "MaxCapacity": config["max_capacity"]}


def _same(field: str, current: Any, wanted: Any) -> bool:
    if wanted in (None, [], "") and field in UNSAID:
        return True  # the old target says nothing here (AWS always says; moto may not)
    if field == "tags":
        return all(current.get(k) == v for k, v in (wanted or {}).items())
    if field == "iam_roles":
        return set(wanted or []) <= set(current or [])
    return bool(current == wanted)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _show(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return ", ".join(value)
    if value in (None, [], {}):
        return "none"
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")
