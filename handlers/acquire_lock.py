"""Step: take the per-target lock, so a second run against the same target fails fast (Locked).

A restore drill locks its own drill cluster id instead (naming.lock_subject): it never touches
the target, so it may run beside a refresh of the same target.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import audit, naming
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step, ttl_days

# The lock outlives the longest possible execution a little, then counts as stale.
LOCK_GRACE_SECONDS = 600


@pipeline_step("acquire-lock")
def handler(document: Document, context: Any) -> StepResult:
    target_id = naming.lock_subject(document)  # a drill locks its own cluster id, not the target
    item = audit.acquire_lock(
        target_id,
        doc.operation_id(document),
        doc.env(document),
        hold_seconds=doc.timeout_seconds(document) + LOCK_GRACE_SECONDS,
        ttl_days=ttl_days(document),
    )
    document["lock"] = {"key": item["operation_id"], "acquired_at": item["acquired_at"]}
    return document, {"target_cluster_id": target_id, "lock_expires_at": item["lock_expires_at"]}
