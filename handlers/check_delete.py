"""Step (poll): is the deleted cluster gone? (strategy `replace` waits for it before restoring)"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, polling, rds
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("check-delete")
def handler(document: Document, context: Any) -> StepResult:
    victim = document.get("deleted_cluster_id")
    if not victim:
        return document, polling.record(document, "delete", ready=True, status="nothing deleted")
    cluster = rds.describe_cluster(aws.client("rds", doc.region(document)), str(victim))
    status = "deleted" if cluster is None else str(cluster.get("Status"))
    return document, polling.record(document, "delete", ready=cluster is None, status=status)
