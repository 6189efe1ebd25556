"""Step (poll): is the snapshot copy available yet? Raises CopyFailed if it failed or vanished."""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, polling, rds
from handlers.lib import document as doc
from handlers.lib.errors import CopyFailed
from handlers.lib.step import Document, StepResult, pipeline_step

FAILED_STATES = frozenset({"failed", "error", "deleted", "deleting"})


@pipeline_step("check-copy")
def handler(document: Document, context: Any) -> StepResult:
    copy_id = str(document["copy"]["snapshot_id"])
    snapshot = rds.describe_cluster_snapshot(aws.client("rds", doc.region(document)), copy_id)
    if snapshot is None:
        raise CopyFailed(f"snapshot copy {copy_id} disappeared")
    status = str(snapshot.get("Status", "unknown"))
    if status in FAILED_STATES:
        raise CopyFailed(f"snapshot copy {copy_id} is {status}")
    document["copy"]["status"] = status
    details = polling.record(document, "copy", ready=status == "available", status=status)
    return document, {**details, "percent": snapshot.get("PercentProgress")}
