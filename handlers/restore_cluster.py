"""Step: restore the snapshot as a new cluster, configured like the target and tagged as ours.

Strategy `swap` restores under this operation's staging id (the target keeps serving);
`replace` restores under the target id, after delete_old_cluster removed the old target. A
restore drill restores under its own `<target>-drill-<token>` id, with the drill marker and
expiry tags (it is deleted again at the end of the drill).

Never with deletion protection: until it serves, the restored cluster is one a failed run's
clean-up (the undo, the expiry sweep) must be able to delete. `target.deletion_protection` is
applied to the refreshed target once it serves (finalize; the undo when it rolls forward).
Retry-safe: a cluster already restored by this operation is reused; any other cluster with
that id is refused (moto, unlike AWS, would silently overwrite it).

EngineVersion is the one FindSnapshot chose (never below the snapshot's own). `KmsKeyId` is the
target key: a copy is already encrypted with it, and an unencrypted snapshot gets encrypted with
it here. `db.serverless` targets get the configured ServerlessV2ScalingConfiguration.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, naming, polling, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import RestoreFailed
from handlers.lib.restore import restore_parameters
from handlers.lib.step import Document, StepResult, pipeline_step


def restored_cluster_id(document: Document) -> str:
    return naming.work_cluster_id(document)


def snapshot_to_restore(document: Document) -> str:
    """A plain id in the target region: the copy, else the chosen snapshot itself."""
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
    polling.start(document, "restore")
    return document, {"cluster_id": cluster_id, "snapshot_id": snapshot_id, "action": action}
