"""Step: swap, part 1 — rename the current target to this operation's `-old-<token>` id.

Guarded (lib/guards) before the rename. Just before it, the target gets this operation's id
(`aurora-restore:swapped-out-by`): under its old id it is then provably this run's to rename
back, keep or delete. With no current target there is nothing to swap out (SKIPPED). The new id must be free: moto (unlike AWS) would silently overwrite a cluster; the
target must be `available` (AWS refuses to rename a cluster in any other state).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, naming, polling, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import SwapFailed
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@pipeline_step("swap-out-target")
def handler(document: Document, context: Any) -> StepResult:
    target_id = doc.target_cluster_id(document)
    operation_id = doc.operation_id(document)
    old_id = naming.old_cluster_id(target_id, operation_id)
    client = aws.client("rds", doc.region(document))
    writes = clusters.Writes(guards.Guard(document), client)
    polling.start(document, "swap-out")
    target = rds.describe_cluster(client, target_id)
    if target is None:
        old = rds.describe_cluster(client, old_id)
        if old is not None:
            if rds.cluster_tags(client, old).get(tags.SWAPPED_OUT_KEY) != operation_id:
                raise SwapFailed(f"{old_id} exists and is not the target this run renamed")
            # A retried invocation: the rename already happened.
            document["old_cluster_id"] = old_id
            document["rename"] = {"from": target_id, "to": old_id}
            return document, {"old_cluster_id": old_id, "action": "already renamed"}
        document["old_cluster_id"] = None
        document["rename"] = None
        return document, skipped(f"no cluster {target_id} yet: nothing to swap out")
    target_tags = rds.cluster_tags(client, target)
    writes.guard.cluster(target, target_tags, "rename")
    if rds.describe_cluster(client, old_id) is not None:
        raise SwapFailed(f"cannot rename {target_id}: {old_id} already exists")
    state = clusters.status(target)
    if state != clusters.AVAILABLE:
        raise SwapFailed(f"{target_id} is {state}, not available; it cannot be renamed now")
    writes.mark_swapped_out(target, target_tags)
    writes.rename(target, target_tags, old_id)
    document["old_cluster_id"] = old_id
    document["rename"] = {"from": target_id, "to": old_id}
    return document, {"old_cluster_id": old_id, "action": "renamed"}
