"""Cluster changes shared by the pipeline's steps, the failure path and the expiry sweep,
written to AWS's rules (notes/aws-rules.md): renames and deletes only of `available` clusters,
instances before their cluster, a final snapshot or SkipFinalSnapshot on every delete.

Callers run the guard (lib/guards) first; nothing here decides whether a cluster may be touched.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, rds, tags

AVAILABLE = "available"
# A cluster in one of these will not become available by waiting.
BROKEN = frozenset(
    {
        "failed",
        "inaccessible-encryption-credentials",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "incompatible-credentials",
        "storage-full",
    }
)
INSTANCE_GONE = ("DBInstanceNotFound", "DBInstanceNotFoundFault")


def status(cluster: dict[str, Any] | None) -> str:
    return "missing" if cluster is None else str(cluster.get("Status") or "unknown")


def rename(client: Any, cluster_id: str, new_id: str) -> None:
    client.modify_db_cluster(
        DBClusterIdentifier=cluster_id, NewDBClusterIdentifier=new_id, ApplyImmediately=True
    )


def delete_with_instances(
    client: Any, cluster: dict[str, Any], final_snapshot_id: str | None
) -> str:
    """Delete the cluster's instances, then the cluster (with a final snapshot when an id is
    given). Returns "deleting", or "waiting for its instances" when AWS refuses the cluster
    delete because instances are still going away (call again later)."""
    cluster_id = str(cluster["DBClusterIdentifier"])
    for instance_id in rds.member_ids(cluster):
        try:
            client.delete_db_instance(DBInstanceIdentifier=instance_id)
        except Exception as exc:
            if aws.error_code(exc) not in (*INSTANCE_GONE, "InvalidDBInstanceState"):
                raise
    if status(cluster) == "deleting":
        return "deleting"
    kwargs: dict[str, Any] = {"DBClusterIdentifier": cluster_id}
    if final_snapshot_id:
        kwargs["FinalDBSnapshotIdentifier"] = final_snapshot_id
    else:
        kwargs["SkipFinalSnapshot"] = True
    try:
        client.delete_db_cluster(**kwargs)
    except Exception as exc:
        code = aws.error_code(exc)
        if code in ("InvalidDBClusterStateFault", "DBClusterToBeDeletedHasActiveMembers"):
            return "waiting for its instances"
        if code == rds.CLUSTER_NOT_FOUND:
            return "deleting"
        raise
    return "deleting"


def tag_final_snapshot(client: Any, snapshot_id: str, env: str, operation_id: str) -> bool:
    """Give a final snapshot our tags (DeleteDBCluster takes none for it). False while it is
    not visible yet."""
    snapshot = rds.describe_cluster_snapshot(client, snapshot_id)
    if snapshot is None:
        return False
    wanted = {**tags.managed(env, operation_id), tags.KIND_KEY: tags.FINAL_SNAPSHOT_KIND}
    present = tags.from_list(snapshot.get("TagList"))
    missing = {k: v for k, v in wanted.items() if present.get(k) != v}
    if missing:
        client.add_tags_to_resource(
            ResourceName=snapshot["DBClusterSnapshotArn"], Tags=tags.to_list(missing)
        )
    return True


def mark_expiring(client: Any, arn: str, current_tags: dict[str, str], expires_at: str) -> bool:
    """Tag a resource we keep for inspection with its expiry (an existing expiry is kept, so a
    second pass does not push it back). True when the tag was added."""
    if current_tags.get(tags.EXPIRES_KEY):
        return False
    client.add_tags_to_resource(
        ResourceName=arn, Tags=[{"Key": tags.EXPIRES_KEY, "Value": expires_at}]
    )
    return True
