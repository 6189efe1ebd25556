"""Step: swap, part 1 — rename the current target to this operation's `-old-<token>` id.

Guarded (lib/guards) before the rename. With no current target there is nothing to swap out
(SKIPPED). The new id must be free: moto (unlike AWS) would silently overwrite a cluster; the
target must be `available` (AWS refuses to rename a cluster in any other state).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, naming, polling, rds
from handlers.lib import document as doc
from handlers.lib.errors import SwapFailed
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@pipeline_step("swap-out-target")
def handler(document: Document, context: Any) -> StepResult:
    target_id = doc.target_cluster_id(document)
    old_id = naming.old_cluster_id(target_id, doc.operation_id(document))
    client = aws.client("rds", doc.region(document))
    polling.start(document, "swap-out")
    target = rds.describe_cluster(client, target_id)
    if target is None:
        if rds.describe_cluster(client, old_id) is not None:
            # A retried invocation: the rename already happened.
            document["old_cluster_id"] = old_id
            document["rename"] = {"from": target_id, "to": old_id}
            return document, {"old_cluster_id": old_id, "action": "already renamed"}
        document["old_cluster_id"] = None
        document["rename"] = None
        return document, skipped(f"no cluster {target_id} yet: nothing to swap out")
    guards.check_cluster(document, target, rds.cluster_tags(client, target), "rename")
    if rds.describe_cluster(client, old_id) is not None:
        raise SwapFailed(f"cannot rename {target_id}: {old_id} already exists")
    state = clusters.status(target)
    if state != clusters.AVAILABLE:
        raise SwapFailed(f"{target_id} is {state}, not available; it cannot be renamed now")
    clusters.rename(client, target_id, old_id)
    document["old_cluster_id"] = old_id
    document["rename"] = {"from": target_id, "to": old_id}
    return document, {"old_cluster_id": old_id, "action": "renamed"}
