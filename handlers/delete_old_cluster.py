"""Step: delete the cluster being replaced — guarded, instances first, final snapshot per config.

Which cluster: with strategy `swap`, this operation's old cluster (the swapped-out target);
with `replace`, the target itself, before the restore. The guard (lib/guards) runs first and
nothing is changed if it refuses (the old cluster must carry this operation's swapped-out mark).
Deletion protection is turned off only if aurora-restore set it (the cluster was restored by an
earlier operation and the config asks for protection); otherwise the step refuses.

The final snapshot (`target.final_snapshot`, default on; mandatory with `replace`) is
`<target>-final-<token>`, tagged ours (`aurora-restore:kind=final-snapshot`) as soon as it is
visible. AWS deletes instances asynchronously and refuses to delete a cluster that still has
some: this step deletes what it can and check_delete finishes the cluster delete and waits.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, naming, polling, rds
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


def cluster_to_delete(document: Document) -> str | None:
    if doc.strategy(document) == "replace":
        return doc.target_cluster_id(document)
    old = document.get("old_cluster_id")
    return str(old) if old else None


def final_snapshot_id(document: Document) -> str | None:
    if not doc.target(document).get("final_snapshot"):
        return None
    return naming.final_snapshot_id(doc.target_cluster_id(document), doc.operation_id(document))


@pipeline_step("delete-old-cluster")
def handler(document: Document, context: Any) -> StepResult:
    victim = cluster_to_delete(document)
    document["deleted_cluster_id"] = victim
    polling.start(document, "delete")
    if not victim:
        return document, skipped("there is no old cluster")
    client = aws.client("rds", doc.region(document))
    final = final_snapshot_id(document)
    # Set before looking: a retried invocation that finds the cluster gone (its delete was
    # accepted) still has check_delete tag the final snapshot that delete made.
    document["final_snapshot_id"] = final
    cluster = rds.describe_cluster(client, victim)
    if cluster is None:
        return document, skipped(f"{victim} does not exist")
    cluster_tags = rds.cluster_tags(client, cluster)
    writes = clusters.Writes(guards.Guard(document), client)
    writes.guard.cluster(cluster, cluster_tags, "delete")
    outcome = writes.delete_with_instances(cluster, cluster_tags, final)
    if final and outcome == "deleting":
        writes.tag_final_snapshot(final, victim, doc.operation_id(document))
    return document, {
        "cluster_id": victim,
        "instances_deleted": len(rds.member_ids(cluster)),
        "final_snapshot": final,
        "status": outcome,
    }
