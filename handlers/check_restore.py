"""Step (poll): is the restored cluster ready — cluster and every instance available?

Used by three loops (`poll.what`): after the restore (cluster only, no instances yet), after
create_instances, and after reset_master_password (nothing pending). A cluster can report
available before its instances are, so instances are checked one by one. Raises
RestoreFailed on a terminal bad state.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, polling, rds
from handlers.lib import document as doc
from handlers.lib.errors import RestoreFailed
from handlers.lib.step import Document, StepResult, pipeline_step

BAD_STATES = frozenset(
    {
        "failed",
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "incompatible-credentials",
        "storage-full",
        "deleting",
        "stopped",
    }
)


@pipeline_step("check-restore")
def handler(document: Document, context: Any) -> StepResult:
    what = str((document.get("poll") or {}).get("what") or "restore")
    cluster_id = str(document["staging_cluster_id"])
    client = aws.client("rds", doc.region(document))
    cluster = rds.describe_cluster(client, cluster_id)
    if cluster is None:
        raise RestoreFailed(f"restored cluster {cluster_id} disappeared")
    status = str(cluster.get("Status"))
    if status in BAD_STATES:
        raise RestoreFailed(f"restored cluster {cluster_id} is {status}")
    pending = sorted((cluster.get("PendingModifiedValues") or {}).keys())
    waiting = [] if status == "available" and not pending else [f"cluster {status}"]
    for instance_id in document.get("instance_ids") or []:
        instance = rds.describe_instance(client, instance_id)
        state = str(instance.get("DBInstanceStatus")) if instance else "missing"
        if state in BAD_STATES:
            raise RestoreFailed(f"instance {instance_id} is {state}")
        if state != "available":
            waiting.append(f"{instance_id} {state}")
    ready = not waiting
    summary = "available" if ready else "; ".join(waiting)
    details = polling.record(document, what, ready=ready, status=summary)
    if ready:
        document["staging_endpoint"] = {
            "address": cluster.get("Endpoint"),
            "port": cluster.get("Port"),
        }
    return document, details
