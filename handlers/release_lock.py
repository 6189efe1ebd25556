"""Step: release the target's lock (success and failure paths); only its holder can release it.

On the failure path after `Locked`, the lock belongs to the other operation and stays (SKIPPED).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import audit
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@pipeline_step("release-lock")
def handler(document: Document, context: Any) -> StepResult:
    target_id = doc.target_cluster_id(document)
    if audit.release_lock(target_id, doc.operation_id(document)):
        document.pop("lock", None)
        return document, {"target_cluster_id": target_id}
    return document, skipped("the lock is not held by this operation")
