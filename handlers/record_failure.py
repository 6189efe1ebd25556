"""Step (failure path): the closing FAILED item in the audit trail — the error, and what the
undo did (`undone`), what it left and where (`left`), what it still waits for (`pending`)."""

from __future__ import annotations

from typing import Any

from handlers.lib import audit, notify
from handlers.lib.step import Document, StepResult, env_name, pipeline_step, ttl_days


@pipeline_step("record-failure")
def handler(document: Document, context: Any) -> StepResult:
    failure = notify.failure(document)
    document["failure"] = failure
    details = {
        **failure,
        "staging_cluster_id": document.get("staging_cluster_id"),
        "old_cluster_id": document.get("old_cluster_id"),
        **notify.undo_facts(document),
    }
    audit.put_event(
        str(document["operation_id"]),
        "pipeline",
        "FAILED",
        details,
        env_name(document),
        ttl_days=ttl_days(document),
    )
    return document, {"error": failure["error"]}
