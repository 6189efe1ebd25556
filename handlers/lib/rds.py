"""Small RDS read helpers: "not found" as None instead of an exception."""

from __future__ import annotations

from typing import Any

from handlers.lib import aws
from handlers.lib.tags import from_list

CLUSTER_NOT_FOUND = "DBClusterNotFoundFault"
INSTANCE_NOT_FOUND = "DBInstanceNotFound"
SNAPSHOT_NOT_FOUND = "DBClusterSnapshotNotFoundFault"


def describe_cluster(rds: Any, cluster_id: str) -> dict[str, Any] | None:
    try:
        clusters = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"]
    except Exception as exc:
        if aws.error_code(exc) == CLUSTER_NOT_FOUND:
            return None
        raise
    # The filter is case-insensitive on AWS; insist on the exact (lower-case) id.
    for cluster in clusters:
        if str(cluster.get("DBClusterIdentifier", "")).lower() == cluster_id.lower():
            return dict(cluster)
    return None


def describe_instance(rds: Any, instance_id: str) -> dict[str, Any] | None:
    try:
        instances = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
    except Exception as exc:
        if aws.error_code(exc) in (INSTANCE_NOT_FOUND, "DBInstanceNotFoundFault"):
            return None
        raise
    return dict(instances[0]) if instances else None


def describe_cluster_snapshot(rds: Any, snapshot: str) -> dict[str, Any] | None:
    """By id or ARN. An ARN is tried as the plain id first (own snapshots), then as an ARN
    with IncludeShared (snapshots shared from another account)."""
    if not snapshot.startswith("arn:"):
        return _describe_snapshot(rds, snapshot)
    plain = snapshot.split(":", 6)[-1]
    found = _describe_snapshot(rds, plain)
    if found is not None and found.get("DBClusterSnapshotArn") == snapshot:
        return found
    return _describe_snapshot(rds, snapshot, IncludeShared=True)


def _describe_snapshot(rds: Any, snapshot: str, **extra: Any) -> dict[str, Any] | None:
    kwargs: dict[str, Any] = {"DBClusterSnapshotIdentifier": snapshot, **extra}
    if snapshot.startswith("rds:"):
        kwargs["SnapshotType"] = "automated"  # AWS requires it for automated snapshot ids
    try:
        snapshots = rds.describe_db_cluster_snapshots(**kwargs)["DBClusterSnapshots"]
    except Exception as exc:
        if aws.error_code(exc) == SNAPSHOT_NOT_FOUND:
            return None
        raise
    return dict(snapshots[0]) if snapshots else None


def cluster_tags(rds: Any, cluster: dict[str, Any]) -> dict[str, str]:
    if "TagList" in cluster:
        return from_list(cluster["TagList"])
    response = rds.list_tags_for_resource(ResourceName=cluster["DBClusterArn"])
    return from_list(response.get("TagList"))


def member_ids(cluster: dict[str, Any]) -> list[str]:
    return [str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers") or []]
