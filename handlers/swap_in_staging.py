"""Step: swap, part 2 — rename the staging cluster to the target id (the endpoint is kept).

Guarded before the rename. If the rename fails, the old target is renamed back to the target
id (rollback) before SwapFailed is raised, so the env keeps its database.
"""

from __future__ import annotations

import logging
from typing import Any

from handlers.lib import aws, guards, polling, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import SwapFailed
from handlers.lib.step import Document, StepResult, pipeline_step

LOG = logging.getLogger("aurora_restore")


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
    guards.check_cluster(document, staging, rds.cluster_tags(client, staging), "rename")
    try:
        if rds.describe_cluster(client, target_id) is not None:
            raise SwapFailed(f"{target_id} still exists; the old target was not renamed away")
        client.modify_db_cluster(
            DBClusterIdentifier=staging_id, NewDBClusterIdentifier=target_id, ApplyImmediately=True
        )
    except Exception as exc:
        rolled_back = _roll_back(document, client)
        raise SwapFailed(
            f"renaming {staging_id} to {target_id} failed ({type(exc).__name__}: {exc}); "
            + ("the old target was renamed back" if rolled_back else "no rollback was needed")
        ) from exc
    return document, {"cluster_id": target_id, "from": staging_id, "action": "renamed"}


def _roll_back(document: Document, client: Any) -> bool:
    """Rename the old target back to the target id, if it was swapped out and the id is free."""
    old_id = document.get("old_cluster_id")
    target_id = doc.target_cluster_id(document)
    if not old_id or rds.describe_cluster(client, target_id) is not None:
        return False
    old = rds.describe_cluster(client, str(old_id))
    if old is None:
        return False
    guards.check_cluster(document, old, rds.cluster_tags(client, old), "rename")
    client.modify_db_cluster(
        DBClusterIdentifier=str(old_id), NewDBClusterIdentifier=target_id, ApplyImmediately=True
    )
    LOG.warning("%s: swap rolled back, %s is %s again", document["operation_id"], old_id, target_id)
    document["old_cluster_id"] = None
    return True
