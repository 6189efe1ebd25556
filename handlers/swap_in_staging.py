"""Step: swap, part 2 — rename the staging cluster to the target id (the endpoint is kept).

Guarded before the rename. A failure here (or later) is undone by the failure path
(lib/undo): it renames the old target back once the target id is free.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, polling, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import SwapFailed
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("swap-in-staging")
def handler(document: Document, context: Any) -> StepResult:
    target_id = doc.target_cluster_id(document)
    staging_id = str(document["staging_cluster_id"])
    client = aws.client("rds", doc.region(document))
    polling.start(document, "swap-in")
    document["rename"] = {"from": staging_id, "to": target_id}
    staging = rds.describe_cluster(client, staging_id)
    if staging is None:
        current = rds.describe_cluster(client, target_id)
        if current is not None and rds.cluster_tags(client, current).get(
            tags.OPERATION_KEY
        ) == doc.operation_id(document):
            return document, {"cluster_id": target_id, "action": "already renamed"}
        raise SwapFailed(f"staging cluster {staging_id} not found")
    staging_tags = rds.cluster_tags(client, staging)
    writes = clusters.Writes(guards.Guard(document), client)
    writes.guard.cluster(staging, staging_tags, "rename")
    if rds.describe_cluster(client, target_id) is not None:
        raise SwapFailed(f"{target_id} still exists; the old target was not renamed away")
    state = clusters.status(staging)
    if state != clusters.AVAILABLE:  # AWS refuses to rename a cluster in any other state
        raise SwapFailed(f"staging cluster {staging_id} is {state}, not available")
    writes.rename(staging, staging_tags, target_id)
    return document, {"cluster_id": target_id, "from": staging_id, "action": "renamed"}
