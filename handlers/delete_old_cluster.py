"""Step: delete the cluster being replaced — guarded, instances first, final snapshot per config.

Which cluster: with strategy `swap`, this operation's old cluster (the swapped-out target);
with `replace`, the target itself, before the restore. The guard (lib/guards) runs first and
nothing is changed if it refuses. Deletion protection is turned off only if aurora-restore set
it (the cluster was restored by an earlier operation and the config asks for protection);
otherwise the step refuses. With `swap` the pipeline does not wait for the deletion to finish.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, guards, naming, polling, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import TransientError, UnsafeTarget
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


def cluster_to_delete(document: Document) -> str | None:
    if doc.strategy(document) == "replace":
        return doc.target_cluster_id(document)
    old = document.get("old_cluster_id")
    return str(old) if old else None


@pipeline_step("delete-old-cluster")
def handler(document: Document, context: Any) -> StepResult:
    victim = cluster_to_delete(document)
    document["deleted_cluster_id"] = victim
    polling.start(document, "delete")
    if not victim:
        return document, skipped("there is no old cluster")
    client = aws.client("rds", doc.region(document))
    cluster = rds.describe_cluster(client, victim)
    if cluster is None:
        return document, skipped(f"{victim} does not exist")
    cluster_tags = rds.cluster_tags(client, cluster)
    guards.check_cluster(document, cluster, cluster_tags, "delete")
    if cluster.get("DeletionProtection"):
        _lift_protection(document, client, victim, cluster_tags)
    members = rds.member_ids(cluster)
    for instance_id in members:
        _delete_instance(client, instance_id)
    final = bool(doc.target(document).get("final_snapshot"))
    kwargs: dict[str, Any] = {"DBClusterIdentifier": victim}
    if final:
        kwargs["FinalDBSnapshotIdentifier"] = naming.final_snapshot_id(
            victim, doc.operation_id(document)
        )
    else:
        kwargs["SkipFinalSnapshot"] = True
    try:
        client.delete_db_cluster(**kwargs)
    except Exception as exc:
        # AWS refuses while instances are not yet "deleting"; the state machine retries.
        if aws.error_code(exc) == "InvalidDBClusterStateFault":
            raise TransientError(f"{victim} cannot be deleted yet: {exc}") from exc
        raise
    return document, {
        "cluster_id": victim,
        "instances_deleted": len(members),
        "final_snapshot": kwargs.get("FinalDBSnapshotIdentifier"),
    }


def _lift_protection(
    document: Document, client: Any, cluster_id: str, cluster_tags: dict[str, str]
) -> None:
    ours = tags.OPERATION_KEY in cluster_tags and doc.target(document).get("deletion_protection")
    if not ours:
        raise UnsafeTarget(
            f"{cluster_id} has deletion protection that aurora-restore did not set; refusing"
        )
    client.modify_db_cluster(
        DBClusterIdentifier=cluster_id, DeletionProtection=False, ApplyImmediately=True
    )


def _delete_instance(client: Any, instance_id: str) -> None:
    try:
        client.delete_db_instance(DBInstanceIdentifier=instance_id)
    except Exception as exc:
        if aws.error_code(exc) not in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
            raise
