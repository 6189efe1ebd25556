"""Step: release the target's lock (success and failure paths); only its holder can release it.

On the failure path after `Locked`, the lock belongs to the other operation and stays (SKIPPED).
On the failure path with the undo unfinished (or failed), the lock stays too, so no new run
starts on a target that does not serve yet: `aurora-restore recover OPERATION_ID` (or the
recovery function) finishes the undo and releases it.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import audit
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@pipeline_step("release-lock")
def handler(document: Document, context: Any) -> StepResult:
    target_id = doc.target_cluster_id(document)
    undo = document.get("undo") or {}
    if document.get("error") and not undo.get("done"):
        return document, skipped(
            "the undo is not finished; the lock stays until `aurora-restore recover "
            f"{doc.operation_id(document)}` finishes it"
        )
    if audit.release_lock(target_id, doc.operation_id(document)):
        document.pop("lock", None)
        return document, {"target_cluster_id": target_id}
    return document, skipped("the lock is not held by this operation")
