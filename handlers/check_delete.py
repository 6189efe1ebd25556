"""Step (poll): is the deleted cluster gone? Finishes what delete_old_cluster started.

AWS refuses to delete a cluster while its instances are still being deleted; once they are
gone this step issues the cluster delete (guarded again). It also tags the final snapshot as
ours once AWS shows it — only after the delete was accepted (the snapshot is then the one it
made). Strategy `replace` waits here before restoring under the target id;
`swap` waits here before finalizing.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, polling, rds
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("check-delete")
def handler(document: Document, context: Any) -> StepResult:
    victim = document.get("deleted_cluster_id")
    if not victim:
        return document, polling.record(document, "delete", ready=True, status="nothing deleted")
    client = aws.client("rds", doc.region(document))
    writes = clusters.Writes(guards.Guard(document), client)
    final = document.get("final_snapshot_id")
    final = str(final) if final else None
    cluster = rds.describe_cluster(client, str(victim))
    state = clusters.status(cluster)
    if cluster is not None and state != "deleting" and not rds.member_ids(cluster):
        state = writes.delete_with_instances(cluster, rds.cluster_tags(client, cluster), final)
    if final and state in ("missing", "deleting"):
        writes.tag_final_snapshot(final, str(victim), doc.operation_id(document))
    if cluster is None:
        return document, polling.record(document, "delete", ready=True, status="deleted")
    return document, polling.record(document, "delete", ready=False, status=state)
