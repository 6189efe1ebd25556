"""Step (failure path): the failure notification — which error, where things were left."""

from __future__ import annotations

from typing import Any

from handlers.lib import document as doc
from handlers.lib import drill, notify
from handlers.lib.step import Document, StepResult, env_name, pipeline_step


@pipeline_step("notify-failure")
def handler(document: Document, context: Any) -> StepResult:
    failure = notify.failure(document)
    if doc.is_drill(document):
        subject, facts = drill.notification(document, "FAILED", failure)
        message_id = notify.publish(subject, facts, "FAILED")
        return document, {"message_id": message_id, "error": failure["error"]}
    facts = notify.summary(document, "FAILED")
    facts.update(failure)
    if document.get("staging_cluster_id"):
        facts["left_for_inspection"] = document["staging_cluster_id"]
    if document.get("old_cluster_id"):
        facts["old_cluster_id"] = document["old_cluster_id"]
    target = ((document.get("settings") or {}).get("target") or {}).get("cluster_id") or "?"
    subject = f"aurora-restore [{env_name(document)}] FAILED: {target} ({failure['error']})"
    message_id = notify.publish(subject, facts, "FAILED")
    return document, {"message_id": message_id, "error": failure["error"]}
