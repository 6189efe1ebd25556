"""Step: restore the snapshot — or clone the source cluster, or restore it to a point in time
(ChooseSource's `restore_from.path`) — as a new cluster, configured like the target and tagged
as ours.

Strategy `swap` restores under this operation's staging id (the target keeps serving);
`replace` restores under the target id, after delete_old_cluster removed the old target. A
restore drill restores under its own `<target>-drill-<token>` id, with the drill marker and
expiry tags (it is deleted again at the end of the drill).

Never with deletion protection: until it serves, the restored cluster is one a failed run's
clean-up (the undo, the expiry sweep) must be able to delete. `target.deletion_protection` is
applied to the refreshed target once it serves (finalize; the undo when it rolls forward).
Retry-safe: a cluster already restored by this operation is reused; any other cluster with
that id is refused (moto, unlike AWS, would silently overwrite it).

A clone or point-in-time restore is one RestoreDBClusterToPointInTime of the source cluster
(lib/restore.point_in_time_parameters): nothing is ever written to the source. Its wait loop
is `clone` for a clone (ready in minutes), `restore` otherwise.

EngineVersion is the one FindSnapshot chose (never below the snapshot's own). `KmsKeyId` is the
target key: a copy is already encrypted with it, and an unencrypted snapshot gets encrypted with
it here. `db.serverless` targets get the configured ServerlessV2ScalingConfiguration.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, naming, polling, rds, source_cluster, tags
from handlers.lib import document as doc
from handlers.lib.errors import RestoreFailed
from handlers.lib.restore import point_in_time_parameters, restore_parameters
from handlers.lib.step import Document, StepResult, pipeline_step


def restored_cluster_id(document: Document) -> str:
    return naming.work_cluster_id(document)


def snapshot_to_restore(document: Document) -> str | None:
    """A plain id in the target region: the copy, else the chosen snapshot itself (None for a
    clone or point-in-time restore, which reads the source cluster)."""
    if source_cluster.from_source_cluster(document):
        return None
    copy = document.get("copy") or {}
    if copy.get("required"):
        return str(copy["snapshot_id"])
    return str(document["snapshot"]["id"])


@pipeline_step("restore-cluster")
def handler(document: Document, context: Any) -> StepResult:
    cluster_id = restored_cluster_id(document)
    snapshot_id = snapshot_to_restore(document)
    client = aws.client("rds", doc.region(document))
    existing = rds.describe_cluster(client, cluster_id)
    if existing is None:
        if snapshot_id is None:
            client.restore_db_cluster_to_point_in_time(
                **point_in_time_parameters(document, cluster_id)
            )
        else:
            client.restore_db_cluster_from_snapshot(
                **restore_parameters(document, cluster_id, snapshot_id)
            )
        action = "started"
    elif rds.cluster_tags(client, existing).get(tags.OPERATION_KEY) == doc.operation_id(document):
        action = "reused"
    else:
        raise RestoreFailed(f"cluster {cluster_id} already exists; refusing to restore over it")
    document["staging_cluster_id"] = cluster_id
    document["instance_ids"] = []
    path = source_cluster.path(document)
    polling.start(document, "clone" if path == source_cluster.CLONE else "restore")
    details: dict[str, Any] = {"cluster_id": cluster_id, "path": path, "action": action}
    if snapshot_id is None:
        chosen = document.get("restore_from") or {}
        details["source"] = chosen.get("source")
        if path == source_cluster.POINT_IN_TIME:
            details["to_time"] = chosen.get("to_time")
    else:
        details["snapshot_id"] = snapshot_id
    return document, details
